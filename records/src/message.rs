//! The one mapping between the engine's [`Message`] and a log record, used wherever a
//! message enters a log (a stream queue, a Kafka-visible topic) or leaves one for a
//! non-Kafka consumer (an AMQP stream consumer, a topic forwarding into an exchange).
//!
//! | Message                         | record                                    |
//! |---------------------------------|-------------------------------------------|
//! | `body`                          | value                                     |
//! | `key`                           | key (`None` stays null)                   |
//! | `timestamp_ms`                  | timestamp (CreateTime); read back, also the AMQP `timestamp` (s) when the message has none |
//! | `headers` (application)         | headers, in order, values as bytes        |
//! | `mqtt.user_properties`          | headers, after the application headers    |
//! | AMQP properties, MQTT 5 props   | `trident-*` headers (see the constants)   |
//! | `delivery_mode`                 | none: a log record is persistent          |
//!
//! Header values are bytes in a record: text and byte values are written as they
//! are, numbers, booleans and timestamps in decimal text, tables and arrays as JSON,
//! void as a null value. Reading back, a value that is valid UTF-8 becomes a long
//! string, anything else a byte array: a typed AMQP header comes back as its text.
//! MQTT user properties come back as application headers (AMQP headers, Kafka headers
//! and user properties are one name/value list in the other protocols). A header name
//! that is not UTF-8 is read as `trident-b64:<base64>` and written back as its bytes
//! ([`crate::crossing::header_name_from_bytes`]). How each protocol is shown the
//! message read back is [`crate::crossing`].

use bytes::Bytes;
use trident_core::{DeliveryMode, FieldTable, FieldValue, Message, MqttProperties};

use crate::record::{NewRecord, Record};

/// Reserved record header names for fields a record has no slot for. A record read
/// back into a message drops these from the headers and restores the field.
pub mod names {
    pub const CONTENT_TYPE: &str = "trident-content-type";
    pub const CONTENT_ENCODING: &str = "trident-content-encoding";
    pub const CORRELATION_ID: &str = "trident-correlation-id";
    pub const REPLY_TO: &str = "trident-reply-to";
    /// AMQP per-message TTL in milliseconds (decimal), as the publisher sent it.
    pub const EXPIRATION: &str = "trident-expiration";
    pub const MESSAGE_ID: &str = "trident-message-id";
    /// AMQP `timestamp` property: seconds since the epoch (decimal).
    pub const AMQP_TIMESTAMP: &str = "trident-amqp-timestamp";
    pub const TYPE: &str = "trident-type";
    pub const USER_ID: &str = "trident-user-id";
    pub const APP_ID: &str = "trident-app-id";
    pub const CLUSTER_ID: &str = "trident-cluster-id";
    pub const PRIORITY: &str = "trident-priority";
    /// MQTT 5 response topic.
    pub const RESPONSE_TOPIC: &str = "trident-response-topic";
    /// MQTT 5 correlation data (raw bytes).
    pub const CORRELATION_DATA: &str = "trident-correlation-data";
    /// MQTT 5 message expiry interval in seconds (decimal).
    pub const MESSAGE_EXPIRY: &str = "trident-message-expiry";
    /// MQTT 5 payload format indicator: `utf-8` or `bytes`.
    pub const PAYLOAD_FORMAT: &str = "trident-payload-format";
    /// The exchange and routing key the message was published with (AMQP deliveries
    /// of a forwarded record report them).
    pub const EXCHANGE: &str = "trident-exchange";
    pub const ROUTING_KEY: &str = "trident-routing-key";
}

fn text(s: &str) -> Option<Bytes> {
    Some(Bytes::copy_from_slice(s.as_bytes()))
}

/// A header value as record bytes (see the module docs).
pub fn value_bytes(v: &FieldValue) -> Option<Bytes> {
    let s = match v {
        FieldValue::Void => return None,
        FieldValue::Bytes(b) => return Some(b.clone()),
        FieldValue::ShortString(s) | FieldValue::LongString(s) => return text(s),
        FieldValue::Bool(b) => b.to_string(),
        FieldValue::I8(n) => n.to_string(),
        FieldValue::U8(n) => n.to_string(),
        FieldValue::I16(n) => n.to_string(),
        FieldValue::U16(n) => n.to_string(),
        FieldValue::I32(n) => n.to_string(),
        FieldValue::U32(n) => n.to_string(),
        FieldValue::I64(n) => n.to_string(),
        FieldValue::U64(n) => n.to_string(),
        FieldValue::F32(n) => n.to_string(),
        FieldValue::F64(n) => n.to_string(),
        FieldValue::Timestamp(n) => n.to_string(),
        FieldValue::Decimal { scale, value } => decimal(*scale, *value),
        FieldValue::Table(_) | FieldValue::Array(_) => serde_json::to_string(v).unwrap_or_default(),
    };
    Some(Bytes::from(s))
}

fn decimal(scale: u8, value: u32) -> String {
    let digits = value.to_string();
    let scale = usize::from(scale);
    if scale == 0 {
        return digits;
    }
    let padded = format!("{digits:0>width$}", width = scale + 1);
    let (int, frac) = padded.split_at(padded.len() - scale);
    format!("{int}.{frac}")
}

/// The record a message is appended as.
pub fn to_record(m: &Message) -> NewRecord {
    use names::*;
    let mut headers: Vec<(String, Option<Bytes>)> = m
        .headers
        .iter()
        .map(|(k, v)| (k.to_string(), value_bytes(v)))
        .collect();
    let mut put = |name: &str, v: Option<Bytes>| {
        if v.is_some() {
            headers.push((name.to_string(), v));
        }
    };
    let p = &m.properties;
    put(CONTENT_TYPE, p.content_type.as_deref().and_then(text));
    put(
        CONTENT_ENCODING,
        p.content_encoding.as_deref().and_then(text),
    );
    put(CORRELATION_ID, p.correlation_id.as_deref().and_then(text));
    put(REPLY_TO, p.reply_to.as_deref().and_then(text));
    put(EXPIRATION, p.expiration.as_deref().and_then(text));
    put(MESSAGE_ID, p.message_id.as_deref().and_then(text));
    put(
        AMQP_TIMESTAMP,
        p.timestamp.map(|t| Bytes::from(t.to_string())),
    );
    put(TYPE, p.kind.as_deref().and_then(text));
    put(USER_ID, p.user_id.as_deref().and_then(text));
    put(APP_ID, p.app_id.as_deref().and_then(text));
    put(CLUSTER_ID, p.cluster_id.as_deref().and_then(text));
    put(PRIORITY, p.priority.map(|t| Bytes::from(t.to_string())));
    if let Some(q) = &m.mqtt {
        // The MQTT content type is the AMQP one when both are set (the MQTT adapter
        // copies it); only a differing one needs its own slot, which MQTT never makes.
        if p.content_type.is_none() {
            put(CONTENT_TYPE, q.content_type.as_deref().and_then(text));
        }
        put(RESPONSE_TOPIC, q.response_topic.as_deref().and_then(text));
        put(CORRELATION_DATA, q.correlation_data.clone());
        put(
            MESSAGE_EXPIRY,
            q.message_expiry_secs.map(|s| Bytes::from(s.to_string())),
        );
        put(
            PAYLOAD_FORMAT,
            q.payload_format_utf8
                .map(|u| Bytes::from_static(if u { b"utf-8" } else { b"bytes" })),
        );
    }
    if !m.exchange.is_empty() {
        put(EXCHANGE, text(&m.exchange));
    }
    if !m.routing_key.is_empty() {
        put(ROUTING_KEY, text(&m.routing_key));
    }
    if let Some(q) = &m.mqtt {
        for (k, v) in &q.user_properties {
            headers.push((k.clone(), text(v)));
        }
    }
    NewRecord {
        timestamp: m.timestamp_ms,
        key: m.key.clone(),
        value: Some(m.body.clone()),
        headers,
    }
}

fn utf8(b: &Option<Bytes>) -> Option<String> {
    b.as_ref()
        .and_then(|b| std::str::from_utf8(b).ok())
        .map(str::to_string)
}

/// The message a stored record is delivered as. `exchange` and `routing_key` are set
/// from the record's `trident-exchange` / `trident-routing-key` headers when present.
pub fn from_record(r: &Record) -> Message {
    use names::*;
    let mut m = Message {
        body: r.value.clone().unwrap_or_default(),
        key: r.key.clone(),
        timestamp_ms: r.timestamp,
        delivery_mode: DeliveryMode::Persistent,
        ..Message::default()
    };
    let mut mqtt = MqttProperties::default();
    let mut has_mqtt = false;
    let mut headers = FieldTable::new();
    for (name, value) in &r.headers {
        let s = || utf8(value);
        let p = &mut m.properties;
        match name.as_str() {
            CONTENT_TYPE => p.content_type = s(),
            CONTENT_ENCODING => p.content_encoding = s(),
            CORRELATION_ID => p.correlation_id = s(),
            REPLY_TO => p.reply_to = s(),
            EXPIRATION => p.expiration = s(),
            MESSAGE_ID => p.message_id = s(),
            AMQP_TIMESTAMP => p.timestamp = s().and_then(|t| t.parse().ok()),
            TYPE => p.kind = s(),
            USER_ID => p.user_id = s(),
            APP_ID => p.app_id = s(),
            CLUSTER_ID => p.cluster_id = s(),
            PRIORITY => p.priority = s().and_then(|t| t.parse().ok()),
            RESPONSE_TOPIC => {
                has_mqtt = true;
                mqtt.response_topic = s();
            }
            CORRELATION_DATA => {
                has_mqtt = true;
                mqtt.correlation_data = value.clone();
            }
            MESSAGE_EXPIRY => {
                has_mqtt = true;
                mqtt.message_expiry_secs = s().and_then(|t| t.parse().ok());
            }
            PAYLOAD_FORMAT => {
                has_mqtt = true;
                mqtt.payload_format_utf8 = Some(value.as_deref() == Some(b"utf-8"));
            }
            EXCHANGE => m.exchange = s().unwrap_or_default(),
            ROUTING_KEY => m.routing_key = s().unwrap_or_default(),
            _ => {
                let v = match value {
                    None => FieldValue::Void,
                    Some(b) => match std::str::from_utf8(b) {
                        Ok(t) => FieldValue::LongString(t.to_string()),
                        Err(_) => FieldValue::Bytes(b.clone()),
                    },
                };
                // Duplicates are legal in records; FieldTable keeps them in order.
                headers.0.push((name.clone(), v));
            }
        }
    }
    m.headers = headers;
    // A record's time is the AMQP timestamp (seconds) unless the message had its own:
    // Kafka CreateTime and AMQP `timestamp` both say when the message was made.
    if m.properties.timestamp.is_none() {
        m.properties.timestamp = u64::try_from(r.timestamp.div_euclid(1000)).ok();
    }
    if has_mqtt {
        mqtt.content_type.clone_from(&m.properties.content_type);
        m.mqtt = Some(Box::new(mqtt));
    }
    m
}

#[cfg(test)]
mod tests {
    use trident_core::Properties;

    use super::*;

    #[test]
    fn every_field_survives_a_round_trip() {
        let mut m = Message::new(Bytes::from_static(b"\x00payload\xff"));
        m.key = Some(Bytes::from_static(b"k"));
        m.headers
            .insert("h-text", FieldValue::LongString("v".into()));
        m.headers
            .insert("h-bytes", FieldValue::Bytes(Bytes::from_static(b"\xfe")));
        m.properties = Properties {
            content_type: Some("application/json".into()),
            content_encoding: Some("gzip".into()),
            correlation_id: Some("c-1".into()),
            reply_to: Some("replies".into()),
            expiration: Some("60000".into()),
            message_id: Some("m-1".into()),
            timestamp: Some(1_700_000_000),
            kind: Some("order".into()),
            user_id: Some("guest".into()),
            app_id: Some("shop".into()),
            cluster_id: None,
            priority: Some(3),
            delivery_mode: None,
        };
        m.mqtt = Some(Box::new(MqttProperties {
            payload_format_utf8: Some(false),
            message_expiry_secs: Some(30),
            content_type: Some("application/json".into()),
            response_topic: Some("reply/here".into()),
            correlation_data: Some(Bytes::from_static(b"\x01\x02")),
            user_properties: vec![],
        }));
        m.exchange = "amq.topic".into();
        m.routing_key = "a.b".into();
        m.delivery_mode = DeliveryMode::Persistent;
        let nr = to_record(&m);
        let r = Record {
            offset: 7,
            timestamp: nr.timestamp,
            key: nr.key,
            value: nr.value,
            headers: nr.headers,
        };
        let back = from_record(&r);
        assert_eq!(back, m);
    }

    #[test]
    fn typed_headers_travel_as_text() {
        let mut m = Message::new("x");
        m.headers.insert("n", FieldValue::I32(-5));
        m.headers
            .insert("d", FieldValue::Decimal { scale: 2, value: 5 });
        m.headers.insert("void", FieldValue::Void);
        m.mqtt = Some(Box::new(MqttProperties {
            user_properties: vec![("u".into(), "p".into())],
            ..MqttProperties::default()
        }));
        let r = to_record(&m);
        let h: Vec<_> = r
            .headers
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_deref()))
            .collect();
        assert_eq!(
            h,
            vec![
                ("n", Some(&b"-5"[..])),
                ("d", Some(&b"0.05"[..])),
                ("void", None),
                ("u", Some(&b"p"[..])),
            ]
        );
    }
}
