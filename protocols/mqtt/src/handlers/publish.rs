//! PUBLISH from the client, QoS 0/1/2, and PUBREL: the message goes to the topic
//! exchange; QoS 1 is answered with PUBACK and QoS 2 with PUBREC once the engine has
//! stored it (`session/confirms.rs`); a QoS 2 packet id stays pending until PUBREL, so
//! a resent PUBLISH is not routed twice ([MQTT-4.3.3-10] method B's counterpart).
//!
//! A persistent session's QoS 2 publish is exactly once across `kill -9` too: it gets
//! an idempotency key (`publish_keys`), the packet id and key are recorded in the
//! adapter store, and only then is it routed with the key (`session/router.rs`). After
//! a restart the recorded id's outcome is unknown, so a resent PUBLISH (DUP) is routed
//! again with the same key: queues that stored the first copy drop it, the others
//! (the first copy was lost with the crash) store it.

use trident_core::ExchangeName;
use trident_engine::{Nack, PublishOptions, crossing};

use crate::codec::{
    Packet, PacketId, PubAck, PubComp, PubRec, Publish, QoS, ReasonCode, validate_topic_name,
};
use crate::error::{MqttError, MqttResult, engine_code};
use crate::message::inbound;
use crate::registry::Qos2In;
use crate::session::{Confirmer, PendingAck, Route, Router, Session};
use crate::session_store;
use crate::stats::MqttStats;

impl Session {
    pub(crate) async fn on_publish(&mut self, p: Publish) -> MqttResult<()> {
        self.count_received();
        self.published = true;
        let topic = self.resolve_alias(&p)?;
        // The key to route with: the recorded one for a resend whose first routing may
        // not have completed (earlier connection or run), else a new one below.
        let mut key = None;
        if let (QoS::ExactlyOnce, Some(id)) = (p.qos, p.packet_id) {
            match self.inbound.pending_release.get(&id.get()) {
                Some(Qos2In::Routed(_)) => {
                    // A resend of a QoS 2 publish we routed: acknowledge, do not route.
                    self.send(&Packet::PubRec(PubRec::new(id)));
                    return Ok(());
                }
                // Recorded by an earlier connection or run, with or without DUP: the
                // same message ([MQTT-4.3.3-9]: until PUBREL, a PUBLISH with this id is
                // answered as the first one). The client cannot have reused the id: its
                // release is deleted from the store before PUBCOMP goes out. paho-mqtt
                // resends some unacknowledged QoS 2 publishes without DUP after a
                // reconnect; treating those as new routed them twice (the crash soak).
                Some(Qos2In::Unsure(k)) => key = Some(*k),
                None => {}
            }
        }
        if topic.starts_with("$SYS") {
            // The broker's own statistics cannot be forged; the publish is accepted
            // and dropped, as Mosquitto does (v5 clients are told it was refused).
            return self.refuse_publish(&p, ReasonCode::NotAuthorized);
        }
        // `$queue/<name>`: a default-exchange publish (a queue by name, or an address),
        // how an MQTT replier answers an AMQP requester's reply-to
        // (`crossing::response_topic_of_reply_to`). Not retained: it names no topic.
        let target = match topic.strip_prefix(crossing::names::MQTT_QUEUE_PREFIX) {
            None => None,
            Some(_) => {
                let (x, rk) = crossing::mqtt_publish_target(&topic, "");
                match ExchangeName::new(x) {
                    Ok(x) => Some((x, rk.into_owned())),
                    Err(_) => return self.refuse_publish(&p, ReasonCode::TopicNameInvalid),
                }
            }
        };
        let mut message = inbound(
            self.shared.exchange.as_str(),
            &topic,
            p.qos,
            p.retain,
            &p.properties.message,
            p.payload,
            Some(self.client_id.clone()),
        );
        let exchange = match target {
            Some((x, rk)) => {
                message.routing_key = rk;
                x
            }
            None => self.shared.exchange.clone(),
        };
        let to_mqtt_exchange = exchange == self.shared.exchange;
        if p.retain
            && to_mqtt_exchange
            && let Err(e) = self.retain(&message).await
        {
            // Not kept: a QoS 1/2 publisher hears it (v5) or is closed (3.x) below
            // rather than believing its last value is stored.
            tracing::warn!(client = %self.client_id, error = %e, "MQTT retained message not stored");
            if p.qos != QoS::AtMostOnce {
                if !self.version.is_v5() {
                    return Err(MqttError::new(engine_code(&e), e.to_string()));
                }
                return match p.packet_id {
                    Some(id) => self.refuse_publish(&p_ref(p.qos, id), engine_code(&e)),
                    None => Ok(()),
                };
            }
        }
        let mut write = None;
        if let (QoS::ExactlyOnce, Some(id), None) = (p.qos, p.packet_id, key)
            && let Some(store) = self.durable_store()
        {
            match self.shared.keys.next(&self.shared.engine) {
                Ok(k) => {
                    write = Some(session_store::record(store, &self.client_id, id.get(), k));
                    key = Some(k);
                }
                Err(e) => {
                    tracing::warn!(client = %self.client_id, error = %e, "MQTT QoS 2 key unavailable");
                    if !self.version.is_v5() {
                        return Err(MqttError::new(engine_code(&e), e.to_string()));
                    }
                    return self.refuse_publish(&p_ref(p.qos, id), engine_code(&e));
                }
            }
        }
        if key.is_some() || self.router_busy() {
            let exchange = (!to_mqtt_exchange).then_some(exchange);
            self.route_later(p.qos, p.packet_id, message, exchange, key, write);
            return Ok(());
        }
        let confirm = p.qos != QoS::AtMostOnce;
        let published = self
            .shared
            .vhost
            .publish(
                message,
                &exchange,
                PublishOptions {
                    mandatory: false,
                    confirm,
                },
            )
            .await;
        let (Some(packet_id), true) = (p.packet_id, confirm) else {
            if let Err(e) = published {
                tracing::debug!(client = %self.client_id, error = %e, "MQTT QoS 0 publish dropped");
            }
            return Ok(());
        };
        let published = match published {
            Ok(p) => p,
            Err(e) => {
                let code = engine_code(&e);
                if !self.version.is_v5() {
                    return Err(MqttError::new(code, e.to_string()));
                }
                return self.refuse_publish(&p_ref(p.qos, packet_id), code);
            }
        };
        let Some(c) = published.confirm else {
            return Ok(());
        };
        if p.qos == QoS::ExactlyOnce {
            // Only sessions without a durable store get here (the others route QoS 2
            // through `route_later`): nothing to record.
            self.inbound
                .pending_release
                .insert(packet_id.get(), Qos2In::Routed(None));
        }
        self.inbound.awaiting += 1;
        self.engine
            .confirms
            .get_or_insert_with(|| Box::new(Confirmer::start()))
            .wait(
                c,
                PendingAck {
                    packet_id,
                    qos: p.qos,
                    unrouted: published.routed == 0,
                },
                None,
            );
        Ok(())
    }

    fn router_busy(&self) -> bool {
        self.engine
            .confirms
            .as_ref()
            .and_then(|c| c.router.as_ref())
            .is_some_and(Router::busy)
    }

    /// Hands a publish to the router (see `session/router.rs`): routed once `write`
    /// (its record) is durable, in order with the other publishes there.
    fn route_later(
        &mut self,
        qos: QoS,
        packet_id: Option<PacketId>,
        message: trident_core::Message,
        exchange: Option<ExchangeName>,
        key: Option<trident_core::PublisherSeq>,
        write: Option<crate::session::StoreWrite>,
    ) {
        let ack = match (qos, packet_id) {
            (QoS::AtMostOnce, _) | (_, None) => None,
            (qos, Some(packet_id)) => Some(PendingAck {
                packet_id,
                qos,
                unrouted: false,
            }),
        };
        if let (QoS::ExactlyOnce, Some(id)) = (qos, packet_id) {
            self.inbound
                .pending_release
                .insert(id.get(), Qos2In::Routed(key));
        }
        if ack.is_some() {
            self.inbound.awaiting += 1;
        }
        let (vhost, session_exchange) = (&self.shared.vhost, &self.shared.exchange);
        let confirmer = self
            .engine
            .confirms
            .get_or_insert_with(|| Box::new(Confirmer::start()));
        let jobs = confirmer.jobs();
        confirmer
            .router
            .get_or_insert_with(|| Router::start(vhost.clone(), session_exchange.clone(), jobs))
            .send(Route {
                write,
                message,
                exchange,
                key,
                ack,
            });
    }

    /// A publish the router could not route (its record failed, or routing did).
    pub(crate) fn on_refused(&mut self, ack: PendingAck, code: ReasonCode, text: String) {
        self.inbound.awaiting = self.inbound.awaiting.saturating_sub(1);
        MqttStats::add(&self.shared.stats.publishes_refused, 1);
        if ack.qos == QoS::ExactlyOnce {
            self.forget_qos2(ack.packet_id);
        }
        if !self.version.is_v5() {
            self.fail(MqttError::new(code, text));
            return;
        }
        let id = ack.packet_id;
        match ack.qos {
            QoS::AtLeastOnce => self.send(&Packet::PubAck(PubAck::with_reason(id, code))),
            _ => self.send(&Packet::PubRec(PubRec::with_reason(id, code))),
        }
    }

    /// A QoS 2 publish was refused: its id is free again, here and in the store (a
    /// record left behind would make a later message reusing the id a resend).
    fn forget_qos2(&mut self, id: PacketId) {
        if self.inbound.pending_release.remove(&id.get()).is_some()
            && let Some(store) = self.durable_store()
        {
            drop(session_store::release(store, &self.client_id, id.get()));
        }
    }

    /// Keeps `message` as its topic's retained message (an empty payload clears it);
    /// durable when this returns.
    pub(crate) async fn retain(&self, message: &trident_core::Message) -> trident_core::Result<()> {
        let kept = (!message.body.is_empty()).then(|| message.clone());
        self.shared
            .vhost
            .retain(&self.shared.exchange, &message.routing_key, kept)
            .await
    }

    /// The topic a PUBLISH is for: its own, or the one its Topic Alias stands for
    /// (v5 §3.3.2.3.4). An alias above our maximum, or 0, is 0x94
    /// ([MQTT-3.3.2-9], [MQTT-3.3.2-8]); an unknown alias with an empty topic is a
    /// protocol error.
    fn resolve_alias(&mut self, p: &Publish) -> MqttResult<String> {
        let Some(alias) = p.properties.topic_alias else {
            return Ok(p.topic.clone());
        };
        if alias == 0 || alias > self.shared.config.topic_alias_maximum {
            return Err(MqttError::new(
                ReasonCode::TopicAliasInvalid,
                format!(
                    "topic alias {alias} is outside 1..={}",
                    self.shared.config.topic_alias_maximum
                ),
            ));
        }
        if p.topic.is_empty() {
            return self
                .aliases
                .get(&alias)
                .cloned()
                .ok_or_else(|| MqttError::protocol(format!("topic alias {alias} was never set")));
        }
        validate_topic_name(&p.topic)
            .map_err(|e| MqttError::new(ReasonCode::TopicNameInvalid, e.to_string()))?;
        self.aliases.insert(alias, p.topic.clone());
        Ok(p.topic.clone())
    }

    /// Answers a QoS 1/2 publish that was not routed with `code` (v5), or with a
    /// plain acknowledgement (3.x, which has no way to say no).
    fn refuse_publish(&mut self, p: &Publish, code: ReasonCode) -> MqttResult<()> {
        let Some(id) = p.packet_id else {
            return Ok(());
        };
        let code = if self.version.is_v5() {
            code
        } else {
            ReasonCode::Success
        };
        match p.qos {
            QoS::AtLeastOnce => self.send(&Packet::PubAck(PubAck::with_reason(id, code))),
            _ => self.send(&Packet::PubRec(PubRec::with_reason(id, code))),
        }
        Ok(())
    }

    /// A publish's confirmation came back: acknowledge it.
    pub(crate) fn on_confirm(&mut self, ack: PendingAck, result: Result<(), Nack>) {
        self.inbound.awaiting = self.inbound.awaiting.saturating_sub(1);
        let code = match result {
            Ok(()) if ack.unrouted && self.version.is_v5() => ReasonCode::NoMatchingSubscribers,
            Ok(()) => ReasonCode::Success,
            Err(nack) => {
                MqttStats::add(&self.shared.stats.publishes_refused, 1);
                if ack.qos == QoS::ExactlyOnce {
                    self.forget_qos2(ack.packet_id);
                }
                let code = match nack {
                    Nack::QueueFull(_) => ReasonCode::QuotaExceeded,
                    _ => ReasonCode::ImplementationSpecificError,
                };
                if !self.version.is_v5() {
                    // 3.x cannot refuse a publish: close without acknowledging, so the
                    // client sends it again rather than believing it delivered.
                    self.fail(MqttError::new(code, nack.to_string()));
                    return;
                }
                code
            }
        };
        let id = ack.packet_id;
        match ack.qos {
            QoS::AtLeastOnce => self.send(&Packet::PubAck(PubAck::with_reason(id, code))),
            _ => self.send(&Packet::PubRec(PubRec::with_reason(id, code))),
        }
    }

    /// PUBREL: the client releases a QoS 2 packet id; PUBCOMP ends the exchange
    /// (0x92 in 5.0 for an id we hold nothing for, §4.3.3).
    pub(crate) fn on_pubrel(&mut self, id: PacketId) {
        let known = self.inbound.pending_release.remove(&id.get()).is_some();
        if known && let Some(store) = self.durable_store() {
            // PUBCOMP once the release is recorded: a restart must not find the id
            // still pending and swallow the client's next message that reuses it.
            let write = session_store::release(store, &self.client_id, id.get());
            self.engine
                .confirms
                .get_or_insert_with(|| Box::new(Confirmer::start()))
                .release(id, write);
            return;
        }
        let code = if known || !self.version.is_v5() {
            ReasonCode::Success
        } else {
            ReasonCode::PacketIdentifierNotFound
        };
        self.send(&Packet::PubComp(PubComp::with_reason(id, code)));
    }
}

/// A stand-in PUBLISH for `refuse_publish` once the original's payload has moved.
fn p_ref(qos: QoS, id: PacketId) -> Publish {
    let mut p = Publish::new("", bytes::Bytes::new());
    p.qos = qos;
    p.packet_id = Some(id);
    p
}
