//! Queues: one owner task per queue (see `actor`), reached through a [`QueueRef`].

mod actor;
mod backlog;
mod command;
mod consumers;
mod dead_letter;
mod deliver;
mod expiry;
mod publish;
mod ready;
mod settle;
mod store;

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

use tokio::sync::{mpsc, oneshot};
use trident_core::{ConnectionId, Error, QueueDef, QueueName, Result};

use crate::delivery::{ConsumerOptions, ConsumerSink, DeliveryId, Outcome};

pub(crate) use actor::spawn_queue;
pub(crate) use command::QueueCommand;

/// Counters the owner task publishes for readers that must not wait on it (declare-ok
/// counts, metrics, management).
#[derive(Debug, Default)]
pub(crate) struct QueueCounters {
    pub ready: AtomicU64,
    pub unacked: AtomicU64,
    pub consumers: AtomicU32,
    pub ready_bytes: AtomicU64,
    pub dropped_overflow: AtomicU64,
    pub rejected_overflow: AtomicU64,
    /// Cumulative, for rates over time (the management API's sampler differences them).
    pub published: AtomicU64,
    pub delivered: AtomicU64,
    pub acked: AtomicU64,
}

/// A cheap handle to one queue's owner task.
#[derive(Debug, Clone)]
pub struct QueueRef {
    inner: Arc<QueueRefInner>,
}

#[derive(Debug)]
struct QueueRefInner {
    def: QueueDef,
    /// The connection that owns an exclusive queue. Behind a lock because ownership can
    /// pass to another connection (a client resuming its session on a new connection);
    /// a queue that was not exclusive never gains an owner.
    owner: std::sync::Mutex<Option<ConnectionId>>,
    tx: mpsc::Sender<QueueCommand>,
    /// Settlements and credit: they concern messages already delivered, so they may
    /// overtake publishes, and the owner task reads them first. Without this, consumers
    /// of a queue flooded by publishers wait behind up to a channel's worth of publishes
    /// for every ack. Unbounded because consumer credit already bounds the traffic.
    urgent: mpsc::UnboundedSender<QueueCommand>,
    counters: Arc<QueueCounters>,
}

/// See [`QueueRef::settle_written`].
#[derive(Debug)]
pub struct Written(oneshot::Receiver<()>);

impl Written {
    /// Resolves once the settlements are written (or the queue is gone: then there is
    /// nothing left to redeliver either).
    pub async fn wait(self) {
        let _ = self.0.await;
    }
}

/// See [`QueueRef::when_short`]; a future, so that a connection can wait on it among
/// its other events.
#[derive(Debug)]
pub struct Short(oneshot::Receiver<()>);

impl std::future::Future for Short {
    type Output = ();

    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<()> {
        std::pin::Pin::new(&mut self.0).poll(cx).map(|_| ())
    }
}

/// Numbers describing a queue at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct QueueStats {
    pub ready: u64,
    pub unacked: u64,
    pub consumers: u32,
    pub ready_bytes: u64,
    /// Messages the queue dropped from its head to stay within its length limit
    /// (`x-overflow = drop-head`; dead-lettered when it has a dead-letter exchange).
    pub dropped_overflow: u64,
    /// Publishes the queue refused because it was full (`reject-publish`,
    /// `reject-publish-dlx`); publishers that asked for a confirmation got a nack.
    pub rejected_overflow: u64,
    /// Messages the queue accepted since it was created (this process).
    pub published: u64,
    /// Deliveries to consumers and `get`s, redeliveries included.
    pub delivered: u64,
    /// Deliveries acknowledged.
    pub acked: u64,
}

impl QueueRef {
    pub(crate) fn new(
        def: QueueDef,
        owner: Option<ConnectionId>,
        tx: mpsc::Sender<QueueCommand>,
        urgent: mpsc::UnboundedSender<QueueCommand>,
        counters: Arc<QueueCounters>,
    ) -> Self {
        Self {
            inner: Arc::new(QueueRefInner {
                def,
                owner: std::sync::Mutex::new(owner),
                tx,
                urgent,
                counters,
            }),
        }
    }

    pub fn name(&self) -> &QueueName {
        &self.inner.def.name
    }

    pub fn def(&self) -> &QueueDef {
        &self.inner.def
    }

    pub fn owner(&self) -> Option<ConnectionId> {
        *self.inner.owner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Hands an exclusive queue from `from` to `to`. Fails (locked) when `from` does not
    /// own it, and (precondition) when the queue is not exclusive.
    pub(crate) fn transfer_owner(
        &self,
        from: ConnectionId,
        to: ConnectionId,
        vhost: &str,
    ) -> Result<()> {
        let mut owner = self.inner.owner.lock().unwrap_or_else(|p| p.into_inner());
        match *owner {
            Some(o) if o == from => {
                *owner = Some(to);
                Ok(())
            }
            Some(_) => Err(Error::locked("queue", self.name().as_str(), vhost)),
            None => Err(Error::PreconditionFailed(format!(
                "queue '{}' in vhost '{vhost}' is not exclusive",
                self.name()
            ))),
        }
    }

    /// Changes the queue's idle expiry (`x-expires`) in its owner task; `None` turns it
    /// off. The idle clock restarts. [`Self::def`] keeps the declared value (declare
    /// equivalence is judged against what was declared); see `Vhost::set_queue_expires`
    /// for the persisted one.
    pub(crate) async fn set_expires(&self, expires_ms: Option<u64>) -> Result<()> {
        self.call(|reply| QueueCommand::SetExpires { expires_ms, reply })
            .await
    }

    pub fn stats(&self) -> QueueStats {
        let c = &self.inner.counters;
        QueueStats {
            ready: c.ready.load(Ordering::Relaxed),
            unacked: c.unacked.load(Ordering::Relaxed),
            consumers: c.consumers.load(Ordering::Relaxed),
            ready_bytes: c.ready_bytes.load(Ordering::Relaxed),
            dropped_overflow: c.dropped_overflow.load(Ordering::Relaxed),
            rejected_overflow: c.rejected_overflow.load(Ordering::Relaxed),
            published: c.published.load(Ordering::Relaxed),
            delivered: c.delivered.load(Ordering::Relaxed),
            acked: c.acked.load(Ordering::Relaxed),
        }
    }

    /// Refuses access by a connection other than an exclusive queue's owner (AMQP 405).
    pub(crate) fn check_owner(&self, conn: ConnectionId, vhost: &str) -> Result<()> {
        match self.owner() {
            Some(owner) if owner != conn => {
                Err(Error::locked("queue", self.name().as_str(), vhost))
            }
            _ => Ok(()),
        }
    }

    pub(crate) async fn send(&self, cmd: QueueCommand) -> Result<()> {
        let gone = || Error::Unavailable(format!("queue '{}' is gone", self.name()));
        match cmd {
            QueueCommand::Settle { .. }
            | QueueCommand::Credit { .. }
            | QueueCommand::WhenShort { .. } => self.inner.urgent.send(cmd).map_err(|_| gone()),
            // Everything else keeps its order relative to publishes (a client that
            // publishes and then gets or purges must see its publish first).
            _ => self.inner.tx.send(cmd).await.map_err(|_| gone()),
        }
    }

    async fn call<T>(&self, make: impl FnOnce(oneshot::Sender<T>) -> QueueCommand) -> Result<T> {
        let (tx, rx) = oneshot::channel();
        self.send(make(tx)).await?;
        rx.await
            .map_err(|_| Error::Unavailable(format!("queue '{}' is gone", self.name())))
    }

    /// Settles deliveries made from this queue. Unknown ids are ignored here; the
    /// adapter validates tags against its own records (AMQP 406 on unknown tags).
    pub async fn settle(&self, ids: Vec<DeliveryId>, outcome: Outcome) -> Result<()> {
        self.send(QueueCommand::Settle {
            ids,
            outcome,
            written: None,
        })
        .await
    }

    /// [`Self::settle`], and a [`Written`] that completes once the queue has applied the
    /// settlements and handed their journal records to the OS: from then on an ack
    /// survives `kill -9` (power loss: see the durability contract). An adapter waits on
    /// it before it answers a synchronous method that follows acks, so that a client
    /// which saw the answer never gets those messages again after a crash.
    pub async fn settle_written(&self, ids: Vec<DeliveryId>, outcome: Outcome) -> Result<Written> {
        let (tx, rx) = oneshot::channel();
        self.send(QueueCommand::Settle {
            ids,
            outcome,
            written: Some(tx),
        })
        .await?;
        Ok(Written(rx))
    }

    /// A future that completes once at most `limit` messages are ready in the queue, or
    /// it has no consumer left (waiting for a backlog to drain would then be in vain), or
    /// the queue is gone.
    pub async fn when_short(&self, limit: u64) -> Result<Short> {
        let (tx, rx) = oneshot::channel();
        self.send(QueueCommand::WhenShort { limit, reply: tx })
            .await?;
        Ok(Short(rx))
    }

    /// Lets a consumer receive `credit` more deliveries.
    pub async fn grant(&self, tag: Arc<str>, credit: u32) -> Result<()> {
        self.send(QueueCommand::Credit { tag, credit }).await
    }

    /// Detaches a consumer. Its unacknowledged deliveries stay pending (they can still be
    /// settled), as AMQP requires.
    pub async fn cancel(&self, tag: Arc<str>) -> Result<()> {
        self.call(|reply| QueueCommand::Cancel {
            tag,
            reply: Some(reply),
        })
        .await
    }

    /// Requeues everything a connection still holds and drops its consumers.
    pub async fn connection_closed(&self, conn: ConnectionId) -> Result<()> {
        self.send(QueueCommand::ConnectionClosed { conn }).await
    }

    pub(crate) async fn consume(&self, opts: ConsumerOptions, sink: ConsumerSink) -> Result<()> {
        self.call(|reply| QueueCommand::Consume { opts, sink, reply })
            .await?
    }
}
