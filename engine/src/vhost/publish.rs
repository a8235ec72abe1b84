//! The publish path: route a message from an exchange by the snapshot's routing table
//! (no lock) and hand it to each matching queue and stream, with one confirm for all.

use std::sync::Arc;

use trident_core::{Arrival, Error, ExchangeName, Message, PublisherSeq, Result};
use trident_routing::{Routable, RouteResult};

use super::{Snapshot, Vhost};
use crate::publish::{Confirm, ConfirmTicket, PublishOptions, Published};
use crate::queue::{QueueCommand, QueueRef};

impl Vhost {
    /// Routes a message from `exchange` by its `routing_key` and headers and hands it to
    /// every matching queue. Fails for an unknown or internal exchange.
    pub async fn publish(
        &self,
        message: Message,
        exchange: &ExchangeName,
        opts: PublishOptions,
    ) -> Result<Published> {
        self.publish_keyed(message, exchange, opts, None).await
    }

    /// [`Self::publish`] with an idempotency key: every queue the message reaches that
    /// stored a publish with this key already (within its window of the last
    /// [`trident_core::PUBLISHER_WINDOW`] keyed publishes, across restarts and
    /// `kill -9` for durable queues) confirms it without storing it again. A publisher
    /// that does not know whether an earlier attempt was stored sends it again with the
    /// same key. Topic destinations (Kafka topics bound to the exchange) do not check
    /// keys: they store a resend again.
    pub async fn publish_keyed(
        &self,
        mut message: Message,
        exchange: &ExchangeName,
        opts: PublishOptions,
        key: Option<PublisherSeq>,
    ) -> Result<Published> {
        let max = self.inner.engine.config.max_message_bytes;
        if message.body.len() > max {
            return Err(Error::MessageTooLarge {
                size: message.body.len(),
                max,
            });
        }
        let snap = self.snapshot();
        let mut route = RouteResult::default();
        snap.routing
            .route_publish(exchange, Routable::of(&message), &mut route)
            .map_err(Error::from)?;
        message.exchange = exchange.as_str().to_string();
        self.deliver_routed(&snap, route, message, opts, key, true)
            .await
    }

    /// Publishes a message the broker itself produces (periodic statistics such as
    /// MQTT's `$SYS` topics) as [`Self::publish`] routes a client's, without counting
    /// it among the publishes and unroutable publishes that the metrics and the
    /// management API report: those figures describe what clients sent, and a broker
    /// with no client at all would otherwise show a steady stream of unroutable
    /// messages.
    pub async fn publish_from_broker(
        &self,
        mut message: Message,
        exchange: &ExchangeName,
    ) -> Result<Published> {
        let snap = self.snapshot();
        let mut route = RouteResult::default();
        snap.routing
            .route_publish(exchange, Routable::of(&message), &mut route)
            .map_err(Error::from)?;
        message.exchange = exchange.as_str().to_string();
        self.deliver_routed(
            &snap,
            route,
            message,
            PublishOptions::default(),
            None,
            false,
        )
        .await
    }

    /// Like `publish`, for messages the engine itself republishes (dead-lettering):
    /// internal exchanges are allowed, and an unknown exchange drops the message.
    pub(crate) async fn publish_internal(
        &self,
        message: Message,
        exchange: &ExchangeName,
    ) -> Result<Published> {
        let snap = self.snapshot();
        let mut route = RouteResult::default();
        snap.routing
            .route(exchange, Routable::of(&message), &mut route)
            .map_err(Error::from)?;
        self.deliver_routed(&snap, route, message, PublishOptions::default(), None, true)
            .await
    }

    async fn deliver_routed(
        &self,
        snap: &Snapshot,
        route: RouteResult,
        message: Message,
        opts: PublishOptions,
        key: Option<PublisherSeq>,
        counted: bool,
    ) -> Result<Published> {
        let metrics = &self.inner.engine.metrics;
        if counted {
            metrics.record_publish(message.body.len());
        }
        // Each queue with the bindings of it the message matched: the queue keeps them
        // beside the message and hands them to its consumer with the delivery.
        // A routed name that is no queue may be a topic (`topic::stream`).
        let mut targets: Vec<(&QueueRef, Arrival)> = Vec::new();
        let mut streams = Vec::new();
        for r in route.routes() {
            match snap.queues.get(r.queue) {
                Some(q) => targets.push((
                    q,
                    Arrival {
                        matched: r.matched_bindings(),
                        replayed: false,
                    },
                )),
                None => streams.extend(self.stream(r.queue)),
            }
        }
        if targets.is_empty() && streams.is_empty() {
            if counted {
                metrics.record_unroutable();
            }
            return Ok(Published {
                routed: 0,
                confirm: opts.confirm.then(|| Confirm::ready(Ok(()))),
            });
        }
        let (ticket, confirm) = if opts.confirm {
            let (t, c) = ConfirmTicket::new(targets.len() + streams.len());
            (Some(t), Some(c))
        } else {
            (None, None)
        };
        let message = Arc::new(message);
        let routed = targets.len() + streams.len();
        for topic in &streams {
            crate::topic::stream::append_message(topic, &message, ticket.clone()).await;
        }
        for (q, arrival) in targets {
            let cmd = QueueCommand::Publish {
                message: message.clone(),
                arrival,
                ticket: ticket.clone(),
                key,
            };
            // A queue deleted between routing and now: the message is simply not
            // delivered there, exactly as if routing had happened a moment later.
            if q.send(cmd).await.is_err()
                && let Some(t) = &ticket
            {
                t.complete(Ok(()));
            }
        }
        Ok(Published { routed, confirm })
    }
}
