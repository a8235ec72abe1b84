//! `batching`: one message per send against batches, with and without waiting for the
//! broker's acknowledgement, per protocol, one publisher and one consumer each.

use super::{Ctx, Flow, variant};
use crate::clients::{amqp, kafka, mqtt};
use crate::flow::Layout;
use crate::row::Row;

pub const ABOUT: &str = "What batching buys and what waiting for acknowledgements costs: AMQP without confirms and with a confirm per message or per batch, MQTT QoS 0/1/2 with 1 or 100 in flight, Kafka acks 0/1/all with linger 0 or 5 ms and two batch sizes.";

fn variants(quick: bool) -> Vec<(String, Flow)> {
    let one = Layout::Competing(1);
    let mut v = Vec::new();
    let amqp = |confirm_batch| {
        Flow::Amqp(amqp::Flow {
            confirm_batch,
            layout: one,
            prefetch: 1000,
            no_ack: false,
            basic_get: false,
            preload: 0,
        })
    };
    v.push(("no confirms".to_string(), amqp(None)));
    let batches: &[usize] = if quick { &[1, 50] } else { &[1, 10, 50, 500] };
    for &k in batches {
        let name = if k == 1 {
            "confirm each".to_string()
        } else {
            format!("confirm per {k}")
        };
        v.push((name, amqp(Some(k))));
    }
    let mqtt = |qos, inflight| {
        Flow::Mqtt(mqtt::Flow {
            qos,
            inflight,
            layout: one,
        })
    };
    v.push(("qos0".into(), mqtt(0, 100)));
    for qos in [1u8, 2] {
        for inflight in [1u16, 100] {
            v.push((format!("qos{qos} inflight {inflight}"), mqtt(qos, inflight)));
        }
    }
    let kafka = |acks, linger_ms, batch_size| {
        Flow::Kafka(kafka::Flow {
            acks,
            linger_ms,
            batch_size,
            partitions: 1,
            layout: one,
            consumer: &[],
            producer: &[],
            preload: 0,
        })
    };
    let lingers: &[u32] = if quick { &[5] } else { &[0, 5] };
    for acks in ["0", "1", "all"] {
        for &linger in lingers {
            v.push((
                format!("acks={acks} linger={linger}ms batch=1MB"),
                kafka(acks, linger, 1_000_000),
            ));
        }
    }
    v.push(("acks=1 linger=5ms batch=16KB".into(), kafka("1", 5, 16_384)));
    v
}

pub async fn run(ctx: &Ctx) -> Vec<Row> {
    let mut rows = Vec::new();
    for t in &ctx.targets {
        for (name, flow) in variants(ctx.quick) {
            rows.push(variant(ctx, t, &name, flow, ctx.budget).await);
        }
    }
    rows
}
