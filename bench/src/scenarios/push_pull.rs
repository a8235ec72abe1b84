//! `push-pull`: the broker pushing to a consumer with a prefetch window against the
//! consumer pulling: AMQP basic.consume with prefetch 1 to 1000 vs basic.get polling, and
//! Kafka's fetch (always a pull) with its min/max bytes settings.

use super::{Ctx, Flow, variant};
use crate::clients::{amqp, kafka};
use crate::flow::Layout;
use crate::row::Row;

pub const ABOUT: &str = "What push with a prefetch window buys over pulling: AMQP basic.consume with prefetch 1/10/100/1000 against basic.get polling (one round trip per message), and Kafka fetches that return at once, wait for 64 KB, or stop at 16 KB per partition.";

type Settings = &'static [(&'static str, &'static str)];

/// Kafka consumer settings per variant: fetch.min.bytes makes the broker hold a fetch
/// until that much is there (or fetch.wait.max.ms passed); max.partition.fetch.bytes
/// caps what one fetch returns per partition.
const FETCHES: [(&str, Settings); 3] = [
    (
        "fetch min 1B wait 100ms",
        &[("fetch.min.bytes", "1"), ("fetch.wait.max.ms", "100")],
    ),
    (
        "fetch min 64KB wait 100ms",
        &[("fetch.min.bytes", "65536"), ("fetch.wait.max.ms", "100")],
    ),
    (
        "fetch max 16KB/partition",
        &[
            ("fetch.min.bytes", "1"),
            ("max.partition.fetch.bytes", "16384"),
        ],
    ),
];

pub async fn run(ctx: &Ctx) -> Vec<Row> {
    let prefetches: &[u16] = if ctx.quick {
        &[1, 100]
    } else {
        &[1, 10, 100, 1000]
    };
    let one = Layout::Competing(1);
    let mut rows = Vec::new();
    for t in &ctx.targets {
        for &p in prefetches {
            let f = Flow::Amqp(amqp::Flow::new(one, p));
            rows.push(variant(ctx, t, &format!("consume prefetch {p}"), f, ctx.budget).await);
        }
        let get = Flow::Amqp(amqp::Flow {
            basic_get: true,
            ..amqp::Flow::new(one, 0)
        });
        rows.push(variant(ctx, t, "basic.get polling", get, ctx.budget).await);
        for (name, settings) in FETCHES {
            // A group of one on one partition, reading from the start of the topic.
            let f = Flow::Kafka(kafka::Flow {
                consumer: settings,
                ..kafka::Flow::new(Layout::Fanout(1), 1)
            });
            rows.push(variant(ctx, t, name, f, ctx.budget).await);
        }
    }
    rows
}
