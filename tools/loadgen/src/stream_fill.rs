//! Fills an AMQP stream queue (`x-queue-type: stream`) with persistent, confirmed
//! publishes, so that a Kafka consumer can then read the same log (`kafka-consume`
//! on the stream's name) and be compared with one reading a Kafka-made topic.

use std::collections::VecDeque;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use clap::Args;
use lapin::options::{BasicPublishOptions, ConfirmSelectOptions, QueueDeclareOptions};
use lapin::publisher_confirm::Confirmation;
use lapin::types::{AMQPValue, FieldTable};
use lapin::{BasicProperties, Connection, ConnectionProperties};
use serde_json::json;

use crate::meter::{self, Meter, fmt_rate, round3};

#[derive(Debug, Args, Clone)]
pub struct StreamFillArgs {
    /// Broker address (host:port).
    #[arg(long, default_value = "127.0.0.1:5672")]
    pub addr: String,
    #[arg(long, default_value = "guest")]
    pub user: String,
    #[arg(long, default_value = "guest")]
    pub pass: String,
    /// The stream queue (declared if missing; in vhost `/`, where streams live).
    #[arg(long)]
    pub stream: String,
    /// Partitions when the stream is created (`x-partitions`).
    #[arg(long, default_value_t = 1)]
    pub partitions: u32,
    /// Message body size in bytes (at least 16: timestamp and sequence are embedded).
    #[arg(long, default_value_t = 100)]
    pub size: usize,
    #[arg(long, default_value_t = 100_000)]
    pub count: u64,
    /// Unconfirmed publishes in flight.
    #[arg(long, default_value_t = 1024)]
    pub confirm_window: usize,
    #[arg(long, default_value = "")]
    pub label: String,
}

pub async fn run(a: StreamFillArgs) -> Result<()> {
    if a.size < 16 {
        bail!("--size must be at least 16");
    }
    let uri = format!("amqp://{}:{}@{}/%2f", a.user, a.pass, a.addr);
    let conn = Connection::connect(&uri, ConnectionProperties::default())
        .await
        .with_context(|| format!("connecting to amqp://{}", a.addr))?;
    let ch = conn.create_channel().await?;
    let mut args = FieldTable::default();
    args.insert(
        "x-queue-type".into(),
        AMQPValue::LongString("stream".into()),
    );
    args.insert(
        "x-partitions".into(),
        AMQPValue::LongLongInt(i64::from(a.partitions)),
    );
    let durable = QueueDeclareOptions {
        durable: true,
        ..QueueDeclareOptions::default()
    };
    ch.queue_declare(&a.stream, durable, args)
        .await
        .context("declare the stream")?;
    ch.confirm_select(ConfirmSelectOptions::default()).await?;
    let meter = Meter::new(Some(a.count));
    meter.start_window();
    let started = Instant::now();
    let mut body = meter::filler(a.size);
    let mut in_flight = VecDeque::new();
    let mut nacked = 0u64;
    for seq in 0..a.count {
        meter::stamp(&mut body, seq);
        let confirm = ch
            .basic_publish(
                "",
                &a.stream,
                BasicPublishOptions::default(),
                &body,
                BasicProperties::default().with_delivery_mode(2),
            )
            .await?;
        in_flight.push_back(confirm);
        while in_flight.len() >= a.confirm_window.max(1) {
            if let Some(c) = in_flight.pop_front() {
                match c.await? {
                    Confirmation::Ack(_) => meter.add(1, a.size as u64),
                    _ => {
                        nacked += 1;
                        0
                    }
                };
            }
        }
    }
    for c in in_flight {
        match c.await? {
            Confirmation::Ack(_) => meter.add(1, a.size as u64),
            _ => {
                nacked += 1;
                0
            }
        };
    }
    meter.end_window();
    let r = meter.rate();
    let secs = started.elapsed().as_secs_f64();
    let v = json!({
        "scenario": "stream-fill",
        "label": a.label,
        "addr": a.addr,
        "stream": a.stream,
        "partitions": a.partitions,
        "size": a.size,
        "count": a.count,
        "confirm_window": a.confirm_window,
        "confirmed": r.json(),
        "records_per_s": r.per_sec.round(),
        "seconds": round3(secs),
        "nacked": nacked,
        "complete": nacked == 0 && meter.count() == a.count,
    });
    let human = format!(
        "stream-fill {} {}B x{}: {} confirmed msg/s into stream {} ({} nacked)",
        meter::broker_name(&a.label, &a.addr),
        a.size,
        a.count,
        fmt_rate(r.per_sec),
        a.stream,
        nacked
    );
    meter::report(&v, &human);
    let _ = conn.close(200, "done").await;
    if nacked > 0 {
        bail!("{nacked} publishes nacked");
    }
    Ok(())
}
