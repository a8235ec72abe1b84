//! The engine's settings, filled in by the broker from its configuration.

use std::path::PathBuf;

use trident_core::{Durability, TopicConfig};

use crate::auth::DefaultUser;

#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// Root of all persistent state: `meta.redb`, `queues/`, `topics/`.
    pub data_dir: PathBuf,
    pub durability: Durability,
    /// Largest message body the engine accepts.
    pub max_message_bytes: usize,
    /// How many bytes of ready messages one queue keeps in memory before it pages
    /// newer ones to disk. Bounds memory under a deep backlog.
    pub queue_memory_bytes: usize,
    /// How many messages one queue keeps in memory at most (same purpose; small
    /// messages are dominated by per-message overhead, not body bytes).
    pub queue_memory_messages: usize,
    /// Depth of each queue's and partition's command channel: the backpressure bound.
    pub channel_capacity: usize,
    /// Create a topic on first produce or metadata request (Kafka's
    /// `auto.create.topics.enable`).
    pub auto_create_topics: bool,
    /// Settings for auto-created topics and the defaults of explicit creations.
    pub default_topic: TopicConfig,
    /// How often partitions apply retention.
    pub retention_check_ms: u64,
    /// The administrator created when the metadata store holds no user yet.
    pub default_user: DefaultUser,
}

impl EngineConfig {
    pub fn new(data_dir: impl Into<PathBuf>) -> Self {
        Self {
            data_dir: data_dir.into(),
            durability: Durability::Fsync,
            max_message_bytes: 128 * 1024 * 1024,
            queue_memory_bytes: 64 * 1024 * 1024,
            queue_memory_messages: 100_000,
            channel_capacity: 1024,
            auto_create_topics: true,
            default_topic: TopicConfig::default(),
            retention_check_ms: 60_000,
            default_user: DefaultUser::default(),
        }
    }
}
