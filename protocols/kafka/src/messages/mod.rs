//! Request and response messages of every served API, declared with their version
//! ranges (see `codec::wire::kafka_struct!`). Field names follow Kafka's JSON specs.

pub mod admin;
pub mod api_versions;
pub mod configs;
pub mod consumer_protocol;
pub mod fetch;
pub mod groups;
pub mod list_offsets;
pub mod metadata;
pub mod offsets;
pub mod produce;
pub mod producer_id;
pub mod sasl;
pub mod topic_partitions;
