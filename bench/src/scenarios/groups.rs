//! `groups`: Kafka consumer groups. N consumers on P partitions (with N > P some stay
//! idle: a partition has one owner per group), how long a rebalance takes when one
//! member leaves, and replay by rewinding a consumer to offset 0.

use super::{Ctx, Flow, count_of, custom, variant};
use crate::clients::{kafka, kafka_groups};
use crate::flow::Layout;
use crate::row::Row;

pub const ABOUT: &str = "How a log shares work: N consumers in one group on P partitions (N < P, N = P, and N > P where the extra consumers idle), the time the group takes to give a leaving member's partitions to the others, and replay by rewinding to offset 0 (a queue cannot: a consumed message is gone).";

pub async fn run(ctx: &Ctx) -> Vec<Row> {
    let p: usize = if ctx.quick { 2 } else { 4 };
    let members = [p / 2, p, p * 2];
    let mut rows = Vec::new();
    for t in &ctx.targets {
        for &n in &members {
            let f = Flow::Kafka(kafka::Flow::new(Layout::Competing(n), p as i32));
            let name = format!("{n} consumers on {p} partitions");
            rows.push(variant(ctx, t, &name, f, ctx.budget).await);
        }
        let Some(addr) = t.kafka.clone() else {
            rows.push(Row::skipped(
                &t.name,
                "kafka",
                "rebalance",
                "skipped: the target has no kafka:// URL",
            ));
            continue;
        };
        let (a, quick) = (addr.clone(), ctx.quick);
        rows.push(
            custom(
                ctx,
                t,
                "kafka",
                "rebalance: 1 of 2 leaves",
                &["kafka"],
                None,
                |_run| async move {
                    tokio::task::spawn_blocking(move || {
                        kafka_groups::rebalance(&a, p as i32, quick)
                    })
                    .await?
                },
            )
            .await,
        );
        let n = count_of(ctx.budget, ctx.quick);
        rows.push(
            custom(
                ctx,
                t,
                "kafka",
                "replay from offset 0",
                &["kafka"],
                Some(n),
                |run| async move {
                    tokio::task::spawn_blocking(move || kafka_groups::replay(&addr, &run, n))
                        .await?
                },
            )
            .await,
        );
    }
    rows
}
