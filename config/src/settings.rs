//! The typed configuration and its defaults.

use std::net::SocketAddr;
use std::path::PathBuf;

use serde::Deserialize;

use crate::ConfigError;

/// When a stored message is acknowledged (see docs/architecture.md, durability).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum DurabilitySetting {
    /// After fsync, with group commit (the default).
    #[default]
    Fsync,
    /// After write; fsync every `fsync_interval_ms`.
    Interval,
    /// After write; never fsync explicitly.
    Never,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub data_dir: PathBuf,
    pub durability: DurabilitySetting,
    pub fsync_interval_ms: u64,
    /// Log filter in `RUST_LOG` syntax; `RUST_LOG` itself wins when set.
    pub log: String,
    pub amqp: AmqpSettings,
    pub mqtt: MqttSettings,
    pub kafka: KafkaSettings,
    pub auth: AuthSettings,
    pub http: HttpSettings,
    pub limits: LimitSettings,
    pub topics: TopicSettings,
    pub tls: TlsSettings,
    pub alarms: AlarmSettings,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            data_dir: PathBuf::from("./data"),
            durability: DurabilitySetting::Fsync,
            fsync_interval_ms: 100,
            log: "info".into(),
            amqp: AmqpSettings::default(),
            mqtt: MqttSettings::default(),
            kafka: KafkaSettings::default(),
            auth: AuthSettings::default(),
            http: HttpSettings::default(),
            limits: LimitSettings::default(),
            topics: TopicSettings::default(),
            tls: TlsSettings::default(),
            alarms: AlarmSettings::default(),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AmqpSettings {
    pub enabled: bool,
    pub listen: String,
    /// A TLS listener beside the plain one (unset: none); certificates from `tls.*`.
    pub tls_listen: Option<String>,
    // The knobs below default to the AMQP adapter's own defaults (defined once there,
    // `trident_amqp::AmqpConfig::default`): unset here means "the adapter's default".
    /// Largest frame accepted and offered in `connection.tune`.
    pub frame_max: Option<u32>,
    pub channel_max: Option<u16>,
    pub heartbeat_secs: Option<u16>,
    /// Connections beyond this are refused (0 = no limit).
    pub max_connections: Option<u64>,
    /// Ready messages past which a publish-only connection is paused (0 = never).
    pub flow_backlog: Option<u64>,
}

impl Default for AmqpSettings {
    fn default() -> Self {
        Self {
            enabled: true,
            listen: "0.0.0.0:5672".into(),
            tls_listen: None,
            frame_max: None,
            channel_max: None,
            heartbeat_secs: None,
            max_connections: None,
            flow_backlog: None,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MqttSettings {
    pub enabled: bool,
    pub listen: String,
    /// A TLS listener beside the plain one (unset: none); certificates from `tls.*`.
    pub tls_listen: Option<String>,
    // The knobs below default to the MQTT adapter's own defaults (defined once there):
    // unset here means "the adapter's default".
    /// The vhost MQTT clients use.
    pub vhost: Option<String>,
    /// The topic exchange MQTT publishes go through (default `amq.topic`).
    pub exchange: Option<String>,
    pub max_packet_size: Option<u32>,
    pub max_keep_alive_secs: Option<u16>,
    pub max_session_expiry_secs: Option<u32>,
    pub receive_maximum: Option<u16>,
    pub max_inflight: Option<u16>,
    pub topic_alias_maximum: Option<u16>,
    pub max_queued_messages: Option<u64>,
    /// `refuse` or `drop-oldest`.
    pub queue_overflow: Option<String>,
    pub allow_anonymous: Option<bool>,
    pub max_connections: Option<u64>,
    pub sys_interval_secs: Option<u64>,
}

impl Default for MqttSettings {
    fn default() -> Self {
        Self {
            enabled: true,
            listen: "0.0.0.0:1883".into(),
            tls_listen: None,
            vhost: None,
            exchange: None,
            max_packet_size: None,
            max_keep_alive_secs: None,
            max_session_expiry_secs: None,
            receive_maximum: None,
            max_inflight: None,
            topic_alias_maximum: None,
            max_queued_messages: None,
            queue_overflow: None,
            allow_anonymous: None,
            max_connections: None,
            sys_interval_secs: None,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct KafkaSettings {
    pub enabled: bool,
    pub listen: String,
    /// A TLS listener beside the plain one (unset: none); certificates from `tls.*`.
    pub tls_listen: Option<String>,
    pub advertised_host: String,
    pub advertised_port: u16,
    /// Port Metadata names on the TLS listener (0: the bound TLS port).
    pub tls_advertised_port: u16,
    pub auto_create_topics: bool,
    pub sasl_required: bool,
    // The knobs below default to the Kafka adapter's own defaults (defined once there):
    // unset here means "the adapter's default".
    /// Requests of one connection in flight at once.
    pub max_in_flight: Option<u32>,
    /// Largest request frame accepted (Kafka's `socket.request.max.bytes`).
    pub max_request_bytes: Option<u32>,
    pub node_id: Option<i32>,
    pub cluster_id: Option<String>,
    /// Kafka's `group.initial.rebalance.delay.ms`.
    pub group_initial_rebalance_delay_ms: Option<u64>,
    /// Kafka's `group.min.session.timeout.ms` / `group.max.session.timeout.ms`.
    pub group_min_session_timeout_ms: Option<u64>,
    pub group_max_session_timeout_ms: Option<u64>,
}

impl Default for KafkaSettings {
    fn default() -> Self {
        Self {
            enabled: true,
            listen: "0.0.0.0:9092".into(),
            tls_listen: None,
            tls_advertised_port: 0,
            advertised_host: "127.0.0.1".into(),
            advertised_port: 0,
            auto_create_topics: true,
            sasl_required: false,
            max_in_flight: None,
            max_request_bytes: None,
            node_id: None,
            cluster_id: None,
            group_initial_rebalance_delay_ms: None,
            group_min_session_timeout_ms: None,
            group_max_session_timeout_ms: None,
        }
    }
}

/// The administrator created when the data directory holds no user yet.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuthSettings {
    pub default_user: String,
    /// Unset: the password is `guest` and the account logs in from loopback only
    /// (RabbitMQ's rule). Set: the account logs in from anywhere.
    pub default_pass: Option<String>,
}

impl Default for AuthSettings {
    fn default() -> Self {
        Self {
            default_user: "guest".into(),
            default_pass: None,
        }
    }
}

// By hand: the password must not reach a log line through `{:?}`.
impl std::fmt::Debug for AuthSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthSettings")
            .field("default_user", &self.default_user)
            .field("default_pass", &self.default_pass.as_ref().map(|_| "<set>"))
            .finish()
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HttpSettings {
    pub enabled: bool,
    pub listen: String,
    /// A TLS listener beside the plain one (unset: none); certificates from `tls.*`.
    pub tls_listen: Option<String>,
}

impl Default for HttpSettings {
    fn default() -> Self {
        Self {
            enabled: true,
            listen: "0.0.0.0:15672".into(),
            tls_listen: None,
        }
    }
}

/// Resource alarms (RabbitMQ's vm_memory_high_watermark and disk_free_limit).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AlarmSettings {
    /// Fraction of the memory available to the broker (RAM, or the cgroup limit in a
    /// container) past which publishers are held back. A string so that the
    /// environment and `--set` can give it like any other setting: "0.4".
    pub memory_high_watermark: String,
    /// An absolute watermark in bytes; wins over the fraction when set.
    pub memory_high_watermark_bytes: Option<u64>,
    /// Free disk space under the data directory below which publishers are held back
    /// (0 = no disk alarm).
    pub disk_free_limit_bytes: u64,
    /// How often the broker measures.
    pub check_interval_ms: u64,
}

impl Default for AlarmSettings {
    fn default() -> Self {
        Self {
            memory_high_watermark: "0.4".into(),
            memory_high_watermark_bytes: None,
            disk_free_limit_bytes: 50_000_000,
            check_interval_ms: 1000,
        }
    }
}

impl AlarmSettings {
    /// The relative watermark as a number (validated in `Config::validate`).
    pub fn memory_fraction(&self) -> f64 {
        self.memory_high_watermark.trim().parse().unwrap_or(0.4)
    }
}

/// Certificates for every TLS listener (`*.tls_listen`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TlsSettings {
    /// PEM certificate chain, the broker's own first.
    pub cert_file: Option<PathBuf>,
    /// PEM private key (PKCS#8, PKCS#1 or SEC1).
    pub key_file: Option<PathBuf>,
    /// PEM CA certificates; when set, client certificates are verified against them.
    pub ca_file: Option<PathBuf>,
    /// With `ca_file`: refuse clients without a certificate (RabbitMQ's
    /// `fail_if_no_peer_cert`).
    pub require_client_cert: bool,
}

impl TlsSettings {
    pub fn any_listener(c: &Config) -> bool {
        (c.amqp.enabled && c.amqp.tls_listen.is_some())
            || (c.mqtt.enabled && c.mqtt.tls_listen.is_some())
            || (c.kafka.enabled && c.kafka.tls_listen.is_some())
            || (c.http.enabled && c.http.tls_listen.is_some())
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LimitSettings {
    // Unset means the engine's default (`trident_engine::EngineConfig::new`, the one
    // place they are defined).
    pub max_message_bytes: Option<u64>,
    pub queue_memory_bytes: Option<u64>,
    pub queue_memory_messages: Option<u64>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TopicSettings {
    pub default_partitions: u32,
    pub retention_ms: i64,
    pub retention_bytes: i64,
    pub segment_bytes: u64,
    /// Kafka's `log.retention.check.interval.ms` (theirs defaults to 5 minutes).
    pub retention_check_ms: u64,
}

impl Default for TopicSettings {
    fn default() -> Self {
        Self {
            default_partitions: 1,
            retention_ms: 7 * 24 * 3600 * 1000,
            retention_bytes: -1,
            segment_bytes: 256 * 1024 * 1024,
            retention_check_ms: 60_000,
        }
    }
}

fn check_addr(key: &str, value: &str) -> Result<SocketAddr, ConfigError> {
    value.parse().map_err(|e: std::net::AddrParseError| {
        ConfigError::Invalid(format!(
            "setting '{key}' = {value:?} is not a socket address (host:port): {e}"
        ))
    })
}

fn positive(key: &str, v: u64) -> Result<(), ConfigError> {
    if v == 0 {
        return Err(ConfigError::Invalid(format!(
            "setting '{key}' must be greater than 0"
        )));
    }
    Ok(())
}

impl Config {
    /// Checks what serde cannot: addresses parse, sizes are positive and consistent.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.data_dir.as_os_str().is_empty() {
            return Err(ConfigError::Invalid(
                "setting 'data_dir' must not be empty".into(),
            ));
        }
        if self.amqp.enabled {
            check_addr("amqp.listen", &self.amqp.listen)?;
        }
        if self.mqtt.enabled {
            check_addr("mqtt.listen", &self.mqtt.listen)?;
            if let Some(o) = &self.mqtt.queue_overflow
                && o != "refuse"
                && o != "drop-oldest"
            {
                return Err(ConfigError::Invalid(format!(
                    "setting 'mqtt.queue_overflow' = {o:?} must be \"refuse\" or \"drop-oldest\""
                )));
            }
            if self.mqtt.receive_maximum == Some(0) || self.mqtt.max_inflight == Some(0) {
                return Err(ConfigError::Invalid(
                    "settings 'mqtt.receive_maximum' and 'mqtt.max_inflight' must be at least 1"
                        .into(),
                ));
            }
            if self.mqtt.max_packet_size.is_some_and(|m| m < 64) {
                return Err(ConfigError::Invalid(
                    "setting 'mqtt.max_packet_size' must be at least 64".into(),
                ));
            }
        }
        if self.kafka.enabled {
            check_addr("kafka.listen", &self.kafka.listen)?;
            if self.kafka.max_in_flight == Some(0) {
                return Err(ConfigError::Invalid(
                    "setting 'kafka.max_in_flight' must be at least 1".into(),
                ));
            }
            if self.kafka.advertised_host.is_empty() {
                return Err(ConfigError::Invalid(
                    "setting 'kafka.advertised_host' must not be empty".into(),
                ));
            }
        }
        if self.http.enabled {
            check_addr("http.listen", &self.http.listen)?;
        }
        for (key, on, addr) in [
            ("amqp.tls_listen", self.amqp.enabled, &self.amqp.tls_listen),
            ("mqtt.tls_listen", self.mqtt.enabled, &self.mqtt.tls_listen),
            (
                "kafka.tls_listen",
                self.kafka.enabled,
                &self.kafka.tls_listen,
            ),
            ("http.tls_listen", self.http.enabled, &self.http.tls_listen),
        ] {
            if let (true, Some(a)) = (on, addr) {
                check_addr(key, a)?;
            }
        }
        if TlsSettings::any_listener(self)
            && (self.tls.cert_file.is_none() || self.tls.key_file.is_none())
        {
            return Err(ConfigError::Invalid(
                "a TLS listener (*.tls_listen) needs 'tls.cert_file' and 'tls.key_file'".into(),
            ));
        }
        match self.alarms.memory_high_watermark.trim().parse::<f64>() {
            Ok(f) if (0.0..=1.0).contains(&f) => {}
            _ => {
                return Err(ConfigError::Invalid(format!(
                    "setting 'alarms.memory_high_watermark' = {:?} must be a fraction between 0 and 1 (0 = no memory alarm)",
                    self.alarms.memory_high_watermark
                )));
            }
        }
        positive("alarms.check_interval_ms", self.alarms.check_interval_ms)?;
        if self.tls.require_client_cert && self.tls.ca_file.is_none() {
            return Err(ConfigError::Invalid(
                "setting 'tls.require_client_cert' needs 'tls.ca_file' (the CA client certificates are checked against)".into(),
            ));
        }
        if self.auth.default_user.is_empty() || self.auth.default_user.chars().any(char::is_control)
        {
            return Err(ConfigError::Invalid(
                "setting 'auth.default_user' must be a non-empty name without control characters"
                    .into(),
            ));
        }
        if self.auth.default_pass.as_deref() == Some("") {
            return Err(ConfigError::Invalid(
                "setting 'auth.default_pass' must not be empty (leave it unset for the loopback-only default)".into(),
            ));
        }
        if let Some(frame_max) = self.amqp.frame_max
            && frame_max < 4096
        {
            return Err(ConfigError::Invalid(format!(
                "setting 'amqp.frame_max' = {frame_max} is below the AMQP minimum of 4096"
            )));
        }
        if let Some(n) = self.amqp.channel_max {
            positive("amqp.channel_max", u64::from(n))?;
        }
        if self.durability == DurabilitySetting::Interval {
            positive("fsync_interval_ms", self.fsync_interval_ms)?;
        }
        for (key, value) in [
            ("limits.max_message_bytes", self.limits.max_message_bytes),
            ("limits.queue_memory_bytes", self.limits.queue_memory_bytes),
            (
                "limits.queue_memory_messages",
                self.limits.queue_memory_messages,
            ),
        ] {
            if let Some(v) = value {
                positive(key, v)?;
            }
        }
        positive(
            "topics.default_partitions",
            u64::from(self.topics.default_partitions),
        )?;
        if self.topics.retention_check_ms < 100 {
            return Err(ConfigError::Invalid(format!(
                "setting 'topics.retention_check_ms' = {} must be at least 100",
                self.topics.retention_check_ms
            )));
        }
        if self.topics.segment_bytes < 1024 {
            return Err(ConfigError::Invalid(format!(
                "setting 'topics.segment_bytes' = {} must be at least 1024",
                self.topics.segment_bytes
            )));
        }
        Ok(())
    }
}
