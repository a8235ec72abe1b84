//! A queue's store on disk and the group commit over it: when a dirty store is synced,
//! and which publisher confirmations wait for that sync.

use std::path::PathBuf;
use std::time::Duration;

use tokio::time::Instant;
use trident_core::{Arrival, Durability, Error, Message, PublisherSeq, QueueName, Result};
use trident_storage::{QueueStore, QueueStoreConfig, Recovered};

use crate::publish::{ConfirmTicket, Nack};

/// A dirty store is synced at least this often even when no publisher waits on it:
/// syncing is what reclaims drained segments and writes out buffered removals, so a
/// queue that only pages (no confirms) would otherwise grow on disk and in memory.
const HOUSEKEEPING: Duration = Duration::from_secs(1);

/// The disk side of one queue, opened on first use (a transient queue only gets one
/// when it pages).
pub(super) struct Disk {
    /// For log lines.
    name: QueueName,
    dir: PathBuf,
    store: Option<QueueStore>,
    /// Seqs below this were written before this process opened the store.
    recovered_end_seq: u64,
    durability: Durability,
    /// Appends or removals not yet synced.
    dirty: bool,
    last_sync: Instant,
    /// Confirmations to complete after the next sync.
    awaiting_sync: Vec<ConfirmTicket>,
}

impl Disk {
    pub fn new(name: QueueName, dir: PathBuf, durability: Durability) -> Self {
        Self {
            name,
            dir,
            store: None,
            recovered_end_seq: 0,
            durability,
            dirty: false,
            last_sync: Instant::now(),
            awaiting_sync: Vec::new(),
        }
    }

    pub fn name(&self) -> &QueueName {
        &self.name
    }

    /// Opens the store if it is not open yet; returns what it held when it was opened
    /// just now.
    pub fn open(&mut self) -> Result<Option<Recovered>> {
        if self.store.is_some() {
            return Ok(None);
        }
        let (store, recovered) = QueueStore::open(&self.dir, QueueStoreConfig::default())?;
        self.recovered_end_seq = store.next_seq();
        self.store = Some(store);
        Ok(Some(recovered))
    }

    /// The open store (the caller opened it with [`Self::open`]).
    pub fn store(&mut self) -> Result<&mut QueueStore> {
        self.store
            .as_mut()
            .ok_or_else(|| Error::Storage("queue store unavailable".into()))
    }

    pub fn store_ref(&self) -> Option<&QueueStore> {
        self.store.as_ref()
    }

    /// Whether `seq` was written by an earlier run of the broker.
    pub fn is_recovered(&self, seq: u64) -> bool {
        seq < self.recovered_end_seq
    }

    /// Records the removal of a stored message (no-op for one that was never stored).
    pub fn remove(&mut self, seq: Option<u64>) {
        let (Some(seq), Some(store)) = (seq, self.store.as_mut()) else {
            return;
        };
        if let Err(e) = store.ack(seq) {
            tracing::error!(queue = %self.name, seq, error = %e, "queue store ack failed");
        }
        self.dirty = true;
    }

    pub fn was_delivered(&self, seq: u64) -> bool {
        self.store.as_ref().is_some_and(|s| s.was_delivered(seq))
    }

    /// Notes that a stored message is being delivered (see `QueueStore::mark_delivered`);
    /// [`Self::write_out`] before the delivery leaves makes the mark survive a crash.
    pub fn mark_delivered(&mut self, seq: Option<u64>) {
        let (Some(seq), Some(store)) = (seq, self.store.as_mut()) else {
            return;
        };
        if let Err(e) = store.mark_delivered(seq) {
            tracing::error!(queue = %self.name, seq, error = %e, "queue store delivery mark failed");
        }
        self.dirty = true;
    }

    /// Hands buffered acks and delivery marks to the OS (one write; no fsync): from here
    /// they survive `kill -9`. The queue calls it at the end of every batch of commands
    /// and before deliveries whose marks are buffered leave.
    pub fn write_out(&mut self) {
        let Some(store) = self.store.as_mut() else {
            return;
        };
        if !store.has_unwritten() {
            return;
        }
        if let Err(e) = store.flush() {
            tracing::error!(queue = %self.name, error = %e, "queue store journal write failed");
        }
    }

    /// Removes every stored message from `from` on (purge of paged messages).
    pub fn remove_from(&mut self, from: u64) {
        let Some(store) = self.store.as_mut() else {
            return;
        };
        let end = store.next_seq();
        if let Err(e) = store.ack_range(from, end) {
            tracing::error!(queue = %self.name, error = %e, "purge of paged messages failed");
        }
        self.dirty = true;
    }

    /// A confirmation for a message the queue now holds: only a persistent message
    /// waits for the disk; the others are as safe as they will ever be.
    pub fn confirm_when_safe(&mut self, ticket: ConfirmTicket, persistent: bool) {
        if persistent && self.durability == Durability::Fsync {
            self.awaiting_sync.push(ticket);
        } else {
            ticket.complete(Ok(()));
        }
    }

    /// The group commit: one sync for every confirmation collected in this batch.
    pub fn flush_confirms(&mut self) {
        let must_sync = match self.durability {
            Durability::Fsync => !self.awaiting_sync.is_empty(),
            Durability::Interval { .. } | Durability::Never => false,
        };
        if must_sync {
            self.sync_now();
        }
        self.complete_all_confirms();
    }

    pub fn complete_all_confirms(&mut self) {
        for t in self.awaiting_sync.drain(..) {
            t.complete(Ok(()));
        }
    }

    pub fn sync_now(&mut self) {
        if !self.dirty {
            return;
        }
        if let Some(store) = self.store.as_mut() {
            // fsync blocks this worker thread; tell the runtime so other tasks move.
            let result = tokio::task::block_in_place(|| store.sync());
            if let Err(e) = result {
                tracing::error!(queue = %self.name, error = %e, "queue store sync failed");
                let name = self.name.to_string();
                for t in self.awaiting_sync.drain(..) {
                    t.complete(Err(Nack::Storage(name.clone(), e.to_string())));
                }
                return;
            }
        }
        self.dirty = false;
        self.last_sync = Instant::now();
    }

    /// Closes the store (the queue task is ending): its files and their lock are
    /// released before the task answers a shutdown, so that whoever opens the data
    /// directory next (a restarted engine) finds them free.
    pub fn release(&mut self) {
        if let Some(store) = self.store.take()
            && let Err(e) = tokio::task::block_in_place(|| store.close())
        {
            tracing::error!(queue = %self.name, error = %e, "queue store close failed");
        }
    }

    /// How often a dirty store is synced when nobody waits on it.
    fn sync_every(&self) -> Duration {
        match self.durability {
            Durability::Interval { interval_ms } => {
                Duration::from_millis(interval_ms).min(HOUSEKEEPING)
            }
            Durability::Fsync | Durability::Never => HOUSEKEEPING,
        }
    }

    pub fn sync_due(&self) -> bool {
        self.dirty && self.last_sync.elapsed() >= self.sync_every()
    }

    /// When the next housekeeping sync is due, if the store is dirty.
    pub fn sync_deadline(&self) -> Option<Instant> {
        self.dirty.then(|| self.last_sync + self.sync_every())
    }

    /// Appends one message (write only; the sync comes with the batch). The caller
    /// opened the store (see `Backlog::open_store`, which also takes what it recovered).
    pub fn append(
        &mut self,
        message: &Message,
        arrival: &Arrival,
        key: Option<PublisherSeq>,
    ) -> Result<u64> {
        let seq = self.store()?.append_keyed(message, arrival, key)?;
        self.dirty = true;
        Ok(seq)
    }

    /// Appends several messages with one write; returns the first seq.
    pub fn append_many(
        &mut self,
        messages: &[(&Message, &Arrival)],
        keys: &[Option<PublisherSeq>],
    ) -> Result<u64> {
        let store = self.store()?;
        let first = tokio::task::block_in_place(|| store.append_many_keyed(messages, keys))?;
        self.dirty = true;
        Ok(first)
    }

    /// The queue is deleted: confirmations still waiting succeed (the message reached
    /// the queue; what happens to the queue afterwards is not the publisher's business,
    /// as in RabbitMQ), and the files go.
    pub fn destroy(&mut self) {
        self.complete_all_confirms();
        self.store = None;
        if self.dir.exists()
            && let Err(e) = std::fs::remove_dir_all(&self.dir)
        {
            tracing::warn!(queue = %self.name, error = %e, "could not remove queue storage");
        }
    }
}
