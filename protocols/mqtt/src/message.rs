//! MQTT application messages and the engine's message model, both ways. No I/O.
//!
//! A PUBLISH becomes a [`Message`] on the topic exchange: the routing key is the topic
//! mapped by [`crate::names::routing_key_of`], QoS 1 and 2 are persistent, the
//! publish QoS and retain flag travel as headers (the names RabbitMQ's MQTT plugin
//! uses for the QoS), and the MQTT 5 message properties travel in `Message::mqtt`,
//! with the content type and the reply-to its response topic stands for also in the
//! AMQP properties. What a v5 subscriber is shown of a message from any protocol is
//! the one cross-protocol mapping, `trident_engine::crossing::mqtt_view`.

use std::sync::Arc;

use bytes::Bytes;
use trident_core::{DeliveryMode, FieldValue, Message, MqttProperties};
use trident_engine::crossing;

use crate::codec::{MessageProperties, PayloadFormat, QoS};
use crate::names::routing_key_of;

/// The QoS a message was published with.
pub const HEADER_QOS: &str = crossing::names::MQTT_PUBLISH_QOS;
/// Present (true) when the message was published with the retain flag.
pub const HEADER_RETAIN: &str = crossing::names::MQTT_RETAIN;

/// The message a PUBLISH (or a will) puts on the exchange `exchange` (the adapter's
/// MQTT exchange: a response topic's reply-to names it).
pub fn inbound(
    exchange: &str,
    topic: &str,
    qos: QoS,
    retain: bool,
    props: &MessageProperties,
    payload: Bytes,
    origin: Option<Arc<str>>,
) -> Message {
    let mut m = Message::new(payload);
    m.routing_key = routing_key_of(topic);
    m.origin = origin;
    if qos != QoS::AtMostOnce {
        m.delivery_mode = DeliveryMode::Persistent;
    }
    m.headers.insert(HEADER_QOS, FieldValue::U8(qos.as_u8()));
    if retain {
        m.headers.insert(HEADER_RETAIN, FieldValue::Bool(true));
    }
    if *props != MessageProperties::default() {
        // An AMQP content-type is a short string; a longer one stays in `mqtt` only
        // (AMQP consumers get it as a header, `crossing::amqp_view`).
        m.properties.content_type = props
            .content_type
            .clone()
            .filter(|c| c.len() <= crossing::SHORT_STR_MAX);
        // Only the publishing adapter knows its exchange, so the reply-to is made
        // here; the rest of the AMQP view is made at delivery (`crossing::amqp_view`).
        m.properties.reply_to = props
            .response_topic
            .as_deref()
            .map(|t| crossing::reply_to_of_response_topic(t, exchange))
            .filter(|r| r.len() <= crossing::SHORT_STR_MAX);
        m.mqtt = Some(Box::new(MqttProperties {
            payload_format_utf8: props.payload_format.map(|f| f == PayloadFormat::Utf8),
            message_expiry_secs: props.message_expiry_interval,
            content_type: props.content_type.clone(),
            response_topic: props.response_topic.clone(),
            correlation_data: props.correlation_data.clone(),
            user_properties: props.user_properties.clone(),
        }));
    }
    m
}

/// The QoS a message was published with. A message from another protocol has no
/// header: persistent ones count as QoS 1, others as QoS 0 (the subscription's QoS
/// then caps it, as for any message).
pub fn published_qos(m: &Message) -> QoS {
    m.headers
        .get_i64(HEADER_QOS)
        .and_then(|q| u8::try_from(q).ok())
        .and_then(QoS::from_u8)
        .unwrap_or(if m.is_persistent() {
            QoS::AtLeastOnce
        } else {
            QoS::AtMostOnce
        })
}

pub fn published_retained(m: &Message) -> bool {
    m.headers
        .get(HEADER_RETAIN)
        .and_then(FieldValue::as_bool)
        .unwrap_or(false)
}

/// The properties a delivery carries to a v5 subscriber, or `None` when the message
/// has expired. The expiry interval sent is what is left of it ([MQTT-3.3.2-6]); a
/// message from another protocol is shown by the one mapping (`crossing::mqtt_view`).
pub fn outbound_properties(m: &Message, now_ms: i64, exchange: &str) -> Option<MessageProperties> {
    let p = crossing::mqtt_view(m, now_ms, exchange)?;
    Some(MessageProperties {
        payload_format: p.payload_format_utf8.map(|u| {
            if u {
                PayloadFormat::Utf8
            } else {
                PayloadFormat::Unspecified
            }
        }),
        message_expiry_interval: p.message_expiry_secs,
        content_type: p.content_type,
        response_topic: p.response_topic,
        correlation_data: p.correlation_data,
        user_properties: p.user_properties,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn v5_properties_round_trip_through_the_model() {
        let props = MessageProperties {
            payload_format: Some(PayloadFormat::Utf8),
            message_expiry_interval: Some(60),
            content_type: Some("text/plain".into()),
            response_topic: Some("reply/here".into()),
            correlation_data: Some(Bytes::from_static(b"\x00\x01")),
            user_properties: vec![("k".into(), "v".into()), ("k".into(), "w".into())],
        };
        let m = inbound(
            "amq.topic",
            "a/b.c",
            QoS::ExactlyOnce,
            true,
            &props,
            "x".into(),
            None,
        );
        assert_eq!(m.routing_key, "a.b/c");
        assert!(m.is_persistent());
        assert_eq!(published_qos(&m), QoS::ExactlyOnce);
        assert!(published_retained(&m));
        let out = outbound_properties(&m, m.timestamp_ms + 10_500, "amq.topic").unwrap();
        assert_eq!(out.message_expiry_interval, Some(50));
        assert_eq!(
            MessageProperties {
                message_expiry_interval: Some(60),
                ..out
            },
            props
        );
        assert!(
            outbound_properties(&m, m.timestamp_ms + 60_000, "amq.topic").is_none(),
            "expired"
        );
    }

    #[test]
    fn messages_from_other_protocols() {
        let mut m = Message::new("b");
        assert_eq!(published_qos(&m), QoS::AtMostOnce);
        m.delivery_mode = DeliveryMode::Persistent;
        assert_eq!(published_qos(&m), QoS::AtLeastOnce);
        assert!(!published_retained(&m));
    }
}
