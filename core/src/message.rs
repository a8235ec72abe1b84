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
}

/// Milliseconds since the Unix epoch. A clock before 1970 yields 0 rather than a panic.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}
