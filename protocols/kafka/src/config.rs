//! Settings of the Kafka listener, filled in by the broker from its configuration.

use std::time::Duration;

/// Kafka's `socket.request.max.bytes` default.
pub const DEFAULT_MAX_FRAME_BYTES: usize = 100 * 1024 * 1024;

/// Requests of one connection in flight at once by default: well above the 5 Kafka
/// clients pipeline, so that only a misbehaving client waits on it.
pub const DEFAULT_MAX_IN_FLIGHT: usize = 64;

#[derive(Debug, Clone)]
pub struct KafkaConfig {
    /// Host clients are told to connect to (Metadata, FindCoordinator).
    pub advertised_host: String,
    /// Port clients are told to connect to; 0 means the port the listener is bound to.
    pub advertised_port: u16,
    /// Our broker id in Metadata; a single node is its own controller and leader.
    pub node_id: i32,
    pub cluster_id: String,
    /// Largest request frame accepted; larger ones close the connection.
    pub max_frame_bytes: usize,
    /// Refuse every API but ApiVersions and SASL until the client has authenticated.
    pub sasl_required: bool,
    /// Requests of one connection that may be in flight at once (responses still go
    /// out in request order). Kafka clients pipeline up to 5 by default.
    pub max_in_flight: usize,
    pub groups: GroupConfig,
}

/// Consumer group coordinator timing.
#[derive(Debug, Clone)]
pub struct GroupConfig {
    /// How long the first JoinGroup of an empty group waits for others to join the same
    /// rebalance (Kafka's `group.initial.rebalance.delay.ms`, 3 s there). Each new member
    /// extends it once more, up to the rebalance timeout. Kept short: a lone consumer's
    /// join must cost close to nothing.
    pub initial_rebalance_delay: Duration,
    pub min_session_timeout: Duration,
    pub max_session_timeout: Duration,
    /// How often session expiry and rebalance deadlines are checked.
    pub tick: Duration,
}

impl Default for GroupConfig {
    fn default() -> Self {
        Self {
            initial_rebalance_delay: Duration::from_millis(100),
            min_session_timeout: Duration::from_millis(1000),
            max_session_timeout: Duration::from_secs(30 * 60),
            tick: Duration::from_millis(50),
        }
    }
}

impl Default for KafkaConfig {
    fn default() -> Self {
        Self {
            advertised_host: "127.0.0.1".into(),
            advertised_port: 0,
            node_id: 0,
            cluster_id: "trident".into(),
            max_frame_bytes: DEFAULT_MAX_FRAME_BYTES,
            sasl_required: false,
            max_in_flight: DEFAULT_MAX_IN_FLIGHT,
            groups: GroupConfig::default(),
        }
    }
}
