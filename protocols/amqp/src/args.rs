//! Queue and exchange argument tables, validated the way RabbitMQ validates them and
//! turned into the engine's typed definitions. Invalid values are 406
//! PRECONDITION_FAILED with RabbitMQ's wording; unknown `x-` arguments are ignored, as
//! RabbitMQ ignores them.

use trident_core::{ExchangeName, FieldTable, FieldValue, Overflow, QueueArgs};

use crate::codec::table::lossy_str;
use crate::error::{AmqpError, AmqpResult};

pub(crate) fn invalid(
    arg: &str,
    queue: &str,
    vhost: &str,
    why: impl std::fmt::Display,
) -> AmqpError {
    AmqpError::precondition(format!(
        "invalid arg '{arg}' for queue '{queue}' in vhost '{vhost}': {why}"
    ))
}

/// An integer argument (any integer width; RabbitMQ clients send whatever their
/// language prefers). `min` is 0 or 1.
pub(crate) fn int_arg(
    args: &FieldTable,
    name: &str,
    min: i64,
    queue: &str,
    vhost: &str,
) -> AmqpResult<Option<u64>> {
    let Some(v) = args.get(name) else {
        return Ok(None);
    };
    let Some(n) = v.as_i64() else {
        return Err(invalid(
            name,
            queue,
            vhost,
            format!("{{unacceptable_type,{}}}", type_name(v)),
        ));
    };
    if n < 0 {
        return Err(invalid(
            name,
            queue,
            vhost,
            format!("{{value_negative,{n}}}"),
        ));
    }
    if n < min {
        return Err(invalid(name, queue, vhost, format!("{{value_zero,{n}}}")));
    }
    Ok(Some(n as u64))
}

pub(crate) fn str_arg(
    args: &FieldTable,
    name: &str,
    queue: &str,
    vhost: &str,
) -> AmqpResult<Option<String>> {
    match args.get(name) {
        None => Ok(None),
        Some(v) => lossy_str(v).map(Some).ok_or_else(|| {
            invalid(
                name,
                queue,
                vhost,
                format!("{{unacceptable_type,{}}}", type_name(v)),
            )
        }),
    }
}

pub(crate) fn type_name(v: &FieldValue) -> &'static str {
    match v {
        FieldValue::Bool(_) => "bool",
        FieldValue::I8(_) | FieldValue::I16(_) | FieldValue::I32(_) | FieldValue::I64(_) => {
            "signedint"
        }
        FieldValue::U8(_) | FieldValue::U16(_) | FieldValue::U32(_) | FieldValue::U64(_) => {
            "unsignedint"
        }
        FieldValue::F32(_) | FieldValue::F64(_) => "float",
        FieldValue::Decimal { .. } => "decimal",
        FieldValue::ShortString(_) | FieldValue::LongString(_) => "longstr",
        FieldValue::Bytes(_) => "binary",
        FieldValue::Timestamp(_) => "timestamp",
        FieldValue::Table(_) => "table",
        FieldValue::Array(_) => "array",
        FieldValue::Void => "void",
    }
}

/// Whether `queue.declare` asks for a stream queue (`x-queue-type: stream`); its
/// arguments are then read by [`crate::stream_args::stream_spec`], not [`queue_args`].
pub fn is_stream(args: &FieldTable, queue: &str, vhost: &str) -> AmqpResult<bool> {
    Ok(str_arg(args, "x-queue-type", queue, vhost)?.as_deref() == Some("stream"))
}

/// Parses `queue.declare` arguments of a classic (or quorum) queue.
pub fn queue_args(args: &FieldTable, queue: &str, vhost: &str) -> AmqpResult<QueueArgs> {
    let mut out = QueueArgs {
        message_ttl_ms: int_arg(args, "x-message-ttl", 0, queue, vhost)?,
        expires_ms: int_arg(args, "x-expires", 1, queue, vhost)?,
        max_length: int_arg(args, "x-max-length", 0, queue, vhost)?,
        max_length_bytes: int_arg(args, "x-max-length-bytes", 0, queue, vhost)?,
        ..QueueArgs::default()
    };
    if let Some(p) = int_arg(args, "x-max-priority", 0, queue, vhost)? {
        let p = u8::try_from(p).map_err(|_| {
            invalid(
                "x-max-priority",
                queue,
                vhost,
                format!("{{value_too_large,{p},255}}"),
            )
        })?;
        out.max_priority = Some(p);
    }
    if let Some(o) = str_arg(args, "x-overflow", queue, vhost)? {
        out.overflow = match o.as_str() {
            "drop-head" => Overflow::DropHead,
            "reject-publish" => Overflow::RejectPublish,
            "reject-publish-dlx" => Overflow::RejectPublishDlx,
            other => {
                return Err(invalid(
                    "x-overflow",
                    queue,
                    vhost,
                    format!("{{unknown_value,<<\"{other}\">>}}"),
                ));
            }
        };
    }
    if let Some(dlx) = str_arg(args, "x-dead-letter-exchange", queue, vhost)? {
        let name = ExchangeName::new(&dlx)
            .map_err(|e| invalid("x-dead-letter-exchange", queue, vhost, e))?;
        out.dead_letter_exchange = Some(name);
    }
    if let Some(rk) = str_arg(args, "x-dead-letter-routing-key", queue, vhost)? {
        if out.dead_letter_exchange.is_none() {
            return Err(invalid(
                "x-dead-letter-routing-key",
                queue,
                vhost,
                "{missing_dead_letter_exchange}",
            ));
        }
        out.dead_letter_routing_key = Some(rk);
    }
    if let Some(kind) = str_arg(args, "x-queue-type", queue, vhost)? {
        match kind.as_str() {
            // Quorum queues replicate across a cluster; on one node a durable classic
            // queue gives the same guarantees, so applications that ask for one work.
            "classic" | "quorum" => {}
            // Streams are topics, declared through `stream_args` (see `is_stream`).
            other => {
                return Err(invalid(
                    "x-queue-type",
                    queue,
                    vhost,
                    format!("queue type '{other}' is not supported"),
                ));
            }
        }
    }
    Ok(out)
}

/// The `alternate-exchange` argument of `exchange.declare`.
pub fn alternate_exchange(
    args: &FieldTable,
    exchange: &str,
    vhost: &str,
) -> AmqpResult<Option<ExchangeName>> {
    match args.get("alternate-exchange") {
        None => Ok(None),
        Some(v) => {
            let s = lossy_str(v).ok_or_else(|| {
                AmqpError::precondition(format!(
                    "invalid arg 'alternate-exchange' for exchange '{exchange}' in vhost '{vhost}': \
                     {{unacceptable_type,{}}}",
                    type_name(v)
                ))
            })?;
            ExchangeName::new(&s).map(Some).map_err(|e| {
                AmqpError::precondition(format!(
                    "invalid arg 'alternate-exchange' for exchange '{exchange}' in vhost '{vhost}': {e}"
                ))
            })
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
pub(crate) mod tests {
    use super::*;

    /// A field table from literal entries (shared by the argument parsers' tests).
    pub(crate) fn table(entries: &[(&str, FieldValue)]) -> FieldTable {
        entries
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect()
    }

    #[test]
    fn parses_every_argument() {
        let t = table(&[
            ("x-message-ttl", FieldValue::I32(1000)),
            ("x-expires", FieldValue::I64(60000)),
            ("x-max-length", FieldValue::I16(10)),
            ("x-max-length-bytes", FieldValue::U32(1 << 20)),
            ("x-overflow", "reject-publish".into()),
            ("x-dead-letter-exchange", "dlx".into()),
            ("x-dead-letter-routing-key", "dead".into()),
            ("x-max-priority", FieldValue::U8(10)),
            ("x-unknown", FieldValue::Bool(true)),
        ]);
        let a = queue_args(&t, "q", "/").unwrap();
        assert_eq!(a.message_ttl_ms, Some(1000));
        assert_eq!(a.expires_ms, Some(60000));
        assert_eq!(a.max_length, Some(10));
        assert_eq!(a.max_length_bytes, Some(1 << 20));
        assert_eq!(a.overflow, Overflow::RejectPublish);
        assert_eq!(a.dead_letter_exchange.unwrap().as_str(), "dlx");
        assert_eq!(a.dead_letter_routing_key.as_deref(), Some("dead"));
        assert_eq!(a.max_priority, Some(10));
    }

    #[test]
    fn refuses_what_rabbitmq_refuses() {
        for bad in [
            table(&[("x-message-ttl", FieldValue::I32(-1))]),
            table(&[("x-message-ttl", "soon".into())]),
            table(&[("x-expires", FieldValue::I32(0))]),
            table(&[("x-max-priority", FieldValue::I32(256))]),
            table(&[("x-overflow", "drop-tail".into())]),
            table(&[("x-dead-letter-routing-key", "k".into())]),
            table(&[("x-queue-type", "stream".into())]),
        ] {
            let e = queue_args(&bad, "q", "/").unwrap_err();
            assert_eq!(e.code, 406, "{bad:?}");
        }
    }
}
