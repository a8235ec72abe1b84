//! A publish arriving at the queue: length limits (`x-max-length`,
//! `x-max-length-bytes` with their `x-overflow` behaviour), then into the backlog;
//! and dead-lettering of whatever leaves the queue unconsumed.

use std::sync::Arc;

use tokio::sync::mpsc;
use trident_core::message::now_ms;
use trident_core::{Arrival, ExchangeName, Message, Overflow, PublisherSeq};

use super::actor::QueueActor;
use super::dead_letter::{Reason, dead_letter};
use super::ready::Entry;
use crate::metrics::Metrics;
use crate::publish::{ConfirmTicket, Nack};
use crate::vhost::WeakVhost;

impl QueueActor {
    pub(super) fn publish(
        &mut self,
        message: Arc<Message>,
        arrival: Arrival,
        ticket: Option<ConfirmTicket>,
        key: Option<PublisherSeq>,
    ) {
        if let Some(k) = key
            && self.backlog.has_key(&k)
        {
            // A resend of a publish this queue stored: confirmed as the original was
            // (under `fsync` after the next sync, which covers the original too, should
            // it still be waiting for one), not stored again.
            tracing::debug!(queue = %self.def.name, publisher = k.publisher, seq = k.seq, "duplicate publish dropped");
            if let Some(t) = ticket {
                let persistent = message.is_persistent();
                self.backlog.confirm_duplicate(t, persistent);
            }
            return;
        }
        let args = &self.def.args;
        let over_length = |len: u64, bytes: u64, add: u64| {
            args.max_length.is_some_and(|m| len + 1 > m)
                || args.max_length_bytes.is_some_and(|m| bytes + add > m)
        };
        let size = message.body.len() as u64;
        if args.overflow != Overflow::DropHead
            && over_length(self.backlog.count(), self.backlog.settled_bytes(), size)
        {
            let dlx = args.overflow == Overflow::RejectPublishDlx;
            self.count_overflow(false);
            if dlx {
                self.dead_letter_message(&message, Reason::MaxLen);
            }
            if let Some(t) = ticket {
                t.complete(Err(Nack::QueueFull(self.def.name.to_string())));
            }
            return;
        }
        Metrics::add(&self.counters.published, 1);
        self.backlog
            .push(message, arrival, ticket, key, &self.def.args);
        self.enforce_max_length();
    }

    /// `x-overflow = drop-head`: the oldest messages make room.
    fn enforce_max_length(&mut self) {
        let args = &self.def.args;
        if args.overflow != Overflow::DropHead {
            return;
        }
        let (max_length, max_bytes) = (args.max_length, args.max_length_bytes);
        loop {
            let over = max_length.is_some_and(|m| self.backlog.count() > m)
                || max_bytes.is_some_and(|m| self.backlog.bytes() > m);
            if !over {
                return;
            }
            if self.backlog.head_is_empty() {
                self.backlog.refill(&self.def.args);
            }
            let Some(head) = self.backlog.pop_front() else {
                return;
            };
            self.count_overflow(true);
            self.dead_letter_entry(head, Reason::MaxLen);
        }
    }

    /// Counts a message lost to the length limit (dropped from the head, or a publish
    /// refused), and says so in the log the first time for this queue.
    fn count_overflow(&mut self, dropped_head: bool) {
        let (queue_counter, engine_counter) = if dropped_head {
            (
                &self.counters.dropped_overflow,
                &self.metrics.messages_dropped_overflow,
            )
        } else {
            (
                &self.counters.rejected_overflow,
                &self.metrics.messages_rejected_overflow,
            )
        };
        Metrics::add(queue_counter, 1);
        Metrics::add(engine_counter, 1);
        if self.overflow_logged {
            return;
        }
        self.overflow_logged = true;
        let args = &self.def.args;
        let vhost = self
            .vhost
            .upgrade()
            .map(|v| v.name().to_string())
            .unwrap_or_default();
        let what = if dropped_head {
            "dropping its oldest messages"
        } else {
            "refusing new messages"
        };
        tracing::warn!(
            vhost,
            queue = %self.def.name,
            max_length = ?args.max_length,
            max_length_bytes = ?args.max_length_bytes,
            overflow = ?args.overflow,
            dead_letter_exchange = ?args.dead_letter_exchange,
            "queue is full and is {what}; logged once per queue, counted in trident_queue_messages_dropped_total"
        );
    }

    pub(super) fn dead_letter_entry(&mut self, entry: Entry, reason: Reason) {
        self.dead_letter_message(&entry.message, reason);
        self.backlog.disk.remove(entry.seq);
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
}

/// Republishes dead-lettered messages in order, off the queue's own task so that a
/// full target queue (or a queue dead-lettering to itself) cannot deadlock it.
fn spawn_dead_letter_forwarder(vhost: WeakVhost) -> mpsc::UnboundedSender<(ExchangeName, Message)> {
    let (tx, mut rx) = mpsc::unbounded_channel::<(ExchangeName, Message)>();
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
