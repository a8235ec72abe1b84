//! Restart cost of a deep durable queue: how long `Engine::open` takes on a data
//! directory holding one durable queue with N persistent messages (what a broker restart
//! after `kill -9` spends before it serves), and how long until the first message is
//! delivered. The baseline, measured in the same run, is reading the queue's files once
//! from start to end (what any recovery that looks at every message pays at least).
//!
//! `cargo bench -p trident-engine --bench recovery`; `TRIDENT_BENCH_RECOVERY` sets N
//! (default 1000000), `TRIDENT_BENCH_BODY` the body size (default 300 bytes, about
//! 360 bytes per message on disk), `TRIDENT_BENCH_DIR` where the data goes (default: a
//! temp dir; the filled directory is kept there and reused by later runs).
//! `TRIDENT_BENCH_COLD=1` evicts the data directory's pages from the page cache before
//! each run (`posix_fadvise(DONTNEED)`, this directory's files only), as after a reboot.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use tokio::sync::mpsc;
use trident_core::{ConnectionId, DeliveryMode, ExchangeName, Message, QueueDef, QueueName};
use trident_engine::{ConsumerEvent, ConsumerOptions, Engine, EngineConfig, PublishOptions};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const RUNS: usize = 5;

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

async fn fill(dir: &Path, n: u64, body: usize) {
    let engine = Engine::open(EngineConfig::new(dir)).await.expect("open");
    let v = engine.vhost("/").expect("vhost");
    let q = QueueName::new("deep").expect("name");
    let mut def = QueueDef::new(q.clone());
    def.durable = true;
    v.declare_queue(def, ConnectionId(1))
        .await
        .expect("declare");
    let body = Bytes::from(vec![b'x'; body]);
    let mut pending = std::collections::VecDeque::new();
    for _ in 0..n {
        let mut m = Message::new(body.clone());
        m.routing_key = "deep".into();
        m.delivery_mode = DeliveryMode::Persistent;
        let opts = PublishOptions {
            confirm: true,
            mandatory: false,
        };
        let p = v
            .publish(m, &ExchangeName::default_exchange(), opts)
            .await
            .expect("publish");
        if let Some(c) = p.confirm {
            pending.push_back(c);
            if pending.len() >= 2000
                && let Some(c) = pending.pop_front()
            {
                c.wait().await.expect("confirmed");
            }
        }
    }
    for c in pending {
        c.wait().await.expect("confirmed");
    }
    engine.shutdown().await;
}

/// Opens the engine and waits for the first delivery from the deep queue.
async fn restart(dir: &Path) -> (Duration, Duration, u64) {
    let t = Instant::now();
    let engine = Engine::open(EngineConfig::new(dir)).await.expect("open");
    let opened = t.elapsed();
    let v = engine.vhost("/").expect("vhost");
    let q = QueueName::new("deep").expect("name");
    let ready = v.queue(&q).expect("queue recovered").stats().ready;
    let (tx, mut rx) = mpsc::unbounded_channel();
    let tag: Arc<str> = Arc::from("first");
    let opts = ConsumerOptions {
        tag: tag.clone(),
        no_ack: false,
        exclusive: false,
        owner: ConnectionId(1),
        initial_credit: 1,
    };
    let queue = v.consume(&q, opts, tx).await.expect("consume");
    match rx.recv().await {
        Some(ConsumerEvent::Deliver(_)) => {}
        other => panic!("unexpected {other:?}"),
    }
    let first = t.elapsed();
    queue.cancel(tag).await.expect("cancel");
    // Unacked: the message goes back when the engine closes.
    engine.shutdown().await;
    (opened, first, ready)
}

fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).expect("read dir").flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out
}

/// Drops the cached pages of every file under `dir` (GNU dd's `nocache`, which is
/// `posix_fadvise(DONTNEED)` after a data sync; the workspace forbids the unsafe call).
fn evict(dir: &Path) {
    for p in files(dir) {
        let status = std::process::Command::new("dd")
            .arg(format!("if={}", p.display()))
            .args(["iflag=nocache", "count=0", "status=none"])
            .status();
        assert!(
            status.is_ok_and(|s| s.success()),
            "dd could not evict {}",
            p.display()
        );
    }
}

fn read_all(dir: &Path) -> u64 {
    files(dir)
        .iter()
        .filter_map(|p| std::fs::read(p).ok())
        .map(|b| b.len() as u64)
        .sum()
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let n = env_u64("TRIDENT_BENCH_RECOVERY", 1_000_000);
    let body = env_u64("TRIDENT_BENCH_BODY", 300) as usize;
    let base = match std::env::var("TRIDENT_BENCH_DIR") {
        Ok(d) => PathBuf::from(d),
        Err(_) => std::env::temp_dir(),
    };
    let dir = base.join(format!("trident-recovery-{n}x{body}"));
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let stamp = dir.join(".filled");
    if !stamp.exists() {
        let _ = std::fs::remove_dir_all(&dir);
        let t = Instant::now();
        rt.block_on(fill(&dir, n, body));
        std::fs::write(&stamp, b"").expect("stamp");
        println!(
            "filled {n} x {body} B persistent messages in {:.1} s",
            t.elapsed().as_secs_f64()
        );
    }
    let queues = dir.join("queues");
    let mut reads = Vec::new();
    let mut opens = Vec::new();
    let mut firsts = Vec::new();
    let mut bytes = 0;
    let cold = std::env::var("TRIDENT_BENCH_COLD").is_ok_and(|v| v == "1");
    for _ in 0..RUNS {
        if cold {
            evict(&dir);
        }
        let t = Instant::now();
        bytes = read_all(&queues);
        reads.push(t.elapsed().as_secs_f64());
        if cold {
            evict(&dir);
        }
        let (opened, first, ready) = rt.block_on(restart(&dir));
        assert_eq!(ready, n, "every message recovered");
        opens.push(opened.as_secs_f64());
        firsts.push(first.as_secs_f64());
    }
    let (read, open, first) = (median(reads), median(opens), median(firsts));
    let per_million = 1e6 / n as f64;
    println!(
        "recovery of {n} durable messages ({:.0} MiB on disk), {} page cache, median of {RUNS}:",
        bytes as f64 / 1048576.0,
        if cold { "cold" } else { "warm" }
    );
    println!(
        "  baseline: read the queue's files once      {:>7.3} s",
        read
    );
    println!(
        "  Engine::open                              {:>7.3} s  ({:.3} s per million, {:.2}x the baseline)",
        open,
        open * per_million,
        open / read.max(1e-9)
    );
    println!(
        "  open to first delivery                    {:>7.3} s  ({:.3} s per million)",
        first,
        first * per_million
    );
}
