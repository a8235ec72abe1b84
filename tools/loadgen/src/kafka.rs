//! Kafka scenarios with librdkafka (rdkafka): produce throughput, consume throughput, and
//! end-to-end latency at a fixed rate.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use clap::Args;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::{ClientContext, DefaultClientContext};
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::Message;
use rdkafka::producer::{BaseRecord, DeliveryResult, Producer, ProducerContext, ThreadedProducer};
use rdkafka::{Offset, TopicPartitionList};
use serde_json::{Value, json};

use crate::meter::{self, Latency, Meter, fmt_rate, round3, secs};

#[derive(Debug, Args, Clone)]
pub struct Common {
    /// Bootstrap broker (host:port).
    #[arg(long, default_value = "127.0.0.1:9092")]
    pub bootstrap: String,
    #[arg(long)]
    pub topic: String,
    /// Extra librdkafka properties, repeatable: --set queue.buffering.max.messages=1000000
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub set: Vec<String>,
    /// Free-form label copied into the JSON line (e.g. trident, tansu).
    #[arg(long, default_value = "")]
    pub label: String,
}

#[derive(Debug, Args, Clone)]
pub struct ProducerArgs {
    /// acks: 0, 1 or all.
    #[arg(long, default_value = "1")]
    pub acks: String,
    /// linger.ms
    #[arg(long, default_value_t = 5)]
    pub linger_ms: u32,
    /// batch.size in bytes.
    #[arg(long, default_value_t = 1_000_000)]
    pub batch_size: u32,
    /// compression.type: none, gzip, snappy, lz4, zstd.
    #[arg(long, default_value = "none")]
    pub compression: String,
    /// Partitions when the topic is created (an existing topic is used as is).
    #[arg(long, default_value_t = 1)]
    pub partitions: i32,
}

#[derive(Debug, Args, Clone)]
pub struct ProduceArgs {
    #[command(flatten)]
    pub common: Common,
    #[command(flatten)]
    pub producer: ProducerArgs,
    /// Record value size in bytes.
    #[arg(long, default_value_t = 100)]
    pub size: usize,
    /// Records to produce.
    #[arg(long, default_value_t = 1_000_000)]
    pub count: u64,
    /// Seconds excluded from the measured window at the start.
    #[arg(long, default_value_t = 1.0)]
    pub warmup: f64,
}

#[derive(Debug, Args, Clone)]
pub struct ConsumeArgs {
    #[command(flatten)]
    pub common: Common,
    /// Records to consume from the beginning of every partition.
    #[arg(long, default_value_t = 1_000_000)]
    pub count: u64,
    /// Seconds after the first record excluded from the measured window.
    #[arg(long, default_value_t = 0.0)]
    pub warmup: f64,
    /// Give up when nothing arrived for this many seconds.
    #[arg(long, default_value_t = 15.0)]
    pub idle_timeout: f64,
    /// Delete the topic afterwards (DeleteTopics), so that repeated runs do not fill the disk.
    #[arg(long)]
    pub delete_topic: bool,
}

#[derive(Debug, Args, Clone)]
pub struct E2eArgs {
    #[command(flatten)]
    pub common: Common,
    #[command(flatten)]
    pub producer: ProducerArgs,
    #[arg(long, default_value_t = 100)]
    pub size: usize,
    /// Records per second produced (paced).
    #[arg(long, default_value_t = 10_000.0)]
    pub rate: f64,
    /// Measured seconds after the warm-up.
    #[arg(long, default_value_t = 10.0)]
    pub duration: f64,
    #[arg(long, default_value_t = 2.0)]
    pub warmup: f64,
}

fn config(c: &Common) -> Result<ClientConfig> {
    let mut cfg = ClientConfig::new();
    cfg.set("bootstrap.servers", &c.bootstrap);
    for kv in &c.set {
        let (k, v) = kv
            .split_once('=')
            .with_context(|| format!("--set {kv}: expected KEY=VALUE"))?;
        cfg.set(k, v);
    }
    Ok(cfg)
}

fn producer_config(c: &Common, p: &ProducerArgs) -> Result<ClientConfig> {
    let mut cfg = ClientConfig::new();
    cfg.set("bootstrap.servers", &c.bootstrap)
        .set("acks", &p.acks)
        .set("linger.ms", p.linger_ms.to_string())
        .set("batch.size", p.batch_size.to_string())
        .set("compression.type", &p.compression)
        .set("queue.buffering.max.messages", "1000000");
    for kv in &c.set {
        let (k, v) = kv
            .split_once('=')
            .with_context(|| format!("--set {kv}: expected KEY=VALUE"))?;
        cfg.set(k, v);
    }
    Ok(cfg)
}

/// Creates the topic if it does not exist (an existing topic is kept).
fn ensure_topic(c: &Common, partitions: i32) -> Result<()> {
    let admin: AdminClient<DefaultClientContext> = config(c)?.create().context("admin client")?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let topic = NewTopic::new(&c.topic, partitions, TopicReplication::Fixed(1));
    let opts = AdminOptions::new().operation_timeout(Some(Duration::from_secs(10)));
    let res = rt
        .block_on(admin.create_topics([&topic], &opts))
        .context("CreateTopics")?;
    for r in res {
        match r {
            Ok(_) | Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
            Err((t, code)) => eprintln!("note: CreateTopics {t}: {code} (relying on auto-create)"),
        }
    }
    Ok(())
}

/// Counts acknowledged deliveries and their ack latency (send -> delivery report).
struct ProdCtx {
    meter: Arc<Meter>,
    size: u64,
    ack_latency: Mutex<Latency>,
    errors: AtomicU64,
    first_error: Mutex<Option<String>>,
}

impl ClientContext for ProdCtx {}

impl ProducerContext for ProdCtx {
    type DeliveryOpaque = usize;

    fn delivery(&self, r: &DeliveryResult<'_>, sent_ns: usize) {
        match r {
            Ok(_) => {
                if self.meter.measuring()
                    && let Ok(mut l) = self.ack_latency.lock()
                {
                    l.record_ns(meter::now_ns().saturating_sub(sent_ns as u64));
                }
                self.meter.add(1, self.size);
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

impl ProdCtx {
    fn new(meter: Arc<Meter>, size: usize) -> Self {
        Self {
            meter,
            size: size as u64,
            ack_latency: Mutex::new(Latency::new()),
            errors: AtomicU64::new(0),
            first_error: Mutex::new(None),
        }
    }
    fn latency(&self) -> Latency {
        self.ack_latency
            .lock()
            .map(|l| l.clone())
            .unwrap_or_default()
    }
    fn first_error(&self) -> Option<String> {
        self.first_error.lock().ok().and_then(|f| f.clone())
    }
}

/// Sends one record, waiting while librdkafka's local queue is full.
fn send(p: &ThreadedProducer<ProdCtx>, topic: &str, payload: &[u8]) -> Result<()> {
    let mut rec = BaseRecord::<(), [u8], usize>::with_opaque_to(topic, meter::now_ns() as usize)
        .payload(payload);
    loop {
        match p.send(rec) {
            Ok(()) => return Ok(()),
            Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), r)) => {
                rec = r;
                std::thread::sleep(Duration::from_micros(200));
            }
            Err((e, _)) => bail!("produce: {e}"),
        }
    }
}

fn producer_json(p: &ProducerArgs) -> Value {
    json!({
        "acks": p.acks,
        "linger_ms": p.linger_ms,
        "batch_size": p.batch_size,
        "compression": p.compression,
        "partitions": p.partitions,
    })
}

fn name(c: &Common) -> &str {
    crate::meter::broker_name(&c.label, &c.bootstrap)
}

pub fn produce(a: ProduceArgs) -> Result<()> {
    if a.size < 8 {
        bail!("--size must be at least 8 (the send timestamp is embedded)");
    }
    ensure_topic(&a.common, a.producer.partitions)?;
    let meter = Arc::new(Meter::new(Some(a.count)));
    let producer: ThreadedProducer<ProdCtx> = producer_config(&a.common, &a.producer)?
        .create_with_context(ProdCtx::new(meter.clone(), a.size))
        .context("producer")?;
    let mut buf = meter::filler(a.size);
    let started = Instant::now();
    let warmup = secs(a.warmup);
    let mut window_started = false;
    for seq in 0..a.count {
        meter::stamp(&mut buf, seq);
        send(&producer, &a.common.topic, &buf)?;
        if !window_started && seq.is_multiple_of(1024) && started.elapsed() >= warmup {
            meter.start_window();
            window_started = true;
        }
    }
    let send_secs = started.elapsed().as_secs_f64();
    // Wait for every delivery report (acks), then for the warm-up if it has not ended.
    let flushed = producer.flush(Duration::from_secs(120));
    meter.end_window();
    let total_secs = started.elapsed().as_secs_f64();
    let ctx = producer.context();
    let r = meter.rate();
    let errors = ctx.errors.load(Ordering::Relaxed);
    let complete = flushed.is_ok() && meter.count() == a.count;
    let lat = ctx.latency();
    let v = json!({
        "scenario": "kafka-produce",
        "label": a.common.label,
        "bootstrap": a.common.bootstrap,
        "topic": a.common.topic,
        "size": a.size,
        "count": a.count,
        "producer": producer_json(&a.producer),
        "set": a.common.set,
        "warmup_s": a.warmup,
        "acked": r.json(),
        "records_per_s": r.per_sec.round(),
        "mib_per_s": round3(r.mib_per_sec),
        "overall_records_per_s": (meter.count() as f64 / total_secs).round(),
        "send_s": round3(send_secs),
        "ack_latency": lat.json(),
        "errors": errors,
        "first_error": ctx.first_error(),
        "complete": complete,
    });
    let human = format!(
        "kafka-produce {} {}B acks={} linger={}ms {}: {} records/s, {:.1} MiB/s (overall {} records/s), ack latency {}{}",
        name(&a.common),
        a.size,
        a.producer.acks,
        a.producer.linger_ms,
        a.producer.compression,
        fmt_rate(r.per_sec),
        r.mib_per_sec,
        fmt_rate(meter.count() as f64 / total_secs),
        lat.human(),
        if complete {
            String::new()
        } else {
            format!(
                " (INCOMPLETE: {} acked of {}, {errors} errors)",
                meter.count(),
                a.count
            )
        }
    );
    meter::report(&v, &human);
    if !complete {
        bail!("run incomplete");
    }
    Ok(())
}

fn assign_all(consumer: &BaseConsumer, topic: &str, at_end: bool) -> Result<usize> {
    let md = consumer
        .fetch_metadata(Some(topic), Duration::from_secs(10))
        .context("metadata")?;
    let t = md
        .topics()
        .iter()
        .find(|t| t.name() == topic)
        .context("topic not in metadata")?;
    if let Some(e) = t.error() {
        bail!("topic {topic}: {e:?}");
    }
    let mut tpl = TopicPartitionList::new();
    for p in t.partitions() {
        let offset = if at_end {
            let (_, high) = consumer
                .fetch_watermarks(topic, p.id(), Duration::from_secs(10))
                .context("watermarks")?;
            Offset::Offset(high)
        } else {
            Offset::Beginning
        };
        tpl.add_partition_offset(topic, p.id(), offset)?;
    }
    consumer.assign(&tpl).context("assign")?;
    Ok(t.partitions().len())
}

/// Checks what a consumer receives: a record whose offset is not above the last one seen
/// on its partition is a redelivery and does not count; a sequence number (written by the
/// producer) seen twice at distinct offsets is a stored duplicate, reported separately.
#[derive(Debug, Default)]
struct Seen {
    last_offset: std::collections::HashMap<i32, i64>,
    seqs: Vec<u64>,
    offset_repeats: u64,
    offset_gaps: u64,
    seq_repeats: u64,
}

/// Sequence numbers above this are not tracked (the bitset would be too large).
const MAX_TRACKED_SEQ: u64 = 1 << 30;

impl Seen {
    /// True when the record is new on its partition (its offset is above the last seen).
    fn check(&mut self, partition: i32, offset: i64, payload: &[u8]) -> bool {
        let last = self.last_offset.entry(partition).or_insert(-1);
        if offset <= *last {
            self.offset_repeats += 1;
            return false;
        }
        if *last >= 0 && offset > *last + 1 {
            // Normal after compacted or transactional batches; counted for information.
            self.offset_gaps += 1;
        }
        *last = offset;
        if let Some(seq) = meter::read_seq(payload)
            && seq < MAX_TRACKED_SEQ
        {
            let (word, bit) = ((seq / 64) as usize, seq % 64);
            if self.seqs.len() <= word {
                self.seqs.resize(word + 1, 0);
            }
            if self.seqs[word] & (1 << bit) != 0 {
                self.seq_repeats += 1;
            }
            self.seqs[word] |= 1 << bit;
        }
        true
    }

    fn json(&self) -> Value {
        json!({
            "redelivered_offsets": self.offset_repeats,
            "offset_gaps": self.offset_gaps,
            "duplicate_payloads": self.seq_repeats,
        })
    }
}

fn consumer_config(c: &Common) -> Result<BaseConsumer> {
    let mut cfg = ClientConfig::new();
    cfg.set("bootstrap.servers", &c.bootstrap)
        .set("group.id", "trident-load")
        .set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false")
        .set("auto.offset.reset", "earliest")
        // librdkafka (>= 2.4) pauses a partition's fetching for fetch.queue.backoff.ms (default
        // 1000 ms) whenever its local queue passes queued.min.messages: a broker that answers
        // fast enough to fill the queue then sees one-second idle gaps, and the measurement
        // becomes the backoff. 10 ms keeps the queue topped up; --set overrides it.
        .set("fetch.queue.backoff.ms", "10");
    for kv in &c.set {
        let (k, v) = kv
            .split_once('=')
            .with_context(|| format!("--set {kv}: expected KEY=VALUE"))?;
        cfg.set(k, v);
    }
    cfg.create().context("consumer")
}

pub fn consume(a: ConsumeArgs) -> Result<()> {
    let consumer = consumer_config(&a.common)?;
    let partitions = assign_all(&consumer, &a.common.topic, false)?;
    let assigned_at = Instant::now();
    let mut meter: Option<Meter> = None;
    let mut first_at = None;
    let mut window_started = false;
    let warmup = secs(a.warmup);
    let idle = secs(a.idle_timeout);
    let mut last = Instant::now();
    let mut n = 0u64;
    let mut seen = Seen::default();
    loop {
        match consumer.poll(Duration::from_millis(100)) {
            Some(Ok(m)) => {
                let len = m.payload_len() as u64;
                if !seen.check(m.partition(), m.offset(), m.payload().unwrap_or_default()) {
                    continue;
                }
                let mt = meter.get_or_insert_with(|| {
                    first_at = Some(Instant::now());
                    Meter::new(Some(a.count))
                });
                n = mt.add(1, len);
                if !window_started
                    && n.is_multiple_of(1024)
                    && first_at.is_some_and(|f| f.elapsed() >= warmup)
                {
                    mt.start_window();
                    window_started = true;
                }
                if n >= a.count {
                    break;
                }
                last = Instant::now();
            }
            Some(Err(e)) => bail!("consume: {e}"),
            None => {
                if last.elapsed() > idle {
                    break;
                }
            }
        }
    }
    let Some(mt) = meter else {
        bail!("nothing consumed from {} within {:?}", a.common.topic, idle);
    };
    mt.end_window();
    let r = mt.rate();
    let complete = n >= a.count;
    let v = json!({
        "scenario": "kafka-consume",
        "label": a.common.label,
        "bootstrap": a.common.bootstrap,
        "topic": a.common.topic,
        "partitions": partitions,
        "count": a.count,
        "set": a.common.set,
        "warmup_s": a.warmup,
        "time_to_first_record_s": first_at.map(|f| round3(f.duration_since(assigned_at).as_secs_f64())),
        "consumed": r.json(),
        "records_per_s": r.per_sec.round(),
        "mib_per_s": round3(r.mib_per_sec),
        "checks": seen.json(),
        "complete": complete,
    });
    let human = format!(
        "kafka-consume {} {}: {} records/s, {:.1} MiB/s over {:.2}s{}{}",
        name(&a.common),
        a.common.topic,
        fmt_rate(r.per_sec),
        r.mib_per_sec,
        r.secs,
        anomalies(&seen),
        if complete {
            String::new()
        } else {
            format!(" (INCOMPLETE: {n} of {})", a.count)
        }
    );
    meter::report(&v, &human);
    drop(consumer);
    if a.delete_topic {
        delete_topic(&a.common)?;
    }
    if !complete {
        bail!("run incomplete");
    }
    Ok(())
}

fn anomalies(s: &Seen) -> String {
    if s.offset_repeats == 0 && s.seq_repeats == 0 {
        return String::new();
    }
    format!(
        " [{} redelivered offsets not counted, {} duplicate payloads]",
        s.offset_repeats, s.seq_repeats
    )
}

fn delete_topic(c: &Common) -> Result<()> {
    let admin: AdminClient<DefaultClientContext> = config(c)?.create().context("admin client")?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let opts = AdminOptions::new().operation_timeout(Some(Duration::from_secs(10)));
    let res = rt
        .block_on(admin.delete_topics(&[c.topic.as_str()], &opts))
        .context("DeleteTopics")?;
    for r in res {
        if let Err((t, code)) = r {
            eprintln!("note: DeleteTopics {t}: {code}");
        }
    }
    Ok(())
}

pub fn e2e(a: E2eArgs) -> Result<()> {
    if a.size < 8 {
        bail!("--size must be at least 8 (the send timestamp is embedded)");
    }
    ensure_topic(&a.common, a.producer.partitions)?;
    let consumer = consumer_config(&a.common)?;
    assign_all(&consumer, &a.common.topic, true)?;
    // Let the consumer reach the end of the log before producing.
    let _ = consumer.poll(Duration::from_millis(500));

    let pmeter = Arc::new(Meter::new(None));
    let cmeter = Arc::new(Meter::new(None));
    let stop = Arc::new(AtomicBool::new(false));
    let producer: ThreadedProducer<ProdCtx> = producer_config(&a.common, &a.producer)?
        .create_with_context(ProdCtx::new(pmeter.clone(), a.size))
        .context("producer")?;

    let consumer_thread = {
        let (cm, stop) = (cmeter.clone(), stop.clone());
        let pm = pmeter.clone();
        std::thread::spawn(move || -> Result<(Latency, Seen)> {
            let mut lat = Latency::new();
            let mut seen = Seen::default();
            let mut quiet_since: Option<Instant> = None;
            loop {
                match consumer.poll(Duration::from_millis(50)) {
                    Some(Ok(m)) => {
                        let now = meter::now_ns();
                        let payload = m.payload().unwrap_or_default();
                        if !seen.check(m.partition(), m.offset(), payload) {
                            continue;
                        }
                        if cm.measuring()
                            && let Some(ts) = meter::read_stamp(payload)
                        {
                            lat.record_ns(now.saturating_sub(ts));
                        }
                        cm.add(1, payload.len() as u64);
                        quiet_since = None;
                    }
                    Some(Err(e)) => bail!("consume: {e}"),
                    None => {
                        if stop.load(Ordering::Acquire) {
                            let q = *quiet_since.get_or_insert_with(Instant::now);
                            if cm.count() >= pm.count() || q.elapsed() > Duration::from_secs(5) {
                                return Ok((lat, seen));
                            }
                        }
                    }
                }
            }
        })
    };

    let clock = {
        let (pm, cm) = (pmeter.clone(), cmeter.clone());
        let (warmup, duration) = (secs(a.warmup), secs(a.duration));
        std::thread::spawn(move || {
            std::thread::sleep(warmup);
            pm.start_window();
            cm.start_window();
            std::thread::sleep(duration);
            pm.end_window();
            cm.end_window();
        })
    };

    let mut buf = meter::filler(a.size);
    let started = Instant::now();
    let mut seq = 0u64;
    while !pmeter.done() {
        let due = started + Duration::from_secs_f64(seq as f64 / a.rate);
        let now = Instant::now();
        if due > now {
            std::thread::sleep(due - now);
        }
        meter::stamp(&mut buf, seq);
        send(&producer, &a.common.topic, &buf)?;
        seq += 1;
    }
    let _ = clock.join();
    let flushed = producer.flush(Duration::from_secs(60));
    stop.store(true, Ordering::Release);
    let (lat, seen) = match consumer_thread.join() {
        Ok(r) => r?,
        Err(_) => bail!("consumer thread panicked"),
    };
    let p = pmeter.rate();
    let c = cmeter.rate();
    let ctx = producer.context();
    let ack = ctx.latency();
    let complete = flushed.is_ok()
        && cmeter.count() >= pmeter.count()
        && ctx.errors.load(Ordering::Relaxed) == 0;
    let v = json!({
        "scenario": "kafka-e2e",
        "label": a.common.label,
        "bootstrap": a.common.bootstrap,
        "topic": a.common.topic,
        "size": a.size,
        "rate": a.rate,
        "producer": producer_json(&a.producer),
        "set": a.common.set,
        "warmup_s": a.warmup,
        "duration_s": a.duration,
        "produced": p.json(),
        "consumed": c.json(),
        "end_to_end_latency": lat.json(),
        "ack_latency": ack.json(),
        "sent": seq,
        "acked_total": pmeter.count(),
        "consumed_total": cmeter.count(),
        "checks": seen.json(),
        "complete": complete,
    });
    let human = format!(
        "kafka-e2e {} {}B acks={} at {} records/s: end-to-end {}; produce ack {}{}{}",
        name(&a.common),
        a.size,
        a.producer.acks,
        fmt_rate(a.rate),
        lat.human(),
        ack.human(),
        anomalies(&seen),
        if complete {
            String::new()
        } else {
            format!(
                " (INCOMPLETE: consumed {} of {} acked)",
                cmeter.count(),
                pmeter.count()
            )
        }
    );
    meter::report(&v, &human);
    if !complete {
        bail!("run incomplete");
    }
    Ok(())
}
