//! AMQP 0-9-1 adapter: sans-io codec, sessions, translation onto the engine
