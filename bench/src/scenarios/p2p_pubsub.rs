//! `p2p-pubsub`: the same N consumers either competing for one stream (each message to
//! one of them) or each subscribed (each message to all of them).

use super::{Ctx, Flow, variant};
use crate::clients::{amqp, kafka, mqtt};
use crate::flow::Layout;
use crate::row::Row;

pub const ABOUT: &str = "Competing consumers split one queue's messages between them while pub/sub subscribers each get every message: the per-consumer share and the total, for AMQP (one queue vs a fanout exchange), MQTT (a shared subscription vs plain ones) and Kafka (one group vs a group each).";

pub async fn run(ctx: &Ctx) -> Vec<Row> {
    let n = if ctx.quick { 2 } else { 4 };
    let mut rows = Vec::new();
    for t in &ctx.targets {
        for (kind, layout) in [
            ("competing", Layout::Competing(n)),
            ("pubsub", Layout::Fanout(n)),
        ] {
            let name = format!("{kind} x{n}");
            let flows = [
                Flow::Amqp(amqp::Flow {
                    confirm_batch: None,
                    layout,
                    prefetch: 100,
                    no_ack: false,
                    basic_get: false,
                    preload: 0,
                }),
                Flow::Mqtt(mqtt::Flow {
                    qos: 1,
                    inflight: 100,
                    layout,
                }),
                Flow::Kafka(kafka::Flow {
                    acks: "1",
                    linger_ms: 5,
                    batch_size: 1_000_000,
                    // One partition per consumer, so that a group can share the work.
                    partitions: n as i32,
                    layout,
                    consumer: &[],
                    producer: &[],
                    preload: 0,
                }),
            ];
            for flow in flows {
                rows.push(variant(ctx, t, &name, flow, ctx.budget).await);
            }
        }
    }
    rows
}
