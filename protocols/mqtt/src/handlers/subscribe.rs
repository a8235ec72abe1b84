//! SUBSCRIBE: each filter becomes a binding from the MQTT exchange to the session's
//! queue (declared on the first subscription: idle connections cost no queue), or, for
//! `$share/{group}/{filter}`, a consumer on the group's queue. One SUBACK code per
//! filter, in order ([MQTT-3.9.3-1]).

use std::sync::Arc;

use trident_core::{Arrival, FieldTable, MatchedBindings, QueueArgs, QueueDef, QueueName};
use trident_engine::{ConsumerOptions, PublishOptions, QueueRef};

use crate::codec::{
    Packet, QoS, ReasonCode, RetainHandling, SubAck, Subscribe, Subscription as Requested,
    SubscriptionOptions, parse_shared,
};
use crate::config::QueueOverflow;
use crate::error::{MqttError, MqttResult};
use crate::names;
use crate::session::{Session, SharedSub};
use crate::subscriptions::Subscription;

impl Session {
    pub(crate) async fn on_subscribe(&mut self, s: Subscribe) -> MqttResult<()> {
        let id = s.properties.subscription_identifier;
        let mut codes = Vec::with_capacity(s.subscriptions.len());
        for r in &s.subscriptions {
            let code = match self.subscribe_one(r, id).await {
                Ok(qos) => ReasonCode::granted(qos),
                Err(e) => {
                    tracing::debug!(client = %self.client_id, filter = %r.filter, error = %e, "MQTT subscription refused");
                    e.code
                }
            };
            codes.push(code);
        }
        let ack = SubAck {
            packet_id: s.packet_id,
            reason_codes: codes,
            properties: Default::default(),
        };
        self.send(&Packet::SubAck(ack));
        Ok(())
    }

    async fn subscribe_one(&mut self, r: &Requested, id: Option<u32>) -> MqttResult<QoS> {
        let invalid = |e: &dyn std::fmt::Display| {
            MqttError::new(ReasonCode::TopicFilterInvalid, e.to_string())
        };
        if let Some(share) = parse_shared(&r.filter).map_err(|e| invalid(&e))? {
            let sub = Subscription::new(share.filter, &r.options, id).map_err(|e| invalid(&e))?;
            return self
                .subscribe_shared(&r.filter, share.share_name, sub)
                .await;
        }
        let sub = Subscription::new(&r.filter, &r.options, id).map_err(|e| invalid(&e))?;
        let queue = self.ensure_queue().await?;
        let exchange = self.shared.exchange.clone();
        let existed = self.subs.iter().any(|s| s.filter == sub.filter);
        if let Some(i) = self.subs.iter().position(|s| s.filter == sub.filter) {
            // The same filter again replaces the subscription ([MQTT-3.8.4-3]).
            let old = self.subs.remove(i);
            let _ = self
                .shared
                .vhost
                .unbind(
                    &old.binding(&exchange, queue.name(), &self.client_id),
                    self.id,
                )
                .await;
        }
        let binding = sub.binding(&exchange, queue.name(), &self.client_id);
        self.shared.vhost.bind(binding.clone(), self.id).await?;
        let qos = sub.qos;
        let send_retained = match sub.retain_handling {
            RetainHandling::SendAtSubscribe => true,
            RetainHandling::SendIfNew => !existed,
            RetainHandling::DoNotSend => false,
        };
        if send_retained {
            self.replay_retained(&queue, &sub, binding.arguments).await;
        }
        self.subs.push(sub);
        Ok(qos)
    }

    /// Puts the retained messages matching `sub` into the session's queue, marked as
    /// replayed (so they go out with the retain flag, [MQTT-3.3.1-9]) and as matched by
    /// this subscription alone (its QoS and identifier apply). They reach the client
    /// after the SUBACK, through the queue like any message.
    async fn replay_retained(&mut self, queue: &QueueRef, sub: &Subscription, args: FieldTable) {
        let retained = self
            .shared
            .vhost
            .retained_matching(&self.shared.exchange, &sub.pattern);
        if retained.is_empty() {
            return;
        }
        let args = Arc::new(args);
        for (_, message) in retained {
            let arrival = Arrival {
                matched: MatchedBindings::from_tables([args.clone()]),
                replayed: true,
            };
            if let Err(e) = self
                .shared
                .vhost
                .enqueue(
                    queue.name(),
                    (*message).clone(),
                    arrival,
                    PublishOptions::default(),
                )
                .await
            {
                tracing::debug!(client = %self.client_id, error = %e, "MQTT retained message not replayed");
            }
        }
    }

    async fn subscribe_shared(
        &mut self,
        full: &str,
        group: &str,
        sub: Subscription,
    ) -> MqttResult<QoS> {
        let qos = sub.qos;
        if let Some(existing) = self.shared_subs.iter_mut().find(|s| s.full == full) {
            existing.sub = sub;
            return Ok(qos);
        }
        let name = names::shared_queue(group, &sub.filter).ok_or_else(|| {
            MqttError::new(ReasonCode::TopicFilterInvalid, "shared subscription name")
        })?;
        // Transient and deleted with its last member; members balance it round robin.
        let def = QueueDef {
            name: name.clone(),
            durable: false,
            exclusive: false,
            auto_delete: true,
            args: QueueArgs::default(),
        };
        self.engine.touched = true;
        self.shared.vhost.declare_queue(def, self.id).await?;
        // Every member binds the same binding (the group's, at QoS 2): the QoS and
        // identifier of each member apply when its deliveries go out.
        let group_binding = Subscription::new(
            &sub.filter,
            &SubscriptionOptions::new(QoS::ExactlyOnce),
            None,
        )
        .map_err(|e| MqttError::new(ReasonCode::TopicFilterInvalid, e.to_string()))?;
        self.shared
            .vhost
            .bind(
                group_binding.binding(&self.shared.exchange, &name, ""),
                self.id,
            )
            .await?;
        let tag: Arc<str> = format!("mqtt:{}:{full}", self.id.0).into();
        let queue = self.consume(&name, tag.clone()).await?;
        self.shared_subs.push(SharedSub {
            full: full.to_owned(),
            sub,
            queue,
            tag,
        });
        Ok(qos)
    }

    /// The session's queue, declared (and consumed) on first use: durable for a
    /// session that outlives its connection, exclusive otherwise.
    pub(crate) async fn ensure_queue(&mut self) -> MqttResult<QueueRef> {
        if let Some(q) = &self.queue {
            return Ok(q.clone());
        }
        let name = names::session_queue(&self.client_id).ok_or_else(|| {
            MqttError::new(ReasonCode::ClientIdentifierNotValid, "no queue name for it")
        })?;
        let config = &self.shared.config;
        let mut args = QueueArgs::default();
        if config.max_queued_messages > 0 {
            args.max_length = Some(config.max_queued_messages);
            args.overflow = match config.queue_overflow {
                QueueOverflow::Refuse => trident_core::Overflow::RejectPublish,
                QueueOverflow::DropOldest => trident_core::Overflow::DropHead,
            };
        }
        let def = QueueDef {
            name: name.clone(),
            durable: self.durable,
            exclusive: !self.durable,
            auto_delete: false,
            args,
        };
        self.engine.touched = true;
        self.shared.vhost.declare_queue(def, self.id).await?;
        let tag = self.tag.clone();
        let q = self.consume(&name, tag).await?;
        self.queue = Some(q.clone());
        Ok(q)
    }

    pub(crate) async fn consume(
        &mut self,
        name: &QueueName,
        tag: Arc<str>,
    ) -> MqttResult<QueueRef> {
        let sink = self.events_sink();
        let opts = ConsumerOptions {
            tag,
            no_ack: false,
            exclusive: false,
            owner: self.id,
            initial_credit: u32::try_from(self.window()).unwrap_or(u32::MAX),
        };
        self.engine.touched = true;
        Ok(self.shared.vhost.consume(name, opts, sink).await?)
    }
}
