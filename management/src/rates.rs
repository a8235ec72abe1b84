//! Message rates over time: a sampler that reads the engine's cumulative counters and
//! depths every [`SAMPLE_INTERVAL`] and keeps the last [`SAMPLES_KEPT`] samples (ten
//! minutes) in a ring buffer, for the broker as a whole, per queue and per topic.
//!
//! The API reports them as RabbitMQ does: next to a counter `publish` comes
//! `publish_details: {"rate": ..}` (per second, over the last interval), and when the
//! request asks for a range (`?msg_rates_age=600&msg_rates_incr=5`, RabbitMQ's query
//! parameters) also `samples` (newest first), `avg_rate` and `avg`. The dashboard's
//! charts are drawn from those samples, so the browser keeps no history of its own and
//! a page opened late still shows the last ten minutes.
//!
//! Memory: one sample is a timestamp and a few `u64`s, so a queue costs about 7 KiB of
//! history; objects that disappear lose theirs at the next sample.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use serde_json::{Map, Value, json};
use trident_engine::{Engine, Metrics};

/// How often the sampler reads the engine (RabbitMQ's default `sample_retention`
/// granularity is also 5 s).
pub const SAMPLE_INTERVAL: Duration = Duration::from_secs(5);
/// Samples kept per object: ten minutes at the interval above.
pub const SAMPLES_KEPT: usize = 120;

/// Fields of the broker-wide series; the first [`OVERVIEW_COUNTERS`] are counters.
pub const OVERVIEW_FIELDS: [&str; 9] = [
    "publish",
    "deliver_get",
    "ack",
    "return_unroutable",
    "records_appended",
    "records_fetched",
    "messages",
    "messages_ready",
    "messages_unacknowledged",
];
const OVERVIEW_COUNTERS: usize = 6;

/// Fields of a queue's series; the first [`QUEUE_COUNTERS`] are counters.
pub const QUEUE_FIELDS: [&str; 6] = [
    "publish",
    "deliver_get",
    "ack",
    "messages",
    "messages_ready",
    "messages_unacknowledged",
];
const QUEUE_COUNTERS: usize = 3;

/// Fields of a topic's series: records appended (the sum of end offsets, a counter)
/// and records retained (a gauge).
pub const TOPIC_FIELDS: [&str; 2] = ["publish", "messages"];
const TOPIC_COUNTERS: usize = 1;

/// What one reading of the engine found.
#[derive(Debug, Clone, Default)]
pub struct Reading {
    pub overview: [u64; 9],
    /// Keyed by (vhost, queue).
    pub queues: HashMap<(String, String), [u64; 6]>,
    pub topics: HashMap<String, [u64; 2]>,
}

impl Reading {
    /// Reads the engine's counters and depths now.
    pub fn of(engine: &Engine) -> Reading {
        let m = engine.metrics();
        let stats = engine.stats();
        let mut r = Reading::default();
        let (mut ready, mut unacked) = (0u64, 0u64);
        for q in &stats.queues {
            let s = &q.stats;
            ready += s.ready;
            unacked += s.unacked;
            r.queues.insert(
                (q.vhost.to_string(), q.name.to_string()),
                [
                    s.published,
                    s.delivered,
                    s.acked,
                    s.ready + s.unacked,
                    s.ready,
                    s.unacked,
                ],
            );
        }
        for p in &stats.partitions {
            let t = r.topics.entry(p.topic.to_string()).or_default();
            t[0] += p.high_watermark;
            t[1] += p.high_watermark.saturating_sub(p.log_start_offset);
        }
        r.overview = [
            Metrics::get(&m.messages_published),
            Metrics::get(&m.messages_delivered),
            Metrics::get(&m.messages_acked),
            Metrics::get(&m.messages_unroutable),
            Metrics::get(&m.records_appended),
            Metrics::get(&m.records_fetched),
            ready + unacked,
            ready,
            unacked,
        ];
        r
    }
}

/// One object's samples, oldest first: (milliseconds since the epoch, values).
#[derive(Debug, Clone)]
struct Series<const N: usize> {
    samples: VecDeque<(i64, [u64; N])>,
}

impl<const N: usize> Series<N> {
    fn new() -> Self {
        Self {
            samples: VecDeque::new(),
        }
    }

    fn push(&mut self, at_ms: i64, values: [u64; N], keep: usize) {
        if self.samples.len() >= keep {
            self.samples.pop_front();
        }
        self.samples.push_back((at_ms, values));
    }
}

/// Which samples a request wants (RabbitMQ's `msg_rates_age` / `msg_rates_incr`, in
/// seconds).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Range {
    pub age_s: u64,
    pub incr_s: u64,
}

impl Range {
    /// From a query string: `msg_rates_age` (or `lengths_age`) asks for samples;
    /// `msg_rates_incr` defaults to the sampling interval. Nonsense values are clamped
    /// to what is kept rather than refused, as RabbitMQ does.
    pub fn from_query(query: Option<&str>) -> Option<Range> {
        let mut age = None;
        let mut incr = None;
        for pair in query.unwrap_or("").split('&') {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            let v = v.parse::<u64>().ok();
            match k {
                "msg_rates_age" | "lengths_age" => age = age.or(v),
                "msg_rates_incr" | "lengths_incr" => incr = incr.or(v),
                _ => {}
            }
        }
        let interval = SAMPLE_INTERVAL.as_secs();
        let kept = interval * SAMPLES_KEPT as u64;
        age.map(|a| Range {
            age_s: a.clamp(interval, kept),
            incr_s: incr.unwrap_or(interval).clamp(interval, kept),
        })
    }
}

#[derive(Debug)]
struct History {
    keep: usize,
    overview: Series<9>,
    queues: HashMap<(String, String), Series<6>>,
    topics: HashMap<String, Series<2>>,
}

/// The sampler's history, shared by every handler.
#[derive(Debug, Clone)]
pub struct Rates {
    inner: Arc<Mutex<History>>,
}

impl Default for Rates {
    fn default() -> Self {
        Self::new(SAMPLES_KEPT)
    }
}

impl Rates {
    /// An empty history keeping `keep` samples per object. Nothing samples it until
    /// [`Rates::start`] or [`Rates::record`].
    pub fn new(keep: usize) -> Self {
        Self {
            inner: Arc::new(Mutex::new(History {
                keep: keep.max(2),
                overview: Series::new(),
                queues: HashMap::new(),
                topics: HashMap::new(),
            })),
        }
    }

    /// A history sampled from `engine` now and then every [`SAMPLE_INTERVAL`] by a task
    /// that ends when the last handle is dropped. Needs a tokio runtime.
    pub fn start(engine: Engine) -> Self {
        let rates = Self::default();
        let weak: Weak<Mutex<History>> = Arc::downgrade(&rates.inner);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(SAMPLE_INTERVAL);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                let Some(inner) = weak.upgrade() else { return };
                let reading = Reading::of(&engine);
                Rates { inner }.record(trident_core::message::now_ms(), reading);
            }
        });
        rates
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, History> {
        // A panic elsewhere while holding the lock leaves plain numbers behind; they
        // are still fine to read.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Adds one reading taken at `at_ms`. Objects missing from it (deleted) lose
    /// their history.
    pub fn record(&self, at_ms: i64, reading: Reading) {
        let mut h = self.lock();
        let keep = h.keep;
        h.overview.push(at_ms, reading.overview, keep);
        h.queues.retain(|k, _| reading.queues.contains_key(k));
        for (k, v) in reading.queues {
            h.queues
                .entry(k)
                .or_insert_with(Series::new)
                .push(at_ms, v, keep);
        }
        h.topics.retain(|k, _| reading.topics.contains_key(k));
        for (k, v) in reading.topics {
            h.topics
                .entry(k)
                .or_insert_with(Series::new)
                .push(at_ms, v, keep);
        }
    }

    /// `{field}_details` for the broker as a whole.
    pub fn overview(&self, range: Option<Range>) -> Map<String, Value> {
        details(
            &self.lock().overview,
            &OVERVIEW_FIELDS,
            OVERVIEW_COUNTERS,
            range,
        )
    }

    /// `{field}_details` for one queue (empty before its first sample).
    pub fn queue(&self, vhost: &str, queue: &str, range: Option<Range>) -> Map<String, Value> {
        let h = self.lock();
        match h.queues.get(&(vhost.to_string(), queue.to_string())) {
            Some(s) => details(s, &QUEUE_FIELDS, QUEUE_COUNTERS, range),
            None => details(&Series::<6>::new(), &QUEUE_FIELDS, QUEUE_COUNTERS, range),
        }
    }

    /// `{field}_details` for one topic (empty before its first sample).
    pub fn topic(&self, topic: &str, range: Option<Range>) -> Map<String, Value> {
        let h = self.lock();
        match h.topics.get(topic) {
            Some(s) => details(s, &TOPIC_FIELDS, TOPIC_COUNTERS, range),
            None => details(&Series::<2>::new(), &TOPIC_FIELDS, TOPIC_COUNTERS, range),
        }
    }
}

/// Puts `{field}_details` beside their fields, RabbitMQ's layout: counters inside
/// `value["message_stats"]` (created when missing), depths at the top level (or inside
/// `value[depths_in]` when given, as `queue_totals` of the overview).
pub fn attach(
    value: &mut Value,
    details: Map<String, Value>,
    counters: &[&str],
    depths_in: Option<&str>,
) {
    let Value::Object(obj) = value else { return };
    for (key, d) in details {
        let field = key.trim_end_matches("_details");
        let target = if counters.contains(&field) {
            Some("message_stats")
        } else {
            depths_in
        };
        match target {
            Some(t) => {
                let slot = obj.entry(t).or_insert_with(|| Value::Object(Map::new()));
                if let Value::Object(inner) = slot {
                    inner.insert(key, d);
                }
            }
            None => {
                obj.insert(key, d);
            }
        }
    }
}

/// The counter fields of each series, for [`attach`].
pub const OVERVIEW_COUNTER_FIELDS: &[&str] = OVERVIEW_FIELDS.split_at(OVERVIEW_COUNTERS).0;
pub const QUEUE_COUNTER_FIELDS: &[&str] = QUEUE_FIELDS.split_at(QUEUE_COUNTERS).0;
pub const TOPIC_COUNTER_FIELDS: &[&str] = TOPIC_FIELDS.split_at(TOPIC_COUNTERS).0;

/// Per second between two samples; counters never go backwards (an object deleted and
/// re-created between two samples restarts at zero), depths may.
fn rate(older: (i64, u64), newer: (i64, u64), counter: bool) -> f64 {
    let dt = (newer.0 - older.0) as f64 / 1000.0;
    if dt <= 0.0 {
        return 0.0;
    }
    let dv = newer.1 as f64 - older.1 as f64;
    let r = dv / dt;
    let r = if counter { r.max(0.0) } else { r };
    // Two decimals, as RabbitMQ shows them; keeps the JSON short.
    (r * 100.0).round() / 100.0
}

fn details<const N: usize>(
    series: &Series<N>,
    fields: &[&str; N],
    counters: usize,
    range: Option<Range>,
) -> Map<String, Value> {
    let s = &series.samples;
    let mut out = Map::new();
    for (i, field) in fields.iter().enumerate() {
        let counter = i < counters;
        let mut d = Map::new();
        let r = match (s.len().checked_sub(2).and_then(|k| s.get(k)), s.back()) {
            (Some(a), Some(b)) => rate((a.0, a.1[i]), (b.0, b.1[i]), counter),
            _ => 0.0,
        };
        d.insert("rate".into(), json!(r));
        if let Some(range) = range {
            let newest = s.back().map_or(0, |b| b.0);
            let from = newest - (range.age_s as i64) * 1000;
            let step = (range.incr_s / SAMPLE_INTERVAL.as_secs()).max(1) as usize;
            let picked: Vec<(i64, u64)> = s
                .iter()
                .rev()
                .take_while(|(t, _)| *t >= from)
                .step_by(step)
                .map(|(t, v)| (*t, v[i]))
                .collect();
            let samples: Vec<Value> = picked
                .iter()
                .map(|(t, v)| json!({"sample": v, "timestamp": t}))
                .collect();
            let avg_rate = match (picked.last(), picked.first()) {
                (Some(old), Some(new)) if picked.len() > 1 => rate(*old, *new, counter),
                _ => 0.0,
            };
            let avg = if picked.is_empty() {
                0.0
            } else {
                picked.iter().map(|(_, v)| *v as f64).sum::<f64>() / picked.len() as f64
            };
            d.insert("samples".into(), Value::Array(samples));
            d.insert("avg_rate".into(), json!(avg_rate));
            d.insert("avg".into(), json!((avg * 100.0).round() / 100.0));
        }
        out.insert(format!("{field}_details"), Value::Object(d));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reading(publish: u64, ready: u64) -> Reading {
        let mut r = Reading::default();
        r.overview[0] = publish;
        r.overview[7] = ready;
        r.queues
            .insert(("/".into(), "q".into()), [publish, 0, 0, ready, ready, 0]);
        r
    }

    #[test]
    fn rate_is_per_second_over_the_last_interval() {
        let rates = Rates::new(10);
        rates.record(0, reading(0, 0));
        rates.record(5_000, reading(50, 20));
        rates.record(10_000, reading(150, 10));
        let o = rates.overview(None);
        assert_eq!(o["publish_details"]["rate"], json!(20.0));
        // Depth fell by 10 in 5 s.
        assert_eq!(o["messages_ready_details"]["rate"], json!(-2.0));
        assert!(o["publish_details"].get("samples").is_none());
        let q = rates.queue("/", "q", None);
        assert_eq!(q["publish_details"]["rate"], json!(20.0));
    }

    #[test]
    fn samples_come_newest_first_within_the_range() {
        let rates = Rates::new(10);
        for i in 0..6 {
            rates.record(i * 5_000, reading(i as u64 * 10, 0));
        }
        let range = Range {
            age_s: 10,
            incr_s: 5,
        };
        let o = rates.overview(Some(range));
        let samples = o["publish_details"]["samples"].as_array().cloned();
        let samples = samples.unwrap_or_default();
        let values: Vec<u64> = samples
            .iter()
            .filter_map(|s| s["sample"].as_u64())
            .collect();
        assert_eq!(values, vec![50, 40, 30]);
        assert_eq!(samples[0]["timestamp"], json!(25_000));
        assert_eq!(o["publish_details"]["avg_rate"], json!(2.0));
        assert_eq!(o["publish_details"]["avg"], json!(40.0));
    }

    #[test]
    fn the_ring_buffer_keeps_only_the_newest_samples() {
        let rates = Rates::new(3);
        for i in 0..10 {
            rates.record(i * 5_000, reading(i as u64, 0));
        }
        let range = Range {
            age_s: 600,
            incr_s: 5,
        };
        let o = rates.overview(Some(range));
        assert_eq!(
            o["publish_details"]["samples"].as_array().map(Vec::len),
            Some(3)
        );
    }

    #[test]
    fn a_deleted_queue_loses_its_history_and_a_recreated_one_never_rates_negative() {
        let rates = Rates::new(10);
        rates.record(0, reading(100, 5));
        rates.record(5_000, Reading::default());
        assert_eq!(
            rates.queue("/", "q", None)["publish_details"]["rate"],
            json!(0.0)
        );
        rates.record(10_000, reading(100, 0));
        rates.record(15_000, reading(3, 0));
        assert_eq!(
            rates.queue("/", "q", None)["publish_details"]["rate"],
            json!(0.0)
        );
    }

    #[test]
    fn range_parameters_are_clamped_to_what_is_kept() {
        assert_eq!(Range::from_query(Some("columns=name")), None);
        assert_eq!(
            Range::from_query(Some("msg_rates_age=999999&msg_rates_incr=0")),
            Some(Range {
                age_s: 600,
                incr_s: 5
            })
        );
        assert_eq!(
            Range::from_query(Some("lengths_age=60&lengths_incr=10")),
            Some(Range {
                age_s: 60,
                incr_s: 10
            })
        );
    }
}
