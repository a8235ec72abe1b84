//! Kafka topic config names onto the engine's [`TopicConfig`]: which keys exist, how
//! they are shown by DescribeConfigs, and how CreateTopics/AlterConfigs values apply.

use trident_core::{ForwardKey, TopicConfig, TopicForward};

/// DescribeConfigs config sources.
pub const SOURCE_DYNAMIC_TOPIC: i8 = 1;
pub const SOURCE_STATIC_BROKER: i8 = 4;
pub const SOURCE_DEFAULT: i8 = 5;

/// DescribeConfigs config types (v3+).
pub const TYPE_BOOLEAN: i8 = 1;
pub const TYPE_STRING: i8 = 2;
pub const TYPE_INT: i8 = 3;
pub const TYPE_LONG: i8 = 5;
pub const TYPE_LIST: i8 = 7;

/// One config entry as DescribeConfigs shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub name: &'static str,
    pub value: String,
    pub read_only: bool,
    pub is_default: bool,
    pub config_type: i8,
    pub doc: &'static str,
}

/// Forwarding into an exchange (docs/cross-protocol.md): the exchange (unset or empty
/// = off), its vhost, and where the routing key comes from.
pub const FORWARD_EXCHANGE: &str = "trident.forward.exchange";
pub const FORWARD_VHOST: &str = "trident.forward.vhost";
pub const FORWARD_ROUTING_KEY: &str = "trident.forward.routing.key";

fn forward_key_name(k: ForwardKey) -> &'static str {
    match k {
        ForwardKey::RecordKey => "record-key",
        ForwardKey::Topic => "topic",
    }
}

/// `segment.ms` without a time-based roll: Kafka has no "never", so the largest long.
const NEVER: i64 = i64::MAX;

fn opt_i64(v: Option<i64>) -> String {
    v.unwrap_or(-1).to_string()
}

/// Every topic config we report, with its current value.
pub fn describe(cfg: &TopicConfig, defaults: &TopicConfig, max_message_bytes: usize) -> Vec<Entry> {
    let e = |name, value: String, default: String, config_type, doc| Entry {
        name,
        is_default: value == default,
        value,
        read_only: false,
        config_type,
        doc,
    };
    let fixed = |name, value: &str, config_type, doc| Entry {
        name,
        value: value.to_string(),
        read_only: true,
        is_default: true,
        config_type,
        doc,
    };
    vec![
        fixed(
            "cleanup.policy",
            "delete",
            TYPE_LIST,
            "Only 'delete' (time and size retention); compaction is not supported.",
        ),
        e(
            "retention.ms",
            opt_i64(cfg.retention_ms),
            opt_i64(defaults.retention_ms),
            TYPE_LONG,
            "Delete whole segments older than this; -1 keeps forever.",
        ),
        e(
            "retention.bytes",
            opt_i64(
                cfg.retention_bytes
                    .map(|b| i64::try_from(b).unwrap_or(i64::MAX)),
            ),
            opt_i64(
                defaults
                    .retention_bytes
                    .map(|b| i64::try_from(b).unwrap_or(i64::MAX)),
            ),
            TYPE_LONG,
            "Delete the oldest segments while a partition is larger than this; -1 for no limit.",
        ),
        e(
            "segment.bytes",
            cfg.segment_bytes.to_string(),
            defaults.segment_bytes.to_string(),
            TYPE_INT,
            "Roll to a new segment file past this size.",
        ),
        e(
            "segment.ms",
            cfg.segment_ms.unwrap_or(NEVER).to_string(),
            defaults.segment_ms.unwrap_or(NEVER).to_string(),
            TYPE_LONG,
            "Roll to a new segment file past this age.",
        ),
        e(
            FORWARD_EXCHANGE,
            cfg.forward.exchange.clone().unwrap_or_default(),
            String::new(),
            TYPE_STRING,
            "Publish every appended record to this exchange (empty: off).",
        ),
        e(
            FORWARD_VHOST,
            cfg.forward.vhost.clone(),
            TopicForward::default().vhost,
            TYPE_STRING,
            "The vhost of trident.forward.exchange.",
        ),
        e(
            FORWARD_ROUTING_KEY,
            forward_key_name(cfg.forward.routing_key).to_string(),
            forward_key_name(ForwardKey::default()).to_string(),
            TYPE_STRING,
            "Routing key of forwarded records: 'record-key' (the topic name for null or non-UTF-8 keys) or 'topic'.",
        ),
        fixed(
            "max.message.bytes",
            &max_message_bytes.to_string(),
            TYPE_INT,
            "Largest record batch accepted (the broker-wide limit).",
        ),
        fixed(
            "min.insync.replicas",
            "1",
            TYPE_INT,
            "A single node: one replica.",
        ),
        fixed(
            "compression.type",
            "producer",
            TYPE_STRING,
            "Batches are stored as the producer compressed them.",
        ),
        fixed(
            "message.timestamp.type",
            "CreateTime",
            TYPE_STRING,
            "Record timestamps are the producer's.",
        ),
    ]
}

/// Broker-level configs, all read-only.
pub fn describe_broker(
    auto_create: bool,
    defaults: &TopicConfig,
    max_message_bytes: usize,
) -> Vec<Entry> {
    let fixed = |name, value: String, config_type| Entry {
        name,
        value,
        read_only: true,
        is_default: false,
        config_type,
        doc: "",
    };
    vec![
        fixed(
            "auto.create.topics.enable",
            auto_create.to_string(),
            TYPE_BOOLEAN,
        ),
        fixed("num.partitions", defaults.partitions.to_string(), TYPE_INT),
        fixed("default.replication.factor", "1".into(), TYPE_INT),
        fixed(
            "log.retention.ms",
            opt_i64(defaults.retention_ms),
            TYPE_LONG,
        ),
        fixed(
            "log.segment.bytes",
            defaults.segment_bytes.to_string(),
            TYPE_INT,
        ),
        fixed("message.max.bytes", max_message_bytes.to_string(), TYPE_INT),
    ]
}

fn parse_long(name: &str, value: &str) -> Result<i64, String> {
    value
        .trim()
        .parse::<i64>()
        .map_err(|_| format!("invalid value '{value}' for {name}: not a number"))
}

/// Applies one setting; `None` restores the default (AlterConfigs DELETE).
pub fn apply(
    cfg: &mut TopicConfig,
    defaults: &TopicConfig,
    name: &str,
    value: Option<&str>,
) -> Result<(), String> {
    let Some(value) = value else {
        match name {
            "retention.ms" => cfg.retention_ms = defaults.retention_ms,
            "retention.bytes" => cfg.retention_bytes = defaults.retention_bytes,
            "segment.bytes" => cfg.segment_bytes = defaults.segment_bytes,
            "segment.ms" => cfg.segment_ms = defaults.segment_ms,
            FORWARD_EXCHANGE => cfg.forward.exchange = None,
            FORWARD_VHOST => cfg.forward.vhost = TopicForward::default().vhost,
            FORWARD_ROUTING_KEY => cfg.forward.routing_key = ForwardKey::default(),
            _ if is_fixed(name) => {}
            _ => return Err(format!("unknown topic config '{name}'")),
        }
        return Ok(());
    };
    match name {
        "retention.ms" => {
            let v = parse_long(name, value)?;
            cfg.retention_ms = match v {
                -1 => None,
                v if v >= 0 => Some(v),
                _ => return Err(format!("retention.ms must be -1 or >= 0, got {v}")),
            };
        }
        "retention.bytes" => {
            let v = parse_long(name, value)?;
            cfg.retention_bytes = match v {
                -1 => None,
                v if v >= 0 => Some(v.unsigned_abs()),
                _ => return Err(format!("retention.bytes must be -1 or >= 0, got {v}")),
            };
        }
        "segment.bytes" => {
            let v = parse_long(name, value)?;
            // Kafka's floor: a segment must hold at least one record header.
            if !(14..=i64::from(i32::MAX)).contains(&v) {
                return Err(format!(
                    "segment.bytes must be between 14 and {}, got {v}",
                    i32::MAX
                ));
            }
            cfg.segment_bytes = v.unsigned_abs();
        }
        "segment.ms" => {
            let v = parse_long(name, value)?;
            if v < 1 {
                return Err(format!("segment.ms must be >= 1, got {v}"));
            }
            cfg.segment_ms = if v == NEVER { None } else { Some(v) };
        }
        FORWARD_EXCHANGE => {
            let v = value.trim();
            cfg.forward.exchange = (!v.is_empty()).then(|| v.to_string());
        }
        FORWARD_VHOST => {
            let v = value.trim();
            if v.is_empty() {
                return Err(format!("{name} must name a vhost"));
            }
            cfg.forward.vhost = v.to_string();
        }
        FORWARD_ROUTING_KEY => {
            cfg.forward.routing_key = match value.trim() {
                "record-key" => ForwardKey::RecordKey,
                "topic" => ForwardKey::Topic,
                v => {
                    return Err(format!("{name} must be 'record-key' or 'topic', got '{v}'"));
                }
            };
        }
        "cleanup.policy" if value.trim() == "delete" => {}
        "min.insync.replicas" if value.trim() == "1" => {}
        "compression.type" if value.trim() == "producer" => {}
        "message.timestamp.type" if value.trim() == "CreateTime" => {}
        _ if is_fixed(name) => {
            return Err(format!("'{name}' cannot be set to '{value}' on Trident"));
        }
        _ => return Err(format!("unknown topic config '{name}'")),
    }
    Ok(())
}

fn is_fixed(name: &str) -> bool {
    matches!(
        name,
        "cleanup.policy"
            | "min.insync.replicas"
            | "compression.type"
            | "message.timestamp.type"
            | "max.message.bytes"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retention_settings_apply_and_reset() {
        let defaults = TopicConfig::default();
        let mut c = defaults.clone();
        assert_eq!(apply(&mut c, &defaults, "retention.ms", Some("-1")), Ok(()));
        assert_eq!(c.retention_ms, None);
        assert_eq!(
            apply(&mut c, &defaults, "retention.bytes", Some("1048576")),
            Ok(())
        );
        assert_eq!(c.retention_bytes, Some(1 << 20));
        assert!(apply(&mut c, &defaults, "segment.bytes", Some("3")).is_err());
        assert!(apply(&mut c, &defaults, "cleanup.policy", Some("compact")).is_err());
        assert!(apply(&mut c, &defaults, "no.such.thing", Some("1")).is_err());
        assert_eq!(apply(&mut c, &defaults, "retention.ms", None), Ok(()));
        assert_eq!(c.retention_ms, defaults.retention_ms);
        let shown = describe(&c, &defaults, 1000);
        let rb = shown
            .iter()
            .find(|e| e.name == "retention.bytes")
            .map(|e| e.value.clone());
        assert_eq!(rb.as_deref(), Some("1048576"));
    }

    #[test]
    fn forwarding_settings_apply_and_reset() {
        let defaults = TopicConfig::default();
        let mut c = defaults.clone();
        assert_eq!(
            apply(&mut c, &defaults, FORWARD_EXCHANGE, Some("amq.topic")),
            Ok(())
        );
        assert_eq!(
            apply(&mut c, &defaults, FORWARD_ROUTING_KEY, Some("topic")),
            Ok(())
        );
        assert_eq!(c.forward.exchange.as_deref(), Some("amq.topic"));
        assert_eq!(c.forward.routing_key, ForwardKey::Topic);
        assert!(apply(&mut c, &defaults, FORWARD_ROUTING_KEY, Some("value")).is_err());
        assert_eq!(apply(&mut c, &defaults, FORWARD_EXCHANGE, Some("")), Ok(()));
        assert_eq!(c.forward.exchange, None);
        assert_eq!(apply(&mut c, &defaults, FORWARD_ROUTING_KEY, None), Ok(()));
        assert_eq!(c.forward, TopicForward::default());
    }
}
