//! Queue, exchange and binding arguments as JSON objects (RabbitMQ's `arguments`),
//! to and from the engine's typed definitions.

use serde_json::{Map, Value};
use trident_core::{ExchangeName, FieldTable, FieldValue, Overflow, QueueArgs, TopicConfig};
use trident_engine::{
    MAX_STREAM_PARTITIONS, STREAM_REFUSED_ARGUMENTS, StreamSpec, parse_stream_duration_ms,
};

use crate::error::{ApiError, ApiResult};

fn int(args: &Map<String, Value>, key: &str, min: u64) -> ApiResult<Option<u64>> {
    match args.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => match v.as_u64() {
            Some(n) if n >= min => Ok(Some(n)),
            _ => Err(ApiError::bad_request(format!(
                "argument '{key}' must be an integer of at least {min}, got {v}"
            ))),
        },
    }
}

fn string<'a>(args: &'a Map<String, Value>, key: &str) -> ApiResult<Option<&'a str>> {
    match args.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(v) => Err(ApiError::bad_request(format!(
            "argument '{key}' must be a string, got {v}"
        ))),
    }
}

/// RabbitMQ's queue `x-` arguments; unknown ones are ignored, as RabbitMQ does.
pub fn queue_args(args: &Map<String, Value>) -> ApiResult<QueueArgs> {
    let overflow = match string(args, "x-overflow")? {
        None | Some("drop-head") => Overflow::DropHead,
        Some("reject-publish") => Overflow::RejectPublish,
        Some("reject-publish-dlx") => Overflow::RejectPublishDlx,
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "argument 'x-overflow' must be drop-head, reject-publish or reject-publish-dlx, got '{other}'"
            )));
        }
    };
    let stream = match string(args, "x-queue-type")? {
        None | Some("classic") | Some("quorum") => false,
        Some("stream") => true,
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "argument 'x-queue-type' must be classic, quorum or stream, got '{other}'"
            )));
        }
    };
    let max_priority = match int(args, "x-max-priority", 0)? {
        None => None,
        Some(n) => Some(u8::try_from(n).ok().ok_or_else(|| {
            ApiError::bad_request("argument 'x-max-priority' must be at most 255")
        })?),
    };
    Ok(QueueArgs {
        message_ttl_ms: int(args, "x-message-ttl", 0)?,
        expires_ms: int(args, "x-expires", 1)?,
        max_length: int(args, "x-max-length", 0)?,
        max_length_bytes: int(args, "x-max-length-bytes", 0)?,
        overflow,
        dead_letter_exchange: string(args, "x-dead-letter-exchange")?
            .map(ExchangeName::new)
            .transpose()?,
        dead_letter_routing_key: string(args, "x-dead-letter-routing-key")?.map(str::to_string),
        max_priority,
        stream,
    })
}

/// The stream a queue with `x-queue-type: stream` describes, read as RabbitMQ (and the
/// AMQP adapter) reads it: `x-max-age` (RabbitMQ's duration syntax, "7D"),
/// `x-max-length-bytes`, `x-stream-max-segment-size-bytes`, and our `x-partitions`.
pub fn stream_spec(args: &Map<String, Value>) -> ApiResult<StreamSpec> {
    for name in STREAM_REFUSED_ARGUMENTS {
        if args.get(name).is_some_and(|v| !v.is_null()) {
            return Err(ApiError::bad_request(format!(
                "argument '{name}' is not valid for a queue of type stream"
            )));
        }
    }
    let max_age_ms = match string(args, "x-max-age")? {
        None => None,
        Some(s) => Some(parse_stream_duration_ms(s).ok_or_else(|| {
            ApiError::bad_request(format!(
                "argument 'x-max-age' must be a duration such as 7D, 12h, 30m or 10s (Y, M, D, h, m, s), got '{s}'"
            ))
        })?),
    };
    let partitions = match int(args, "x-partitions", 1)? {
        Some(n) if n > MAX_STREAM_PARTITIONS => {
            return Err(ApiError::bad_request(format!(
                "argument 'x-partitions' must be at most {MAX_STREAM_PARTITIONS}, got {n}"
            )));
        }
        n => n.map(|n| n as u32),
    };
    Ok(StreamSpec {
        partitions,
        max_age_ms,
        max_bytes: int(args, "x-max-length-bytes", 0)?,
        segment_bytes: int(args, "x-stream-max-segment-size-bytes", 1)?,
    })
}

/// A stream's settings as the arguments that declare it again (what RabbitMQ lists
/// for a stream, plus `x-partitions` when there is more than one).
pub fn stream_args_json(c: &TopicConfig) -> Map<String, Value> {
    let mut arguments = Map::new();
    arguments.insert("x-queue-type".into(), "stream".into());
    if c.partitions != 1 {
        arguments.insert("x-partitions".into(), c.partitions.into());
    }
    // Whole seconds, rounded up: the duration syntax has no milliseconds, and a
    // rounded-down 0s would not parse again.
    if let Some(ms) = c.retention_ms.filter(|ms| *ms > 0) {
        let secs = ms.saturating_add(999) / 1000;
        arguments.insert("x-max-age".into(), format!("{secs}s").into());
    }
    if let Some(b) = c.retention_bytes {
        arguments.insert("x-max-length-bytes".into(), b.into());
    }
    arguments.insert(
        "x-stream-max-segment-size-bytes".into(),
        c.segment_bytes.into(),
    );
    arguments
}

/// The arguments a queue was declared with, as RabbitMQ lists them.
pub fn queue_args_json(a: &QueueArgs) -> Value {
    let mut m = Map::new();
    let mut put = |k: &str, v: Value| {
        m.insert(k.to_string(), v);
    };
    if let Some(v) = a.message_ttl_ms {
        put("x-message-ttl", v.into());
    }
    if let Some(v) = a.expires_ms {
        put("x-expires", v.into());
    }
    if let Some(v) = a.max_length {
        put("x-max-length", v.into());
    }
    if let Some(v) = a.max_length_bytes {
        put("x-max-length-bytes", v.into());
    }
    match a.overflow {
        Overflow::DropHead => {}
        Overflow::RejectPublish => put("x-overflow", "reject-publish".into()),
        Overflow::RejectPublishDlx => put("x-overflow", "reject-publish-dlx".into()),
    }
    if let Some(v) = &a.dead_letter_exchange {
        put("x-dead-letter-exchange", v.as_str().into());
    }
    if let Some(v) = &a.dead_letter_routing_key {
        put("x-dead-letter-routing-key", v.as_str().into());
    }
    if let Some(v) = a.max_priority {
        put("x-max-priority", v.into());
    }
    if a.stream {
        put("x-queue-type", "stream".into());
    }
    Value::Object(m)
}

/// A JSON object as an AMQP field table (binding arguments, e.g. headers matches).
pub fn field_table(args: &Map<String, Value>) -> ApiResult<FieldTable> {
    let mut t = FieldTable::new();
    for (k, v) in args {
        t.0.push((k.clone(), field_value(k, v)?));
    }
    Ok(t)
}

fn field_value(key: &str, v: &Value) -> ApiResult<FieldValue> {
    Ok(match v {
        Value::Null => FieldValue::Void,
        Value::Bool(b) => FieldValue::Bool(*b),
        Value::Number(n) => match (n.as_i64(), n.as_f64()) {
            (Some(i), _) => FieldValue::I64(i),
            (None, Some(f)) => FieldValue::F64(f),
            _ => {
                return Err(ApiError::bad_request(format!(
                    "argument '{key}': number out of range"
                )));
            }
        },
        Value::String(s) => FieldValue::LongString(s.clone()),
        Value::Array(items) => FieldValue::Array(
            items
                .iter()
                .map(|i| field_value(key, i))
                .collect::<ApiResult<_>>()?,
        ),
        Value::Object(m) => FieldValue::Table(field_table(m)?),
    })
}

/// A field table as JSON (lossy for byte arrays, shown as text when they are UTF-8).
pub fn field_table_json(t: &FieldTable) -> Value {
    Value::Object(
        t.0.iter()
            .map(|(k, v)| (k.clone(), field_value_json(v)))
            .collect(),
    )
}

fn field_value_json(v: &FieldValue) -> Value {
    match v {
        FieldValue::Bool(b) => (*b).into(),
        FieldValue::I8(n) => (*n).into(),
        FieldValue::U8(n) => (*n).into(),
        FieldValue::I16(n) => (*n).into(),
        FieldValue::U16(n) => (*n).into(),
        FieldValue::I32(n) => (*n).into(),
        FieldValue::U32(n) => (*n).into(),
        FieldValue::I64(n) => (*n).into(),
        FieldValue::U64(n) => (*n).into(),
        FieldValue::F32(f) => f64::from(*f).into(),
        FieldValue::F64(f) => (*f).into(),
        FieldValue::Decimal { scale, value } => {
            (f64::from(*value) / 10f64.powi(i32::from(*scale))).into()
        }
        FieldValue::ShortString(s) | FieldValue::LongString(s) => s.as_str().into(),
        FieldValue::Bytes(b) => String::from_utf8_lossy(b).into_owned().into(),
        FieldValue::Timestamp(t) => (*t).into(),
        FieldValue::Table(t) => field_table_json(t),
        FieldValue::Array(items) => Value::Array(items.iter().map(field_value_json).collect()),
        FieldValue::Void => Value::Null,
    }
}

/// `arguments` of a body: absent or null is empty; anything but an object is refused.
pub fn object(v: Option<&Value>) -> ApiResult<Map<String, Value>> {
    match v {
        None | Some(Value::Null) => Ok(Map::new()),
        Some(Value::Object(m)) => Ok(m.clone()),
        Some(other) => Err(ApiError::bad_request(format!(
            "'arguments' must be an object, got {other}"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn obj(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn queue_arguments_round_trip_and_bad_ones_are_named() {
        let given = serde_json::json!({
            "x-message-ttl": 1000, "x-max-length": 5, "x-overflow": "reject-publish",
            "x-dead-letter-exchange": "dlx", "x-max-priority": 9, "x-unknown": true,
        });
        let a = queue_args(&obj(given)).expect("valid");
        assert_eq!(a.max_length, Some(5));
        assert_eq!(a.overflow, Overflow::RejectPublish);
        let back = queue_args_json(&a);
        assert_eq!(back["x-dead-letter-exchange"], "dlx");
        assert!(
            back.get("x-unknown").is_none(),
            "unknown arguments are ignored"
        );
        for bad in [
            serde_json::json!({"x-max-length": -1}),
            serde_json::json!({"x-expires": 0}),
            serde_json::json!({"x-overflow": "explode"}),
            serde_json::json!({"x-max-priority": 1000}),
            serde_json::json!({"x-queue-type": "weird"}),
        ] {
            let e = queue_args(&obj(bad.clone())).expect_err("refused");
            let key = bad
                .as_object()
                .and_then(|m| m.keys().next().cloned())
                .unwrap_or_default();
            assert!(e.reason.contains(&key), "{bad}: {}", e.reason);
        }
    }

    #[test]
    fn stream_arguments_round_trip_and_classic_ones_are_refused() {
        let given = serde_json::json!({
            "x-queue-type": "stream", "x-max-age": "7D", "x-max-length-bytes": 1_000_000,
            "x-stream-max-segment-size-bytes": 500_000, "x-partitions": 3,
        });
        let spec = stream_spec(&obj(given.clone())).expect("valid");
        assert_eq!(spec.partitions, Some(3));
        assert_eq!(spec.max_age_ms, Some(7 * 86_400_000));
        let config = TopicConfig {
            partitions: 3,
            retention_ms: spec.max_age_ms,
            retention_bytes: spec.max_bytes,
            segment_bytes: 500_000,
            segment_ms: None,
            forward: Default::default(),
        };
        let back = Value::Object(stream_args_json(&config));
        assert_eq!(stream_spec(&obj(back)).expect("parses again"), spec);
        for bad in [
            serde_json::json!({"x-max-age": "soon"}),
            serde_json::json!({"x-max-age": 5}),
            serde_json::json!({"x-partitions": 0}),
            serde_json::json!({"x-partitions": 1_000_000}),
            serde_json::json!({"x-stream-max-segment-size-bytes": 0}),
            serde_json::json!({"x-max-length": 5}),
        ] {
            let e = stream_spec(&obj(bad.clone())).expect_err("refused");
            let key = bad
                .as_object()
                .and_then(|m| m.keys().next().cloned())
                .unwrap_or_default();
            assert!(e.reason.contains(&key), "{bad}: {}", e.reason);
        }
    }

    #[test]
    fn field_tables_convert_both_ways() {
        let v =
            serde_json::json!({"x-match": "all", "n": 3, "nested": {"ok": true}, "list": [1, "a"]});
        let t = field_table(&obj(v.clone())).expect("table");
        assert_eq!(field_table_json(&t), v);
    }
}
