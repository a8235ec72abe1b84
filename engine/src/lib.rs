//! The Trident engine: vhosts with exchanges, bindings and queues; topics made of
//! partitioned logs; committed offsets of consumer groups; users and permissions.
//!
//! Protocol adapters talk to the engine only through the handles exported here
//! ([`Engine`], [`Vhost`], [`QueueRef`], [`Topic`]/[`PartitionRef`]). Every queue and
//! every partition is owned by one task fed through a bounded channel: ordering and
//! backpressure follow from that, and no global lock sits on a publish or produce path.

mod access;
mod adapter_store;
pub mod alarms;
pub mod auth;
mod config;
pub mod connections;
mod counters;
pub mod delivery;
mod engine;
mod fs_names;
pub mod membership;
mod meta_writer;
pub mod metrics;
pub mod offsets;
pub mod permissions;
pub mod publish;
pub mod queue;
mod stream_queue;
pub mod topic;
mod vhost;

pub use adapter_store::{AdapterBatch, AdapterStore};
pub use alarms::{AlarmStatus, DiskWatermark, MemoryWatermark, ResourceAlarms, WatermarkError};
pub use auth::{Credentials, DefaultUser, Permission, TopicPermission, User, UserStore};
pub use config::EngineConfig;
pub use connections::{ConnectionHandle, ConnectionInfo};
pub use delivery::{
    ConsumerEvent, ConsumerOptions, ConsumerSink, Delivery, DeliveryId, LogPosition, Outcome,
    StreamReadOptions, StreamStart,
};
pub use engine::{Engine, EngineStats, PartitionStats, QueueInfo};
pub use membership::{GroupMember, GroupMembership, GroupSummary};
pub use metrics::Metrics;
pub use offsets::CommittedOffset;
pub use permissions::Access;
pub use publish::{Confirm, Nack, PublishOptions, Published};
pub use queue::{QueueRef, QueueStats, Short, Written};
pub use stream_queue::{
    MAX_STREAM_PARTITIONS, STREAM_REFUSED_ARGUMENTS, StreamSpec, parse_stream_duration_ms,
};
pub use topic::{
    AppendError, AppendRequest, AppendResult, PartitionRef, PendingAppend, ProducerSeq, ReadResult,
    Topic,
};
/// The one cross-protocol field mapping (`trident-records`), for the adapters.
pub use trident_records::crossing;
pub use vhost::{QueueDeclared, Vhost};
