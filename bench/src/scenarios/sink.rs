//! `sink`: the bench's ceiling. The same clients as every other scenario publish to
//! discard servers started in this process, which count and drop; a broker figure is
//! only meaningful below these.

use std::time::{Duration, Instant};

use super::Ctx;
use crate::args::HostPort;
use crate::clients::{self, Run, amqp, kafka, mqtt};
use crate::flow::Layout;
use crate::progress;
use crate::row::{Measured, Row};
use crate::sink::{self, Sink};

pub const ABOUT: &str = "The bench's own ceiling: the same clients publishing to AMQP, MQTT and Kafka discard servers that only count, so that every broker figure can be shown to be below what the bench itself can send.";

const TARGET: &str = "sink";

pub async fn run(ctx: &Ctx) -> Vec<Row> {
    let mut rows = Vec::new();
    match sink::amqp::start().await {
        Ok(s) => {
            let uri = format!("amqp://guest:guest@{}/%2f", s.addr);
            for (variant, confirm_batch) in [("no confirms", None), ("confirms per 100", Some(100))]
            {
                let flow = amqp::Flow {
                    confirm_batch,
                    layout: Layout::SendOnly,
                    prefetch: 0,
                    no_ack: true,
                    basic_get: false,
                    preload: 0,
                };
                let u = uri.clone();
                let r = measure(ctx, &s, "amqp", variant, move |run| async move {
                    amqp::run(&u, flow, &run).await
                })
                .await;
                rows.push(r);
            }
        }
        Err(e) => rows.push(Row::skipped(
            TARGET,
            "amqp",
            "-",
            format!("failed: sink: {e}"),
        )),
    }
    match sink::mqtt::start().await {
        Ok(s) => {
            let addr = HostPort {
                host: "127.0.0.1".into(),
                port: s.addr.port(),
            };
            for (variant, qos, inflight) in [
                ("qos0", 0, 100),
                ("qos1 inflight 100", 1, 100),
                ("qos2 inflight 100", 2, 100),
            ] {
                let flow = mqtt::Flow {
                    qos,
                    inflight,
                    layout: Layout::SendOnly,
                };
                let a = addr.clone();
                let r = measure(ctx, &s, "mqtt", variant, move |run| async move {
                    mqtt::run(&a, flow, &run).await
                })
                .await;
                rows.push(r);
            }
        }
        Err(e) => rows.push(Row::skipped(
            TARGET,
            "mqtt",
            "-",
            format!("failed: sink: {e}"),
        )),
    }
    match sink::kafka::start().await {
        Ok(s) => {
            let addr = HostPort {
                host: "127.0.0.1".into(),
                port: s.addr.port(),
            };
            for (variant, acks) in [("acks=0 linger=5ms", "0"), ("acks=1 linger=5ms", "1")] {
                let flow = kafka::Flow {
                    acks,
                    ..kafka::Flow::new(Layout::SendOnly, 1)
                };
                let a = addr.clone();
                let r = measure(ctx, &s, "kafka", variant, move |run| async move {
                    kafka::run(&a, flow, &run).await
                })
                .await;
                rows.push(r);
            }
        }
        Err(e) => rows.push(Row::skipped(
            TARGET,
            "kafka",
            "-",
            format!("failed: sink: {e}"),
        )),
    }
    rows
}

async fn measure<F, Fut>(ctx: &Ctx, s: &Sink, protocol: &str, variant: &str, f: F) -> Row
where
    F: FnOnce(Run) -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<Measured>>,
{
    let before = s.received();
    let line = progress::start(
        format!("sink {protocol} {variant}"),
        match ctx.budget {
            crate::args::Budget::Count(n) => Some(n),
            crate::args::Budget::For(_) => None,
        },
        match ctx.budget {
            crate::args::Budget::For(d) => Some(d),
            crate::args::Budget::Count(_) => None,
        },
    );
    let run = clients::Run {
        size: ctx.size,
        budget: ctx.budget,
        producers: ctx.connections,
        quick: ctx.quick,
        progress: line.progress(),
    };
    let result = f(run).await;
    drop(line);
    match result {
        Ok(mut m) => {
            // Unconfirmed publishes may still be in the socket: give the sink a moment
            // to count them before calling anything lost.
            let deadline = Instant::now() + Duration::from_secs(2);
            while s.received() - before < m.sent && Instant::now() < deadline {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            m.received = s.received() - before;
            m.lost = m.sent.saturating_sub(m.received);
            m.note = "send side only: no latency".into();
            Row::measured(TARGET, protocol, variant, m)
        }
        Err(e) => Row::failed(TARGET, protocol, variant, &e),
    }
}
