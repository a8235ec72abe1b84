//! The client's acknowledgements of what we sent: PUBACK ends a QoS 1 delivery,
//! PUBREC hands a QoS 2 message over (the engine delivery is settled then, and we owe
//! a PUBREL), PUBCOMP frees the packet id. A freed id returns one credit to the queue
//! it came from, which is what bounds messages in flight to the receive window.

use trident_engine::Outcome;

use crate::codec::{Packet, PacketId, PubRel, ReasonCode};
use crate::session::{Confirmer, OutFlight, Session};
use crate::session_store;

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
                // back as a new PUBLISH (we resend PUBREL instead). In a persistent
                // session the PUBREL owed is recorded first, and the queue hears the
                // settlement only once that record is durable.
                // The PUBREL waits for that record too: a client that saw it may
                // release the id, and must then never get the message again.
                let mut pubrel_now = true;
                match self.durable_store() {
                    Some(store) if !reason.is_error() => {
                        let write =
                            session_store::received(store, &self.client_id, id.get(), h.position);
                        self.engine
                            .confirms
                            .get_or_insert_with(|| Box::new(Confirmer::start()))
                            .received(id, write, h.queue.clone(), h.delivery);
                        pubrel_now = false;
                    }
                    _ => self.settle_later(&h.queue, h.delivery, Outcome::Ack),
                }
                if reason.is_error() {
                    // The client refused it ([MQTT-4.3.3-4]): the exchange ends here.
                    self.grant_later(&h.queue, &h.tag, 1);
                } else {
                    if let Some(pos) = h.position {
                        self.released.insert(pos, id.get());
                    }
                    self.outbound.insert(
                        id,
                        OutFlight::Comp {
                            credit: Some((h.queue, h.tag)),
                            position: h.position,
                        },
                    );
                    if pubrel_now {
                        self.send(&Packet::PubRel(PubRel::new(id)));
                    }
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
            Some(OutFlight::Comp { credit, position }) => {
                if let Some((q, tag)) = credit {
                    self.grant_later(&q, &tag, 1);
                }
                if let Some(pos) = position {
                    self.released.remove(&pos);
                }
                if let Some(store) = self.durable_store() {
                    // Not awaited: a PUBREL resent after a crash that lost this delete
                    // is answered by the client with PUBCOMP again.
                    drop(session_store::completed(store, &self.client_id, id.get()));
                }
            }
            Some(other) => {
                self.outbound.insert(id, other);
            }
            None => {}
        }
        self.pump();
    }
}
