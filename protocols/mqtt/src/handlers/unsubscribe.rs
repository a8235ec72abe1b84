//! UNSUBSCRIBE: the binding goes (or, for a shared subscription, this member's
//! consumer); messages in flight still complete ([MQTT-3.10.4-3]). v5 hears one code
//! per filter, 0x11 for a filter it had not subscribed.

use crate::codec::{Packet, ReasonCode, UnsubAck, Unsubscribe};
use crate::error::MqttResult;
use crate::session::Session;

impl Session {
    pub(crate) async fn on_unsubscribe(&mut self, u: Unsubscribe) -> MqttResult<()> {
        let mut codes = Vec::with_capacity(u.filters.len());
        for f in &u.filters {
            codes.push(self.unsubscribe_one(f).await);
        }
        let ack = UnsubAck {
            packet_id: u.packet_id,
            reason_codes: if self.version.is_v5() {
                codes
            } else {
                Vec::new()
            },
            properties: Default::default(),
        };
        self.send(&Packet::UnsubAck(ack));
        Ok(())
    }

    async fn unsubscribe_one(&mut self, filter: &str) -> ReasonCode {
        if let Some(i) = self.shared_subs.iter().position(|s| s.full == filter) {
            let s = self.shared_subs.remove(i);
            // The group's queue goes with its last member (auto-delete).
            let _ = s.queue.cancel(s.tag.clone()).await;
            return ReasonCode::Success;
        }
        let Some(i) = self.subs.iter().position(|s| s.filter == filter) else {
            return ReasonCode::NoSubscriptionExisted;
        };
        let sub = self.subs.remove(i);
        if let Some(q) = &self.queue {
            let b = sub.binding(&self.shared.exchange, q.name(), &self.client_id);
            if let Err(e) = self.shared.vhost.unbind(&b, self.id).await {
                tracing::debug!(client = %self.client_id, error = %e, "MQTT unbind failed");
            }
        }
        ReasonCode::Success
    }
}
