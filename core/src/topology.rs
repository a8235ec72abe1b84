//! Definitions of exchanges, queues, bindings and topics: what a client declares and
//! what the metadata store persists. Behaviour lives in the routing and engine crates.

use serde::{Deserialize, Serialize};

use crate::names::{ExchangeName, QueueName};
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

/// A binding from a source exchange to a queue or another exchange.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Binding {
    pub source: ExchangeName,
    pub destination: BindingDestination,
    pub routing_key: String,
    /// Binding arguments; the headers exchange matches on these (with `x-match`).
    pub arguments: FieldTable,
}

impl Binding {
    /// Two bindings are the same binding when source, destination, key and arguments
    /// agree (AMQP's definition; it makes re-binding idempotent).
    pub fn same_as(&self, other: &Binding) -> bool {
        self.source == other.source
            && self.destination == other.destination
            && self.routing_key == other.routing_key
            && self.arguments == other.arguments
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
}

impl Default for TopicConfig {
    fn default() -> Self {
        Self {
            partitions: 1,
            retention_ms: Some(7 * 24 * 3600 * 1000),
            retention_bytes: None,
            segment_bytes: 256 * 1024 * 1024,
            segment_ms: Some(7 * 24 * 3600 * 1000),
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
