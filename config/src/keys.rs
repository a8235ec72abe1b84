//! Every setting that can be overridden from the environment or a flag, with its type.

use crate::{ConfigError, Source};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Str,
    Int,
    Bool,
}

/// One overridable setting.
#[derive(Debug)]
pub struct Key {
    /// Dotted path in the TOML file.
    pub name: &'static str,
    pub kind: Kind,
    pub help: &'static str,
}

/// `amqp.listen` -> `TRIDENT_AMQP_LISTEN`.
pub fn env_var_name(key: &str) -> String {
    format!("TRIDENT_{}", key.replace('.', "_").to_ascii_uppercase())
}

macro_rules! keys {
    ($(($name:literal, $kind:ident, $help:literal)),* $(,)?) => {
        pub const KEYS: &[Key] = &[$(Key { name: $name, kind: Kind::$kind, help: $help }),*];
    };
}

keys![
    ("data_dir", Str, "directory for all persistent state"),
    (
        "durability",
        Str,
        "fsync | interval | never: when a stored message is acknowledged"
    ),
    (
        "fsync_interval_ms",
        Int,
        "sync period for durability = interval"
    ),
    (
        "log",
        Str,
        "log filter, RUST_LOG syntax (e.g. info,trident_amqp=debug)"
    ),
    ("amqp.enabled", Bool, "serve AMQP 0-9-1"),
    ("amqp.listen", Str, "AMQP listen address"),
    (
        "amqp.tls_listen",
        Str,
        "AMQPS (TLS) listen address, e.g. 0.0.0.0:5671 (unset = none)"
    ),
    (
        "amqp.frame_max",
        Int,
        "largest AMQP frame the broker accepts"
    ),
    ("amqp.channel_max", Int, "most channels per AMQP connection"),
    (
        "amqp.heartbeat_secs",
        Int,
        "heartbeat interval the broker proposes (0 = off)"
    ),
    (
        "amqp.max_connections",
        Int,
        "AMQP connections accepted at once (0 = no limit)"
    ),
    (
        "amqp.flow_backlog",
        Int,
        "ready messages past which a publish-only AMQP connection is paused (0 = never)"
    ),
    ("mqtt.enabled", Bool, "serve MQTT"),
    ("mqtt.listen", Str, "MQTT listen address"),
    (
        "mqtt.tls_listen",
        Str,
        "MQTT over TLS listen address, e.g. 0.0.0.0:8883 (unset = none)"
    ),
    ("mqtt.vhost", Str, "vhost MQTT clients use"),
    (
        "mqtt.exchange",
        Str,
        "topic exchange MQTT publishes go through and subscriptions bind to"
    ),
    (
        "mqtt.max_packet_size",
        Int,
        "largest MQTT packet accepted (announced in v5 CONNACK)"
    ),
    (
        "mqtt.max_keep_alive_secs",
        Int,
        "longest keep alive a v5 client gets (0 = no limit)"
    ),
    (
        "mqtt.max_session_expiry_secs",
        Int,
        "longest v5 session expiry granted"
    ),
    (
        "mqtt.receive_maximum",
        Int,
        "QoS 1/2 publishes a client may have unacknowledged towards the broker"
    ),
    (
        "mqtt.max_inflight",
        Int,
        "QoS 1/2 messages in flight towards one client at most"
    ),
    (
        "mqtt.topic_alias_maximum",
        Int,
        "highest topic alias a v5 client may set (0 = none)"
    ),
    (
        "mqtt.max_queued_messages",
        Int,
        "messages a session queue holds at most (0 = no limit)"
    ),
    (
        "mqtt.queue_overflow",
        Str,
        "refuse | drop-oldest: what a full session queue does"
    ),
    (
        "mqtt.allow_anonymous",
        Bool,
        "accept MQTT connections without a user name"
    ),
    (
        "mqtt.max_connections",
        Int,
        "MQTT connections at most (0 = no limit)"
    ),
    (
        "mqtt.sys_interval_secs",
        Int,
        "period of $SYS/broker statistics (0 = off)"
    ),
    ("kafka.enabled", Bool, "serve the Kafka protocol"),
    ("kafka.listen", Str, "Kafka listen address"),
    (
        "kafka.tls_listen",
        Str,
        "Kafka SSL / SASL_SSL listen address, e.g. 0.0.0.0:9093 (unset = none)"
    ),
    (
        "kafka.tls_advertised_port",
        Int,
        "port Kafka clients of the TLS listener are told (0 = its listen port)"
    ),
    (
        "kafka.advertised_host",
        Str,
        "host Kafka clients are told to connect to"
    ),
    (
        "kafka.advertised_port",
        Int,
        "port Kafka clients are told to connect to (0 = the listen port)"
    ),
    (
        "kafka.auto_create_topics",
        Bool,
        "create topics on first use"
    ),
    (
        "kafka.sasl_required",
        Bool,
        "refuse Kafka requests before SASL authentication"
    ),
    (
        "kafka.max_in_flight",
        Int,
        "Kafka requests of one connection in flight at once"
    ),
    (
        "kafka.max_request_bytes",
        Int,
        "largest Kafka request accepted"
    ),
    ("kafka.node_id", Int, "broker id given in Kafka Metadata"),
    (
        "kafka.cluster_id",
        Str,
        "cluster id given in Kafka Metadata"
    ),
    (
        "kafka.group_initial_rebalance_delay_ms",
        Int,
        "how long a new consumer group waits for more members"
    ),
    (
        "kafka.group_min_session_timeout_ms",
        Int,
        "smallest consumer session timeout accepted"
    ),
    (
        "kafka.group_max_session_timeout_ms",
        Int,
        "largest consumer session timeout accepted"
    ),
    (
        "auth.default_user",
        Str,
        "administrator created in an empty data directory"
    ),
    (
        "auth.default_pass",
        Str,
        "its password; unset: 'guest', loopback logins only"
    ),
    (
        "http.enabled",
        Bool,
        "serve /healthz, /metrics and the management API"
    ),
    ("http.listen", Str, "HTTP listen address"),
    (
        "http.tls_listen",
        Str,
        "HTTPS listen address, e.g. 0.0.0.0:15671 (unset = none)"
    ),
    (
        "tls.cert_file",
        Str,
        "PEM certificate chain for every TLS listener"
    ),
    (
        "tls.key_file",
        Str,
        "PEM private key for every TLS listener"
    ),
    (
        "alarms.memory_high_watermark",
        Str,
        "fraction of RAM (or the cgroup limit) past which publishers wait (0 = off)"
    ),
    (
        "alarms.memory_high_watermark_bytes",
        Int,
        "absolute memory watermark in bytes (wins over the fraction)"
    ),
    (
        "alarms.disk_free_limit_bytes",
        Int,
        "free disk below which publishers wait (0 = off)"
    ),
    (
        "alarms.check_interval_ms",
        Int,
        "how often memory and disk are measured"
    ),
    (
        "tls.ca_file",
        Str,
        "PEM CA certificates; when set, client certificates are verified"
    ),
    (
        "tls.require_client_cert",
        Bool,
        "with tls.ca_file: refuse clients that present no certificate"
    ),
    (
        "limits.max_message_bytes",
        Int,
        "largest message body accepted"
    ),
    (
        "limits.queue_memory_bytes",
        Int,
        "bytes of ready messages a queue keeps in memory before paging"
    ),
    (
        "limits.queue_memory_messages",
        Int,
        "messages a queue keeps in memory before paging"
    ),
    (
        "topics.default_partitions",
        Int,
        "partitions of auto-created topics"
    ),
    (
        "topics.retention_ms",
        Int,
        "default retention by time (-1 = forever)"
    ),
    (
        "topics.retention_bytes",
        Int,
        "default retention by size per partition (-1 = unlimited)"
    ),
    (
        "topics.segment_bytes",
        Int,
        "segment file size before rolling"
    ),
    (
        "topics.retention_check_ms",
        Int,
        "how often each partition applies its retention"
    ),
];

/// `TRIDENT_*` variables read by the admin commands (`trident users ...`), not by the
/// broker: known, so that the broker does not warn about them.
pub const CLIENT_ENV: &[&str] = &[
    "TRIDENT_ADMIN_URL",
    "TRIDENT_ADMIN_USER",
    "TRIDENT_ADMIN_PASS",
];

impl Key {
    /// Writes `raw` into the TOML table at this key's path, typed.
    pub(crate) fn set(
        &self,
        table: &mut toml::Table,
        raw: &str,
        source: Source,
    ) -> Result<(), ConfigError> {
        let bad = |reason: &str| ConfigError::BadValue {
            key: self.name.to_string(),
            value: raw.to_string(),
            origin: source.clone(),
            reason: reason.to_string(),
        };
        let value = match self.kind {
            Kind::Str => toml::Value::String(raw.to_string()),
            Kind::Int => toml::Value::Integer(
                raw.trim()
                    .parse::<i64>()
                    .map_err(|_| bad("expected an integer"))?,
            ),
            Kind::Bool => toml::Value::Boolean(match raw.trim().to_ascii_lowercase().as_str() {
                "true" | "1" | "yes" | "on" => true,
                "false" | "0" | "no" | "off" => false,
                _ => return Err(bad("expected true or false")),
            }),
        };
        let mut parts: Vec<&str> = self.name.split('.').collect();
        let leaf = parts.pop().unwrap_or(self.name);
        let mut cursor = table;
        for part in parts {
            let entry = cursor
                .entry(part.to_string())
                .or_insert_with(|| toml::Value::Table(toml::Table::new()));
            cursor = match entry {
                toml::Value::Table(t) => t,
                _ => return Err(bad(&format!("'{part}' in the config file is not a table"))),
            };
        }
        cursor.insert(leaf.to_string(), value);
        Ok(())
    }
}
