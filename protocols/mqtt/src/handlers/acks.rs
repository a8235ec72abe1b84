//! The client's acknowledgements of what we sent: PUBACK ends a QoS 1 delivery,
//! PUBREC hands a QoS 2 message over (the engine delivery is settled then, and we owe
//! a PUBREL), PUBCOMP frees the packet id. A freed id returns one credit to the queue
//! it came from, which is what bounds messages in flight to the receive window.

use trident_engine::Outcome;

use crate::codec::{Packet, PacketId, PubRel, ReasonCode};
use crate::session::{OutFlight, Session};

impl Session {
    pub(crate) fn on_puback(&mut self, id: PacketId) {
        match self.outbound.remove(id) {
            Some(OutFlight::Ack(h)) => {
                self.settle_later(&h.queue, h.delivery, Outcome::Ack);
                self.grant_later(&h.queue, &h.tag, 1);
            }
            // A PUBACK for something else, or for nothing: Mosquitto ignores it too.
            Some(other) => {
                self.outbound.insert(id, other);
            }
            None => {}
        }
        self.pump();
    }

    pub(crate) fn on_pubrec(&mut self, id: PacketId, reason: ReasonCode) {
        match self.outbound.remove(id) {
            Some(OutFlight::Rec(h)) => {
                // From here on the client owns the message: a crash must not bring it
                // back as a new PUBLISH (we resend PUBREL instead).
                self.settle_later(&h.queue, h.delivery, Outcome::Ack);
                if reason.is_error() {
                    // The client refused it ([MQTT-4.3.3-4]): the exchange ends here.
                    self.grant_later(&h.queue, &h.tag, 1);
                } else {
                    self.outbound.insert(
                        id,
                        OutFlight::Comp {
                            credit: Some((h.queue, h.tag)),
                        },
                    );
                    self.send(&Packet::PubRel(PubRel::new(id)));
                }
            }
            Some(c @ OutFlight::Comp { .. }) => {
                // A repeated PUBREC: repeat the PUBREL.
                self.outbound.insert(id, c);
                self.send(&Packet::PubRel(PubRel::new(id)));
            }
            Some(other) => {
                self.outbound.insert(id, other);
            }
            None => {
                let code = if self.version.is_v5() {
                    ReasonCode::PacketIdentifierNotFound
                } else {
                    ReasonCode::Success
                };
                self.send(&Packet::PubRel(PubRel::with_reason(id, code)));
            }
        }
        self.pump();
    }

    pub(crate) fn on_pubcomp(&mut self, id: PacketId) {
        match self.outbound.remove(id) {
            Some(OutFlight::Comp {
                credit: Some((q, tag)),
            }) => self.grant_later(&q, &tag, 1),
            Some(OutFlight::Comp { credit: None }) => {}
            Some(other) => {
                self.outbound.insert(id, other);
            }
            None => {}
        }
        self.pump();
    }
}
