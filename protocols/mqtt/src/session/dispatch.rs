//! Packets to their handlers (one file per packet family in `handlers/`).

use super::Session;
use crate::codec::{Packet, ReasonCode};
use crate::error::{MqttError, MqttResult};

impl Session {
    pub(super) async fn dispatch(&mut self, packet: Packet) -> MqttResult<()> {
        match packet {
            Packet::Publish(p) => self.on_publish(p).await,
            Packet::PubAck(p) => {
                self.on_puback(p.packet_id);
                Ok(())
            }
            Packet::PubRec(p) => {
                self.on_pubrec(p.packet_id, p.reason);
                Ok(())
            }
            Packet::PubRel(p) => {
                self.on_pubrel(p.packet_id);
                Ok(())
            }
            Packet::PubComp(p) => {
                self.on_pubcomp(p.packet_id);
                Ok(())
            }
            Packet::Subscribe(s) => self.on_subscribe(s).await,
            Packet::Unsubscribe(u) => self.on_unsubscribe(u).await,
            Packet::PingReq => {
                self.send(&Packet::PingResp);
                Ok(())
            }
            Packet::Disconnect(d) => self.on_disconnect(&d),
            // [MQTT-3.1.0-2]: a second CONNECT is a protocol error.
            Packet::Connect(_) => Err(MqttError::protocol("second CONNECT")),
            // [MQTT-4.12.0-1]: no authentication method was agreed in CONNECT (we
            // accept none), so any AUTH is a protocol error.
            Packet::Auth(_) => Err(MqttError::new(
                ReasonCode::ProtocolError,
                "AUTH without an authentication method in CONNECT",
            )),
            // The codec refuses packets that only a server sends.
            other => Err(MqttError::protocol(format!(
                "unexpected {}",
                other.packet_type()
            ))),
        }
    }

    /// Writes a packet to the output buffer. A packet too large for the client's
    /// Maximum Packet Size is dropped, as the spec says ([MQTT-3.1.2-25]).
    pub(crate) fn send(&mut self, packet: &Packet) {
        if let Err(e) = self.out.send(packet, &self.shared.stats) {
            tracing::debug!(client = %self.client_id, error = %e, "MQTT packet not sent");
        }
    }
}
