//! `guarantees`: at-most-once, at-least-once and exactly-once per protocol while the
//! consumer is killed halfway through and restarted: what was lost and what came twice.
//! One producer (producer id 0) publishes `--count` messages; the consumer's counts
//! survive its restarts (they are the measurement, not the consumer), and so does the
//! exactly-once dedup store, as a database would.

mod amqp;
mod kafka;
mod mqtt;

use std::time::Instant;

use super::{Ctx, count_of, custom};
use crate::flow::{Layout, Receiver, summarize};
use crate::row::{Measured, Row};

pub const ABOUT: &str = "What each delivery guarantee costs and what it protects against: at-most-once (auto-ack, QoS 0, acks=0 with commit before processing), at-least-once (manual ack, QoS 1, acks=all with commit after processing) and exactly-once (AMQP confirms + dedup by message id, MQTT QoS 2, Kafka idempotent producer + dedup by key) with the consumer killed halfway and restarted: lost and duplicated counts.";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    AtMostOnce,
    AtLeastOnce,
    ExactlyOnce,
}

impl Mode {
    pub fn name(self) -> &'static str {
        match self {
            Mode::AtMostOnce => "at-most-once",
            Mode::AtLeastOnce => "at-least-once",
            Mode::ExactlyOnce => "exactly-once",
        }
    }
}

const MODES: [Mode; 3] = [Mode::AtMostOnce, Mode::AtLeastOnce, Mode::ExactlyOnce];

/// The consumer is killed once it processed this many of `n`: past the middle, off any
/// round number, so that it falls between two acknowledgements or commits.
fn kill_point(n: u64) -> u64 {
    (n * 53 / 100 + 1).min(n.saturating_sub(1)).max(1)
}

/// One run's counts: the receiver's tally against what producer 0 sent.
fn measured(sent: u64, r: Receiver, started: Instant, size: usize, note: String) -> Measured {
    let mut m = summarize(Layout::Fanout(1), &[(0, sent)], vec![r], started, size);
    m.note = note;
    m
}

fn restart_note(killed_at: Option<u64>, n: u64) -> String {
    match killed_at {
        Some(k) => format!("consumer killed after {k} of {n} and restarted"),
        None => format!(
            "consumer finished before the kill point ({} of {n})",
            kill_point(n)
        ),
    }
}

pub async fn run(ctx: &Ctx) -> Vec<Row> {
    let n = count_of(ctx.budget, ctx.quick);
    let mut rows = Vec::new();
    for t in &ctx.targets {
        for mode in MODES {
            let v = mode.name();
            let uri = t.amqp.as_ref().map(|a| a.uri.clone()).unwrap_or_default();
            rows.push(
                custom(ctx, t, "amqp", v, &["amqp"], Some(n), |run| async move {
                    amqp::run(&uri, mode, n, &run).await
                })
                .await,
            );
            let addr = t.mqtt.clone();
            rows.push(
                custom(ctx, t, "mqtt", v, &["mqtt"], Some(n), |run| async move {
                    match addr {
                        Some(a) => mqtt::run(&a, mode, n, &run).await,
                        None => Err(anyhow::anyhow!("no mqtt:// URL")),
                    }
                })
                .await,
            );
            let addr = t.kafka.clone();
            rows.push(
                custom(ctx, t, "kafka", v, &["kafka"], Some(n), |run| async move {
                    match addr {
                        Some(a) => kafka::run(&a, mode, n, &run).await,
                        None => Err(anyhow::anyhow!("no kafka:// URL")),
                    }
                })
                .await,
            );
        }
    }
    rows
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_kill_falls_past_the_middle_and_off_ack_boundaries() {
        assert_eq!(kill_point(300), 160);
        assert_eq!(kill_point(50_000), 26_501);
        assert_eq!(kill_point(1), 1);
        assert_eq!(kill_point(2), 1);
        for n in [300u64, 1000, 50_000] {
            assert_ne!(kill_point(n) % 50, 0, "{n}");
        }
    }
}
