//! AMQP 0-9-1 for Trident: RabbitMQ clients work unmodified.
//!
//! Layers, each usable without the next:
//! - [`codec`]: sans-io frames, methods, content headers and field tables;
//! - [`content`], [`unacked`], [`credit`]: per-channel state machines (content
//!   assembly, outstanding deliveries, prefetch as credit), also sans-io;
//! - the connection (private): handshake, the session loop and one handler file per
//!   AMQP class, translating onto the engine's API;
//! - [`serve`] / [`AmqpServer`]: the listener the broker binary runs.

pub mod args;
mod channel;
pub mod codec;
mod config;
mod connection;
pub mod content;
pub mod credit;
pub mod error;
pub mod names;
mod server;
pub mod stream_args;
pub mod unacked;

pub use config::AmqpConfig;
pub use server::{AmqpServer, serve};
