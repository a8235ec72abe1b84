//! A queue's ready messages: the in-memory head ([`Ready`]), the messages paged out to
//! the store behind it, and the store itself.
//!
//! Memory stays bounded under a deep backlog: past `queue_memory_*` new messages are
//! written to the store instead of kept, and read back in order as the in-memory head
//! drains ("paging"). A queue that is 10 GB deep holds a window of it. Order is kept
//! because once anything is paged, every later message is paged too until the paged
//! part has been read back.

use std::sync::Arc;

use trident_core::message::now_ms;
use trident_core::{Arrival, Message, PublisherSeq, PublisherWindow, QueueArgs, Result};

use super::expiry::expires_at;
use super::ready::{Entry, Ready, boxed_arrival};
use super::store::Disk;
use crate::publish::{ConfirmTicket, Nack};

/// How many paged messages one refill reads back, and at most how many bytes: a read
/// larger than what it returns would be wasted I/O.
const REFILL_BATCH: usize = 4096;
const REFILL_BYTES: usize = 4 * 1024 * 1024;
/// Flush collected pages at this many messages or bytes, even mid-batch.
const PAGE_FLUSH_MESSAGES: usize = 512;
const PAGE_FLUSH_BYTES: usize = 1024 * 1024;

/// A message on its way to being paged out: collected during a batch of commands and
/// written with the others in one system call.
struct PendingPage {
    message: Arc<Message>,
    arrival: Arrival,
    ticket: Option<ConfirmTicket>,
    key: Option<PublisherSeq>,
    persistent: bool,
}

/// Messages that live only in the store: seqs from `next_seq` on.
#[derive(Default)]
struct Paged {
    next_seq: u64,
    count: u64,
    bytes: u64,
}

pub(super) struct Backlog {
    ready: Ready,
    paged: Paged,
    /// Messages to page out, in order after everything in `paged`.
    pending_pages: Vec<PendingPage>,
    pending_page_bytes: usize,
    memory_bytes: usize,
    memory_messages: usize,
    /// Persistent messages are stored only in durable, non-exclusive queues.
    stores_persistent: bool,
    /// The position the next message entering the ready list gets (see `Entry::pos`).
    next_pos: u64,
    /// The last store read failed: the queue does not retry on its own (it would spin
    /// on the error), only when the next command comes.
    read_failed: bool,
    /// Publisher keys of messages kept in memory only (transient queues, transient
    /// messages); those of stored persistent messages are the store's (they must
    /// survive a restart).
    keys: PublisherWindow,
    pub disk: Disk,
}

impl Backlog {
    pub fn new(
        max_priority: Option<u8>,
        memory_bytes: usize,
        memory_messages: usize,
        stores_persistent: bool,
        disk: Disk,
    ) -> Self {
        Self {
            ready: Ready::new(max_priority),
            paged: Paged::default(),
            pending_pages: Vec::new(),
            pending_page_bytes: 0,
            memory_bytes,
            memory_messages: memory_messages.max(1),
            stores_persistent,
            next_pos: 0,
            read_failed: false,
            keys: PublisherWindow::default(),
            disk,
        }
    }

    /// Opens the store on first use; what an earlier run left in it becomes the paged
    /// part of the backlog, read back as the head drains.
    pub fn open_store(&mut self) -> Result<()> {
        if let Some(recovered) = self.disk.open()?
            && recovered.messages > 0
        {
            self.paged = Paged {
                next_seq: recovered.first_seq,
                count: recovered.messages,
                bytes: recovered.bytes,
            };
        }
        Ok(())
    }

    /// Whether a publish with `key` was taken already (in memory, in the store, or
    /// among the pages still being collected).
    pub fn has_key(&self, key: &PublisherSeq) -> bool {
        self.keys.contains(key)
            || self.disk.store_ref().is_some_and(|s| s.has_key(key))
            || self
                .pending_pages
                .iter()
                .any(|p| p.key.as_ref() == Some(key))
    }

    /// The confirmation of a resend: as safe as its original (see `Disk`).
    pub fn confirm_duplicate(&mut self, ticket: ConfirmTicket, persistent: bool) {
        self.disk
            .confirm_when_safe(ticket, self.stores_persistent && persistent);
    }

    fn storage_nack(&self, e: &trident_core::Error) -> Nack {
        Nack::Storage(self.disk.name().to_string(), e.to_string())
    }

    /// Messages ready for delivery, wherever they are.
    pub fn count(&self) -> u64 {
        self.ready.len() as u64 + self.paged.count + self.pending_pages.len() as u64
    }

    /// Body bytes of the ready messages, wherever they are.
    pub fn bytes(&self) -> u64 {
        self.ready.bytes() as u64 + self.paged.bytes + self.pending_page_bytes as u64
    }

    /// Bytes in memory and in the store, not counting pages still being collected (what
    /// a publish checks `x-max-length-bytes` against).
    pub fn settled_bytes(&self) -> u64 {
        self.ready.bytes() as u64 + self.paged.bytes
    }

    pub fn head_is_empty(&self) -> bool {
        self.ready.is_empty()
    }

    pub fn next_head_expiry(&self) -> Option<i64> {
        self.ready.next_head_expiry()
    }

    pub fn take_expired_heads(&mut self, now: i64) -> Vec<Entry> {
        self.ready.take_expired_heads(now)
    }

    pub fn pop_front(&mut self) -> Option<Entry> {
        self.ready.pop_front()
    }

    /// Puts a message that was delivered back where it was in the queue.
    pub fn requeue(&mut self, entry: Entry) {
        self.ready.insert_at_position(entry);
    }

    fn next_pos(&mut self) -> u64 {
        let p = self.next_pos;
        self.next_pos += 1;
        p
    }

    /// Takes a new message: into memory (and the store, when it must survive a
    /// restart), or, under a deep backlog, into the pages to write. Completes or
    /// parks the publisher's confirmation accordingly.
    pub fn push(
        &mut self,
        message: Arc<Message>,
        arrival: Arrival,
        ticket: Option<ConfirmTicket>,
        key: Option<PublisherSeq>,
        args: &QueueArgs,
    ) {
        let expires_at = expires_at(args, &message, now_ms());
        let persistent = self.stores_persistent && message.is_persistent();
        let page = !self.ready.is_prioritised()
            && (self.paged.count > 0
                || !self.pending_pages.is_empty()
                || self.ready.len() >= self.memory_messages
                || self.ready.bytes() >= self.memory_bytes);
        if page {
            self.pending_page_bytes += message.body.len();
            self.pending_pages.push(PendingPage {
                message,
                arrival,
                ticket,
                key,
                persistent,
            });
            if self.pending_pages.len() >= PAGE_FLUSH_MESSAGES
                || self.pending_page_bytes >= PAGE_FLUSH_BYTES
            {
                self.flush_pages();
            }
            return;
        }
        let mut seq = None;
        if persistent {
            match self
                .open_store()
                .and_then(|()| self.disk.append(&message, &arrival, key))
            {
                Ok(s) => seq = Some(s),
                Err(e) => {
                    tracing::error!(queue = %self.disk.name(), error = %e, "queue store append failed");
                    if let Some(t) = ticket {
                        t.complete(Err(self.storage_nack(&e)));
                    }
                    return;
                }
            }
        } else if let Some(k) = key {
            self.keys.insert(k, ());
        }
        let pos = self.next_pos();
        self.ready.push_back(Entry {
            message,
            seq,
            pos,
            redelivered: false,
            expires_at,
            arrival: boxed_arrival(arrival),
        });
        if let Some(t) = ticket {
            self.disk.confirm_when_safe(t, persistent);
        }
    }

    /// Writes the collected pages in one go. A failure nacks exactly those messages:
    /// they were never in memory and got no seq, so nothing else refers to them.
    pub fn flush_pages(&mut self) {
        if self.pending_pages.is_empty() {
            return;
        }
        let pending = std::mem::take(&mut self.pending_pages);
        let bytes = std::mem::take(&mut self.pending_page_bytes) as u64;
        let result = self.open_store().and_then(|()| {
            let msgs: Vec<(&Message, &Arrival)> =
                pending.iter().map(|p| (&*p.message, &p.arrival)).collect();
            // Only a persistent message's key goes to the store: a transient one does
            // not survive a restart, so neither may its key.
            let keys: Vec<Option<PublisherSeq>> = pending
                .iter()
                .map(|p| p.key.filter(|_| p.persistent))
                .collect();
            self.disk.append_many(&msgs, &keys)
        });
        match result {
            Ok(first) => {
                if self.paged.count == 0 {
                    self.paged.next_seq = first;
                }
                self.paged.count += pending.len() as u64;
                self.paged.bytes += bytes;
                for p in pending {
                    if let (Some(k), false) = (p.key, p.persistent) {
                        self.keys.insert(k, ());
                    }
                    if let Some(t) = p.ticket {
                        self.disk.confirm_when_safe(t, p.persistent);
                    }
                }
            }
            Err(e) => {
                tracing::error!(queue = %self.disk.name(), error = %e, messages = pending.len(), "paging to disk failed");
                for t in pending.into_iter().filter_map(|p| p.ticket) {
                    t.complete(Err(self.storage_nack(&e)));
                }
            }
        }
    }

    /// Reads paged messages back into memory while the in-memory head is short.
    pub fn refill(&mut self, args: &QueueArgs) {
        self.refill_reads(args, usize::MAX);
    }

    /// Whether [`Self::refill`] would read from the store now.
    fn wants_refill(&self) -> bool {
        self.paged.count > 0 && self.ready.len() < self.memory_messages / 2 + 1
    }

    /// Whether the queue should refill without waiting for a command (see
    /// `QueueActor::next_deadline`).
    pub fn refill_due(&self) -> bool {
        !self.read_failed && self.wants_refill()
    }

    /// [`Self::refill`] with at most `reads` store reads (a queue task starting after a
    /// restart reads one, so that its first delivery does not wait for a whole head).
    pub fn refill_reads(&mut self, args: &QueueArgs, mut reads: usize) {
        self.read_failed = false;
        if self.ready.len() < self.memory_messages / 2 + 1 {
            self.flush_pages();
        }
        while self.wants_refill() && reads > 0 {
            reads -= 1;
            let Some(store) = self.disk.store_ref() else {
                self.paged = Paged::default();
                return;
            };
            let from = self.paged.next_seq;
            let want = REFILL_BATCH.min(usize::try_from(self.paged.count).unwrap_or(usize::MAX));
            let max_bytes = REFILL_BYTES.min(self.memory_bytes.max(1));
            let batch = match tokio::task::block_in_place(|| {
                store.read_with_arrival(from, want, max_bytes)
            }) {
                Ok(b) => b,
                Err(e) => {
                    tracing::error!(queue = %self.disk.name(), error = %e, "queue store read failed; paged messages unavailable");
                    self.read_failed = true;
                    return;
                }
            };
            if batch.is_empty() {
                tracing::warn!(queue = %self.disk.name(), missing = self.paged.count, "paged messages not found in store");
                self.paged = Paged::default();
                return;
            }
            let now = now_ms();
            for stored in batch {
                let (seq, message) = (stored.seq, stored.message);
                self.paged.next_seq = seq + 1;
                self.paged.count = self.paged.count.saturating_sub(1);
                self.paged.bytes = self.paged.bytes.saturating_sub(message.body.len() as u64);
                // A transient message paged out before a restart does not survive it.
                if !message.is_persistent() && self.disk.is_recovered(seq) {
                    self.disk.remove(Some(seq));
                    continue;
                }
                let expires_at = expires_at(args, &message, message.timestamp_ms.max(0).min(now));
                // Paged messages were never delivered in this run; a mark can only be
                // from before a restart, and then the consumer must hear about it.
                let redelivered = self.disk.was_delivered(seq);
                let pos = self.next_pos();
                self.ready.push_back(Entry {
                    message: Arc::new(message),
                    seq: Some(seq),
                    pos,
                    redelivered,
                    expires_at,
                    arrival: boxed_arrival(stored.arrival),
                });
            }
        }
    }

    /// Removes every ready message; returns how many there were.
    pub fn purge(&mut self) -> u64 {
        self.flush_pages();
        let count = self.count();
        for e in self.ready.drain() {
            self.disk.remove(e.seq);
        }
        if self.paged.count > 0 {
            self.disk.remove_from(self.paged.next_seq);
        }
        self.paged = Paged::default();
        self.disk.sync_now();
        count
    }

    /// Writes out what is collected and syncs (engine shutdown, last handle gone).
    pub fn close(&mut self) {
        self.flush_pages();
        self.disk.sync_now();
        self.disk.release();
    }

    /// The queue is deleted: confirmations still waiting succeed, the files go.
    pub fn destroy(&mut self) {
        self.disk.destroy();
        for t in self.pending_pages.drain(..).filter_map(|p| p.ticket) {
            t.complete(Ok(()));
        }
    }
}
