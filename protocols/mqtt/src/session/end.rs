//! Letting a session go: what the client is told, what the session leaves for its
//! next connection, its expiry, its will, and telling the engine.

use trident_engine::Outcome;

use super::{End, OutFlight, Session};
use crate::codec::{Disconnect, Packet, ReasonCode};
use crate::registry::Kept;
use crate::stats::MqttStats;

impl Session {
    /// The last packet: a v5 client hears why the server closes ([MQTT-4.13.1-1]); a
    /// 3.x client has no DISCONNECT from the server and is just closed.
    pub(super) fn say_goodbye(&mut self) {
        if !self.version.is_v5() {
            return;
        }
        let (code, text) = match &self.end {
            Some(End::Error(e)) => (e.code, Some(e.text.clone())),
            Some(End::TakenOver) => (ReasonCode::SessionTakenOver, None),
            Some(End::KeepAlive) => (ReasonCode::KeepAliveTimeout, None),
            Some(End::Shutdown) => (ReasonCode::ServerShuttingDown, None),
            _ => return,
        };
        let mut d = Disconnect::new(code);
        if self.peer.problem_information {
            d.properties.reason_string = text;
        }
        self.send(&Packet::Disconnect(d));
    }

    /// Runs after the loop, whatever ended it.
    pub async fn end(mut self: Box<Self>) {
        let end = self.end.clone().unwrap_or(End::Closed);
        if end == End::TakenOver {
            MqttStats::add(&self.shared.stats.sessions_taken_over, 1);
        }
        // What the client still holds goes back to the queue with the redelivered
        // mark (DUP on the next connection) when the engine hears the connection
        // closed; deliveries not yet sent go back now.
        for d in std::mem::take(&mut self.waiting) {
            self.settle_later(&d.queue, d.id, Outcome::Requeue);
        }
        self.flush_engine_ops().await;
        let kept = self.kept_state();
        let will_cancel = if end.publishes_will() {
            self.publish_will().await
        } else {
            None
        };
        if self.durable
            && let Some(name) = self.queue.as_ref().map(|q| q.name().clone())
        {
            if self.expiry == 0 {
                // The session ends with the connection (v5 session expiry 0).
                if let Some(store) = &self.shared.store {
                    crate::session_store::forget(store, &self.client_id).await;
                }
                let _ = self
                    .shared
                    .vhost
                    .delete_queue(&name, false, false, None)
                    .await;
            } else {
                let ms = (self.expiry != u32::MAX).then(|| u64::from(self.expiry) * 1000);
                if let Err(e) = self
                    .shared
                    .vhost
                    .set_queue_expires(&name, ms, self.id)
                    .await
                {
                    tracing::debug!(queue = %name, error = %e, "session expiry not set");
                }
            }
        }
        if self.engine.touched {
            // Requeues what the connection held, drops its consumers and deletes its
            // exclusive (clean session) queue.
            self.shared.engine.connection_closed(self.id).await;
        }
        self.shared
            .registry
            .release(&self.client_id, self.id, kept, will_cancel);
        if let Some(done) = self.done.take() {
            let _ = done.send(());
        }
    }

    /// The QoS 2 state a persistent session leaves for its next connection.
    fn kept_state(&mut self) -> Option<Kept> {
        if self.expiry == 0 {
            return None;
        }
        let mut kept = Kept {
            pending_release: std::mem::take(&mut self.inbound.pending_release),
            expires_at: (self.expiry != u32::MAX).then(|| {
                std::time::Instant::now() + std::time::Duration::from_secs(u64::from(self.expiry))
            }),
            ..Kept::default()
        };
        for (id, flight) in self.outbound.drain() {
            match flight {
                OutFlight::Comp { position, .. } => kept.pubrel.push((id.get(), position)),
                OutFlight::Rec(h) => {
                    if let Some(pos) = h.position {
                        kept.unreceived.insert(pos, id.get());
                    }
                }
                OutFlight::Ack(_) => {}
            }
        }
        // Ids kept from before that were not resent this time stay valid.
        for (pos, id) in std::mem::take(&mut self.unreceived) {
            kept.unreceived.entry(pos).or_insert(id);
        }
        Some(kept)
    }
}
