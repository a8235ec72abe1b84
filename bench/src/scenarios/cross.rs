//! `cross`: the same flow (one publisher, one receiver, the stamp in the body) within
//! one protocol and across protocols, so that the cost of crossing shows against the
//! same-protocol rows. The protocol column is `IN->OUT`.

use super::{Ctx, custom};
use crate::clients::cross::{self, Ends, Proto};
use crate::row::Row;

pub const ABOUT: &str = "The cost of crossing protocols: one publisher and one receiver, first within each protocol (amqp->amqp, mqtt->mqtt, kafka->kafka), then across (AMQP and MQTT meet on amq.topic, a Kafka topic bound as a queue receives from both, a forwarding topic publishes to both).";

const DIRECTIONS: [(Proto, Proto); 9] = [
    (Proto::Amqp, Proto::Amqp),
    (Proto::Mqtt, Proto::Mqtt),
    (Proto::Kafka, Proto::Kafka),
    (Proto::Mqtt, Proto::Amqp),
    (Proto::Amqp, Proto::Mqtt),
    (Proto::Mqtt, Proto::Kafka),
    (Proto::Amqp, Proto::Kafka),
    (Proto::Kafka, Proto::Amqp),
    (Proto::Kafka, Proto::Mqtt),
];

pub async fn run(ctx: &Ctx) -> Vec<Row> {
    let expected = match ctx.budget {
        crate::args::Budget::Count(n) => Some(n),
        crate::args::Budget::For(_) => None,
    };
    let mut rows = Vec::new();
    for t in &ctx.targets {
        let ends = Ends {
            amqp: t.amqp.as_ref().map(|a| a.uri.clone()),
            mqtt: t.mqtt.clone(),
            kafka: t.kafka.clone(),
        };
        for (i, o) in DIRECTIONS {
            let label = format!("{}->{}", i.name(), o.name());
            let variant = if i == o { "same protocol" } else { "cross" };
            let needs = cross::needs(i, o);
            let e = ends.clone();
            rows.push(
                custom(
                    ctx,
                    t,
                    &label,
                    variant,
                    &needs,
                    expected,
                    |run| async move { cross::run(&e, i, o, &run).await },
                )
                .await,
            );
        }
    }
    rows
}
