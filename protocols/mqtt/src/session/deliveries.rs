//! From the engine to the client: deliveries become PUBLISH packets, at the QoS the
//! matching subscriptions granted (never above the published one, [MQTT-3.8.4-8]),
//! within the client's receive window; QoS 1/2 ones are held until the client
//! acknowledges them.

use std::sync::Arc;

use tokio::sync::mpsc;
use trident_core::message::now_ms;
use trident_engine::{ConsumerEvent, ConsumerSink, Delivery, Outcome};

use super::held_out::Outgoing;
use super::{EVENT_BATCH, Held, OutFlight, Session};
use crate::codec::{Packet, PacketId, Publish, PublishProperties, QoS};
use crate::message::{outbound_properties, published_qos, published_retained};
use crate::names::topic_of;
use crate::session_store;
use crate::stats::MqttStats;
use crate::subscriptions::{Matched, matched, matched_from_tables};
use crate::topic_alias::Naming;

impl Session {
    /// The sink every consumer of this connection shares (created on first use).
    pub(crate) fn events_sink(&mut self) -> ConsumerSink {
        if let Some(tx) = &self.engine.events_tx {
            return tx.clone();
        }
        let (tx, rx) = mpsc::unbounded_channel();
        self.engine.events_tx = Some(tx.clone());
        self.engine.events_rx = Some(rx);
        tx
    }

    /// Handles one event and whatever else is already waiting, up to a batch, so that
    /// a burst of deliveries leaves in one socket write.
    pub(super) fn on_events(&mut self, first: ConsumerEvent) {
        self.on_event(first);
        for _ in 1..EVENT_BATCH {
            let Some(rx) = self.engine.events_rx.as_mut() else {
                break;
            };
            match rx.try_recv() {
                Ok(ev) => self.on_event(ev),
                Err(_) => break,
            }
        }
        self.pump();
    }

    fn on_event(&mut self, ev: ConsumerEvent) {
        match ev {
            ConsumerEvent::Deliver(d) => self.waiting.push_back(d),
            ConsumerEvent::Cancelled { consumer_tag } => {
                // The queue went away under us (expired or deleted by an operator).
                if Arc::ptr_eq(&consumer_tag, &self.tag) || *consumer_tag == *self.tag {
                    self.queue = None;
                } else {
                    self.shared_subs.retain(|s| *s.tag != *consumer_tag);
                }
            }
        }
    }

    /// Sends waiting deliveries while the client's receive window has room.
    pub(crate) fn pump(&mut self) {
        self.pump_window();
        self.commit_held();
    }

    fn pump_window(&mut self) {
        while !self.out.is_full() {
            if self.outbound.len() >= self.window() && self.waiting.front().is_some() {
                // QoS 0 deliveries do not need a slot, but they must not overtake the
                // QoS 1/2 ones queued before them (order per topic).
                return;
            }
            let Some(d) = self.waiting.pop_front() else {
                return;
            };
            self.deliver(d);
        }
    }

    fn matched_for(&self, d: &Delivery) -> Matched {
        let own = d
            .message
            .origin
            .as_deref()
            .is_some_and(|o| o == &*self.client_id);
        let rk = &d.message.routing_key;
        if self
            .queue
            .as_ref()
            .is_some_and(|q| std::ptr::eq(q.def(), d.queue.def()))
        {
            // The bindings it matched when it was routed (or, for a retained message,
            // the one subscription it was replayed for); our own filters only for a
            // message that came without them.
            let from_bindings = matched_from_tables(d.arrival.matched.iter());
            if from_bindings.qos.is_some() {
                return from_bindings;
            }
            return matched(&self.subs, rk, own);
        }
        match self
            .shared_subs
            .iter()
            .find(|s| std::ptr::eq(s.queue.def(), d.queue.def()))
        {
            // Shared subscriptions have no no-local ([MQTT-3.8.3-4]).
            Some(s) => matched(std::iter::once(&s.sub), rk, false),
            None => Matched::default(),
        }
    }

    fn drop_delivery(&mut self, d: &Delivery) {
        self.settle_later(&d.queue, d.id, Outcome::Ack);
        self.grant_later(&d.queue, &d.consumer_tag, 1);
    }

    fn deliver(&mut self, d: Delivery) {
        if let Some(pos) = d.position
            && self.released.contains_key(&pos)
        {
            // The client PUBREC'd it already; only the settlement was lost.
            self.drop_delivery(&d);
            return;
        }
        let m = self.matched_for(&d);
        let Some(granted) = m.qos else {
            // Unsubscribed while it was on its way.
            self.drop_delivery(&d);
            return;
        };
        let qos = published_qos(&d.message).min(granted);
        let message = if self.version.is_v5() {
            match outbound_properties(&d.message, now_ms(), self.shared.exchange.as_str()) {
                Some(p) => p,
                None => {
                    // Expired in flight ([MQTT-3.3.2-5]).
                    MqttStats::add(&self.shared.stats.deliveries_dropped, 1);
                    self.drop_delivery(&d);
                    return;
                }
            }
        } else {
            Default::default()
        };
        let full_topic = topic_of(&d.message.routing_key);
        let restored = d.position.is_some_and(|p| self.unreceived.contains_key(&p));
        // A QoS 2 delivery waits for its packet id's record (see `held_out`), and
        // everything behind a waiting one waits too.
        let record_first = qos == QoS::ExactlyOnce
            && !restored
            && d.position.is_some()
            && self.durable_store().is_some()
            && matches!(
                self.shared.engine.config().durability,
                trident_core::Durability::Fsync
            );
        let hold = record_first || self.held_out.as_ref().is_some_and(|h| h.is_holding());
        let mut naming = self
            .aliases_out
            .as_ref()
            .map_or(Naming::Plain, |a| a.naming(&full_topic));
        if hold && matches!(naming, Naming::New(_)) {
            // Learned only when it goes out, by which time a packet ahead may have
            // taken the same new alias for another topic.
            naming = Naming::Plain;
        }
        let (topic, topic_alias) = match naming {
            Naming::Known(a) => (String::new(), Some(a)),
            Naming::New(a) => (full_topic.clone(), Some(a)),
            Naming::Plain => (full_topic.clone(), None),
        };
        let publish = |packet_id: Option<PacketId>| Publish {
            dup: d.redelivered && qos != QoS::AtMostOnce,
            qos,
            // A retained message replayed at subscribe time carries the flag; a live
            // one only for retain-as-published ([MQTT-3.3.1-9], [MQTT-3.3.1-12]).
            retain: d.arrival.replayed || (m.retain_as_published && published_retained(&d.message)),
            topic: topic.clone(),
            packet_id,
            properties: PublishProperties {
                message: message.clone(),
                topic_alias,
                subscription_identifiers: m.ids.clone(),
            },
            payload: d.message.body.clone(),
        };
        if qos == QoS::AtMostOnce {
            let out = Outgoing {
                publish: publish(None),
                naming,
                topic: full_topic,
                flight: None,
            };
            if hold {
                self.hold_out(out);
            } else {
                self.transmit(out);
            }
            self.settle_later(&d.queue, d.id, Outcome::Ack);
            self.unflushed
                .push((d.queue.clone(), d.consumer_tag.clone()));
            return;
        }
        let held = Held {
            queue: d.queue.clone(),
            delivery: d.id,
            tag: d.consumer_tag.clone(),
            position: d.position,
        };
        let entry = if qos == QoS::ExactlyOnce {
            OutFlight::Rec(held)
        } else {
            OutFlight::Ack(held)
        };
        let Some(id) = self.packet_id_for(&d, qos, entry) else {
            // All 65535 identifiers in use: cannot happen within a window, but never
            // lose the message over it.
            self.settle_later(&d.queue, d.id, Outcome::Requeue);
            return;
        };
        let out = Outgoing {
            publish: publish(Some(id)),
            naming,
            topic: full_topic,
            flight: Some((id, d.queue.clone(), d.id, d.consumer_tag.clone())),
        };
        if record_first && let (Some(pos), Some(store)) = (d.position, self.durable_store()) {
            let (key, value) = session_store::sent_record(&self.client_id, pos, id.get());
            let store = store.clone();
            let h = self.held_out.get_or_insert_with(Default::default);
            let generation = h.record(&store, &key, value);
            h.hold(generation, out);
            return;
        }
        if hold {
            self.hold_out(out);
            return;
        }
        let record = (qos == QoS::ExactlyOnce && !restored)
            .then_some(d.position)
            .flatten();
        if self.transmit(out)
            && let (Some(pos), Some(store)) = (record, self.durable_store())
        {
            // Not awaited (durability other than fsync promises no more): the record
            // lands within one metadata commit.
            drop(session_store::sent(store, &self.client_id, pos, id.get()));
        }
    }

    /// Holds `out` behind the packets already waiting.
    fn hold_out(&mut self, out: Outgoing) {
        let h = self.held_out.get_or_insert_with(Default::default);
        let generation = h.last_generation();
        h.hold(generation, out);
    }

    /// Writes a PUBLISH to the output; false if it is larger than the client accepts
    /// (then dropped as if sent, [MQTT-3.1.2-25]).
    pub(super) fn transmit(&mut self, out: Outgoing) -> bool {
        if self
            .out
            .send(&Packet::Publish(out.publish), &self.shared.stats)
            .is_ok()
        {
            MqttStats::add(&self.shared.stats.messages_sent, 1);
            self.learned(out.naming, &out.topic);
            return true;
        }
        MqttStats::add(&self.shared.stats.deliveries_dropped, 1);
        if let Some((id, queue, delivery, tag)) = out.flight {
            self.outbound.remove(id);
            self.settle_later(&queue, delivery, Outcome::Ack);
            self.grant_later(&queue, &tag, 1);
        }
        false
    }

    /// Starts the commit of the records gathered in this turn (see `held_out`).
    pub(super) fn commit_held(&mut self) {
        if let Some(h) = self.held_out.as_mut() {
            h.start_commit();
        }
    }

    /// The records of generation `generation` are committed: what waited for them
    /// goes out.
    pub(super) fn on_held_committed(&mut self, generation: u64, result: Result<(), String>) {
        if let Err(e) = result {
            // The packets go out all the same: a crash before a record only means the
            // message is resent with a new packet id, as without the wait.
            tracing::warn!(client = %self.client_id, error = %e, "MQTT outgoing QoS 2 record not written");
        }
        let Some(h) = self.held_out.as_mut() else {
            return;
        };
        for out in h.committed(generation) {
            self.transmit(out);
        }
    }

    fn learned(&mut self, naming: Naming, topic: &str) {
        if let (Naming::New(alias), Some(a)) = (naming, self.aliases_out.as_mut()) {
            a.learned(topic, alias);
        }
    }

    /// The packet id of a QoS 1/2 delivery: a QoS 2 message resent after a reconnect
    /// keeps the id it had ([MQTT-4.4.0-1]); others get a free one.
    fn packet_id_for(&mut self, d: &Delivery, qos: QoS, entry: OutFlight) -> Option<PacketId> {
        if qos == QoS::ExactlyOnce
            && let Some(pos) = d.position
            && let Some(id) = self.unreceived.remove(&pos).and_then(PacketId::new)
            && self.outbound.get_mut(id).is_none()
        {
            self.outbound.insert(id, entry);
            return Some(id);
        }
        self.outbound.allocate(entry)
    }

    /// The output buffer reached the socket: QoS 0 deliveries give their credit back.
    pub(super) fn on_flushed(&mut self) {
        for (q, tag) in std::mem::take(&mut self.unflushed) {
            self.grant_later(&q, &tag, 1);
        }
        self.pump();
    }
}
