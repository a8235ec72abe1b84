//! Trident's core vocabulary: the one message model every protocol adapter translates
//! into, validated names, topology definitions and the error type the engine returns.
//!
//! This crate performs no I/O and knows no protocol. Protocol adapters depend on it (and
//! on the engine's API); the routing and storage crates build on it.

pub mod arrival;
pub mod error;
pub mod log;
pub mod message;
pub mod names;
pub mod publisher;
pub mod topic_words;
pub mod topology;
pub mod value;

pub use arrival::{Arrival, MatchedBindings};
pub use error::{Error, ErrorKind, Result};
pub use log::{BatchEncoding, LogBatch, Offset};
pub use message::{DeliveryMode, Message, MqttProperties, Properties};
pub use names::{ExchangeName, NameError, QueueName, TopicName, VhostName};
pub use publisher::{PUBLISHER_WINDOW, PublisherSeq, PublisherWindow};
pub use topic_words::{PatternError, PatternWord, TopicPattern, to_routing_key};
pub use topology::{
    Binding, BindingDestination, Durability, ExchangeDef, ExchangeKind, ForwardKey,
    NO_LOCAL_ORIGIN_ARG, Overflow, QueueArgs, QueueDef, TopicConfig, TopicForward,
};
pub use value::{FieldTable, FieldValue};

/// Identifies one client connection across the engine (exclusive queue ownership,
/// consumer bookkeeping). Allocated by the broker, opaque to everyone else.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnectionId(pub u64);
