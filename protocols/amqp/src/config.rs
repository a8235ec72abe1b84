//! Settings of the AMQP listener.

use std::time::Duration;

#[derive(Debug, Clone)]
pub struct AmqpConfig {
    /// Largest frame we accept and offer in `connection.tune`, header and frame-end
    /// included. RabbitMQ's default is 128 KiB.
    pub frame_max: u32,
    /// Highest channel number a client may open.
    pub channel_max: u16,
    /// Heartbeat interval offered in `connection.tune` (0 disables heartbeats unless
    /// the client asks for them).
    pub heartbeat_secs: u16,
    /// Connections beyond this are refused right after accept (0 = no limit).
    pub max_connections: usize,
    /// Time a client has from TCP accept to `connection.open`.
    pub handshake_timeout: Duration,
    /// Time we wait for `close-ok` after sending `connection.close`.
    pub close_timeout: Duration,
    /// Credit window of a no-ack consumer: deliveries encoded but not yet written to
    /// the socket. Bounds memory when a client reads slower than a queue pushes.
    pub no_ack_window: u32,
    /// Output buffered for a connection past which we stop reading its requests and
    /// taking its deliveries until the socket drains.
    pub output_high_water: usize,
    /// Publisher flow control: a connection that only publishes is paused while a queue
    /// it publishes to (by the default exchange) has consumers and more ready messages
    /// than this, until the backlog halves. Keeps end-to-end latency and memory bounded
    /// when publishers outrun consumers. 0 disables it.
    pub flow_backlog: u64,
}

impl Default for AmqpConfig {
    fn default() -> Self {
        Self {
            frame_max: 131_072,
            channel_max: 2047,
            heartbeat_secs: 60,
            max_connections: 0,
            handshake_timeout: Duration::from_secs(10),
            close_timeout: Duration::from_secs(3),
            no_ack_window: 2000,
            output_high_water: 1 << 20,
            flow_backlog: 1000,
        }
    }
}
