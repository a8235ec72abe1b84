//! `backlog`: the same publish-and-consume run while a queue or a log already holds
//! `--backlog` messages. A queue's consumer must work through the backlog (it is ahead
//! of the new messages); a log's reader starts at the end and the backlog stays
//! retained. The bench streams the backlog in (confirmed in batches), so it needs no
//! more memory than the broker gives the queue or log.

use super::{Ctx, Flow, variant};
use crate::clients::{amqp, kafka};
use crate::flow::Layout;
use crate::row::Row;

pub const ABOUT: &str = "Whether a queue slows down as messages pile up and a log does not: publish and consume while an AMQP queue or a Kafka topic already holds 0 to 10M messages; the queue's consumer drains the backlog first (msgs/s counts it), the log's reader starts at the end.";

fn label(n: u64) -> String {
    match n {
        0 => "empty".into(),
        n if n % 1_000_000 == 0 => format!("backlog {}M", n / 1_000_000),
        n if n % 1_000 == 0 => format!("backlog {}k", n / 1_000),
        n => format!("backlog {n}"),
    }
}

pub async fn run(ctx: &Ctx) -> Vec<Row> {
    let mut rows = Vec::new();
    for t in &ctx.targets {
        for &b in &ctx.backlogs {
            let name = label(b);
            let q = Flow::Amqp(amqp::Flow {
                preload: b,
                ..amqp::Flow::new(Layout::Competing(1), 1000)
            });
            let mut row = variant(ctx, t, &name, q, ctx.budget).await;
            if row.ran && b > 0 {
                row.note = format!("drained {b} backlog messages first; p99 is of the new ones");
            }
            rows.push(row);
            let log = Flow::Kafka(kafka::Flow {
                preload: b,
                ..kafka::Flow::new(Layout::Fanout(1), 1)
            });
            let mut row = variant(ctx, t, &name, log, ctx.budget).await;
            if row.ran && b > 0 {
                row.note = format!("read from the end; {b} records stay in the log");
            }
            rows.push(row);
        }
    }
    rows
}

#[cfg(test)]
mod tests {
    #[test]
    fn labels() {
        assert_eq!(super::label(0), "empty");
        assert_eq!(super::label(10_000_000), "backlog 10M");
        assert_eq!(super::label(1000), "backlog 1k");
        assert_eq!(super::label(1500), "backlog 1500");
    }
}
