//! The one message model.
//!
//! Every adapter translates its protocol's publish into a [`Message`] and every delivery
//! back out of one. The model is the union of what the three protocols can say about a
//! message, so that a message crossing protocols loses nothing that the receiving
//! protocol can express. Messages are immutable once built and shared behind an `Arc`:
//! fan-out to N queues clones a pointer, never the body.

use std::sync::Arc;

use bytes::Bytes;

use crate::value::FieldTable;

/// AMQP's delivery mode: whether the publisher asked for the message to survive a
/// restart. Kafka records and MQTT messages are always persistent in Trident's logs;
/// their adapters set this accordingly.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DeliveryMode {
    #[default]
    Transient,
    Persistent,
}

/// AMQP 0-9-1 basic properties (the content header), kept field by field so that an
/// AMQP publish is re-delivered byte-identical in meaning. Other protocols map onto the
/// subset they share (content type, correlation id, reply-to, expiry).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Properties {
    pub content_type: Option<String>,
    pub content_encoding: Option<String>,
    pub delivery_mode: Option<u8>,
    pub priority: Option<u8>,
    pub correlation_id: Option<String>,
    pub reply_to: Option<String>,
    /// Per-message TTL as the AMQP client sent it (milliseconds, as a decimal string).
    pub expiration: Option<String>,
    pub message_id: Option<String>,
    /// Seconds since the Unix epoch, as AMQP defines it.
    pub timestamp: Option<u64>,
    pub kind: Option<String>,
    pub user_id: Option<String>,
    pub app_id: Option<String>,
    pub cluster_id: Option<String>,
}

impl Properties {
    /// The per-message TTL in milliseconds, if `expiration` holds a valid one.
    /// RabbitMQ refuses other values at publish time; adapters do the same by calling
    /// this and treating `Err` as a precondition failure.
    pub fn expiration_ms(&self) -> Result<Option<u64>, String> {
        match &self.expiration {
            None => Ok(None),
            Some(s) => s.parse::<u64>().map(Some).map_err(|_| {
                format!("invalid expiration {s:?}: must be a non-negative integer of milliseconds")
            }),
        }
    }
}

/// MQTT 5 properties that travel with an application message (MQTT 5.0 §3.3.2.3).
/// Properties that describe one hop (topic alias, subscription identifiers) are not
/// message properties and live in the MQTT adapter.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MqttProperties {
    pub payload_format_utf8: Option<bool>,
    pub message_expiry_secs: Option<u32>,
    pub content_type: Option<String>,
    pub response_topic: Option<String>,
    pub correlation_data: Option<Bytes>,
    pub user_properties: Vec<(String, String)>,
}

/// A message as the engine stores and delivers it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Message {
    /// The payload, never copied after it is read off the socket.
    pub body: Bytes,
    /// Kafka record key; also how MQTT and AMQP messages carry a partitioning key into
    /// a log. `None` is distinct from an empty key (Kafka distinguishes them).
    pub key: Option<Bytes>,
    /// Typed application headers (AMQP headers table, Kafka record headers, MQTT 5
    /// user properties are mapped here by the adapters).
    pub headers: FieldTable,
    pub properties: Properties,
    /// Present only for messages that were published over MQTT 5 or that carry MQTT 5
    /// properties that have no AMQP equivalent.
    pub mqtt: Option<Box<MqttProperties>>,
    /// When the engine accepted the message, milliseconds since the Unix epoch (or the
    /// producer's timestamp for Kafka records with CreateTime).
    pub timestamp_ms: i64,
    pub delivery_mode: DeliveryMode,
    /// The exchange the message was published to ("" for the default exchange). AMQP
    /// deliveries report it, and dead-lettering records it in `x-death`.
    pub exchange: String,
    /// The routing key it was published with: the AMQP routing key, the MQTT topic
    /// (mapped to dot form by the MQTT adapter), or the Kafka topic name.
    pub routing_key: String,
    /// Who published it, as the publishing adapter names its clients (opaque to the
    /// engine). Bindings with a no-local argument compare against it
    /// (see [`crate::topology::NO_LOCAL_ORIGIN_ARG`]); `None` when the adapter does not say.
    pub origin: Option<Arc<str>>,
}

impl Message {
    /// A transient message with only a body, stamped now.
    pub fn new(body: impl Into<Bytes>) -> Self {
        Self {
            body: body.into(),
            timestamp_ms: now_ms(),
            ..Self::default()
        }
    }

    pub fn is_persistent(&self) -> bool {
        self.delivery_mode == DeliveryMode::Persistent
    }

    /// The bytes this message accounts for in queue length limits and memory budgets:
    /// the body, as RabbitMQ counts `x-max-length-bytes`.
    pub fn body_size(&self) -> usize {
        self.body.len()
    }

    /// The priority the message asked for (0 when absent).
    pub fn priority(&self) -> u8 {
        self.properties.priority.unwrap_or(0)
    }

    /// The lifetime the message itself declares, in milliseconds: the shorter of the
    /// per-message TTL (`expiration`) and the message expiry interval. `None` when it
    /// declares none (or an invalid `expiration`, which publishes refuse anyway).
    pub fn declared_ttl_ms(&self) -> Option<u64> {
        let msg_ttl = self.properties.expiration_ms().ok().flatten();
        let expiry = self
            .mqtt
            .as_ref()
            .and_then(|m| m.message_expiry_secs)
            .map(|s| u64::from(s) * 1000);
        [msg_ttl, expiry].into_iter().flatten().min()
    }

    /// When the message's declared lifetime ends, counted from `timestamp_ms` (when the
    /// engine accepted it), in milliseconds since the Unix epoch.
    pub fn expires_at_ms(&self) -> Option<i64> {
        let ttl = i64::try_from(self.declared_ttl_ms()?).unwrap_or(i64::MAX);
        Some(self.timestamp_ms.saturating_add(ttl))
    }

    /// How many whole seconds of its declared lifetime remain at `now_ms`, rounded up
    /// (0 once it has expired): the expiry interval to forward with a message that
    /// waited in the broker, which must be the received one minus the time waited.
    pub fn remaining_lifetime_secs(&self, now_ms: i64) -> Option<u32> {
        let left = self.expires_at_ms()?.saturating_sub(now_ms).max(0);
        let secs = left.saturating_add(999) / 1000;
        Some(u32::try_from(secs).unwrap_or(u32::MAX))
    }

    /// Whether its declared lifetime has ended at `now_ms`.
    pub fn is_expired(&self, now_ms: i64) -> bool {
        self.expires_at_ms().is_some_and(|at| at <= now_ms)
    }
}

/// Milliseconds since the Unix epoch. A clock before 1970 yields 0 rather than a panic.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lifetime_counts_from_acceptance_and_takes_the_shorter_ttl() {
        let mut m = Message::new("x");
        m.timestamp_ms = 10_000;
        assert_eq!(m.expires_at_ms(), None);
        assert_eq!(m.remaining_lifetime_secs(20_000), None);
        m.mqtt = Some(Box::new(MqttProperties {
            message_expiry_secs: Some(10),
            ..MqttProperties::default()
        }));
        assert_eq!(m.expires_at_ms(), Some(20_000));
        assert_eq!(m.remaining_lifetime_secs(10_000), Some(10));
        assert_eq!(m.remaining_lifetime_secs(12_500), Some(8), "rounded up");
        assert_eq!(m.remaining_lifetime_secs(25_000), Some(0));
        assert!(!m.is_expired(19_999));
        assert!(m.is_expired(20_000));
        m.properties.expiration = Some("3000".into());
        assert_eq!(m.expires_at_ms(), Some(13_000));
    }
}
