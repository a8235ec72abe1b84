//! MQTT throughput, end-to-end latency, loss and duplicates with rumqttc: P publishers
//! and S subscribers on one topic (fan-in: 4 -> 1, fan-out: 1 -> 50), QoS 0, 1 or 2.
//!
//! Every payload carries the send timestamp, a per-publisher sequence number and the
//! publisher's index. A publish counts as sent once the broker acknowledged it (PUBACK,
//! PUBCOMP; at QoS 0 once it was written); after the run each subscriber's receptions are
//! checked against every publisher's acknowledged set: what is missing is lost, what came
//! twice is a duplicate. QoS 0 may lose by definition; at QoS 1 and 2 a loss is a broker
//! failure, and a duplicate at QoS 2 too.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use clap::Args;
use serde_json::json;

use crate::meter::{self, Latency, Meter, fmt_rate, secs};
use crate::mqtt_link::{self, Client, Ev, Link, Protocol};

#[derive(Debug, Args, Clone)]
pub struct MqttArgs {
    /// Broker address (host:port).
    #[arg(long, default_value = "127.0.0.1:1883")]
    pub addr: String,
    /// MQTT version: 311 or 5.
    #[arg(long, value_enum, default_value = "311")]
    pub protocol: Protocol,
    /// QoS of the publishes and the subscriptions (0, 1, 2).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u8).range(0..=2))]
    pub qos: u8,
    #[arg(long, default_value_t = 1)]
    pub publishers: usize,
    #[arg(long, default_value_t = 1)]
    pub subscribers: usize,
    /// Payload size in bytes (at least 20: timestamp, sequence number, publisher index).
    #[arg(long, default_value_t = 128)]
    pub size: usize,
    /// Publish this many messages (all publishers together) instead of a timed run.
    #[arg(long)]
    pub count: Option<u64>,
    /// Measured seconds after the warm-up (when --count is not given).
    #[arg(long, default_value_t = 10.0)]
    pub duration: f64,
    /// Seconds excluded from the measurement at the start.
    #[arg(long, default_value_t = 2.0)]
    pub warmup: f64,
    /// Total publish rate in msg/s across publishers (default: saturation).
    #[arg(long)]
    pub rate: Option<f64>,
    /// Unacknowledged QoS 1/2 publishes per publisher (5.0: also the broker's Receive
    /// Maximum).
    #[arg(long, default_value_t = 100)]
    pub inflight: u16,
    /// Requests queued inside each client before `publish` waits.
    #[arg(long, default_value_t = 10)]
    pub client_queue: usize,
    /// Topic (default trident-load/<pid>).
    #[arg(long)]
    pub topic: Option<String>,
    /// After publishing: seconds to wait for outstanding acks, and seconds without any
    /// new delivery before the missing ones count as lost.
    #[arg(long, default_value_t = 5.0)]
    pub drain: f64,
    /// Free-form label copied into the JSON line (e.g. trident, mosquitto).
    #[arg(long, default_value = "")]
    pub label: String,
    /// Persistent sessions for every client (clean session / clean start off), as a
    /// durable subscriber uses them; the default is clean sessions.
    #[arg(long)]
    pub persistent_sessions: bool,
}

/// A set of sequence numbers, one bit each.
#[derive(Debug, Default, Clone)]
struct Seqs {
    bits: Vec<u64>,
    len: u64,
}

impl Seqs {
    /// Adds `seq`; false if it was already there.
    fn insert(&mut self, seq: u64) -> bool {
        let (word, bit) = ((seq / 64) as usize, seq % 64);
        if word >= self.bits.len() {
            self.bits.resize(word + 1, 0);
        }
        let fresh = self.bits[word] & (1 << bit) == 0;
        self.bits[word] |= 1 << bit;
        self.len += u64::from(fresh);
        fresh
    }

    /// How many of `self` are not in `other`.
    fn missing_from(&self, other: &Seqs) -> u64 {
        let mut n = 0;
        for (i, w) in self.bits.iter().enumerate() {
            let o = other.bits.get(i).copied().unwrap_or(0);
            n += u64::from((w & !o).count_ones());
        }
        n
    }
}

/// What one publisher's connection saw.
#[derive(Debug, Default)]
struct Published {
    sent: u64,
    acked: Seqs,
}

/// What one subscriber received.
#[derive(Debug, Default)]
struct Received {
    per_publisher: Vec<Seqs>,
    duplicates: u64,
    foreign: u64,
    latency: Latency,
}

const INDEX_AT: usize = 16;

fn stamp(body: &mut [u8], seq: u64, publisher: u32) {
    meter::stamp(body, seq);
    body[INDEX_AT..INDEX_AT + 4].copy_from_slice(&publisher.to_le_bytes());
}

fn publisher_of(body: &[u8]) -> Option<usize> {
    let b: [u8; 4] = body.get(INDEX_AT..INDEX_AT + 4)?.try_into().ok()?;
    Some(u32::from_le_bytes(b) as usize)
}

/// Shared run state: when publishing stops, when waiting for stragglers ends.
#[derive(Debug, Default)]
struct Flags {
    stop_publishing: AtomicBool,
    give_up_acks: AtomicBool,
    stop_subscribers: AtomicBool,
}

pub async fn run(a: MqttArgs) -> Result<()> {
    if a.size < INDEX_AT + 4 {
        bail!("--size must be at least 20 (timestamp, sequence number, publisher index)");
    }
    if a.publishers == 0 || a.subscribers == 0 {
        bail!("--publishers and --subscribers must be at least 1");
    }
    let pid = std::process::id();
    let topic = a
        .topic
        .clone()
        .unwrap_or_else(|| format!("trident-load/{pid}"));
    let flags = Arc::new(Flags::default());
    let pub_meter = Arc::new(Meter::new(a.count));
    let sub_meter = Arc::new(Meter::new(a.count.map(|n| n * a.subscribers as u64)));

    // Subscribers first, each subscribed (SUBACK seen) before anything is published.
    let mut subs = Vec::new();
    for i in 0..a.subscribers {
        let (client, mut link) = mqtt_link::connect(
            a.protocol,
            &a.addr,
            &format!("tl-{pid}-s{i}"),
            100,
            16,
            a.persistent_sessions,
        )
        .await
        .with_context(|| format!("subscriber {i}"))?;
        client.subscribe(&topic, a.qos).await?;
        while !matches!(link.next().await?, Ev::SubAcked) {}
        let received = Arc::new(AtomicU64::new(0));
        let task = tokio::spawn(subscribe(
            link,
            a.publishers,
            sub_meter.clone(),
            flags.clone(),
            received.clone(),
        ));
        subs.push((client, task, received));
    }
    let mut pubs = Vec::new();
    for i in 0..a.publishers {
        let (client, link) = mqtt_link::connect(
            a.protocol,
            &a.addr,
            &format!("tl-{pid}-p{i}"),
            a.inflight,
            a.client_queue,
            a.persistent_sessions,
        )
        .await
        .with_context(|| format!("publisher {i}"))?;
        let quota = a
            .count
            .map(|n| n / a.publishers as u64 + u64::from((i as u64) < n % a.publishers as u64));
        let rate = a.rate.map(|r| r / a.publishers as f64);
        let written = Arc::new(AtomicU64::new(u64::MAX));
        let events = tokio::spawn(publisher_events(
            link,
            a.qos,
            a.size as u64,
            pub_meter.clone(),
            flags.clone(),
            written.clone(),
        ));
        let sender = tokio::spawn(publish(
            client.clone(),
            topic.clone(),
            a.clone(),
            i as u32,
            quota,
            rate,
            flags.clone(),
            written,
        ));
        pubs.push((client, sender, events));
    }

    let clock = {
        let (pm, sm, f) = (pub_meter.clone(), sub_meter.clone(), flags.clone());
        let (warmup, duration, timed) = (a.warmup, a.duration, a.count.is_none());
        tokio::spawn(async move {
            tokio::time::sleep(secs(warmup)).await;
            pm.start_window();
            sm.start_window();
            if timed {
                tokio::time::sleep(secs(duration)).await;
                pm.end_window();
                sm.end_window();
                f.stop_publishing.store(true, Ordering::Release);
            }
        })
    };

    let mut errors = Vec::new();
    for (_, sender, _) in &mut pubs {
        match sender.await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => errors.push(format!("publisher: {e:#}")),
            Err(e) => errors.push(format!("publisher task: {e}")),
        }
    }
    flags.stop_publishing.store(true, Ordering::Release);
    pub_meter.end_window();
    sub_meter.end_window();
    clock.abort();

    // Outstanding acks first (bounded by --drain), then deliveries: wait while they keep
    // arriving, and give up after --drain seconds without one. Only then is what is
    // missing counted as lost, not merely late.
    let giver = {
        let (f, left) = (flags.clone(), secs(a.drain));
        tokio::spawn(async move {
            tokio::time::sleep(left).await;
            f.give_up_acks.store(true, Ordering::Release);
        })
    };
    let mut published = Vec::new();
    for (_, _, events) in &mut pubs {
        match events.await {
            Ok(Ok(p)) => published.push(p),
            Ok(Err(e)) => {
                errors.push(format!("publisher connection: {e:#}"));
                published.push(Published::default());
            }
            Err(e) => {
                errors.push(format!("publisher events task: {e}"));
                published.push(Published::default());
            }
        }
    }
    giver.abort();
    let acked: u64 = published.iter().map(|p| p.acked.len).sum();
    let expected = acked * a.subscribers as u64;
    let counted = || -> u64 { subs.iter().map(|(_, _, r)| r.load(Ordering::Acquire)).sum() };
    let (mut last, mut quiet_since) = (counted(), Instant::now());
    while last < expected && quiet_since.elapsed() < secs(a.drain) {
        tokio::time::sleep(Duration::from_millis(20)).await;
        let now = counted();
        if now != last {
            (last, quiet_since) = (now, Instant::now());
        }
    }
    flags.stop_subscribers.store(true, Ordering::Release);

    let mut latency = Latency::new();
    let (mut lost, mut duplicates, mut received, mut foreign) = (0u64, 0u64, 0u64, 0u64);
    for (_, task, _) in &mut subs {
        match task.await {
            Ok(Ok(r)) => {
                latency.merge(&r.latency);
                duplicates += r.duplicates;
                foreign += r.foreign;
                for (i, p) in published.iter().enumerate() {
                    let got = r.per_publisher.get(i).cloned().unwrap_or_default();
                    lost += p.acked.missing_from(&got);
                    received += got.len;
                }
            }
            Ok(Err(e)) => errors.push(format!("subscriber: {e:#}")),
            Err(e) => errors.push(format!("subscriber task: {e}")),
        }
    }
    for (c, _, _) in &pubs {
        c.disconnect().await;
    }
    for (c, _, _) in &subs {
        c.disconnect().await;
    }

    let sent: u64 = published.iter().map(|p| p.sent).sum();
    let (p, d) = (pub_meter.rate(), sub_meter.rate());
    let complete = errors.is_empty();
    let scenario = match (a.publishers, a.subscribers) {
        (1, 1) => "1-1".to_string(),
        (n, 1) => format!("fan-in {n}-1"),
        (1, n) => format!("fan-out 1-{n}"),
        (n, m) => format!("{n}-{m}"),
    };
    let v = json!({
        "scenario": "mqtt",
        "label": a.label,
        "addr": a.addr,
        "protocol": match a.protocol { Protocol::V311 => "3.1.1", Protocol::V5 => "5.0" },
        "qos": a.qos,
        "persistent_sessions": a.persistent_sessions,
        "shape": scenario,
        "publishers": a.publishers,
        "subscribers": a.subscribers,
        "size": a.size,
        "inflight": a.inflight,
        "rate_limit": a.rate,
        "count": a.count,
        "warmup_s": a.warmup,
        "publish": p.json(),
        "publish_per_s": p.per_sec.round(),
        "deliver": d.json(),
        "deliver_per_s": d.per_sec.round(),
        "latency": latency.json(),
        "written": sent,
        "acked": acked,
        "unacked": sent.saturating_sub(acked),
        "expected_deliveries": expected,
        "received": received,
        "lost": lost,
        "duplicates": duplicates,
        "foreign": foreign,
        "complete": complete,
        "errors": errors,
    });
    let human = format!(
        "mqtt {} {} QoS{} {scenario} {}B: publish {} msg/s, deliver {} msg/s, end-to-end {}; \
         acked {acked}, lost {lost}, duplicated {duplicates}{}",
        meter::broker_name(&a.label, &a.addr),
        v["protocol"].as_str().unwrap_or("?"),
        a.qos,
        a.size,
        fmt_rate(p.per_sec),
        fmt_rate(d.per_sec),
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

#[allow(clippy::too_many_arguments)]
async fn publish(
    client: Client,
    topic: String,
    a: MqttArgs,
    index: u32,
    quota: Option<u64>,
    rate: Option<f64>,
    flags: Arc<Flags>,
    written: Arc<AtomicU64>,
) -> Result<()> {
    let template = meter::filler(a.size);
    let started = Instant::now();
    let mut seq = 0u64;
    let result = async {
        while !flags.stop_publishing.load(Ordering::Acquire) && quota.is_none_or(|q| seq < q) {
            if let Some(r) = rate {
                let at = started + Duration::from_secs_f64(seq as f64 / r);
                tokio::time::sleep_until(at.into()).await;
            }
            let mut body = template.clone();
            stamp(&mut body, seq, index);
            client.publish(&topic, a.qos, body).await?;
            seq += 1;
        }
        Ok(())
    }
    .await;
    // The event task finishes once this many were written and acknowledged.
    written.store(seq, Ordering::Release);
    result
}

/// Runs a publisher's event loop: maps packet ids to sequence numbers as publishes are
/// written and records each acknowledgement.
async fn publisher_events(
    mut link: Link,
    qos: u8,
    size: u64,
    meter: Arc<Meter>,
    flags: Arc<Flags>,
    written: Arc<AtomicU64>,
) -> Result<Published> {
    let mut out = Published::default();
    let mut pending: HashMap<u16, u64> = HashMap::new();
    loop {
        let total = written.load(Ordering::Acquire);
        if (total != u64::MAX && out.sent >= total && pending.is_empty())
            || flags.give_up_acks.load(Ordering::Acquire)
        {
            return Ok(out);
        }
        let ev = match tokio::time::timeout(Duration::from_millis(50), link.next()).await {
            Err(_) => continue,
            Ok(ev) => ev?,
        };
        match ev {
            Ev::Sent(id) => {
                let seq = out.sent;
                out.sent += 1;
                if qos == 0 {
                    out.acked.insert(seq);
                    meter.add(1, size);
                } else {
                    pending.insert(id, seq);
                }
            }
            Ev::Acked(id) => {
                if let Some(seq) = pending.remove(&id) {
                    out.acked.insert(seq);
                    meter.add(1, size);
                }
            }
            _ => {}
        }
    }
}

async fn subscribe(
    mut link: Link,
    publishers: usize,
    meter: Arc<Meter>,
    flags: Arc<Flags>,
    counted: Arc<AtomicU64>,
) -> Result<Received> {
    let mut r = Received {
        per_publisher: vec![Seqs::default(); publishers],
        ..Received::default()
    };
    while !flags.stop_subscribers.load(Ordering::Acquire) {
        let ev = match tokio::time::timeout(Duration::from_millis(50), link.next()).await {
            Err(_) => continue,
            Ok(ev) => ev?,
        };
        let Ev::Message(body) = ev else { continue };
        let now = meter::now_ns();
        let (Some(seq), Some(p)) = (meter::read_seq(&body), publisher_of(&body)) else {
            r.foreign += 1;
            continue;
        };
        let Some(seen) = r.per_publisher.get_mut(p) else {
            r.foreign += 1;
            continue;
        };
        if !seen.insert(seq) {
            r.duplicates += 1;
            continue;
        }
        counted.fetch_add(1, Ordering::AcqRel);
        if meter.measuring()
            && let Some(ts) = meter::read_stamp(&body)
        {
            r.latency.record_ns(now.saturating_sub(ts));
        }
        meter.add(1, body.len() as u64);
    }
    Ok(r)
}
