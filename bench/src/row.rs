//! One line of a result: what ran against what, and what it measured. A skipped or
//! failed row keeps every key, with the reason in `note`.

use std::time::Duration;

use serde::Serialize;

use crate::histogram::Histogram;

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Row {
    pub target: String,
    pub protocol: String,
    pub variant: String,
    pub sent: u64,
    pub received: u64,
    pub lost: u64,
    pub duplicated: u64,
    pub msgs_per_s: Option<f64>,
    pub mb_per_s: Option<f64>,
    pub p50_ms: Option<f64>,
    pub p99_ms: Option<f64>,
    pub p999_ms: Option<f64>,
    pub note: String,
    /// False for a skipped or failed row (not in the JSON: the note says it).
    #[serde(skip)]
    pub ran: bool,
}

/// What a measured run hands to [`Row::measured`].
#[derive(Debug, Default)]
pub struct Measured {
    pub sent: u64,
    pub received: u64,
    pub lost: u64,
    pub duplicated: u64,
    /// Messages the rate is computed from (received, or sent for send-only rows).
    pub counted: u64,
    pub bytes: u64,
    pub elapsed: Duration,
    pub latency: Option<Histogram>,
    pub note: String,
}

fn round(x: f64, digits: i32) -> f64 {
    let f = 10f64.powi(digits);
    (x * f).round() / f
}

impl Row {
    fn base(target: &str, protocol: &str, variant: &str) -> Row {
        Row {
            target: target.into(),
            protocol: protocol.into(),
            variant: variant.into(),
            sent: 0,
            received: 0,
            lost: 0,
            duplicated: 0,
            msgs_per_s: None,
            mb_per_s: None,
            p50_ms: None,
            p99_ms: None,
            p999_ms: None,
            note: String::new(),
            ran: false,
        }
    }

    pub fn skipped(target: &str, protocol: &str, variant: &str, why: impl Into<String>) -> Row {
        let mut r = Row::base(target, protocol, variant);
        r.note = why.into();
        r
    }

    pub fn failed(target: &str, protocol: &str, variant: &str, e: &anyhow::Error) -> Row {
        // One line: the whole chain, as `{:#}` prints it.
        Row::skipped(
            target,
            protocol,
            variant,
            format!("failed: {e:#}").replace('\n', " "),
        )
    }

    pub fn measured(target: &str, protocol: &str, variant: &str, m: Measured) -> Row {
        let mut r = Row::base(target, protocol, variant);
        let secs = m.elapsed.as_secs_f64().max(1e-9);
        r.sent = m.sent;
        r.received = m.received;
        r.lost = m.lost;
        r.duplicated = m.duplicated;
        r.msgs_per_s = Some(round(m.counted as f64 / secs, 0));
        r.mb_per_s = Some(round(m.bytes as f64 / secs / 1e6, 3));
        if let Some(h) = m.latency.as_ref().filter(|h| !h.is_empty()) {
            r.p50_ms = h.quantile_ms(0.5).map(|x| round(x, 3));
            r.p99_ms = h.quantile_ms(0.99).map(|x| round(x, 3));
            r.p999_ms = h.quantile_ms(0.999).map(|x| round(x, 3));
        }
        r.note = m.note;
        r.ran = true;
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn skipped_row_keeps_every_key() {
        let r = Row::skipped("rabbitmq", "kafka", "acks=1", "no kafka:// endpoint");
        let v = serde_json::to_value(&r).expect("serializes");
        for key in [
            "target",
            "protocol",
            "variant",
            "sent",
            "received",
            "lost",
            "duplicated",
            "msgs_per_s",
            "mb_per_s",
            "p50_ms",
            "p99_ms",
            "p999_ms",
            "note",
        ] {
            assert!(v.get(key).is_some(), "{key} missing");
        }
        assert!(v["msgs_per_s"].is_null());
        assert!(!r.ran);
    }

    #[test]
    fn measured_row_computes_rates() {
        let mut h = Histogram::new();
        h.record(2_000_000);
        let r = Row::measured(
            "t",
            "amqp",
            "v",
            Measured {
                sent: 1000,
                received: 1000,
                counted: 1000,
                bytes: 2_000_000,
                elapsed: Duration::from_millis(500),
                latency: Some(h),
                ..Measured::default()
            },
        );
        assert_eq!(r.msgs_per_s, Some(2000.0));
        assert_eq!(r.mb_per_s, Some(4.0));
        assert!(r.p50_ms.is_some_and(|p| (p - 2.0).abs() < 0.02));
        assert!(r.ran);
    }
}
