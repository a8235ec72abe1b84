//! Deliveries awaiting settlement, and what acks, requeues and rejections do.

use std::collections::HashMap;

use trident_core::ConnectionId;

use super::actor::QueueActor;
use super::dead_letter::Reason;
use super::ready::Entry;
use crate::delivery::{DeliveryId, Outcome};
use crate::metrics::Metrics;

/// A delivery awaiting settlement.
struct Held {
    entry: Entry,
    /// The connection that may settle it; its loss requeues it.
    owner: ConnectionId,
}

/// Deliveries not yet settled, by delivery id.
pub(super) struct Unacked {
    held: HashMap<DeliveryId, Held>,
    next_id: DeliveryId,
}

impl Default for Unacked {
    fn default() -> Self {
        Self {
            held: HashMap::new(),
            next_id: 1,
        }
    }
}

impl Unacked {
    pub fn len(&self) -> usize {
        self.held.len()
    }

    /// A fresh delivery id (unique for the queue's lifetime).
    pub fn next_id(&mut self) -> DeliveryId {
        let id = self.next_id;
        self.next_id += 1;
        id
    }

    pub fn hold(&mut self, id: DeliveryId, entry: Entry, owner: ConnectionId) {
        self.held.insert(id, Held { entry, owner });
    }

    pub fn take(&mut self, id: DeliveryId) -> Option<Entry> {
        self.held.remove(&id).map(|h| h.entry)
    }

    /// The deliveries a connection holds, oldest first.
    fn held_by(&self, conn: ConnectionId) -> Vec<DeliveryId> {
        let mut ids: Vec<DeliveryId> = self
            .held
            .iter()
            .filter(|(_, h)| h.owner == conn)
            .map(|(id, _)| *id)
            .collect();
        ids.sort_unstable();
        ids
    }
}

impl QueueActor {
    /// Applies settlements. Requeued messages go back to their own positions, so the
    /// order of `ids` does not matter.
    pub(super) fn settle(&mut self, ids: Vec<DeliveryId>, outcome: Outcome) {
        for id in ids {
            let Some(entry) = self.unacked.take(id) else {
                continue;
            };
            match outcome {
                Outcome::Ack => {
                    Metrics::add(&self.metrics.messages_acked, 1);
                    Metrics::add(&self.counters.acked, 1);
                    self.backlog.disk.remove(entry.seq);
                }
                Outcome::Requeue => {
                    let mut e = entry;
                    e.redelivered = true;
                    self.backlog.requeue(e);
                }
                Outcome::Reject => self.dead_letter_entry(entry, Reason::Rejected),
            }
        }
    }

    /// Requeues everything a connection still holds and drops its consumers.
    pub(super) fn connection_closed(&mut self, conn: ConnectionId) {
        let ids = self.unacked.held_by(conn);
        self.settle(ids, Outcome::Requeue);
        if self.consumers.remove_owner(conn) {
            self.after_consumer_left();
        }
    }
}
