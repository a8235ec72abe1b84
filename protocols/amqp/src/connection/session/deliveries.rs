//! From the engine to the client: deliveries become `basic.deliver` + content, and
//! engine-side cancellations become `basic.cancel` (consumer cancel notify).

use std::sync::Arc;

use tokio::sync::mpsc;
use trident_core::{FieldValue, Message};
use trident_engine::{ConsumerEvent, ConsumerSink, Delivery, LogPosition, Outcome};

use super::{EVENT_BATCH, Session};
use crate::channel::{ChannelState, Pending};
use crate::codec::{ServerMethod, put_body, put_content_header, put_method};

/// What a stream delivery carries beside the message, as RabbitMQ's do: the record's
/// offset in `x-stream-offset`; ours too: its partition in `x-stream-partition` when
/// the stream has several, and the record's time as the `timestamp` property (seconds)
/// when the message has none of its own.
fn stream_headers(message: &mut std::sync::Arc<Message>, log: LogPosition) {
    // The reader built this message for this delivery alone: no copy is made here.
    let m = std::sync::Arc::make_mut(message);
    let offset = i64::try_from(log.offset).unwrap_or(i64::MAX);
    m.headers
        .0
        .push(("x-stream-offset".into(), FieldValue::I64(offset)));
    if log.partitions > 1 {
        m.headers.0.push((
            "x-stream-partition".into(),
            FieldValue::I64(i64::from(log.partition)),
        ));
    }
    if m.properties.timestamp.is_none() {
        m.properties.timestamp = u64::try_from(m.timestamp_ms / 1000).ok();
    }
}

impl Session {
    /// The sink every consumer of this connection shares (created on first use).
    pub(super) fn events_sink(&mut self) -> ConsumerSink {
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
            if self.out.is_full() {
                break;
            }
            let Some(rx) = self.engine.events_rx.as_mut() else {
                break;
            };
            match rx.try_recv() {
                Ok(ev) => self.on_event(ev),
                Err(_) => break,
            }
        }
    }

    /// Handles every event already waiting, regardless of the output size (used
    /// before cancel-ok, which must follow the consumer's last delivery).
    pub(super) fn drain_events(&mut self) {
        loop {
            let Some(rx) = self.engine.events_rx.as_mut() else {
                return;
            };
            match rx.try_recv() {
                Ok(ev) => self.on_event(ev),
                Err(_) => return,
            }
        }
    }

    fn on_event(&mut self, ev: ConsumerEvent) {
        match ev {
            ConsumerEvent::Deliver(d) => self.on_delivery(d),
            ConsumerEvent::Cancelled { consumer_tag } => self.on_engine_cancel(&consumer_tag),
        }
    }

    fn on_delivery(&mut self, mut d: Delivery) {
        if let Some(log) = d.log {
            stream_headers(&mut d.message, log);
        }
        let frame_max = self.frame_max;
        let closing = self.phase.is_closing();
        let ch = self.channels.consumer_index.get(&d.consumer_tag).copied();
        let channel = match ch {
            Some(ch) if !closing => self
                .channels
                .get_mut(ch)
                .filter(|c| c.state == ChannelState::Open),
            _ => None,
        };
        let Some(channel) = channel else {
            // The consumer went away while this delivery was on its way: give it back.
            // (A no-ack delivery is already settled; the engine ignores the id then.)
            self.settle_later(&d.queue, d.id, Outcome::Requeue);
            return;
        };
        let tag = channel.next_tag();
        let Some(consumer) = channel.consumers.get_mut(&d.consumer_tag) else {
            self.settle_later(&d.queue, d.id, Outcome::Requeue);
            return;
        };
        let m = &d.message;
        let ch = channel.id;
        put_method(
            &mut self.out.buf,
            ch,
            &ServerMethod::BasicDeliver {
                consumer_tag: &consumer.client_tag,
                delivery_tag: tag,
                redelivered: d.redelivered,
                exchange: &m.exchange,
                routing_key: &m.routing_key,
            },
        );
        put_content_header(&mut self.out.buf, ch, m);
        put_body(&mut self.out.buf, ch, &m.body, frame_max);
        if consumer.no_ack {
            consumer.unflushed = consumer.unflushed.saturating_add(1);
            self.out.holds_no_ack = true;
        } else {
            channel.credit.delivered(&mut consumer.credit);
            channel.unacked.push(
                tag,
                Pending {
                    queue: d.queue,
                    id: d.id,
                    consumer: Some(d.consumer_tag),
                },
            );
        }
    }

    /// The engine dropped a consumer (its queue was deleted).
    fn on_engine_cancel(&mut self, engine_tag: &Arc<str>) {
        let Some(ch) = self.channels.consumer_index.get(engine_tag).copied() else {
            return;
        };
        let Some(consumer) = self.remove_consumer(ch, engine_tag) else {
            return;
        };
        if self.caps.consumer_cancel_notify && self.channel_state(ch) == Some(ChannelState::Open) {
            self.send(
                ch,
                &ServerMethod::BasicCancel {
                    consumer_tag: &consumer.client_tag,
                    nowait: true,
                },
            );
        }
    }

    /// The output buffer reached the socket: no-ack consumers may have more.
    pub(super) fn on_flushed(&mut self) {
        if !self.out.holds_no_ack {
            return;
        }
        self.out.holds_no_ack = false;
        let mut grants = Vec::new();
        for c in self.channels.iter_mut() {
            for consumer in c.consumers.values_mut() {
                if consumer.unflushed > 0 {
                    grants.push((
                        consumer.queue.clone(),
                        consumer.engine_tag.clone(),
                        consumer.unflushed,
                    ));
                    consumer.unflushed = 0;
                }
            }
        }
        for (q, tag, n) in grants {
            self.grant_later(&q, &tag, n);
        }
    }
}
