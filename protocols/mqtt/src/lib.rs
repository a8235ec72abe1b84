//! MQTT 3.1, 3.1.1 and 5.0 for Trident.
//!
//! For now this crate holds the sans-io codec ([`codec`]); the session layer and the
//! adapter onto the engine are built on top of it, in the same shape as
//! protocols/amqp and protocols/kafka (docs/architecture.md, "Adding a protocol").

pub mod codec;
