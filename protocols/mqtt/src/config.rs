//! Settings of the MQTT listener. The broker fills them from `mqtt.*` (config crate);
//! the defaults live here, once.

use std::time::Duration;

/// What a persistent session's queue does when it holds `max_queued_messages`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum QueueOverflow {
    /// Refuse the new message: the publisher's PUBACK/PUBREC carries 0x97 Quota
    /// exceeded (5.0), or a 3.x publisher is disconnected without an acknowledgement so
    /// that it sends the message again. Nothing is lost without the publisher knowing.
    #[default]
    Refuse,
    /// Drop the oldest queued message to make room (what Mosquitto does, silently).
    DropOldest,
}

#[derive(Debug, Clone)]
pub struct MqttConfig {
    /// The vhost MQTT clients live in.
    pub vhost: String,
    /// The topic exchange every MQTT publish goes through and every subscription binds
    /// to (RabbitMQ's MQTT plugin uses `amq.topic` too).
    pub exchange: String,
    /// Largest packet accepted, fixed header included; announced in a v5 CONNACK.
    pub max_packet_size: u32,
    /// Longest keep alive a client may ask for; a v5 client asking for more (or for 0)
    /// is told this value as Server Keep Alive. 0 = no limit.
    pub max_keep_alive: u16,
    /// Longest session expiry a v5 client may ask for (seconds); more is capped and the
    /// CONNACK says so. 3.x persistent sessions never expire. 0xFFFFFFFF = no cap.
    pub max_session_expiry: u32,
    /// QoS 1/2 publishes a client may have unacknowledged towards us (our Receive
    /// Maximum in CONNACK; a 3.x client is throttled at it by no longer being read).
    pub receive_maximum: u16,
    /// QoS 1/2 messages in flight towards one client at most, whatever larger Receive
    /// Maximum it announces; also the window of 3.x clients.
    pub max_inflight: u16,
    /// Highest Topic Alias a v5 client may set (announced in CONNACK; 0 = none).
    pub topic_alias_maximum: u16,
    /// Messages a session's queue holds at most (0 = no limit: queues page to disk).
    pub max_queued_messages: u64,
    pub queue_overflow: QueueOverflow,
    /// Connections without a user name are accepted (Mosquitto's `allow_anonymous`).
    pub allow_anonymous: bool,
    /// Connections beyond this are refused right after accept (0 = no limit).
    pub max_connections: usize,
    /// Time a client has from TCP accept to a complete CONNECT.
    pub connect_timeout: Duration,
    /// How often `$SYS/broker/...` statistics are published (0 = never).
    pub sys_interval: Duration,
    /// Output buffered for one connection past which we stop reading its packets and
    /// taking its deliveries until the socket drains.
    pub output_high_water: usize,
}

impl Default for MqttConfig {
    fn default() -> Self {
        Self {
            vhost: "/".into(),
            exchange: "amq.topic".into(),
            max_packet_size: 1024 * 1024,
            max_keep_alive: 65535,
            max_session_expiry: u32::MAX,
            receive_maximum: 1024,
            max_inflight: 1024,
            topic_alias_maximum: 64,
            max_queued_messages: 0,
            queue_overflow: QueueOverflow::Refuse,
            allow_anonymous: true,
            max_connections: 0,
            connect_timeout: Duration::from_secs(10),
            sys_interval: Duration::from_secs(10),
            output_high_water: 1 << 20,
        }
    }
}
