//! Moving ready messages to consumers (push, round robin over credit) and to
//! `get` (pull).

use std::sync::Arc;

use trident_core::ConnectionId;

use super::actor::QueueActor;
use super::ready::Entry;
use crate::delivery::{ConsumerEvent, Delivery};
use crate::metrics::Metrics;

impl QueueActor {
    /// Pushes ready messages to consumers with credit, round robin.
    pub(super) fn drive(&mut self) {
        while !self.backlog.head_is_empty() && !self.consumers.is_empty() {
            let Some(ci) = self.consumers.next_with_credit() else {
                return;
            };
            self.expire_heads();
            let Some(entry) = self.backlog.pop_front() else {
                return;
            };
            self.deliver(ci, entry);
        }
    }

    fn deliver(&mut self, ci: usize, entry: Entry) {
        let id = self.unacked.next_id();
        let c = self.consumers.get_mut(ci);
        c.take_credit();
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
            self.backlog.requeue(entry);
            self.consumers.remove(ci);
            self.after_consumer_left();
            return;
        }
        Metrics::add(&self.metrics.messages_delivered, 1);
        if no_ack {
            self.backlog.disk.remove(entry.seq);
        } else {
            self.unacked.hold(id, entry, owner);
        }
    }

    pub(super) fn get(&mut self, no_ack: bool, owner: ConnectionId) -> Option<Delivery> {
        self.expire_heads();
        if self.backlog.head_is_empty() {
            self.backlog.refill(&self.def.args);
        }
        let entry = self.backlog.pop_front()?;
        let id = self.unacked.next_id();
        Metrics::add(&self.metrics.messages_delivered, 1);
        let delivery = Delivery {
            queue: self.me.clone(),
            consumer_tag: Arc::from(""),
            id,
            message: entry.message.clone(),
            redelivered: entry.redelivered,
            remaining: self.backlog.count(),
        };
        if no_ack {
            self.backlog.disk.remove(entry.seq);
        } else {
            self.unacked.hold(id, entry, owner);
        }
        Some(delivery)
    }
}
