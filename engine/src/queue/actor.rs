//! The owner task of one queue.
//!
//! Everything about a queue — ready messages, deliveries awaiting settlement, consumers
//! and their credit, its store on disk — belongs to this task alone. Commands arrive on
//! a bounded channel; the task handles every command already waiting before it writes
//! to disk, so one fsync covers all of them (group commit) and confirmations go out
//! only after it.
//!
//! Memory stays bounded under a deep backlog: past `queue_memory_*` the task writes new
//! messages to its store instead of keeping them, and reads them back in order as the
//! in-memory head drains ("paging"). A queue that is 10 GB deep holds a window of it.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::time::Instant;
use trident_core::message::now_ms;
use trident_core::{ConnectionId, Durability, Error, Message, Overflow, QueueDef, Result};
use trident_storage::{QueueStore, QueueStoreConfig};

use super::command::QueueCommand;
use super::dead_letter::{Reason, dead_letter};
use super::ready::{Entry, Ready};
use super::{QueueCounters, QueueRef};
use crate::config::EngineConfig;
use crate::delivery::{
    ConsumerEvent, ConsumerOptions, ConsumerSink, Delivery, DeliveryId, Outcome,
};
use crate::metrics::Metrics;
use crate::publish::{ConfirmTicket, Nack};
use crate::vhost::WeakVhost;

/// How many commands one turn of the loop takes before it syncs and delivers.
const BATCH: usize = 512;
/// How many paged messages one refill reads back, and at most how many bytes: a read
/// larger than what it returns would be wasted I/O.
const REFILL_BATCH: usize = 4096;
const REFILL_BYTES: usize = 4 * 1024 * 1024;

struct Consumer {
    tag: Arc<str>,
    owner: ConnectionId,
    sink: ConsumerSink,
    credit: u32,
    no_ack: bool,
    exclusive: bool,
}

/// A delivery awaiting settlement.
struct Unacked {
    entry: Entry,
    owner: ConnectionId,
}

/// A message on its way to being paged out: collected during a batch of commands and
/// written with the others in one system call.
struct PendingPage {
    message: Arc<Message>,
    ticket: Option<ConfirmTicket>,
    persistent: bool,
}

/// A dirty store is synced at least this often even when no publisher waits on it:
/// syncing is what reclaims drained segments and writes out buffered removals, so a
/// queue that only pages (no confirms) would otherwise grow on disk and in memory.
const HOUSEKEEPING: Duration = Duration::from_secs(1);

/// Flush collected pages at this many messages or bytes, even mid-batch.
const PAGE_FLUSH_MESSAGES: usize = 512;
const PAGE_FLUSH_BYTES: usize = 1024 * 1024;

/// Messages that live only in the store: seqs from `next_seq` on.
#[derive(Default)]
struct Paged {
    next_seq: u64,
    count: u64,
    bytes: u64,
}

struct QueueActor {
    def: QueueDef,
    me: QueueRef,
    vhost: WeakVhost,
    metrics: Arc<Metrics>,
    counters: Arc<QueueCounters>,
    durability: Durability,
    memory_bytes: usize,
    memory_messages: usize,
    /// Persistent messages are stored only in durable, non-exclusive queues.
    stores_persistent: bool,
    store_dir: PathBuf,
    store: Option<QueueStore>,
    /// Seqs below this were written before this process opened the store.
    recovered_end_seq: u64,
    /// Appends or removals not yet synced.
    dirty: bool,
    last_sync: Instant,
    ready: Ready,
    paged: Paged,
    /// Messages to page out, in order after everything in `paged`.
    pending_pages: Vec<PendingPage>,
    pending_page_bytes: usize,
    unacked: HashMap<DeliveryId, Unacked>,
    consumers: Vec<Consumer>,
    next_consumer: usize,
    ever_consumed: bool,
    next_delivery: DeliveryId,
    /// Confirmations to complete after the next sync.
    awaiting_sync: Vec<ConfirmTicket>,
    dead_letters: Option<mpsc::UnboundedSender<(trident_core::ExchangeName, Message)>>,
    last_used: Instant,
}

pub(crate) fn spawn_queue(
    def: QueueDef,
    owner: Option<ConnectionId>,
    store_dir: PathBuf,
    cfg: &EngineConfig,
    vhost: WeakVhost,
    metrics: Arc<Metrics>,
) -> Result<QueueRef> {
    let (tx, rx) = mpsc::channel(cfg.channel_capacity);
    let (urgent_tx, urgent_rx) = mpsc::unbounded_channel();
    let counters = Arc::new(QueueCounters::default());
    let me = QueueRef::new(def.clone(), owner, tx, urgent_tx, counters.clone());
    let stores_persistent = def.durable && owner.is_none();
    let mut actor = QueueActor {
        ready: Ready::new(def.args.max_priority),
        def,
        me: me.clone(),
        vhost,
        metrics,
        counters,
        durability: cfg.durability,
        memory_bytes: cfg.queue_memory_bytes,
        memory_messages: cfg.queue_memory_messages.max(1),
        stores_persistent,
        store_dir,
        store: None,
        recovered_end_seq: 0,
        dirty: false,
        last_sync: Instant::now(),
        paged: Paged::default(),
        pending_pages: Vec::new(),
        pending_page_bytes: 0,
        unacked: HashMap::new(),
        consumers: Vec::new(),
        next_consumer: 0,
        ever_consumed: false,
        next_delivery: 1,
        awaiting_sync: Vec::new(),
        dead_letters: None,
        last_used: Instant::now(),
    };
    if stores_persistent {
        actor.open_store()?;
        actor.refill();
        actor.publish_counters();
    }
    tokio::spawn(actor.run(rx, urgent_rx));
    Ok(me)
}

impl QueueActor {
    fn open_store(&mut self) -> Result<&mut QueueStore> {
        if self.store.is_none() {
            let (store, recovered) =
                QueueStore::open(&self.store_dir, QueueStoreConfig::default())?;
            if recovered.messages > 0 {
                tracing::info!(queue = %self.def.name, messages = recovered.messages, "recovered queue");
                self.paged = Paged {
                    next_seq: recovered.first_seq,
                    count: recovered.messages,
                    bytes: recovered.bytes,
                };
            }
            self.recovered_end_seq = store.next_seq();
            self.store = Some(store);
        }
        self.store
            .as_mut()
            .ok_or_else(|| Error::Storage("queue store unavailable".into()))
    }

    async fn run(
        mut self,
        mut rx: mpsc::Receiver<QueueCommand>,
        mut urgent: mpsc::UnboundedReceiver<QueueCommand>,
    ) {
        loop {
            let timer = self.next_deadline();
            let cmd = tokio::select! {
                biased;
                Some(cmd) = urgent.recv() => Some(cmd),
                cmd = rx.recv() => cmd,
                () = sleep_until(timer) => {
                    if self.on_timer() {
                        return;
                    }
                    self.after_batch();
                    continue;
                }
            };
            let Some(cmd) = cmd else {
                // Every handle is gone: the engine dropped the queue.
                self.flush_pages();
                self.sync_now();
                return;
            };
            if self.handle(cmd) {
                return;
            }
            for _ in 1..BATCH {
                // Settlements first, whenever there are any.
                let next = match urgent.try_recv() {
                    Ok(cmd) => Ok(cmd),
                    Err(_) => rx.try_recv(),
                };
                match next {
                    Ok(cmd) => {
                        if self.handle(cmd) {
                            return;
                        }
                    }
                    Err(_) => break,
                }
            }
            self.after_batch();
        }
    }

    /// After a batch of commands: make writes durable if anyone waits on that, then
    /// move messages to consumers and refill from disk.
    fn after_batch(&mut self) {
        self.flush_pages();
        self.expire_heads();
        // Deliver before syncing, as RabbitMQ does: a consumer may see a persistent
        // message before it is on disk, but the publisher's confirmation still waits for
        // the fsync, which is all the publisher was promised. Syncing first would add a
        // whole fsync to every message's end-to-end latency.
        self.drive();
        self.refill();
        self.drive();
        self.flush_confirms();
        if self.sync_due() {
            self.sync_now();
        }
        self.publish_counters();
    }

    fn next_deadline(&self) -> Option<Instant> {
        let mut deadline: Option<Instant> = None;
        let mut consider = |t: Instant| deadline = Some(deadline.map_or(t, |d| d.min(t)));
        if let Some(at) = self.ready.next_head_expiry() {
            let wait = u64::try_from(at - now_ms()).unwrap_or(0);
            consider(Instant::now() + Duration::from_millis(wait));
        }
        if let (Some(ms), true) = (self.def.args.expires_ms, self.consumers.is_empty()) {
            consider(self.last_used + Duration::from_millis(ms));
        }
        if self.dirty {
            consider(self.last_sync + self.sync_every());
        }
        deadline
    }

    /// Returns true when the queue deleted itself.
    fn on_timer(&mut self) -> bool {
        if let (Some(ms), true) = (self.def.args.expires_ms, self.consumers.is_empty())
            && self.last_used.elapsed() >= Duration::from_millis(ms)
        {
            self.delete_self("expired (x-expires)");
            // Keep serving until the vhost's Delete arrives; it is what stops the task.
            self.last_used = Instant::now() + Duration::from_secs(3600);
        }
        if self.sync_due() {
            self.sync_now();
        }
        false
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

    fn sync_due(&self) -> bool {
        self.dirty && self.last_sync.elapsed() >= self.sync_every()
    }

    fn delete_self(&self, why: &'static str) {
        let Some(vhost) = self.vhost.upgrade() else {
            return;
        };
        let name = self.def.name.clone();
        tracing::debug!(queue = %name, why, "queue deletes itself");
        tokio::spawn(async move {
            if let Err(e) = vhost.delete_queue(&name, false, false, None).await {
                tracing::debug!(queue = %name, error = %e, "self-deletion skipped");
            }
        });
    }

    /// Returns true when the task must stop.
    fn handle(&mut self, cmd: QueueCommand) -> bool {
        match cmd {
            QueueCommand::Publish { message, ticket } => self.publish(message, ticket),
            QueueCommand::Consume { opts, sink, reply } => {
                let _ = reply.send(self.consume(opts, sink));
            }
            QueueCommand::Cancel { tag, reply } => {
                self.cancel(&tag);
                if let Some(r) = reply {
                    let _ = r.send(());
                }
            }
            QueueCommand::Credit { tag, credit } => {
                if let Some(c) = self.consumers.iter_mut().find(|c| c.tag == tag) {
                    c.credit = c.credit.saturating_add(credit);
                }
            }
            QueueCommand::Settle { ids, outcome } => self.settle(ids, outcome),
            QueueCommand::Get {
                no_ack,
                owner,
                reply,
            } => {
                self.last_used = Instant::now();
                let _ = reply.send(Ok(self.get(no_ack, owner)));
            }
            QueueCommand::Purge { reply } => {
                let _ = reply.send(Ok(self.purge()));
            }
            QueueCommand::Delete {
                if_unused,
                if_empty,
                reply,
            } => {
                if if_unused && !self.consumers.is_empty() {
                    let _ = reply.send(Err(Error::PreconditionFailed(format!(
                        "queue '{}' in vhost is in use",
                        self.def.name
                    ))));
                    return false;
                }
                if if_empty && self.ready_count() > 0 {
                    let _ = reply.send(Err(Error::PreconditionFailed(format!(
                        "queue '{}' is not empty",
                        self.def.name
                    ))));
                    return false;
                }
                let count = self.ready_count();
                self.destroy();
                let _ = reply.send(Ok(count));
                return true;
            }
            QueueCommand::ConnectionClosed { conn } => self.connection_closed(conn),
            QueueCommand::Shutdown { reply } => {
                self.flush_pages();
                self.sync_now();
                self.complete_all_confirms();
                let _ = reply.send(());
                return true;
            }
        }
        false
    }

    fn ready_count(&self) -> u64 {
        self.ready.len() as u64 + self.paged.count + self.pending_pages.len() as u64
    }

    fn ready_bytes(&self) -> u64 {
        self.ready.bytes() as u64 + self.paged.bytes + self.pending_page_bytes as u64
    }

    // ------------------------------------------------------------- publish

    fn publish(&mut self, message: Arc<Message>, ticket: Option<ConfirmTicket>) {
        let args = &self.def.args;
        let over_length = |len: u64, bytes: u64, add: u64| {
            args.max_length.is_some_and(|m| len + 1 > m)
                || args.max_length_bytes.is_some_and(|m| bytes + add > m)
        };
        let size = message.body.len() as u64;
        if args.overflow != Overflow::DropHead
            && over_length(
                self.ready_count(),
                self.ready.bytes() as u64 + self.paged.bytes,
                size,
            )
        {
            if args.overflow == Overflow::RejectPublishDlx {
                self.dead_letter_message(&message, Reason::MaxLen);
            }
            if let Some(t) = ticket {
                t.complete(Err(Nack::QueueFull(self.def.name.to_string())));
            }
            return;
        }
        let now = now_ms();
        let expires_at = self.expiry_for(&message, now);
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
                ticket,
                persistent,
            });
            if self.pending_pages.len() >= PAGE_FLUSH_MESSAGES
                || self.pending_page_bytes >= PAGE_FLUSH_BYTES
            {
                self.flush_pages();
            }
            self.enforce_max_length();
            return;
        }
        let mut seq = None;
        if persistent {
            match self
                .open_store()
                .and_then(|s| s.append(&message).map_err(Error::from))
            {
                Ok(s) => {
                    seq = Some(s);
                    self.dirty = true;
                }
                Err(e) => {
                    tracing::error!(queue = %self.def.name, error = %e, "queue store append failed");
                    if let Some(t) = ticket {
                        t.complete(Err(Nack::Storage(self.def.name.to_string(), e.to_string())));
                    }
                    return;
                }
            }
        }
        self.ready.push_back(Entry {
            message,
            seq,
            redelivered: false,
            expires_at,
        });
        if let Some(t) = ticket {
            // Only a persistent message waits for the disk; the others are as safe as
            // they will ever be once the queue holds them.
            if persistent && self.durability == Durability::Fsync {
                self.awaiting_sync.push(t);
            } else {
                t.complete(Ok(()));
            }
        }
        self.enforce_max_length();
    }

    fn expiry_for(&self, message: &Message, now: i64) -> Option<i64> {
        let queue_ttl = self.def.args.message_ttl_ms;
        let msg_ttl = message.properties.expiration_ms().ok().flatten();
        let mqtt_ttl = message
            .mqtt
            .as_ref()
            .and_then(|m| m.message_expiry_secs)
            .map(|s| u64::from(s) * 1000);
        [queue_ttl, msg_ttl, mqtt_ttl]
            .into_iter()
            .flatten()
            .min()
            .map(|ttl| now.saturating_add(i64::try_from(ttl).unwrap_or(i64::MAX)))
    }

    fn enforce_max_length(&mut self) {
        if self.def.args.overflow != Overflow::DropHead {
            return;
        }
        loop {
            let over = self
                .def
                .args
                .max_length
                .is_some_and(|m| self.ready_count() > m)
                || self
                    .def
                    .args
                    .max_length_bytes
                    .is_some_and(|m| self.ready_bytes() > m);
            if !over {
                return;
            }
            if self.ready.is_empty() {
                self.refill();
            }
            let Some(head) = self.ready.pop_front() else {
                return;
            };
            self.dead_letter_entry(head, Reason::MaxLen);
        }
    }

    fn flush_confirms(&mut self) {
        let must_sync = match self.durability {
            Durability::Fsync => !self.awaiting_sync.is_empty(),
            Durability::Interval { .. } | Durability::Never => false,
        };
        if must_sync {
            self.sync_now();
        }
        self.complete_all_confirms();
    }

    fn complete_all_confirms(&mut self) {
        for t in self.awaiting_sync.drain(..) {
            t.complete(Ok(()));
        }
    }

    fn sync_now(&mut self) {
        if !self.dirty {
            return;
        }
        if let Some(store) = self.store.as_mut() {
            // fsync blocks this worker thread; tell the runtime so other tasks move.
            let result = tokio::task::block_in_place(|| store.sync());
            if let Err(e) = result {
                tracing::error!(queue = %self.def.name, error = %e, "queue store sync failed");
                let name = self.def.name.to_string();
                for t in self.awaiting_sync.drain(..) {
                    t.complete(Err(Nack::Storage(name.clone(), e.to_string())));
                }
                return;
            }
        }
        self.dirty = false;
        self.last_sync = Instant::now();
    }

    // ------------------------------------------------------------- paging

    /// Writes the collected pages in one go. A failure nacks exactly those messages:
    /// they were never in memory and got no seq, so nothing else refers to them.
    fn flush_pages(&mut self) {
        if self.pending_pages.is_empty() {
            return;
        }
        let pending = std::mem::take(&mut self.pending_pages);
        let bytes = std::mem::take(&mut self.pending_page_bytes) as u64;
        let result = {
            let msgs: Vec<&Message> = pending.iter().map(|p| &*p.message).collect();
            self.open_store().and_then(|store| {
                tokio::task::block_in_place(|| store.append_many(&msgs)).map_err(Error::from)
            })
        };
        match result {
            Ok(first) => {
                if self.paged.count == 0 {
                    self.paged.next_seq = first;
                }
                self.paged.count += pending.len() as u64;
                self.paged.bytes += bytes;
                self.dirty = true;
                for p in pending {
                    if let Some(t) = p.ticket {
                        if p.persistent && self.durability == Durability::Fsync {
                            self.awaiting_sync.push(t);
                        } else {
                            t.complete(Ok(()));
                        }
                    }
                }
            }
            Err(e) => {
                tracing::error!(queue = %self.def.name, error = %e, messages = pending.len(), "paging to disk failed");
                let name = self.def.name.to_string();
                for t in pending.into_iter().filter_map(|p| p.ticket) {
                    t.complete(Err(Nack::Storage(name.clone(), e.to_string())));
                }
            }
        }
    }

    /// Reads paged messages back into memory while the in-memory head is short.
    fn refill(&mut self) {
        if self.ready.len() < self.memory_messages / 2 + 1 {
            self.flush_pages();
        }
        while self.paged.count > 0 && self.ready.len() < self.memory_messages / 2 + 1 {
            let Some(store) = self.store.as_ref() else {
                self.paged = Paged::default();
                return;
            };
            let from = self.paged.next_seq;
            let want = REFILL_BATCH.min(usize::try_from(self.paged.count).unwrap_or(usize::MAX));
            let read = tokio::task::block_in_place(|| {
                store.read(from, want, REFILL_BYTES.min(self.memory_bytes.max(1)))
            });
            let batch = match read {
                Ok(b) => b,
                Err(e) => {
                    tracing::error!(queue = %self.def.name, error = %e, "queue store read failed; paged messages unavailable");
                    return;
                }
            };
            if batch.is_empty() {
                tracing::warn!(queue = %self.def.name, missing = self.paged.count, "paged messages not found in store");
                self.paged = Paged::default();
                return;
            }
            let now = now_ms();
            for (seq, message) in batch {
                self.paged.next_seq = seq + 1;
                self.paged.count = self.paged.count.saturating_sub(1);
                self.paged.bytes = self.paged.bytes.saturating_sub(message.body.len() as u64);
                // A transient message paged out before a restart does not survive it.
                if !message.is_persistent() && seq < self.recovered_end_seq {
                    self.remove_from_store(Some(seq));
                    continue;
                }
                let expires_at = self.expiry_for(&message, message.timestamp_ms.max(0).min(now));
                self.ready.push_back(Entry {
                    message: Arc::new(message),
                    seq: Some(seq),
                    redelivered: false,
                    expires_at,
                });
            }
        }
    }

    fn remove_from_store(&mut self, seq: Option<u64>) {
        let (Some(seq), Some(store)) = (seq, self.store.as_mut()) else {
            return;
        };
        if let Err(e) = store.ack(seq) {
            tracing::error!(queue = %self.def.name, seq, error = %e, "queue store ack failed");
        }
        self.dirty = true;
    }

    // ------------------------------------------------------------- consumers

    fn consume(&mut self, opts: ConsumerOptions, sink: ConsumerSink) -> Result<()> {
        let vhost = || {
            self.vhost
                .upgrade()
                .map(|v| v.name().to_string())
                .unwrap_or_default()
        };
        if self.consumers.iter().any(|c| c.exclusive)
            || (opts.exclusive && !self.consumers.is_empty())
        {
            return Err(Error::ResourceLocked {
                kind: "queue (exclusive consumer)",
                name: self.def.name.to_string(),
                vhost: vhost(),
            });
        }
        if self.consumers.iter().any(|c| c.tag == opts.tag) {
            return Err(Error::PreconditionFailed(format!(
                "consumer tag '{}' already in use on queue '{}'",
                opts.tag, self.def.name
            )));
        }
        self.consumers.push(Consumer {
            tag: opts.tag,
            owner: opts.owner,
            sink,
            credit: opts.initial_credit,
            no_ack: opts.no_ack,
            exclusive: opts.exclusive,
        });
        self.ever_consumed = true;
        self.last_used = Instant::now();
        Ok(())
    }

    fn cancel(&mut self, tag: &str) {
        let before = self.consumers.len();
        self.consumers.retain(|c| &*c.tag != tag);
        if self.consumers.len() != before {
            self.after_consumer_left();
        }
    }

    fn after_consumer_left(&mut self) {
        self.last_used = Instant::now();
        if self.consumers.is_empty() && self.def.auto_delete && self.ever_consumed {
            self.delete_self("last consumer left (auto-delete)");
        }
    }

    /// Pushes ready messages to consumers with credit, round robin.
    fn drive(&mut self) {
        while !self.ready.is_empty() && !self.consumers.is_empty() {
            let n = self.consumers.len();
            let Some(ci) = (0..n)
                .map(|i| (self.next_consumer + i) % n)
                .find(|&i| self.consumers[i].credit > 0)
            else {
                return;
            };
            self.next_consumer = (ci + 1) % n;
            self.expire_heads();
            let Some(entry) = self.ready.pop_front() else {
                return;
            };
            self.deliver(ci, entry);
        }
    }

    fn deliver(&mut self, ci: usize, entry: Entry) {
        let id = self.next_delivery;
        self.next_delivery += 1;
        let c = &mut self.consumers[ci];
        if c.credit != u32::MAX {
            c.credit -= 1;
        }
        let delivery = Delivery {
            queue: self.me.clone(),
            consumer_tag: c.tag.clone(),
            id,
            message: entry.message.clone(),
            redelivered: entry.redelivered,
            remaining: 0,
        };
        let no_ack = c.no_ack;
        let owner = c.owner;
        let sent = c.sink.send(ConsumerEvent::Deliver(delivery)).is_ok();
        if !sent {
            // The consumer's connection is gone without telling us: put the message
            // back and forget the consumer.
            let mut entry = entry;
            entry.redelivered = true;
            self.ready.push_front(entry);
            self.consumers.remove(ci);
            self.after_consumer_left();
            return;
        }
        Metrics::add(&self.metrics.messages_delivered, 1);
        if no_ack {
            self.remove_from_store(entry.seq);
        } else {
            self.unacked.insert(id, Unacked { entry, owner });
        }
    }

    fn get(&mut self, no_ack: bool, owner: ConnectionId) -> Option<Delivery> {
        self.expire_heads();
        if self.ready.is_empty() {
            self.refill();
        }
        let entry = self.ready.pop_front()?;
        let id = self.next_delivery;
        self.next_delivery += 1;
        Metrics::add(&self.metrics.messages_delivered, 1);
        let delivery = Delivery {
            queue: self.me.clone(),
            consumer_tag: Arc::from(""),
            id,
            message: entry.message.clone(),
            redelivered: entry.redelivered,
            remaining: self.ready_count(),
        };
        if no_ack {
            self.remove_from_store(entry.seq);
        } else {
            self.unacked.insert(id, Unacked { entry, owner });
        }
        Some(delivery)
    }

    fn settle(&mut self, mut ids: Vec<DeliveryId>, outcome: Outcome) {
        if outcome == Outcome::Requeue {
            // Requeued messages go back to the head in their original order.
            ids.sort_unstable_by(|a, b| b.cmp(a));
        }
        for id in ids {
            let Some(u) = self.unacked.remove(&id) else {
                continue;
            };
            match outcome {
                Outcome::Ack => {
                    Metrics::add(&self.metrics.messages_acked, 1);
                    self.remove_from_store(u.entry.seq);
                }
                Outcome::Requeue => {
                    let mut e = u.entry;
                    e.redelivered = true;
                    self.ready.push_front(e);
                }
                Outcome::Reject => self.dead_letter_entry(u.entry, Reason::Rejected),
            }
        }
    }

    fn connection_closed(&mut self, conn: ConnectionId) {
        let mut ids: Vec<DeliveryId> = self
            .unacked
            .iter()
            .filter(|(_, u)| u.owner == conn)
            .map(|(id, _)| *id)
            .collect();
        ids.sort_unstable();
        self.settle(ids, Outcome::Requeue);
        let before = self.consumers.len();
        self.consumers.retain(|c| c.owner != conn);
        if self.consumers.len() != before {
            self.after_consumer_left();
        }
    }

    // ------------------------------------------------------------- removal

    fn expire_heads(&mut self) {
        if self.ready.next_head_expiry().is_none() {
            return;
        }
        for e in self.ready.take_expired_heads(now_ms()) {
            Metrics::add(&self.metrics.messages_expired, 1);
            self.dead_letter_entry(e, Reason::Expired);
        }
    }

    fn dead_letter_entry(&mut self, entry: Entry, reason: Reason) {
        self.dead_letter_message(&entry.message, reason);
        self.remove_from_store(entry.seq);
    }

    fn dead_letter_message(&mut self, message: &Message, reason: Reason) {
        let Some((dlx, msg)) =
            dead_letter(message, &self.def.name, &self.def.args, reason, now_ms())
        else {
            return;
        };
        Metrics::add(&self.metrics.messages_dead_lettered, 1);
        let tx = self
            .dead_letters
            .get_or_insert_with(|| spawn_dead_letter_forwarder(self.vhost.clone()));
        let _ = tx.send((dlx, msg));
    }

    fn purge(&mut self) -> u64 {
        self.flush_pages();
        let count = self.ready_count();
        for e in self.ready.drain() {
            self.remove_from_store(e.seq);
        }
        if self.paged.count > 0
            && let Some(store) = self.store.as_mut()
        {
            let end = store.next_seq();
            if let Err(e) = store.ack_range(self.paged.next_seq, end) {
                tracing::error!(queue = %self.def.name, error = %e, "purge of paged messages failed");
            }
            self.dirty = true;
        }
        self.paged = Paged::default();
        self.sync_now();
        count
    }

    /// The queue is being deleted: tell consumers, drop confirmations, remove storage.
    fn destroy(&mut self) {
        for c in self.consumers.drain(..) {
            let _ = c.sink.send(ConsumerEvent::Cancelled {
                consumer_tag: c.tag,
            });
        }
        self.complete_all_confirms();
        for t in self.pending_pages.drain(..).filter_map(|p| p.ticket) {
            t.complete(Ok(()));
        }
        self.store = None;
        if self.store_dir.exists()
            && let Err(e) = std::fs::remove_dir_all(&self.store_dir)
        {
            tracing::warn!(queue = %self.def.name, error = %e, "could not remove queue storage");
        }
        self.counters.ready.store(0, Ordering::Relaxed);
        self.counters.unacked.store(0, Ordering::Relaxed);
        self.counters.consumers.store(0, Ordering::Relaxed);
    }

    fn publish_counters(&self) {
        let c = &self.counters;
        c.ready.store(self.ready_count(), Ordering::Relaxed);
        c.ready_bytes.store(
            self.ready.bytes() as u64 + self.paged.bytes,
            Ordering::Relaxed,
        );
        c.unacked
            .store(self.unacked.len() as u64, Ordering::Relaxed);
        c.consumers
            .store(self.consumers.len() as u32, Ordering::Relaxed);
    }
}

/// Republishes dead-lettered messages in order, off the queue's own task so that a
/// full target queue (or a queue dead-lettering to itself) cannot deadlock it.
fn spawn_dead_letter_forwarder(
    vhost: WeakVhost,
) -> mpsc::UnboundedSender<(trident_core::ExchangeName, Message)> {
    let (tx, mut rx) = mpsc::unbounded_channel::<(trident_core::ExchangeName, Message)>();
    tokio::spawn(async move {
        while let Some((exchange, message)) = rx.recv().await {
            let Some(v) = vhost.upgrade() else { return };
            if let Err(e) = v.publish_internal(message, &exchange).await {
                tracing::debug!(exchange = %exchange, error = %e, "dead-lettered message dropped");
            }
        }
    });
    tx
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}
