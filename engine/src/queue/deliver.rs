//! Moving ready messages to consumers (push, round robin over credit) and to
//! `get` (pull).
//!
//! A delivery of a stored message first records a delivery mark, so that if the broker
//! dies after the consumer saw the message, its redelivery after the restart carries
//! the redelivered flag. Marks must reach the OS before the delivery can reach a
//! socket: deliveries are staged, the marks written with one system call, and only
//! then are the deliveries handed to the consumers' connections.

use std::sync::Arc;

use trident_core::ConnectionId;

use super::actor::QueueActor;
use super::ready::Entry;
use crate::delivery::{ConsumerEvent, ConsumerSink, Delivery};
use crate::metrics::Metrics;

/// A delivery made but not yet handed to its consumer's connection.
pub(super) struct Staged {
    sink: ConsumerSink,
    delivery: Delivery,
    /// A no-ack delivery's message, removed from the store only once it is handed
    /// over; `None` for one held in `unacked` until it is settled.
    no_ack: Option<Entry>,
}

impl QueueActor {
    /// Pushes ready messages to consumers with credit, round robin.
    pub(super) fn drive(&mut self) {
        while !self.backlog.head_is_empty() && !self.consumers.is_empty() {
            let Some(ci) = self.consumers.next_with_credit() else {
                break;
            };
            self.expire_heads();
            let Some(entry) = self.backlog.pop_front() else {
                break;
            };
            self.stage(ci, entry);
        }
        self.hand_over();
    }

    fn stage(&mut self, ci: usize, entry: Entry) {
        let id = self.unacked.next_id();
        if !entry.redelivered {
            self.backlog.disk.mark_delivered(entry.seq);
        }
        let c = self.consumers.get_mut(ci);
        c.take_credit();
        let delivery = Delivery {
            queue: self.me.clone(),
            consumer_tag: c.tag.clone(),
            id,
            message: entry.message.clone(),
            redelivered: entry.redelivered,
            position: entry.seq,
            arrival: entry.arrival(),
            remaining: 0,
            log: None,
        };
        let sink = c.sink.clone();
        let no_ack = if c.no_ack {
            Some(entry)
        } else {
            self.unacked.hold(id, entry, c.owner);
            None
        };
        self.outbox.push(Staged {
            sink,
            delivery,
            no_ack,
        });
    }

    /// Writes the staged deliveries' marks, then hands the deliveries over.
    fn hand_over(&mut self) {
        if self.outbox.is_empty() {
            return;
        }
        self.backlog.disk.write_out();
        let mut outbox = std::mem::take(&mut self.outbox);
        for s in outbox.drain(..) {
            let id = s.delivery.id;
            let tag = s.delivery.consumer_tag.clone();
            if s.sink.send(ConsumerEvent::Deliver(s.delivery)).is_ok() {
                Metrics::add(&self.metrics.messages_delivered, 1);
                Metrics::add(&self.counters.delivered, 1);
                if let Some(entry) = s.no_ack {
                    self.backlog.disk.remove(entry.seq);
                }
                continue;
            }
            // The consumer's connection is gone without telling us: put the message
            // back and forget the consumer.
            if let Some(mut entry) = s.no_ack.or_else(|| self.unacked.take(id)) {
                entry.redelivered = true;
                self.backlog.requeue(entry);
            }
            if self.consumers.cancel(&tag) {
                self.after_consumer_left();
            }
        }
        self.outbox = outbox;
    }

    pub(super) fn get(&mut self, no_ack: bool, owner: ConnectionId) -> Option<Delivery> {
        self.expire_heads();
        if self.backlog.head_is_empty() {
            self.backlog.refill(&self.def.args);
        }
        let entry = self.backlog.pop_front()?;
        let id = self.unacked.next_id();
        Metrics::add(&self.metrics.messages_delivered, 1);
        Metrics::add(&self.counters.delivered, 1);
        if !entry.redelivered {
            self.backlog.disk.mark_delivered(entry.seq);
            // The reply leaves as soon as this returns.
            self.backlog.disk.write_out();
        }
        let delivery = Delivery {
            queue: self.me.clone(),
            consumer_tag: Arc::from(""),
            id,
            message: entry.message.clone(),
            redelivered: entry.redelivered,
            position: entry.seq,
            arrival: entry.arrival(),
            remaining: self.backlog.count(),
            log: None,
        };
        if no_ack {
            self.backlog.disk.remove(entry.seq);
        } else {
            self.unacked.hold(id, entry, owner);
        }
        Some(delivery)
    }
}
