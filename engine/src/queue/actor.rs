//! The owner task of one queue: its loop and the dispatch of commands.
//!
//! Everything about a queue belongs to this task alone: the ready messages and their
//! store (`backlog`, `store`), the consumers and their credit (`consumers`), the
//! deliveries awaiting settlement (`settle`), time-to-live (`expiry`). Commands arrive
//! on a bounded channel; the task handles every command already waiting before it
//! writes to disk, so one fsync covers all of them (group commit) and confirmations go
//! out only after it.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;
use trident_core::{ConnectionId, Error, ExchangeName, Message, QueueDef, Result};

use super::backlog::Backlog;
use super::command::QueueCommand;
use super::consumers::Consumers;
use super::deliver::Staged;
use super::expiry::IdleExpiry;
use super::settle::Unacked;
use super::store::Disk;
use super::{QueueCounters, QueueRef};
use crate::config::EngineConfig;
use crate::delivery::{ConsumerOptions, ConsumerSink};
use crate::metrics::Metrics;
use crate::vhost::WeakVhost;

/// How many commands one turn of the loop takes before it syncs and delivers.
const BATCH: usize = 512;

pub(super) struct QueueActor {
    pub(super) def: QueueDef,
    /// Handed out with every delivery, so that its settlement finds its way back.
    pub(super) me: QueueRef,
    pub(super) vhost: WeakVhost,
    pub(super) metrics: Arc<Metrics>,
    pub(super) counters: Arc<QueueCounters>,
    /// Whether this queue has logged that it is full (once per queue, so that a queue
    /// that stays full does not flood the log; the counters keep counting).
    pub(super) overflow_logged: bool,
    pub(super) backlog: Backlog,
    pub(super) consumers: Consumers,
    pub(super) unacked: Unacked,
    /// Deliveries of this turn, handed over once their delivery marks are written.
    pub(super) outbox: Vec<Staged>,
    /// Settlers waiting until their settlements are written (see `Settle::written`).
    settle_waiters: Vec<oneshot::Sender<()>>,
    /// Publishers paused by flow control, waiting for the backlog to shrink.
    short_waiters: Vec<(u64, oneshot::Sender<()>)>,
    idle: IdleExpiry,
    /// Created on the first dead-lettered message.
    pub(super) dead_letters: Option<mpsc::UnboundedSender<(ExchangeName, Message)>>,
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
    let disk = Disk::new(def.name.clone(), store_dir, cfg.durability);
    let backlog = Backlog::new(
        def.args.max_priority,
        cfg.queue_memory_bytes,
        cfg.queue_memory_messages,
        stores_persistent,
        disk,
    );
    let mut actor = QueueActor {
        idle: IdleExpiry::new(def.args.expires_ms),
        def,
        me: me.clone(),
        vhost,
        metrics,
        counters,
        overflow_logged: false,
        backlog,
        consumers: Consumers::default(),
        unacked: Unacked::default(),
        outbox: Vec::new(),
        settle_waiters: Vec::new(),
        short_waiters: Vec::new(),
        dead_letters: None,
    };
    if stores_persistent {
        // Counts and bytes come from the queue index; the messages themselves are read
        // by the task, so that opening the engine does not wait for every queue's head.
        actor.backlog.open_store()?;
        actor.publish_counters();
    }
    tokio::spawn(actor.run(rx, urgent_rx));
    Ok(me)
}

impl QueueActor {
    async fn run(
        mut self,
        mut rx: mpsc::Receiver<QueueCommand>,
        mut urgent: mpsc::UnboundedReceiver<QueueCommand>,
    ) {
        // One read to start with; the batches that follow read the rest of the head.
        self.backlog.refill_reads(&self.def.args, 1);
        loop {
            let timer = self.next_deadline();
            let cmd = tokio::select! {
                biased;
                Some(cmd) = urgent.recv() => Some(cmd),
                cmd = rx.recv() => cmd,
                () = sleep_until(timer) => {
                    self.on_timer();
                    self.after_batch();
                    continue;
                }
            };
            let Some(cmd) = cmd else {
                // Every handle is gone: the engine dropped the queue.
                self.backlog.close();
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

    /// After a batch of commands: move messages to consumers and refill from disk,
    /// then make writes durable if anyone waits on that.
    fn after_batch(&mut self) {
        self.backlog.flush_pages();
        self.expire_heads();
        // Deliver before syncing, as RabbitMQ does: a consumer may see a persistent
        // message before it is on disk, but the publisher's confirmation still waits for
        // the fsync, which is all the publisher was promised. Syncing first would add a
        // whole fsync to every message's end-to-end latency.
        self.drive();
        self.backlog.refill(&self.def.args);
        self.drive();
        // Counters before anyone is answered: a publisher whose confirm arrives, or a
        // client whose ack round trip completes, then reads a message count that
        // includes what it was just told (pika's confirm-then-passive-declare saw 199 of
        // 200 when the counters were published after the confirms).
        self.publish_counters();
        // Acks reach the OS at the end of the batch that applied them: that is what
        // bounds how old an ack lost to `kill -9` can be.
        self.backlog.disk.write_out();
        for w in self.settle_waiters.drain(..) {
            let _ = w.send(());
        }
        self.backlog.disk.flush_confirms();
        if self.backlog.disk.sync_due() {
            self.backlog.disk.sync_now();
        }
        self.wake_short_waiters();
    }

    fn wake_short_waiters(&mut self) {
        if self.short_waiters.is_empty() {
            return;
        }
        let (ready, idle) = (self.backlog.count(), self.consumers.is_empty());
        let (wake, keep): (Vec<_>, Vec<_>) = std::mem::take(&mut self.short_waiters)
            .into_iter()
            .partition(|(limit, tx)| idle || ready <= *limit || tx.is_closed());
        self.short_waiters = keep;
        for (_, tx) in wake {
            let _ = tx.send(());
        }
    }

    fn next_deadline(&self) -> Option<Instant> {
        // A consumer with credit left and paged messages to read: go on at once. Without
        // this the head is refilled only when a command arrives, and a consumer that
        // neither acks nor needs credit (unlimited prefetch) sends none: it stalled
        // after the first refill.
        let refill = (self.backlog.refill_due() && self.consumers.any_credit()).then(Instant::now);
        [
            refill,
            self.head_expiry_deadline(),
            self.idle.deadline(self.consumers.is_empty()),
            self.backlog.disk.sync_deadline(),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    fn on_timer(&mut self) {
        if self.idle.is_due(self.consumers.is_empty()) {
            self.delete_self("expired (x-expires)");
            self.idle.postpone();
        }
        if self.backlog.disk.sync_due() {
            self.backlog.disk.sync_now();
        }
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
            QueueCommand::Publish {
                message,
                arrival,
                ticket,
                key,
            } => self.publish(message, arrival, ticket, key),
            QueueCommand::Consume { opts, sink, reply } => {
                let added = self.consume(opts, sink);
                self.publish_counters();
                let _ = reply.send(added);
            }
            QueueCommand::Cancel { tag, reply } => {
                if self.consumers.cancel(&tag) {
                    self.after_consumer_left();
                }
                self.publish_counters();
                if let Some(r) = reply {
                    let _ = r.send(());
                }
            }
            QueueCommand::Credit { tag, credit } => self.consumers.grant(&tag, credit),
            QueueCommand::Settle {
                ids,
                outcome,
                written,
            } => {
                self.settle(ids, outcome);
                self.settle_waiters.extend(written);
            }
            QueueCommand::WhenShort { limit, reply } => self.short_waiters.push((limit, reply)),
            QueueCommand::Get {
                no_ack,
                owner,
                reply,
            } => {
                self.idle.touch();
                let got = self.get(no_ack, owner);
                // As for confirms in after_batch: a client told get-ok (or get-empty)
                // and then reading the queue's depth must see the message gone.
                self.publish_counters();
                let _ = reply.send(Ok(got));
            }
            QueueCommand::Purge { reply } => {
                let purged = self.backlog.purge();
                self.publish_counters();
                let _ = reply.send(Ok(purged));
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
                if if_empty && self.backlog.count() > 0 {
                    let _ = reply.send(Err(Error::PreconditionFailed(format!(
                        "queue '{}' is not empty",
                        self.def.name
                    ))));
                    return false;
                }
                let count = self.backlog.count();
                self.destroy();
                let _ = reply.send(Ok(count));
                return true;
            }
            QueueCommand::SetExpires { expires_ms, reply } => {
                self.idle.set(expires_ms);
                let _ = reply.send(());
            }
            QueueCommand::ConnectionClosed { conn } => self.connection_closed(conn),
            QueueCommand::Shutdown { reply } => {
                self.backlog.close();
                self.backlog.disk.complete_all_confirms();
                let _ = reply.send(());
                return true;
            }
        }
        false
    }

    fn consume(&mut self, opts: ConsumerOptions, sink: ConsumerSink) -> Result<()> {
        let vhost = || {
            self.vhost
                .upgrade()
                .map(|v| v.name().to_string())
                .unwrap_or_default()
        };
        self.consumers.add(opts, sink, &self.def.name, vhost)?;
        self.idle.touch();
        Ok(())
    }

    pub(super) fn after_consumer_left(&mut self) {
        self.idle.touch();
        if self.consumers.is_empty() && self.def.auto_delete && self.consumers.ever_consumed() {
            self.delete_self("last consumer left (auto-delete)");
        }
    }

    /// The queue is being deleted: tell consumers, drop confirmations, remove storage.
    fn destroy(&mut self) {
        self.consumers.cancel_all();
        self.backlog.destroy();
        self.counters.ready.store(0, Ordering::Relaxed);
        self.counters.unacked.store(0, Ordering::Relaxed);
        self.counters.consumers.store(0, Ordering::Relaxed);
    }

    fn publish_counters(&self) {
        let c = &self.counters;
        c.ready.store(self.backlog.count(), Ordering::Relaxed);
        c.ready_bytes
            .store(self.backlog.settled_bytes(), Ordering::Relaxed);
        c.unacked
            .store(self.unacked.len() as u64, Ordering::Relaxed);
        c.consumers
            .store(self.consumers.len() as u32, Ordering::Relaxed);
    }
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}
