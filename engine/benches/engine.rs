//! Engine benchmarks without any protocol in the way: queue publish/consume (transient,
//! and persistent with confirms), and the deep-backlog comparison of a queue and a
//! topic filled with many 1 KiB messages, reporting throughput at the start and at the
//! end of filling and of draining, and peak RSS.
//!
//! `cargo bench -p trident-engine --bench engine`; scale with environment variables:
//! `TRIDENT_BENCH_MESSAGES` (queue/topic throughput runs, default 200000) and
//! `TRIDENT_BENCH_BACKLOG` (the backlog run, default 10000000; 0 skips it),
//! `TRIDENT_BENCH_ADAPTER_PUTS` (adapter store writes per run, default 4000).
//! `TRIDENT_BENCH_DIR` chooses where the data goes (default: a temp dir).

use std::sync::Arc;
use std::time::Instant;

use bytes::{Bytes, BytesMut};
use tokio::sync::mpsc;
use trident_core::{
    BatchEncoding, ConnectionId, DeliveryMode, ExchangeName, Message, QueueDef, QueueName,
    TopicConfig, TopicName,
};
use trident_engine::{
    AppendRequest, ConsumerEvent, ConsumerOptions, Engine, EngineConfig, PublishOptions, Vhost,
};

/// The broker binary runs on mimalloc; so does this benchmark, so that memory figures
/// describe what the broker would use.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const BODY: usize = 1024;

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// A memory figure of this process from /proc (Linux), in MiB: `VmHWM` is the peak
/// resident set, `VmRSS` the current one.
fn proc_status_mib(field: &str) -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / 1024.0)
}

fn memory_line(after: &str) {
    println!(
        "  memory after {after}: RSS {:.0} MiB, peak {:.0} MiB",
        proc_status_mib("VmRSS:"),
        proc_status_mib("VmHWM:")
    );
}

fn rate(n: u64, secs: f64) -> String {
    format!("{:>10.0} msg/s", n as f64 / secs.max(1e-9))
}

async fn queue(v: &Vhost, name: &str, durable: bool) -> QueueName {
    let q = QueueName::new(name).expect("name");
    let mut def = QueueDef::new(q.clone());
    def.durable = durable;
    v.declare_queue(def, ConnectionId(1))
        .await
        .expect("declare");
    q
}

/// Publishes `n` messages; returns the time taken for each tenth.
async fn fill_queue(v: &Vhost, q: &QueueName, n: u64, persistent: bool, confirm: bool) -> Vec<f64> {
    let body = Bytes::from(vec![b'x'; BODY]);
    let mut tenths = Vec::new();
    let tenth = (n / 10).max(1);
    let mut t = Instant::now();
    let mut pending = std::collections::VecDeque::new();
    for i in 0..n {
        let mut m = Message::new(body.clone());
        m.routing_key = q.as_str().to_string();
        if persistent {
            m.delivery_mode = DeliveryMode::Persistent;
        }
        let p = v
            .publish(
                m,
                &ExchangeName::default_exchange(),
                PublishOptions {
                    confirm,
                    mandatory: false,
                },
            )
            .await
            .expect("publish");
        if let Some(c) = p.confirm {
            // Keep a window of confirms in flight, as a pipelining publisher does.
            pending.push_back(c);
            if pending.len() >= 1000
                && let Some(c) = pending.pop_front()
            {
                c.wait().await.expect("confirmed");
            }
        }
        if (i + 1) % tenth == 0 {
            while let Some(c) = pending.pop_front() {
                c.wait().await.expect("confirmed");
            }
            tenths.push(t.elapsed().as_secs_f64());
            t = Instant::now();
        }
    }
    tenths
}

async fn drain_queue(v: &Vhost, q: &QueueName, n: u64) -> Vec<f64> {
    let (tx, mut rx) = mpsc::unbounded_channel();
    let tag: Arc<str> = Arc::from("bench");
    let queue = v
        .consume(
            q,
            ConsumerOptions {
                tag: tag.clone(),
                no_ack: true,
                exclusive: false,
                owner: ConnectionId(1),
                initial_credit: 2000,
            },
            tx,
        )
        .await
        .expect("consume");
    let tenth = (n / 10).max(1);
    let mut tenths = Vec::new();
    let mut t = Instant::now();
    for i in 0..n {
        match rx.recv().await {
            Some(ConsumerEvent::Deliver(_)) => {}
            other => panic!("unexpected {other:?}"),
        }
        if (i + 1) % 1000 == 0 {
            queue.grant(tag.clone(), 1000).await.expect("grant");
        }
        if (i + 1) % tenth == 0 {
            tenths.push(t.elapsed().as_secs_f64());
            t = Instant::now();
        }
    }
    queue.cancel(tag).await.expect("cancel");
    tenths
}

fn report(label: &str, n: u64, tenths: &[f64]) {
    let tenth = n / 10;
    let total: f64 = tenths.iter().sum();
    let first = tenths.first().copied().unwrap_or(0.0);
    let last = tenths.last().copied().unwrap_or(0.0);
    println!(
        "{label:<44} total {}  first 10% {}  last 10% {}  (last/first {:.2})",
        rate(n, total),
        rate(tenth, first),
        rate(tenth, last),
        (tenth as f64 / last.max(1e-9)) / (tenth as f64 / first.max(1e-9))
    );
}

fn record_batch(records: u32) -> BytesMut {
    let mut b = BytesMut::with_capacity(8 + records as usize * BODY);
    b.extend_from_slice(&[0u8; 8]);
    b.extend_from_slice(&vec![b'r'; records as usize * BODY]);
    b
}

async fn fill_topic(engine: &Engine, name: &str, n: u64, batch: u32) -> Vec<f64> {
    let topic = engine
        .create_topic(TopicName::new(name).expect("name"), TopicConfig::default())
        .await
        .expect("topic");
    let p = topic.partition(0).expect("p0").clone();
    let batches = n / u64::from(batch);
    let tenth = (batches / 10).max(1);
    let mut tenths = Vec::new();
    let mut t = Instant::now();
    let template = record_batch(batch);
    let mut inflight = tokio::task::JoinSet::new();
    for i in 0..batches {
        let p = p.clone();
        let bytes = template.clone();
        inflight.spawn(async move {
            p.append(AppendRequest {
                record_count: batch,
                max_timestamp: 0,
                encoding: BatchEncoding::RecordBatchV2,
                bytes,
                producer: None,
                wait_durable: true,
            })
            .await
        });
        if inflight.len() >= 16 {
            inflight
                .join_next()
                .await
                .expect("task")
                .expect("join")
                .expect("call")
                .expect("append");
        }
        if (i + 1) % tenth == 0 {
            while let Some(r) = inflight.join_next().await {
                r.expect("join").expect("call").expect("append");
            }
            tenths.push(t.elapsed().as_secs_f64());
            t = Instant::now();
        }
    }
    tenths
}

async fn drain_topic(engine: &Engine, name: &str, n: u64) -> Vec<f64> {
    let topic = engine.topic(name).expect("topic");
    let p = topic.partition(0).expect("p0");
    let tenth = (n / 10).max(1);
    let mut tenths = Vec::new();
    let mut t = Instant::now();
    let mut offset = 0u64;
    let mut next_mark = tenth;
    while offset < n {
        let r = p.read(offset, 1 << 20).await.expect("read");
        let Some(last) = r.batches.last() else { break };
        offset = last.next_offset();
        while offset >= next_mark && tenths.len() < 10 {
            tenths.push(t.elapsed().as_secs_f64());
            t = Instant::now();
            next_mark += tenth;
        }
    }
    tenths
}

async fn run() {
    let base = match std::env::var("TRIDENT_BENCH_DIR") {
        Ok(d) => tempfile::tempdir_in(d).expect("bench dir"),
        Err(_) => tempfile::tempdir().expect("temp dir"),
    };
    let n = env_u64("TRIDENT_BENCH_MESSAGES", 200_000);
    let backlog = env_u64("TRIDENT_BENCH_BACKLOG", 10_000_000);
    println!(
        "machine: {} cores; body {BODY} B",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );

    let engine = Engine::open(EngineConfig::new(base.path().join("throughput")))
        .await
        .expect("open");
    let v = engine.vhost("/").expect("vhost");
    let q = queue(&v, "transient", false).await;
    report(
        "queue publish, transient",
        n,
        &fill_queue(&v, &q, n, false, false).await,
    );
    report(
        "queue consume (no-ack), transient",
        n,
        &drain_queue(&v, &q, n).await,
    );
    let q = queue(&v, "durable", true).await;
    report(
        "queue publish, persistent + confirms (fsync)",
        n,
        &fill_queue(&v, &q, n, true, true).await,
    );
    report(
        "queue consume (no-ack), persistent",
        n,
        &drain_queue(&v, &q, n).await,
    );
    report(
        "topic append, 100-record batches, acks=all",
        n,
        &fill_topic(&engine, "tput", n, 100).await,
    );
    report(
        "topic read, 1 MiB fetches",
        n,
        &drain_topic(&engine, "tput", n).await,
    );
    memory_line("the throughput runs");
    let puts = env_u64("TRIDENT_BENCH_ADAPTER_PUTS", 4000);
    for writers in [1, 16, 256] {
        println!(
            "adapter store put (64 B, fsynced), {writers} concurrent writers: {:.0} writes/s",
            adapter_puts(&engine, writers, puts.max(writers)).await
        );
    }
    engine.shutdown().await;
    drop(engine);

    if backlog > 0 {
        println!("\ndeep backlog: {backlog} messages of {BODY} B into one queue and one topic");
        let engine = Engine::open(EngineConfig::new(base.path().join("backlog")))
            .await
            .expect("open");
        let v = engine.vhost("/").expect("vhost");
        let q = queue(&v, "deep", false).await;
        report(
            "queue fill (transient, pages to disk)",
            backlog,
            &fill_queue(&v, &q, backlog, false, false).await,
        );
        memory_line("filling the queue");
        report("queue drain", backlog, &drain_queue(&v, &q, backlog).await);
        memory_line("draining the queue");
        report(
            "topic fill (100-record batches)",
            backlog,
            &fill_topic(&engine, "deep", backlog, 100).await,
        );
        memory_line("filling the topic");
        report(
            "topic drain",
            backlog,
            &drain_topic(&engine, "deep", backlog).await,
        );
        memory_line("draining the topic");
        engine.shutdown().await;
    }
}

/// Durable adapter-state writes (each returns once fsynced) by `writers` concurrent
/// writers: what group commit buys when many sessions write at once.
async fn adapter_puts(engine: &Engine, writers: u64, total: u64) -> f64 {
    let store = engine.adapter_store("bench").expect("namespace");
    let per = total / writers;
    let start = Instant::now();
    let tasks: Vec<_> = (0..writers)
        .map(|w| {
            let store = store.clone();
            tokio::spawn(async move {
                for i in 0..per {
                    store
                        .put(&format!("w{w}/{i}"), vec![0u8; 64])
                        .await
                        .expect("put");
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.expect("writer");
    }
    (per * writers) as f64 / start.elapsed().as_secs_f64()
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(run());
}
