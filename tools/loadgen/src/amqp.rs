//! AMQP 0-9-1 throughput and end-to-end latency with lapin: P publisher connections and
//! C consumer connections on one queue, run concurrently.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use clap::Args;
use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;
use lapin::options::{
    BasicAckOptions, BasicConsumeOptions, BasicPublishOptions, BasicQosOptions,
    ConfirmSelectOptions, QueueDeclareOptions, QueueDeleteOptions, QueuePurgeOptions,
};
use lapin::publisher_confirm::Confirmation;
use lapin::types::FieldTable;
use lapin::{BasicProperties, Channel, Connection, ConnectionProperties};
use serde_json::json;
use tokio::sync::mpsc;

use crate::meter::{self, Latency, Meter, fmt_rate, secs};

#[derive(Debug, Args, Clone)]
pub struct AmqpArgs {
    /// Broker address (host:port).
    #[arg(long, default_value = "127.0.0.1:5672")]
    pub addr: String,
    #[arg(long, default_value = "guest")]
    pub user: String,
    #[arg(long, default_value = "guest")]
    pub pass: String,
    /// Virtual host.
    #[arg(long, default_value = "/")]
    pub vhost: String,
    /// Message body size in bytes (at least 8: the send timestamp is embedded).
    #[arg(long, default_value_t = 1024)]
    pub size: usize,
    /// Stop after this many messages were consumed (all publishers together publish this
    /// many). Without it the run is timed by --duration.
    #[arg(long)]
    pub count: Option<u64>,
    /// Measured seconds after the warm-up (when --count is not given).
    #[arg(long, default_value_t = 10.0)]
    pub duration: f64,
    /// Seconds excluded from the measurement at the start.
    #[arg(long, default_value_t = 2.0)]
    pub warmup: f64,
    /// Publisher connections (one channel each).
    #[arg(long, default_value_t = 1)]
    pub producers: usize,
    /// Consumer connections (one channel and one consumer each).
    #[arg(long, default_value_t = 1)]
    pub consumers: usize,
    /// Durable queue and delivery-mode 2 messages.
    #[arg(long)]
    pub persistent: bool,
    /// Publisher confirms: a publish counts only once the broker acked it.
    #[arg(long)]
    pub confirm: bool,
    /// Unconfirmed publishes in flight per publisher (with --confirm).
    #[arg(long, default_value_t = 256)]
    pub confirm_window: usize,
    /// Publishes handed to the client but not yet written, per publisher (without --confirm).
    #[arg(long, default_value_t = 64)]
    pub pipeline: usize,
    /// basic.qos prefetch count per consumer (0 = unlimited).
    #[arg(long, default_value_t = 256)]
    pub prefetch: u16,
    /// Ack every N deliveries with multiple=true (1 = ack each delivery on its own).
    #[arg(long, default_value_t = 1)]
    pub ack_every: u16,
    /// Consume with no-ack (auto-ack) instead of manual acks.
    #[arg(long)]
    pub no_ack: bool,
    /// Total publish rate limit in msg/s across publishers (default: as fast as possible).
    #[arg(long)]
    pub rate: Option<f64>,
    /// Queue name (default: trident-load-<pid>); the queue is purged first and deleted at the end.
    #[arg(long)]
    pub queue: Option<String>,
    /// Give up when nothing was consumed for this many seconds.
    #[arg(long, default_value_t = 15.0)]
    pub idle_timeout: f64,
    /// Free-form label copied into the JSON line (e.g. trident, rabbitmq).
    #[arg(long, default_value = "")]
    pub label: String,
}

#[derive(Debug, Default)]
struct PubStats {
    nacked: u64,
}

fn uri(a: &AmqpArgs) -> String {
    let vhost = if a.vhost == "/" {
        "%2f".to_string()
    } else {
        a.vhost.clone()
    };
    format!("amqp://{}:{}@{}/{}", a.user, a.pass, a.addr, vhost)
}

async fn connect(a: &AmqpArgs, name: &str) -> Result<Connection> {
    let props = ConnectionProperties::default().with_connection_name(name.into());
    Connection::connect(&uri(a), props)
        .await
        .with_context(|| format!("connecting to amqp://{}", a.addr))
}

pub async fn run(a: AmqpArgs) -> Result<()> {
    if a.size < 8 {
        bail!("--size must be at least 8 (the send timestamp is embedded in the body)");
    }
    if a.producers == 0 || a.consumers == 0 {
        bail!("--producers and --consumers must be at least 1");
    }
    if !a.no_ack && a.prefetch > 0 && a.ack_every > a.prefetch {
        bail!("--ack-every must not exceed --prefetch (the consumer would stall)");
    }
    let queue = a
        .queue
        .clone()
        .unwrap_or_else(|| format!("trident-load-{}", std::process::id()));

    let setup = connect(&a, "trident-load setup").await?;
    let sch = setup.create_channel().await?;
    sch.queue_declare(
        &queue,
        QueueDeclareOptions {
            durable: a.persistent,
            ..QueueDeclareOptions::default()
        },
        FieldTable::default(),
    )
    .await
    .context("queue.declare")?;
    sch.queue_purge(&queue, QueuePurgeOptions::default())
        .await
        .context("queue.purge")?;

    let pub_meter = Arc::new(Meter::new(a.count));
    let con_meter = Arc::new(Meter::new(a.count));
    let stop = Arc::new(AtomicBool::new(false));

    // Consumers first, so that they are subscribed before anything is published.
    let mut consumers = Vec::new();
    for i in 0..a.consumers {
        let conn = connect(&a, &format!("trident-load consumer {i}")).await?;
        let ch = conn.create_channel().await?;
        ch.basic_qos(a.prefetch, BasicQosOptions::default()).await?;
        let c = ch
            .basic_consume(
                &queue,
                &format!("trident-load-{i}"),
                BasicConsumeOptions {
                    no_ack: a.no_ack,
                    ..BasicConsumeOptions::default()
                },
                FieldTable::default(),
            )
            .await
            .context("basic.consume")?;
        let (a2, m, s) = (a.clone(), con_meter.clone(), stop.clone());
        consumers.push((conn, tokio::spawn(consume(a2, ch, c, m, s))));
    }

    let mut publishers = Vec::new();
    for i in 0..a.producers {
        let conn = connect(&a, &format!("trident-load publisher {i}")).await?;
        let ch = conn.create_channel().await?;
        if a.confirm {
            ch.confirm_select(ConfirmSelectOptions::default()).await?;
        }
        let quota = a
            .count
            .map(|n| n / a.producers as u64 + u64::from((i as u64) < n % a.producers as u64));
        let rate = a.rate.map(|r| r / a.producers as f64);
        let (a2, q, m, s) = (a.clone(), queue.clone(), pub_meter.clone(), stop.clone());
        publishers.push((conn, tokio::spawn(publish(a2, ch, q, quota, rate, m, s))));
    }

    // The clock: end of warm-up, then (timed runs) end of the window.
    let clock = {
        let (pm, cm, s) = (pub_meter.clone(), con_meter.clone(), stop.clone());
        let (warmup, duration, timed) = (a.warmup, a.duration, a.count.is_none());
        tokio::spawn(async move {
            tokio::time::sleep(secs(warmup)).await;
            pm.start_window();
            cm.start_window();
            if timed {
                tokio::time::sleep(secs(duration)).await;
                pm.end_window();
                cm.end_window();
                s.store(true, Ordering::Release);
            }
        })
    };

    let mut stats = PubStats::default();
    let mut errors = Vec::new();
    for (_, h) in &mut publishers {
        match h.await {
            Ok(Ok(s)) => stats.nacked += s.nacked,
            Ok(Err(e)) => errors.push(format!("publisher: {e:#}")),
            Err(e) => errors.push(format!("publisher task: {e}")),
        }
    }
    // Wait for the consumers: timed runs end at the stop flag; counted runs when the count
    // was consumed or nothing arrived for --idle-timeout.
    let mut latency = Latency::new();
    for (_, h) in &mut consumers {
        match h.await {
            Ok(Ok(l)) => latency.merge(&l),
            Ok(Err(e)) => errors.push(format!("consumer: {e:#}")),
            Err(e) => errors.push(format!("consumer task: {e}")),
        }
    }
    stop.store(true, Ordering::Release);
    clock.abort();
    pub_meter.end_window();
    con_meter.end_window();

    let p = pub_meter.rate();
    let c = con_meter.rate();
    let complete = a.count.is_none_or(|n| con_meter.count() >= n) && errors.is_empty();

    let _ = sch
        .queue_delete(&queue, QueueDeleteOptions::default())
        .await;
    for conn in publishers
        .iter()
        .map(|(c, _)| c)
        .chain(consumers.iter().map(|(c, _)| c))
    {
        let _ = conn.close(200, "bye").await;
    }
    let _ = setup.close(200, "bye").await;

    let mode = match (a.persistent, a.confirm) {
        (true, true) => "persistent+confirms",
        (true, false) => "persistent",
        (false, true) => "transient+confirms",
        (false, false) => "transient",
    };
    let v = json!({
        "scenario": "amqp",
        "label": a.label,
        "addr": a.addr,
        "mode": mode,
        "size": a.size,
        "producers": a.producers,
        "consumers": a.consumers,
        "persistent": a.persistent,
        "confirm": a.confirm,
        "confirm_window": if a.confirm { Some(a.confirm_window) } else { None },
        "pipeline": if a.confirm { None } else { Some(a.pipeline) },
        "prefetch": a.prefetch,
        "ack_every": if a.no_ack { 0 } else { a.ack_every },
        "rate_limit": a.rate,
        "count": a.count,
        "warmup_s": a.warmup,
        "publish": p.json(),
        "publish_per_s": p.per_sec.round(),
        "nacked": stats.nacked,
        "consume": c.json(),
        "consume_per_s": c.per_sec.round(),
        "latency": latency.json(),
        "complete": complete,
        "errors": errors,
    });
    let human = format!(
        "amqp {} {mode} {}B P={} C={}: publish {} msg/s, consume {} msg/s, end-to-end {}{}",
        crate::meter::broker_name(&a.label, &a.addr),
        a.size,
        a.producers,
        a.consumers,
        fmt_rate(p.per_sec),
        fmt_rate(c.per_sec),
        latency.human(),
        if complete {
            String::new()
        } else {
            format!(" (INCOMPLETE: {:?})", v["errors"])
        }
    );
    meter::report(&v, &human);
    if !complete {
        bail!("run incomplete");
    }
    Ok(())
}

async fn publish(
    a: AmqpArgs,
    ch: Channel,
    queue: String,
    quota: Option<u64>,
    rate: Option<f64>,
    meter: Arc<Meter>,
    stop: Arc<AtomicBool>,
) -> Result<PubStats> {
    let props = if a.persistent {
        BasicProperties::default().with_delivery_mode(2)
    } else {
        BasicProperties::default()
    };
    let window = if a.confirm {
        a.confirm_window
    } else {
        a.pipeline
    }
    .max(1);
    let template = meter::filler(a.size);
    let size = a.size as u64;
    let queue: Arc<str> = queue.into();
    let mut inflight = FuturesUnordered::new();
    let mut stats = PubStats::default();
    let mut seq = 0u64;
    let started = Instant::now();
    loop {
        let more = |seq: u64| !stop.load(Ordering::Acquire) && quota.is_none_or(|q| seq < q);
        let mut due = None;
        while inflight.len() < window && more(seq) {
            if let Some(r) = rate {
                let at = started + Duration::from_secs_f64(seq as f64 / r);
                if at > Instant::now() {
                    due = Some(at);
                    break;
                }
            }
            let mut body = template.clone();
            meter::stamp(&mut body, seq);
            seq += 1;
            let (ch, queue, props) = (ch.clone(), queue.clone(), props.clone());
            inflight.push(async move {
                let confirm = ch
                    .basic_publish("", &queue, BasicPublishOptions::default(), &body, props)
                    .await?;
                confirm.await
            });
        }
        if inflight.is_empty() {
            match due {
                Some(at) => {
                    tokio::time::sleep_until(at.into()).await;
                    continue;
                }
                None => break,
            }
        }
        let next = match due {
            Some(at) => tokio::select! {
                r = inflight.next() => r,
                _ = tokio::time::sleep_until(at.into()) => continue,
            },
            None => inflight.next().await,
        };
        match next {
            Some(Ok(Confirmation::Ack(_) | Confirmation::NotRequested)) => {
                meter.add(1, size);
            }
            Some(Ok(Confirmation::Nack(_))) => stats.nacked += 1,
            Some(Err(e)) => return Err(e).context("basic.publish"),
            None => {}
        }
    }
    Ok(stats)
}

async fn consume(
    a: AmqpArgs,
    ch: Channel,
    mut consumer: lapin::Consumer,
    meter: Arc<Meter>,
    stop: Arc<AtomicBool>,
) -> Result<Latency> {
    let mut lat = Latency::new();
    // Acks go through their own task, in order, so that the receive loop never waits for
    // an ack to be written.
    let (ack_tx, mut ack_rx) = mpsc::unbounded_channel::<(u64, bool)>();
    let acker = {
        let ch = ch.clone();
        tokio::spawn(async move {
            while let Some((tag, multiple)) = ack_rx.recv().await {
                ch.basic_ack(tag, BasicAckOptions { multiple }).await?;
            }
            Ok::<(), lapin::Error>(())
        })
    };
    let ack_every = u64::from(a.ack_every.max(1));
    let multiple = ack_every > 1;
    let mut unacked = 0u64;
    let mut last_tag = 0u64;
    let mut last_seen = Instant::now();
    let idle = secs(a.idle_timeout);
    loop {
        if meter.done() || stop.load(Ordering::Acquire) {
            break;
        }
        let next = tokio::time::timeout(Duration::from_millis(100), consumer.next()).await;
        let delivery = match next {
            Err(_) => {
                if unacked > 0 {
                    let _ = ack_tx.send((last_tag, multiple));
                    unacked = 0;
                }
                if last_seen.elapsed() > idle {
                    break;
                }
                continue;
            }
            Ok(None) => break,
            Ok(Some(d)) => d.context("delivery")?,
        };
        let now = meter::now_ns();
        last_seen = Instant::now();
        if meter.measuring()
            && let Some(ts) = meter::read_stamp(&delivery.data)
        {
            lat.record_ns(now.saturating_sub(ts));
        }
        meter.add(1, delivery.data.len() as u64);
        if !a.no_ack {
            unacked += 1;
            last_tag = delivery.delivery_tag;
            if unacked >= ack_every {
                let _ = ack_tx.send((last_tag, multiple));
                unacked = 0;
            }
        }
    }
    if unacked > 0 {
        let _ = ack_tx.send((last_tag, multiple));
    }
    drop(ack_tx);
    match acker.await {
        Ok(Ok(())) => {}
        // Acks after the measured window may race the connection close; they do not count.
        Ok(Err(e)) if meter.done() => tracing_ack_error(&e),
        Ok(Err(e)) => return Err(e).context("basic.ack"),
        Err(e) => bail!("ack task: {e}"),
    }
    Ok(lat)
}

fn tracing_ack_error(e: &lapin::Error) {
    eprintln!("note: ack after the measured window failed: {e}");
}
