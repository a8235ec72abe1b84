//! Kafka flows with librdkafka: a ThreadedProducer per producer, a BaseConsumer per
//! receiver, each on its own blocking thread (librdkafka has its own threads anyway).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::{ClientContext, DefaultClientContext};
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::Message;
use rdkafka::producer::{BaseRecord, DeliveryResult, Producer, ProducerContext, ThreadedProducer};
use rdkafka::{Offset, TopicPartitionList};

use super::Run;
use crate::args::HostPort;
use crate::flow::{Finish, Layout, Quota, Receiver, summarize, unique_name};
use crate::row::Measured;
use crate::stamp;

#[derive(Debug, Clone)]
pub struct Flow {
    /// "0", "1" or "all".
    pub acks: &'static str,
    pub linger_ms: u32,
    pub batch_size: u32,
    pub partitions: i32,
    pub layout: Layout,
    /// Consumer settings beyond the defaults (push-pull's fetch variants).
    pub consumer: &'static [(&'static str, &'static str)],
    /// Producer settings beyond the defaults (idempotence).
    pub producer: &'static [(&'static str, &'static str)],
    /// Records appended before the measured run (backlog); fan-out readers then start
    /// at the end of the log, so the backlog stays in it unread.
    pub preload: u64,
}

impl Flow {
    /// acks=1, linger 5 ms, 1 MB batches, librdkafka's consumer defaults.
    pub fn new(layout: Layout, partitions: i32) -> Flow {
        Flow {
            acks: "1",
            linger_ms: 5,
            batch_size: 1_000_000,
            partitions,
            layout,
            consumer: &[],
            producer: &[],
            preload: 0,
        }
    }
}

struct Acked {
    ok: AtomicU64,
    errors: AtomicU64,
    first_error: std::sync::Mutex<Option<String>>,
}

impl ClientContext for Acked {}

impl ProducerContext for Acked {
    type DeliveryOpaque = ();

    fn delivery(&self, r: &DeliveryResult<'_>, _: ()) {
        match r {
            Ok(_) => {
                self.ok.fetch_add(1, Ordering::Relaxed);
            }
            Err((e, _)) => {
                self.errors.fetch_add(1, Ordering::Relaxed);
                if let Ok(mut f) = self.first_error.lock() {
                    f.get_or_insert_with(|| e.to_string());
                }
            }
        }
    }
}

pub(crate) fn create_topic(bootstrap: &str, topic: &str, partitions: i32) -> Result<()> {
    create_topic_with(bootstrap, topic, partitions, &[])
}

/// CreateTopics with topic configs (cross: `trident.forward.*`).
pub(crate) fn create_topic_with(
    bootstrap: &str,
    topic: &str,
    partitions: i32,
    config: &[(&str, &str)],
) -> Result<()> {
    let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .create()
        .context("admin client")?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let mut t = NewTopic::new(topic, partitions, TopicReplication::Fixed(1));
    for (k, v) in config {
        t = t.set(k, v);
    }
    let opts = AdminOptions::new().operation_timeout(Some(Duration::from_secs(10)));
    let res = rt
        .block_on(admin.create_topics([&t], &opts))
        .with_context(|| format!("CreateTopics at kafka://{bootstrap}"))?;
    for r in res {
        match r {
            Ok(_) | Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
            Err((t, code)) => bail!("CreateTopics {t}: {code}"),
        }
    }
    Ok(())
}

pub(crate) fn delete_topic(bootstrap: &str, topic: &str) {
    let Ok(admin) = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .create::<AdminClient<DefaultClientContext>>()
    else {
        return;
    };
    if let Ok(rt) = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        let opts = AdminOptions::new().operation_timeout(Some(Duration::from_secs(10)));
        let _ = rt.block_on(admin.delete_topics(&[topic], &opts));
    }
}

pub async fn run(addr: &HostPort, flow: Flow, run: &Run) -> Result<Measured> {
    let bootstrap = addr.to_string();
    let topic = unique_name("kafka");
    // A discard server (send-only) has no CreateTopics: its Metadata knows every topic.
    let admin = flow.layout != Layout::SendOnly;
    if admin {
        let (b, t, p) = (bootstrap.clone(), topic.clone(), flow.partitions);
        tokio::task::spawn_blocking(move || create_topic(&b, &t, p))
            .await
            .context("admin task")??;
    }
    // Where fan-out readers start: the beginning, or the end of the backlog.
    let mut start_at = vec![Offset::Beginning; flow.partitions.max(1) as usize];
    if flow.preload > 0 {
        let (b, t, f) = (bootstrap.clone(), topic.clone(), flow.clone());
        let size = run.size;
        start_at = tokio::task::spawn_blocking(move || -> Result<Vec<Offset>> {
            produce(
                &b,
                &t,
                &f,
                stamp::BACKLOG,
                Quota::Count(f.preload),
                size,
                None,
            )?;
            high_watermarks(&b, &t, f.partitions)
        })
        .await
        .context("backlog task")??;
    }
    let finish = Finish::new(run.quick);
    let mut receivers = Vec::new();
    let mut assigned = Vec::new();
    let group = unique_name("group");
    for i in 0..flow.layout.receivers() {
        let mut cfg = ClientConfig::new();
        let group_id = match flow.layout {
            Layout::Fanout(_) => format!("{group}-{i}"),
            _ => group.clone(),
        };
        cfg.set("bootstrap.servers", &bootstrap)
            .set("group.id", &group_id)
            .set("enable.auto.commit", "false")
            .set("auto.offset.reset", "earliest")
            // librdkafka >= 2.4 otherwise pauses a partition's fetching for a second
            // whenever its local queue fills, and the run measures the backoff.
            .set("fetch.queue.backoff.ms", "10")
            .set("fetch.error.backoff.ms", "10");
        for (k, v) in flow.consumer {
            cfg.set(*k, *v);
        }
        let consumer: BaseConsumer = cfg.create().context("consumer")?;
        match flow.layout {
            Layout::Fanout(_) => {
                let mut tpl = TopicPartitionList::new();
                for (p, at) in start_at.iter().enumerate() {
                    tpl.add_partition_offset(&topic, p as i32, *at)?;
                }
                consumer.assign(&tpl).context("assign")?;
            }
            _ => consumer.subscribe(&[&topic]).context("subscribe")?,
        }
        let r = Receiver::new(flow.layout, finish.clone(), run.progress.clone());
        let owned = Arc::new(AtomicUsize::new(0));
        assigned.push(owned.clone());
        receivers.push(tokio::task::spawn_blocking(move || {
            receive_owning(consumer, r, Some(owned))
        }));
    }
    if let Layout::Competing(_) = flow.layout {
        // Wait until the group gave out every partition (a join takes 3 s with Kafka's
        // initial rebalance delay, 5 to 20 s on some Kafka-protocol brokers), so that
        // latency is not the join.
        let deadline = Instant::now() + Duration::from_secs(60);
        while assigned
            .iter()
            .map(|a| a.load(Ordering::Acquire))
            .sum::<usize>()
            < flow.partitions.max(1) as usize
            && Instant::now() < deadline
        {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    if flow.layout != Layout::SendOnly {
        // Let assigned readers resolve their start offsets and send their first fetch
        // before producing, so that latency is not the start.
        tokio::time::sleep(Duration::from_millis(if run.quick { 500 } else { 3000 })).await;
    }

    let started = Instant::now();
    let mut producers = Vec::new();
    for i in 0..run.producers {
        let quota = Quota::split(run.budget, i, run.producers, started);
        let (b, t, f) = (bootstrap.clone(), topic.clone(), flow.clone());
        let size = run.size;
        let send_only = (flow.layout == Layout::SendOnly).then(|| run.progress.clone());
        producers.push(tokio::task::spawn_blocking(move || {
            produce(&b, &t, &f, i as u32, quota, size, send_only)
        }));
    }
    let mut sent = Vec::new();
    let mut note = String::new();
    for (i, p) in producers.into_iter().enumerate() {
        let (n, errors) = p.await.context("producer task")??;
        if let Some(e) = errors {
            note = e;
        }
        sent.push((i as u32, n));
    }
    finish.produced(sent.iter().map(|s| s.1).sum());
    let mut done = Vec::new();
    for r in receivers {
        done.push(r.await.context("consumer task")??);
    }
    let mut m = summarize(flow.layout, &sent, done, started, run.size);
    if !note.is_empty() {
        m.note = note;
    }
    if admin {
        let (b, t) = (bootstrap.clone(), topic.clone());
        let _ = tokio::task::spawn_blocking(move || delete_topic(&b, &t)).await;
    }
    Ok(m)
}

/// Each partition's end offset, where a reader that skips the backlog starts.
pub(crate) fn high_watermarks(
    bootstrap: &str,
    topic: &str,
    partitions: i32,
) -> Result<Vec<Offset>> {
    let c: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .create()
        .context("consumer")?;
    (0..partitions.max(1))
        .map(|p| {
            let (_, high) = c
                .fetch_watermarks(topic, p, Duration::from_secs(10))
                .context("ListOffsets")?;
            Ok(Offset::Offset(high))
        })
        .collect()
}

/// Produces the quota and waits for every delivery report; returns what was sent and,
/// if deliveries failed, a note saying how many and why.
pub(crate) fn produce(
    bootstrap: &str,
    topic: &str,
    f: &Flow,
    producer: u32,
    quota: Quota,
    size: usize,
    send_only: Option<Arc<crate::progress::Progress>>,
) -> Result<(u64, Option<String>)> {
    let ctx = Acked {
        ok: AtomicU64::new(0),
        errors: AtomicU64::new(0),
        first_error: std::sync::Mutex::new(None),
    };
    let mut cfg = ClientConfig::new();
    cfg.set("bootstrap.servers", bootstrap)
        .set("acks", f.acks)
        .set("linger.ms", f.linger_ms.to_string())
        .set("batch.size", f.batch_size.to_string())
        .set("queue.buffering.max.messages", "1000000");
    for (k, v) in f.producer {
        cfg.set(*k, *v);
    }
    let p: ThreadedProducer<Acked> = cfg.create_with_context(ctx).context("producer")?;
    let mut body = stamp::filler(size);
    let mut seq = 0u64;
    let mut reported = 0u64;
    while quota.more(seq) {
        stamp::write(&mut body, producer, seq);
        let key = seq.to_le_bytes();
        let mut rec = BaseRecord::<[u8], [u8], ()>::to(topic)
            .payload(&body[..])
            .key(&key[..]);
        loop {
            match p.send(rec) {
                Ok(()) => break,
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), r)) => {
                    rec = r;
                    std::thread::sleep(Duration::from_micros(200));
                }
                Err((e, _)) => bail!("produce: {e}"),
            }
        }
        seq += 1;
        if let Some(pr) = &send_only {
            let ok = p.context().ok.load(Ordering::Relaxed);
            pr.add(ok - reported);
            reported = ok;
        }
    }
    p.flush(Duration::from_secs(60)).context("flush")?;
    let ctx = p.context();
    let errors = ctx.errors.load(Ordering::Relaxed);
    let note = (errors > 0).then(|| {
        let first = ctx.first_error.lock().ok().and_then(|f| f.clone());
        format!("{errors} deliveries failed: {}", first.unwrap_or_default())
    });
    Ok((seq, note))
}

pub(crate) fn receive(consumer: BaseConsumer, r: Receiver) -> Result<Receiver> {
    receive_owning(consumer, r, None)
}

/// Like [`receive`]; until the consumer owns partitions, publishes how many to `owned`.
fn receive_owning(
    consumer: BaseConsumer,
    mut r: Receiver,
    mut owned: Option<Arc<AtomicUsize>>,
) -> Result<Receiver> {
    while !r.done() {
        if let Some(o) = &owned {
            let n = consumer.assignment().map(|a| a.count()).unwrap_or(0);
            o.store(n, Ordering::Release);
            if n > 0 {
                owned = None;
            }
        }
        match consumer.poll(Duration::from_millis(100)) {
            None => r.waiting(),
            Some(Err(e)) => bail!("consume: {e}"),
            Some(Ok(m)) => r.on_message(m.payload().unwrap_or_default()),
        }
    }
    Ok(r)
}
