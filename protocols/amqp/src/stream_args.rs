//! Stream queue arguments, read as RabbitMQ reads them: `queue.declare` with
//! `x-queue-type: stream` (`x-max-age`, `x-max-length-bytes`,
//! `x-stream-max-segment-size-bytes`, and our `x-partitions`) and `basic.consume` on a
//! stream (`x-stream-offset`, and our `x-stream-partition`). Invalid values are 406.

use trident_core::message::now_ms;
use trident_core::{FieldTable, FieldValue};
use trident_engine::{
    MAX_STREAM_PARTITIONS, STREAM_REFUSED_ARGUMENTS, StreamReadOptions, StreamSpec, StreamStart,
};

use crate::args::{int_arg, invalid, str_arg, type_name};
use crate::codec::table::lossy_str;
use crate::error::{AmqpError, AmqpResult};

/// The most partitions a stream may be declared with.
const MAX_PARTITIONS: u64 = MAX_STREAM_PARTITIONS;

/// RabbitMQ's duration syntax, shared with the management API (the engine's).
pub use trident_engine::parse_stream_duration_ms as parse_duration_ms;

/// The stream a `queue.declare` with `x-queue-type: stream` describes.
pub fn stream_spec(args: &FieldTable, queue: &str, vhost: &str) -> AmqpResult<StreamSpec> {
    for name in STREAM_REFUSED_ARGUMENTS {
        if args.get(name).is_some() {
            return Err(AmqpError::precondition(format!(
                "invalid arg '{name}' for queue '{queue}' in vhost '{vhost}' of queue type stream"
            )));
        }
    }
    let max_age_ms = match str_arg(args, "x-max-age", queue, vhost)? {
        None => None,
        Some(s) => Some(parse_duration_ms(&s).ok_or_else(|| {
            invalid(
                "x-max-age",
                queue,
                vhost,
                format!("{{invalid_max_age,<<\"{s}\">>}}"),
            )
        })?),
    };
    let partitions = match int_arg(args, "x-partitions", 1, queue, vhost)? {
        Some(n) if n > MAX_PARTITIONS => {
            return Err(invalid(
                "x-partitions",
                queue,
                vhost,
                format!("{{value_too_large,{n},{MAX_PARTITIONS}}}"),
            ));
        }
        n => n.map(|n| n as u32),
    };
    Ok(StreamSpec {
        partitions,
        max_age_ms,
        max_bytes: int_arg(args, "x-max-length-bytes", 0, queue, vhost)?,
        segment_bytes: int_arg(args, "x-stream-max-segment-size-bytes", 1, queue, vhost)?,
    })
}

fn bad_offset(v: &FieldValue) -> AmqpError {
    AmqpError::precondition(format!("Invalid value for x-stream-offset: {v:?}"))
}

/// Where a `basic.consume` on a stream starts (`x-stream-offset`, default `next` as in
/// RabbitMQ) and which partition it reads (`x-stream-partition`, default all).
pub fn stream_read(args: &FieldTable) -> AmqpResult<StreamReadOptions> {
    let start = match args.get("x-stream-offset") {
        None => StreamStart::Next,
        Some(FieldValue::Timestamp(secs)) => {
            let ms = i64::try_from(*secs)
                .ok()
                .and_then(|s| s.checked_mul(1000))
                .ok_or_else(|| bad_offset(&FieldValue::Timestamp(*secs)))?;
            StreamStart::Timestamp(ms)
        }
        Some(v) => match (v.as_i64(), lossy_str(v)) {
            (Some(n), _) => StreamStart::Offset(u64::try_from(n).map_err(|_| bad_offset(v))?),
            (None, Some(s)) => match s.as_str() {
                "first" => StreamStart::First,
                "last" => StreamStart::Last,
                "next" => StreamStart::Next,
                // An interval: records from that long ago on.
                other => match parse_duration_ms(other) {
                    Some(ms) => StreamStart::Timestamp(now_ms().saturating_sub(ms)),
                    None => return Err(bad_offset(v)),
                },
            },
            _ => return Err(bad_offset(v)),
        },
    };
    let partition = match args.get("x-stream-partition") {
        None => None,
        Some(v) => Some(
            v.as_i64()
                .and_then(|n| u32::try_from(n).ok())
                .ok_or_else(|| {
                    AmqpError::precondition(format!(
                        "Invalid value for x-stream-partition: {{unacceptable_type,{}}}",
                        type_name(v)
                    ))
                })?,
        ),
    };
    Ok(StreamReadOptions { start, partition })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::args::tests::table;

    #[test]
    fn durations_use_rabbitmq_units() {
        assert_eq!(parse_duration_ms("7D"), Some(7 * 86_400_000));
        assert_eq!(parse_duration_ms("12h"), Some(12 * 3_600_000));
        assert_eq!(parse_duration_ms("30m"), Some(30 * 60_000));
        assert_eq!(parse_duration_ms("10s"), Some(10_000));
        assert_eq!(parse_duration_ms("1Y"), Some(365 * 86_400_000));
        assert_eq!(parse_duration_ms("1M"), Some(30 * 86_400_000));
        for bad in [
            "",
            "D",
            "0s",
            "10",
            "1d",
            "-1h",
            "1.5h",
            "1 h",
            "99999999999999999Y",
        ] {
            assert_eq!(parse_duration_ms(bad), None, "{bad}");
        }
    }

    #[test]
    fn parses_stream_declare_arguments() {
        let t = table(&[
            ("x-queue-type", "stream".into()),
            ("x-max-age", "12h".into()),
            ("x-max-length-bytes", FieldValue::I64(1 << 30)),
            ("x-stream-max-segment-size-bytes", FieldValue::I32(1 << 20)),
            ("x-partitions", FieldValue::I16(3)),
        ]);
        let s = stream_spec(&t, "s", "/").unwrap();
        assert_eq!(
            s,
            StreamSpec {
                partitions: Some(3),
                max_age_ms: Some(12 * 3_600_000),
                max_bytes: Some(1 << 30),
                segment_bytes: Some(1 << 20),
            }
        );
        for bad in [
            table(&[("x-max-age", "soon".into())]),
            table(&[("x-max-age", FieldValue::I32(5))]),
            table(&[("x-partitions", FieldValue::I32(0))]),
            table(&[("x-max-length", FieldValue::I32(5))]),
            table(&[("x-message-ttl", FieldValue::I32(5))]),
            table(&[("x-stream-max-segment-size-bytes", FieldValue::I32(0))]),
        ] {
            assert_eq!(
                stream_spec(&bad, "s", "/").unwrap_err().code,
                406,
                "{bad:?}"
            );
        }
    }

    #[test]
    fn parses_every_offset_form() {
        let start = |v: FieldValue| stream_read(&table(&[("x-stream-offset", v)])).map(|r| r.start);
        assert_eq!(
            stream_read(&FieldTable::new()).unwrap().start,
            StreamStart::Next
        );
        assert_eq!(start("first".into()).unwrap(), StreamStart::First);
        assert_eq!(start("last".into()).unwrap(), StreamStart::Last);
        assert_eq!(start("next".into()).unwrap(), StreamStart::Next);
        assert_eq!(start(FieldValue::I64(42)).unwrap(), StreamStart::Offset(42));
        assert_eq!(start(FieldValue::U8(7)).unwrap(), StreamStart::Offset(7));
        assert_eq!(
            start(FieldValue::Timestamp(1_700_000_000)).unwrap(),
            StreamStart::Timestamp(1_700_000_000_000)
        );
        let StreamStart::Timestamp(t) = start("1h".into()).unwrap() else {
            panic!("an interval is a timestamp");
        };
        assert!((now_ms() - 3_600_000 - t).abs() < 60_000);
        for bad in [
            FieldValue::I64(-1),
            "middle".into(),
            FieldValue::Bool(true),
            FieldValue::F64(1.5),
        ] {
            assert_eq!(start(bad.clone()).unwrap_err().code, 406, "{bad:?}");
        }
        let r = stream_read(&table(&[("x-stream-partition", FieldValue::I32(2))])).unwrap();
        assert_eq!(r.partition, Some(2));
    }
}
