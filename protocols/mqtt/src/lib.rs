//! MQTT 3.1, 3.1.1 and 5.0 for Trident.
//!
//! Layers, each usable without the next:
//! - [`codec`]: the sans-io codec;
//! - [`names`], [`message`], [`subscriptions`], [`packet_ids`], [`registry`]: how MQTT
//!   maps onto the engine (topics and routing keys, messages, subscriptions as
//!   bindings, packet identifiers, session takeover), also without I/O;
//! - the connection and the session (private): CONNECT, the event loop, and one
//!   handler file per packet family in `handlers/`, translating onto the engine's API;
//! - [`serve`] / [`MqttServer`]: the listener the broker binary runs.
//!
//! docs/protocols/mqtt.md describes the mapping and what is and is not supported.

pub mod codec;
mod config;
mod connection;
pub mod error;
mod handlers;
pub mod message;
pub mod names;
pub mod packet_ids;
mod publish_keys;
pub mod registry;
mod server;
mod session;
pub mod session_store;
pub mod stats;
pub mod subscriptions;
mod sys;
pub mod topic_alias;

pub use config::{MqttConfig, QueueOverflow};
pub use server::{MqttServer, ServeError, serve};
pub use stats::MqttStats;
