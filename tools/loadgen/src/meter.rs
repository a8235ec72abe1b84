//! Honest counting: a [`Meter`] counts only completed operations (acknowledged publishes,
//! received messages) and measures a window that starts after the warm-up and ends either
//! at the end of the timed run or the instant the target count is reached.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use serde_json::{Value, json};

/// The process-wide time base. Timestamps embedded in message bodies are nanoseconds since
/// this instant; producer and consumer run in the same process, so `Instant` (monotonic)
/// is valid on both sides.
fn base() -> Instant {
    static BASE: OnceLock<Instant> = OnceLock::new();
    *BASE.get_or_init(Instant::now)
}

/// Nanoseconds since the process time base (monotonic).
pub fn now_ns() -> u64 {
    u64::try_from(base().elapsed().as_nanos()).unwrap_or(u64::MAX)
}

/// Writes the send timestamp and a sequence number into the first 16 bytes of `body`
/// (fewer if the body is shorter).
pub fn stamp(body: &mut [u8], seq: u64) {
    let ts = now_ns().to_le_bytes();
    let seq = seq.to_le_bytes();
    let n = body.len().min(8);
    body[..n].copy_from_slice(&ts[..n]);
    if body.len() > 8 {
        let m = (body.len() - 8).min(8);
        body[8..8 + m].copy_from_slice(&seq[..m]);
    }
}

/// Reads the send timestamp written by [`stamp`]; `None` for bodies shorter than 8 bytes.
pub fn read_stamp(body: &[u8]) -> Option<u64> {
    let bytes: [u8; 8] = body.get(..8)?.try_into().ok()?;
    Some(u64::from_le_bytes(bytes))
}

/// Reads the sequence number written by [`stamp`]; `None` for bodies shorter than 16 bytes.
pub fn read_seq(body: &[u8]) -> Option<u64> {
    let bytes: [u8; 8] = body.get(8..16)?.try_into().ok()?;
    Some(u64::from_le_bytes(bytes))
}

/// A body of `size` bytes of pseudo-random filler (so compression is not trivially
/// effective), to be stamped per message.
pub fn filler(size: usize) -> Vec<u8> {
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    (0..size)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            // Printable ASCII, like typical payloads; xorshift keeps it incompressible-ish.
            b' ' + (x % 94) as u8
        })
        .collect()
}

#[derive(Debug, Clone, Copy)]
struct Mark {
    at: Instant,
    count: u64,
    bytes: u64,
}

/// Counts completed operations and the bytes they carried.
#[derive(Debug)]
pub struct Meter {
    count: AtomicU64,
    bytes: AtomicU64,
    target: Option<u64>,
    start: Instant,
    t0: OnceLock<Mark>,
    t1: OnceLock<Mark>,
}

/// What a meter measured inside its window.
#[derive(Debug, Clone, Copy)]
pub struct Rate {
    /// Operations completed inside the window.
    pub count: u64,
    /// Operations completed in the whole run (warm-up included).
    pub total: u64,
    pub secs: f64,
    pub per_sec: f64,
    pub mib_per_sec: f64,
    /// False when the run ended before the warm-up did (the window then starts at 0).
    pub warmup_excluded: bool,
}

impl Rate {
    pub fn json(&self) -> Value {
        json!({
            "count": self.count,
            "total": self.total,
            "window_s": round3(self.secs),
            "per_s": self.per_sec.round(),
            "mib_s": round3(self.mib_per_sec),
            "warmup_excluded": self.warmup_excluded,
        })
    }
}

/// How a run names its broker in the human line: the label when given, else the address.
pub fn broker_name<'a>(label: &'a str, addr: &'a str) -> &'a str {
    if label.is_empty() { addr } else { label }
}

pub fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

impl Meter {
    /// A meter whose window ends when `target` operations have completed (if given).
    pub fn new(target: Option<u64>) -> Self {
        Self {
            count: AtomicU64::new(0),
            bytes: AtomicU64::new(0),
            target,
            start: Instant::now(),
            t0: OnceLock::new(),
            t1: OnceLock::new(),
        }
    }

    fn mark(&self) -> Mark {
        let bytes = self.bytes.load(Ordering::Acquire);
        Mark {
            at: Instant::now(),
            count: self.count.load(Ordering::Acquire),
            bytes,
        }
    }

    /// Records `n` completed operations carrying `bytes` bytes; returns the new total.
    pub fn add(&self, n: u64, bytes: u64) -> u64 {
        self.bytes.fetch_add(bytes, Ordering::AcqRel);
        let v = self.count.fetch_add(n, Ordering::AcqRel) + n;
        if let Some(t) = self.target
            && v >= t
        {
            self.t1.get_or_init(|| Mark {
                at: Instant::now(),
                count: v,
                bytes: self.bytes.load(Ordering::Acquire),
            });
        }
        v
    }

    pub fn count(&self) -> u64 {
        self.count.load(Ordering::Acquire)
    }

    /// Ends the warm-up: the measured window starts now (unless the run already ended).
    pub fn start_window(&self) {
        if self.t1.get().is_none() {
            self.t0.get_or_init(|| self.mark());
        }
    }

    /// Ends the measured window now (no-op if the target already ended it).
    pub fn end_window(&self) {
        self.t1.get_or_init(|| self.mark());
    }

    /// True between the end of the warm-up and the end of the window.
    pub fn measuring(&self) -> bool {
        self.t0.get().is_some() && self.t1.get().is_none()
    }

    /// True once the window has ended.
    pub fn done(&self) -> bool {
        self.t1.get().is_some()
    }

    pub fn rate(&self) -> Rate {
        let end = self.t1.get().copied().unwrap_or_else(|| self.mark());
        let zero = Mark {
            at: self.start,
            count: 0,
            bytes: 0,
        };
        let (begin, excluded) = match self.t0.get() {
            Some(m) if m.at <= end.at => (*m, true),
            _ => (zero, false),
        };
        let secs = end.at.duration_since(begin.at).as_secs_f64().max(1e-9);
        let count = end.count.saturating_sub(begin.count);
        let bytes = end.bytes.saturating_sub(begin.bytes);
        Rate {
            count,
            total: self.count(),
            secs,
            per_sec: count as f64 / secs,
            mib_per_sec: bytes as f64 / secs / (1024.0 * 1024.0),
            warmup_excluded: excluded,
        }
    }
}

/// A latency histogram in nanoseconds (3 significant figures, auto-resizing).
#[derive(Debug, Clone)]
pub struct Latency {
    h: Histogram<u64>,
}

impl Default for Latency {
    fn default() -> Self {
        Self::new()
    }
}

impl Latency {
    pub fn new() -> Self {
        // new() only fails for more than 5 significant figures.
        let h = Histogram::new(3).expect("3 significant figures is valid");
        Self { h }
    }

    pub fn record_ns(&mut self, ns: u64) {
        // Auto-resize is on, so recording only fails for values beyond u64 range.
        let _ = self.h.record(ns.max(1));
    }

    pub fn merge(&mut self, other: &Latency) {
        let _ = self.h.add(&other.h);
    }

    fn us(&self, q: f64) -> f64 {
        round3(self.h.value_at_quantile(q) as f64 / 1000.0)
    }

    pub fn json(&self) -> Value {
        if self.h.is_empty() {
            return Value::Null;
        }
        json!({
            "samples": self.h.len(),
            "p50_us": self.us(0.50),
            "p90_us": self.us(0.90),
            "p99_us": self.us(0.99),
            "p999_us": self.us(0.999),
            "max_us": round3(self.h.max() as f64 / 1000.0),
            "mean_us": round3(self.h.mean() / 1000.0),
        })
    }

    /// "p50 1.23 ms, p99 4.56 ms" for the human line.
    pub fn human(&self) -> String {
        if self.h.is_empty() {
            return "no latency samples".to_string();
        }
        format!(
            "p50 {} p99 {} p99.9 {}",
            fmt_ns(self.h.value_at_quantile(0.5)),
            fmt_ns(self.h.value_at_quantile(0.99)),
            fmt_ns(self.h.value_at_quantile(0.999))
        )
    }
}

pub fn fmt_ns(ns: u64) -> String {
    if ns >= 1_000_000 {
        format!("{:.2} ms", ns as f64 / 1e6)
    } else {
        format!("{:.0} us", ns as f64 / 1e3)
    }
}

/// Thousands separators for the human line.
pub fn fmt_rate(x: f64) -> String {
    let n = x.round() as u64;
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

pub fn secs(x: f64) -> Duration {
    Duration::from_secs_f64(x.max(0.0))
}

/// Prints the machine-readable line then the human line.
pub fn report(v: &Value, human: &str) {
    println!("{v}");
    println!("{human}");
}
