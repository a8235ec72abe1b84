//! Time-to-live: when a message expires (queue `x-message-ttl`, the message's own
//! declared lifetime), expiring heads, and the queue's own idle expiry
//! (`x-expires`).

use std::time::Duration;

use tokio::time::Instant;
use trident_core::message::now_ms;
use trident_core::{Message, QueueArgs};

use super::actor::QueueActor;
use super::dead_letter::Reason;
use crate::metrics::Metrics;

/// When `message`, enqueued at `now` (ms since the epoch), expires: the shortest of
/// the TTLs that apply.
pub(super) fn expires_at(args: &QueueArgs, message: &Message, now: i64) -> Option<i64> {
    [args.message_ttl_ms, message.declared_ttl_ms()]
        .into_iter()
        .flatten()
        .min()
        .map(|ttl| now.saturating_add(i64::try_from(ttl).unwrap_or(i64::MAX)))
}

/// `x-expires`: a queue unused for this long, with no consumers, deletes itself.
pub(super) struct IdleExpiry {
    after: Option<Duration>,
    last_used: Instant,
}

impl IdleExpiry {
    pub fn new(expires_ms: Option<u64>) -> Self {
        Self {
            after: expires_ms.map(Duration::from_millis),
            last_used: Instant::now(),
        }
    }

    /// A new expiry; the queue counts as used now.
    pub fn set(&mut self, expires_ms: Option<u64>) {
        self.after = expires_ms.map(Duration::from_millis);
        self.touch();
    }

    /// A consume, get or consumer departure counts as use.
    pub fn touch(&mut self) {
        self.last_used = Instant::now();
    }

    /// When the queue expires, if it is idle (has no consumers).
    pub fn deadline(&self, idle: bool) -> Option<Instant> {
        match (self.after, idle) {
            (Some(after), true) => Some(self.last_used + after),
            _ => None,
        }
    }

    pub fn is_due(&self, idle: bool) -> bool {
        self.deadline(idle).is_some_and(|d| Instant::now() >= d)
    }

    /// The deletion is under way; keep serving until the vhost's Delete arrives (it is
    /// what stops the task) without asking again.
    pub fn postpone(&mut self) {
        self.last_used = Instant::now() + Duration::from_secs(3600);
    }
}

impl QueueActor {
    /// Dead-letters expired messages at the head: RabbitMQ expires messages only when
    /// they reach the head, and so do we.
    pub(super) fn expire_heads(&mut self) {
        if self.backlog.next_head_expiry().is_none() {
            return;
        }
        for e in self.backlog.take_expired_heads(now_ms()) {
            Metrics::add(&self.metrics.messages_expired, 1);
            self.dead_letter_entry(e, Reason::Expired);
        }
    }

    /// When the next message at the head expires.
    pub(super) fn head_expiry_deadline(&self) -> Option<Instant> {
        let at = self.backlog.next_head_expiry()?;
        let wait = u64::try_from(at - now_ms()).unwrap_or(0);
        Some(Instant::now() + Duration::from_millis(wait))
    }
}
