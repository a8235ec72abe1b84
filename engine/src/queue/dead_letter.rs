//! Dead-lettering: how a message leaving a queue by rejection, expiry or overflow is
//! rewritten before it is republished to the queue's dead-letter exchange.
//!
//! Follows RabbitMQ's documented behaviour: an `x-death` array of tables (newest
//! first, one per queue+reason, with a count), `x-first-death-*` headers, the
//! per-message `expiration` removed so the message does not expire again, and the
//! routing key replaced by `x-dead-letter-routing-key` when the queue sets one.

use trident_core::{ExchangeName, FieldTable, FieldValue, Message, QueueArgs, QueueName};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Reason {
    Rejected,
    Expired,
    MaxLen,
}

impl Reason {
    fn as_str(self) -> &'static str {
        match self {
            Reason::Rejected => "rejected",
            Reason::Expired => "expired",
            Reason::MaxLen => "maxlen",
        }
    }
}

/// The message to republish and where, or `None` when the queue has no dead-letter
/// exchange or the message is cycling without any rejection (RabbitMQ drops those).
pub(crate) fn dead_letter(
    message: &Message,
    queue: &QueueName,
    args: &QueueArgs,
    reason: Reason,
    now_ms: i64,
) -> Option<(ExchangeName, Message)> {
    let dlx = args.dead_letter_exchange.clone()?;
    let deaths = match message.headers.get("x-death") {
        Some(FieldValue::Array(a)) => a.clone(),
        _ => Vec::new(),
    };
    let is_this = |d: &FieldValue, r: Option<&str>| match d {
        FieldValue::Table(t) => {
            t.get_str("queue") == Some(queue.as_str())
                && r.is_none_or(|r| t.get_str("reason") == Some(r))
        }
        _ => false,
    };
    let any_rejection = deaths.iter().any(|d| match d {
        FieldValue::Table(t) => t.get_str("reason") == Some("rejected"),
        _ => false,
    });
    if reason != Reason::Rejected && !any_rejection && deaths.iter().any(|d| is_this(d, None)) {
        return None;
    }

    let mut out = message.clone();
    let routing_keys = vec![FieldValue::LongString(message.routing_key.clone())];
    let mut deaths = deaths;
    let previous = deaths
        .iter()
        .position(|d| is_this(d, Some(reason.as_str())))
        .map(|i| deaths.remove(i));
    let count = match &previous {
        Some(FieldValue::Table(t)) => t.get_i64("count").unwrap_or(0) + 1,
        _ => 1,
    };
    let mut death = FieldTable::new();
    death.insert("count", FieldValue::I64(count));
    death.insert("reason", FieldValue::LongString(reason.as_str().into()));
    death.insert("queue", FieldValue::LongString(queue.as_str().into()));
    death.insert(
        "time",
        FieldValue::Timestamp(u64::try_from(now_ms / 1000).unwrap_or(0)),
    );
    death.insert("exchange", FieldValue::LongString(message.exchange.clone()));
    death.insert("routing-keys", FieldValue::Array(routing_keys));
    if let Some(exp) = &message.properties.expiration {
        death.insert("original-expiration", FieldValue::LongString(exp.clone()));
    }
    deaths.insert(0, FieldValue::Table(death));
    out.headers.insert("x-death", FieldValue::Array(deaths));
    if out.headers.get("x-first-death-queue").is_none() {
        out.headers.insert(
            "x-first-death-queue",
            FieldValue::LongString(queue.as_str().into()),
        );
        out.headers.insert(
            "x-first-death-reason",
            FieldValue::LongString(reason.as_str().into()),
        );
        out.headers.insert(
            "x-first-death-exchange",
            FieldValue::LongString(message.exchange.clone()),
        );
    }
    out.properties.expiration = None;
    if let Some(rk) = &args.dead_letter_routing_key {
        out.routing_key = rk.clone();
    }
    out.exchange = dlx.as_str().to_string();
    Some((dlx, out))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args() -> QueueArgs {
        QueueArgs {
            dead_letter_exchange: ExchangeName::new("dlx").ok(),
            ..QueueArgs::default()
        }
    }

    fn q(name: &str) -> QueueName {
        QueueName::new(name).unwrap_or_else(|_| unreachable!())
    }

    #[test]
    fn records_death_and_counts() {
        let mut m = Message::new("x");
        m.routing_key = "rk".into();
        m.exchange = "ex".into();
        m.properties.expiration = Some("100".into());
        let (dlx, once) = dead_letter(&m, &q("work"), &args(), Reason::Rejected, 5_000)
            .unwrap_or_else(|| unreachable!());
        assert_eq!(dlx.as_str(), "dlx");
        assert_eq!(once.properties.expiration, None);
        assert_eq!(
            once.headers.get_str("x-first-death-reason"),
            Some("rejected")
        );
        let (_, twice) = dead_letter(&once, &q("work"), &args(), Reason::Rejected, 6_000)
            .unwrap_or_else(|| unreachable!());
        let Some(FieldValue::Array(d)) = twice.headers.get("x-death") else {
            unreachable!("x-death is an array")
        };
        assert_eq!(d.len(), 1);
        let FieldValue::Table(t) = &d[0] else {
            unreachable!()
        };
        assert_eq!(t.get_i64("count"), Some(2));
    }

    #[test]
    fn expiry_cycle_is_dropped() {
        let m = Message::new("x");
        let (_, once) =
            dead_letter(&m, &q("a"), &args(), Reason::Expired, 0).unwrap_or_else(|| unreachable!());
        assert!(dead_letter(&once, &q("a"), &args(), Reason::Expired, 0).is_none());
    }

    #[test]
    fn no_dlx_no_dead_letter() {
        assert!(
            dead_letter(
                &Message::new("x"),
                &q("a"),
                &QueueArgs::default(),
                Reason::Rejected,
                0
            )
            .is_none()
        );
    }
}
