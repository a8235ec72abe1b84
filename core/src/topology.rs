//! Definitions of exchanges, queues, bindings and topics: what a client declares and
//! what the metadata store persists. Behaviour lives in the routing and engine crates.

use serde::{Deserialize, Serialize};

use crate::names::{ExchangeName, QueueName};
use crate::topic_words::TopicPattern;
use crate::value::FieldTable;

/// The four exchange types RabbitMQ clients expect.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ExchangeKind {
    Direct,
    Fanout,
    Topic,
    Headers,
}

impl ExchangeKind {
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "direct" => Self::Direct,
            "fanout" => Self::Fanout,
            "topic" => Self::Topic,
            "headers" => Self::Headers,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Direct => "direct",
            Self::Fanout => "fanout",
            Self::Topic => "topic",
            Self::Headers => "headers",
        }
    }
}

/// A declared exchange.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExchangeDef {
    pub name: ExchangeName,
    pub kind: ExchangeKind,
    pub durable: bool,
    /// Deleted when its last binding (as source) goes away.
    pub auto_delete: bool,
    /// Clients may not publish to it directly; only exchange-to-exchange bindings feed it.
    pub internal: bool,
    /// Where unroutable messages go (RabbitMQ's `alternate-exchange` argument).
    pub alternate_exchange: Option<ExchangeName>,
}

impl ExchangeDef {
    pub fn new(name: ExchangeName, kind: ExchangeKind) -> Self {
        Self {
            name,
            kind,
            durable: true,
            auto_delete: false,
            internal: false,
            alternate_exchange: None,
        }
    }

    /// Whether a redeclaration with `other` is equivalent (RabbitMQ answers a
    /// non-equivalent redeclare with 406 PRECONDITION_FAILED).
    pub fn equivalent(&self, other: &ExchangeDef) -> bool {
        self.kind == other.kind
            && self.durable == other.durable
            && self.auto_delete == other.auto_delete
            && self.internal == other.internal
            && self.alternate_exchange == other.alternate_exchange
    }
}

/// What a queue does when a publish would exceed its length limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Overflow {
    /// Drop (or dead-letter) the oldest message to make room.
    #[default]
    DropHead,
    /// Refuse the new message (a publisher with confirms gets a nack).
    RejectPublish,
    /// Refuse the new message and dead-letter it.
    RejectPublishDlx,
}

/// The queue arguments that change engine behaviour. Parsed from the client's
/// argument table by the adapter so the engine never sees protocol-specific spellings.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct QueueArgs {
    pub message_ttl_ms: Option<u64>,
    /// Delete the queue after this long without consumers or declarations.
    pub expires_ms: Option<u64>,
    pub max_length: Option<u64>,
    pub max_length_bytes: Option<u64>,
    pub overflow: Overflow,
    pub dead_letter_exchange: Option<ExchangeName>,
    pub dead_letter_routing_key: Option<String>,
    pub max_priority: Option<u8>,
    /// When set, the queue keeps its messages as a stream (append-only log, consumers
    /// read by offset). Reserved for the cross-protocol work.
    pub stream: bool,
}

/// A declared queue.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QueueDef {
    pub name: QueueName,
    pub durable: bool,
    /// Owned by one connection: others are refused, and it dies with its owner.
    pub exclusive: bool,
    /// Deleted when its last consumer is cancelled (if it ever had one).
    pub auto_delete: bool,
    pub args: QueueArgs,
}

impl QueueDef {
    pub fn new(name: QueueName) -> Self {
        Self {
            name,
            durable: false,
            exclusive: false,
            auto_delete: false,
            args: QueueArgs::default(),
        }
    }

    pub fn equivalent(&self, other: &QueueDef) -> bool {
        self.durable == other.durable
            && self.exclusive == other.exclusive
            && self.auto_delete == other.auto_delete
            && self.args == other.args
    }
}

/// Where a binding delivers.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum BindingDestination {
    Queue(QueueName),
    Exchange(ExchangeName),
}

/// The binding argument that makes a binding skip messages published by one client:
/// a string holding the subscriber's identity, compared with [`crate::Message::origin`].
/// A message whose origin equals it is not routed along that binding (other bindings
/// to the same queue still route it).
pub const NO_LOCAL_ORIGIN_ARG: &str = "x-no-local-origin";

/// A binding from a source exchange to a queue or another exchange.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Binding {
    pub source: ExchangeName,
    pub destination: BindingDestination,
    /// The binding key. For a binding with a [`pattern`](Self::pattern) this is the
    /// pattern's readable form (see [`Binding::with_pattern`]), for listings only.
    pub routing_key: String,
    /// Binding arguments; the headers exchange matches on these (with `x-match`).
    pub arguments: FieldTable,
    /// A word pattern that replaces `routing_key`'s AMQP syntax (topic exchanges only):
    /// its exact words are compared literally, and it carries the `$` rule of
    /// [`TopicPattern`]. Absent in bindings stored before patterns existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pattern: Option<TopicPattern>,
}

impl Binding {
    /// A binding with an AMQP-syntax key.
    pub fn new(
        source: ExchangeName,
        destination: BindingDestination,
        routing_key: impl Into<String>,
        arguments: FieldTable,
    ) -> Self {
        Self {
            source,
            destination,
            routing_key: routing_key.into(),
            arguments,
            pattern: None,
        }
    }

    /// A binding with a word pattern; its `routing_key` is the pattern's readable form.
    pub fn with_pattern(
        source: ExchangeName,
        destination: BindingDestination,
        pattern: TopicPattern,
        arguments: FieldTable,
    ) -> Self {
        Self {
            source,
            destination,
            routing_key: pattern.to_string(),
            arguments,
            pattern: Some(pattern),
        }
    }

    /// Puts `routing_key` back in step with `pattern` (a caller may have built the
    /// struct by hand).
    pub fn normalise_key(&mut self) {
        if let Some(p) = &self.pattern {
            self.routing_key = p.to_string();
        }
    }

    /// Two bindings are the same binding when source, destination, key and arguments
    /// agree (AMQP's definition; it makes re-binding idempotent). A pattern binding is
    /// never the same as an AMQP-syntax one.
    pub fn same_as(&self, other: &Binding) -> bool {
        self.source == other.source
            && self.destination == other.destination
            && self.routing_key == other.routing_key
            && self.arguments == other.arguments
            && self.pattern == other.pattern
    }
}

/// Settings of a partitioned log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TopicConfig {
    pub partitions: u32,
    /// Delete whole segments older than this; `None` keeps forever.
    pub retention_ms: Option<i64>,
    /// Delete the oldest segments while a partition is larger than this.
    pub retention_bytes: Option<u64>,
    /// Roll to a new segment file past this size.
    pub segment_bytes: u64,
    /// Roll to a new segment file past this age.
    pub segment_ms: Option<i64>,
    /// Whether each appended record is also published to an exchange. Absent in topics
    /// stored before forwarding existed.
    #[serde(default)]
    pub forward: TopicForward,
}

/// Forwarding a topic into routing: a tailing task per partition decodes every record
/// appended after forwarding was switched on and publishes it to `exchange` in `vhost`
/// (docs/cross-protocol.md). Off while `exchange` is `None`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TopicForward {
    pub exchange: Option<String>,
    pub vhost: String,
    pub routing_key: ForwardKey,
}

impl Default for TopicForward {
    fn default() -> Self {
        Self {
            exchange: None,
            vhost: "/".into(),
            routing_key: ForwardKey::RecordKey,
        }
    }
}

/// The routing key a forwarded record is published with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ForwardKey {
    /// The record key as UTF-8; the topic name when the key is null or not UTF-8.
    #[default]
    RecordKey,
    /// Always the topic name.
    Topic,
}

impl Default for TopicConfig {
    fn default() -> Self {
        Self {
            partitions: 1,
            retention_ms: Some(7 * 24 * 3600 * 1000),
            retention_bytes: None,
            segment_bytes: 256 * 1024 * 1024,
            segment_ms: Some(7 * 24 * 3600 * 1000),
            forward: TopicForward::default(),
        }
    }
}

/// When an acknowledgement may be sent for a message that the publisher asked to be
/// kept (AMQP persistent + confirms, Kafka acks=1/all, MQTT QoS 1/2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Durability {
    /// Acknowledge only after the data is fsynced. Writers that arrive while a sync is
    /// in flight share the next one (group commit), so the cost is one fsync per batch,
    /// not per message. Survives power loss.
    #[default]
    Fsync,
    /// Acknowledge after the write reaches the OS; fsync every `interval_ms`. Survives a
    /// process crash (`kill -9`); a power loss may lose the last interval.
    Interval { interval_ms: u64 },
    /// Acknowledge after the write reaches the OS; never fsync explicitly. Survives a
    /// process crash; a power loss may lose whatever the OS had not written back.
    Never,
}
