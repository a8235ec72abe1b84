//! What the connection tells the engine in batches (settlements, consumer credit),
//! and the channels on which the engine answers (deliveries, publisher confirms).

use std::sync::Arc;

use tokio::sync::mpsc;
use trident_engine::{ConsumerEvent, ConsumerSink, DeliveryId, Outcome, QueueRef};

use super::confirms::ConfirmDone;
use super::{Session, same_queue};
use crate::channel::Pending;

#[derive(Default)]
pub(super) struct EngineOps {
    /// Settlements batched until the current burst of input is handled: a client
    /// acking every message costs one queue command per burst, not per ack.
    settles: Vec<(QueueRef, Outcome, Vec<DeliveryId>)>,
    /// Credit to hand back to consumers, batched the same way.
    grants: Vec<(QueueRef, Arc<str>, u32)>,
    /// Queues handed settlements without waiting for them to be written: the next
    /// written flush must wait for those too. Acks and the synchronous method after them
    /// often arrive in different reads, so the acks were flushed (not waited for) a turn
    /// before the method; answering it at once let a `kill -9` lose acks the client
    /// had seen a round trip complete after (found by tools/soak/amqp_soak.py).
    unwritten: Vec<QueueRef>,
    /// Reused by every acknowledgement (see `settle.rs`).
    pub scratch: Vec<(u64, Pending)>,
    /// Created with the first consumer: an idle connection should not pay for it.
    pub events_tx: Option<ConsumerSink>,
    pub events_rx: Option<mpsc::UnboundedReceiver<ConsumerEvent>>,
    pub confirms_tx: Option<mpsc::UnboundedSender<ConfirmDone>>,
    pub confirms_rx: Option<mpsc::UnboundedReceiver<ConfirmDone>>,
    /// The connection consumed, fetched or declared an exclusive queue: the engine
    /// must be told when it ends.
    pub touched: bool,
}

impl EngineOps {
    pub fn is_empty(&self) -> bool {
        self.settles.is_empty() && self.grants.is_empty()
    }

    /// Whether a written flush has anything to wait for.
    pub fn has_unwritten(&self) -> bool {
        !self.settles.is_empty() || !self.unwritten.is_empty()
    }

    /// Adds a settlement to the batch for its queue and outcome.
    pub fn push_settle(&mut self, queue: &QueueRef, id: DeliveryId, outcome: Outcome) {
        match self
            .settles
            .iter_mut()
            .rev()
            .find(|(q, o, _)| *o == outcome && same_queue(q, queue))
        {
            Some((_, _, ids)) => ids.push(id),
            None => self.settles.push((queue.clone(), outcome, vec![id])),
        }
    }

    /// Adds credit for a consumer to the batch.
    pub fn push_grant(&mut self, queue: &QueueRef, tag: &Arc<str>, n: u32) {
        if n == 0 {
            return;
        }
        match self
            .grants
            .iter_mut()
            .find(|(q, t, _)| Arc::ptr_eq(t, tag) && same_queue(q, queue))
        {
            Some((_, _, total)) => *total = total.saturating_add(n),
            None => self.grants.push((queue.clone(), tag.clone(), n)),
        }
    }

    /// Applies batched settlements, then batched credit (in that order, so a queue
    /// sees the freed slot before the credit that refills it). With `written`, returns
    /// only once every queue has written the settlements to the OS.
    pub async fn flush(&mut self, written: bool) {
        let mut pending = Vec::new();
        if !self.settles.is_empty() {
            let mut settles = std::mem::take(&mut self.settles);
            for (q, outcome, ids) in settles.drain(..) {
                // A queue that is gone has nothing left to settle.
                if written {
                    if let Ok(w) = q.settle_written(ids, outcome).await {
                        pending.push(w);
                    }
                    self.unwritten.retain(|u| !same_queue(u, &q));
                } else {
                    let _ = q.settle(ids, outcome).await;
                    if !self.unwritten.iter().any(|u| same_queue(u, &q)) {
                        self.unwritten.push(q);
                    }
                }
            }
            self.settles = settles;
        }
        if written {
            // An empty settlement is a barrier: the queue answers it after the earlier
            // ones (same channel, in order) are applied and written.
            for q in self.unwritten.drain(..) {
                if let Ok(w) = q.settle_written(Vec::new(), Outcome::Ack).await {
                    pending.push(w);
                }
            }
        }
        if !self.grants.is_empty() {
            let mut grants = std::mem::take(&mut self.grants);
            for (q, tag, n) in grants.drain(..) {
                let _ = q.grant(tag, n).await;
            }
            self.grants = grants;
        }
        for w in pending {
            w.wait().await;
        }
    }
}

impl Session {
    pub(super) fn settle_later(&mut self, queue: &QueueRef, id: DeliveryId, outcome: Outcome) {
        self.engine.push_settle(queue, id, outcome);
    }

    pub(super) fn grant_later(&mut self, queue: &QueueRef, tag: &Arc<str>, n: u32) {
        self.engine.push_grant(queue, tag, n);
    }

    pub(super) fn has_engine_ops(&self) -> bool {
        !self.engine.is_empty()
    }

    pub(super) fn has_unwritten_settles(&self) -> bool {
        self.engine.has_unwritten()
    }

    /// Hands batched settlements and credit to the queues.
    pub(super) async fn flush_engine_ops(&mut self) {
        self.engine.flush(false).await;
    }

    /// The same, returning once the queues have written the settlements to the OS: run
    /// before answering a synchronous method, so that an ack followed by a completed
    /// round trip is never redelivered after `kill -9`.
    pub(super) async fn flush_engine_ops_written(&mut self) {
        self.engine.flush(true).await;
    }
}
