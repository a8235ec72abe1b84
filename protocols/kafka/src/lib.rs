//! Kafka wire protocol adapter: sans-io codec, API handlers, group coordinator.
//!
//! Layers, each usable without the next: [`codec`] turns frames into typed messages and
//! back without I/O; [`messages`] declares every served request and response with its
//! version ranges; [`handlers`] turn a request into a response against the engine;
//! [`coordinator`] runs consumer groups; [`server`] runs one reader and one writer task
//! per connection, pipelining requests while keeping responses in order.

pub mod codec;
pub mod config;
pub mod coordinator;
pub mod error_code;
pub mod handlers;
pub mod messages;
pub mod producer_ids;
mod read_buffer;
pub mod sasl;
pub mod server;
pub mod session;
pub mod shared;
pub mod topic_config;

pub use config::{GroupConfig, KafkaConfig};
pub use server::{serve, serve_more, serve_with};
pub use shared::Shared;
