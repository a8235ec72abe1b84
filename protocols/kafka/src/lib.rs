//! Kafka wire protocol adapter: sans-io codec, API handlers, group coordinator
