//! `fanout`: one publisher, 1 to 1000 subscribers each getting every message, per
//! protocol. The publisher sends `--count / subscribers` messages (at least 100), so
//! that every variant delivers about `--count` in total.

use super::{Ctx, Flow, variant};
use crate::clients::{amqp, kafka, mqtt};
use crate::flow::Layout;
use crate::row::Row;

pub const ABOUT: &str = "How delivery scales with the number of subscribers: one publisher, 1 to 1000 subscribers that each get every message (AMQP fanout exchange, MQTT wildcard subscriptions, one Kafka consumer group per subscriber); msgs/s counts deliveries.";

/// librdkafka starts several threads per client: a thousand consumers in one process
/// measure the client, not the broker.
const KAFKA_MAX: usize = 100;

pub async fn run(ctx: &Ctx) -> Vec<Row> {
    let counts: &[usize] = if ctx.quick {
        &[1, 10]
    } else {
        &[1, 10, 100, 1000]
    };
    let mut rows = Vec::new();
    for t in &ctx.targets {
        for &n in counts {
            let layout = Layout::Fanout(n);
            let budget = ctx.budget_over(n);
            let name = format!("{n} subscribers");
            let amqp = Flow::Amqp(amqp::Flow {
                confirm_batch: None,
                layout,
                prefetch: 1000,
                no_ack: true,
                basic_get: false,
                preload: 0,
            });
            rows.push(variant(ctx, t, &name, amqp, budget).await);
            let mqtt = Flow::Mqtt(mqtt::Flow {
                qos: 0,
                inflight: 100,
                layout,
            });
            rows.push(variant(ctx, t, &name, mqtt, budget).await);
            if n > KAFKA_MAX {
                rows.push(Row::skipped(
                    &t.name,
                    "kafka",
                    &name,
                    format!("skipped: more than {KAFKA_MAX} librdkafka consumers in one process measure the client"),
                ));
                continue;
            }
            let kafka = Flow::Kafka(kafka::Flow {
                acks: "1",
                linger_ms: 5,
                batch_size: 1_000_000,
                partitions: 1,
                layout,
                consumer: &[],
                producer: &[],
                preload: 0,
            });
            rows.push(variant(ctx, t, &name, kafka, budget).await);
        }
    }
    rows
}
