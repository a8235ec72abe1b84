//! What holds a publisher back: the broker's resource alarm (`connection.blocked`) and
//! publisher flow control (a queue whose consumers fall behind).

use tokio::sync::watch;
use trident_core::QueueName;
use trident_engine::Short;

use super::Session;
use crate::codec::ServerMethod;

pub(super) struct PublisherGate {
    /// The resource alarm's reason while it is raised.
    blocked: Option<String>,
    /// The alarm holds back only connections that publish (consumers keep going).
    has_published: bool,
    told_blocked: bool,
    /// Publisher flow control: reading is paused until this resolves (the queue's
    /// backlog halved, or it lost its consumers, or it is gone).
    pub flow_wait: Option<Short>,
    pub alarm: watch::Receiver<Option<String>>,
    /// False once the alarm's sender went away.
    pub alarm_live: bool,
}

impl PublisherGate {
    pub fn new(alarm: watch::Receiver<Option<String>>) -> Self {
        Self {
            blocked: None,
            has_published: false,
            told_blocked: false,
            flow_wait: None,
            alarm,
            alarm_live: true,
        }
    }

    /// Whether reading this connection's input is paused for the publisher's sake.
    pub fn holds_publisher(&self) -> bool {
        (self.blocked.is_some() && self.has_published) || self.flow_wait.is_some()
    }

    pub fn flow_paused(&self) -> bool {
        self.flow_wait.is_some()
    }
}

impl Session {
    pub(super) fn on_alarm_change(&mut self) {
        self.gate.blocked = self.gate.alarm.borrow_and_update().clone();
        self.tell_blocked();
    }

    /// The first publish makes the connection one that an alarm holds back.
    pub(super) fn note_publish(&mut self) {
        if !self.gate.has_published {
            self.gate.has_published = true;
            self.tell_blocked();
        }
    }

    /// `connection.blocked` goes, as in RabbitMQ, to a client that announced the
    /// capability once the alarm actually holds it back (it has published);
    /// `unblocked` follows when the alarm clears.
    pub(super) fn tell_blocked(&mut self) {
        if !self.caps.connection_blocked || self.phase.is_closing() {
            return;
        }
        let g = &mut self.gate;
        match (&g.blocked, g.told_blocked) {
            (Some(reason), false) if g.has_published => {
                let reason = reason.clone();
                g.told_blocked = true;
                self.send(0, &ServerMethod::ConnectionBlocked { reason: &reason });
            }
            (None, true) => {
                g.told_blocked = false;
                self.send(0, &ServerMethod::ConnectionUnblocked);
            }
            _ => {}
        }
    }

    /// Publisher flow control (see `AmqpConfig::flow_backlog`). Only connections that
    /// consume nothing are paused: one that also consumes may be the very consumer
    /// whose acknowledgements would drain the queue.
    pub(super) async fn watch_backlog(&mut self, ch: u16, routing_key: &str) {
        let limit = self.shared.config.flow_backlog;
        if limit == 0 || !self.channels.consumer_index.is_empty() {
            return;
        }
        let vhost = self.vhost.clone();
        let Ok(c) = self.open_channel(ch) else { return };
        let stale = match &c.flow_target {
            Some((rk, _, countdown)) => rk != routing_key || *countdown == 0,
            None => true,
        };
        if stale {
            let q = QueueName::new(routing_key)
                .ok()
                .and_then(|n| vhost.queue(&n));
            c.flow_target = Some((routing_key.to_string(), q, 1024));
        }
        let Some((_, target, countdown)) = &mut c.flow_target else {
            return;
        };
        *countdown = countdown.saturating_sub(1);
        let Some(q) = target.clone() else { return };
        let s = q.stats();
        if s.consumers > 0 && s.ready > limit {
            // Until the backlog halves; the queue says when, nobody polls.
            self.gate.flow_wait = q.when_short(limit / 2).await.ok();
        }
    }
}
