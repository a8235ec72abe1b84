//! What every protocol's run shares: how producers split the budget, what a receiver
//! keeps, when receivers stop, and how their counts become one [`Measured`].

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::args::Budget;
use crate::histogram::Histogram;
use crate::progress::Progress;
use crate::row::Measured;
use crate::stamp;
use crate::tally::Tally;

/// Where published messages go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// Nobody consumes (a discard server; rates are the senders').
    SendOnly,
    /// `n` consumers share one queue / shared subscription / consumer group.
    Competing(usize),
    /// `n` subscribers each get every message.
    Fanout(usize),
}

impl Layout {
    pub fn receivers(self) -> usize {
        match self {
            Layout::SendOnly => 0,
            Layout::Competing(n) | Layout::Fanout(n) => n,
        }
    }
}

/// The messages producer `i` of `n` publishes, or until when.
#[derive(Debug, Clone, Copy)]
pub enum Quota {
    Count(u64),
    Until(Instant),
}

impl Quota {
    pub fn split(budget: Budget, i: usize, n: usize, start: Instant) -> Quota {
        match budget {
            Budget::Count(total) => {
                let n = n as u64;
                let i = i as u64;
                Quota::Count(total / n + u64::from(i < total % n))
            }
            Budget::For(d) => Quota::Until(start + d),
        }
    }

    /// True while message number `seq` should still be sent.
    pub fn more(&self, seq: u64) -> bool {
        match *self {
            Quota::Count(n) => seq < n,
            Quota::Until(t) => Instant::now() < t,
        }
    }
}

/// How long a receiver that got nothing yet waits after the producers finished.
const FIRST_MESSAGE: Duration = Duration::from_secs(30);

/// What the receivers of one run share: how many messages are expected in total once the
/// producers are done, and whether they are.
#[derive(Debug)]
pub struct Finish {
    expected: AtomicU64,
    produced: AtomicBool,
    received: AtomicU64,
    pub idle: Duration,
}

impl Finish {
    pub fn new(quick: bool) -> Arc<Finish> {
        Arc::new(Finish {
            expected: AtomicU64::new(u64::MAX),
            produced: AtomicBool::new(false),
            received: AtomicU64::new(0),
            idle: if quick {
                Duration::from_secs(3)
            } else {
                Duration::from_secs(10)
            },
        })
    }

    /// The producers are done: each receiver (fan-out) or all together (competing)
    /// expect `n` messages.
    pub fn produced(&self, n: u64) {
        self.expected.store(n, Ordering::Release);
        self.produced.store(true, Ordering::Release);
    }

    pub fn is_produced(&self) -> bool {
        self.produced.load(Ordering::Acquire)
    }

    fn expected(&self) -> u64 {
        self.expected.load(Ordering::Acquire)
    }
}

/// One receiver's counts.
#[derive(Debug)]
pub struct Receiver {
    pub tally: Tally,
    pub latency: Histogram,
    pub bytes: u64,
    pub last: Option<Instant>,
    last_any: Instant,
    /// Nothing arrived since the start or a restart: wait [`FIRST_MESSAGE`] before idle.
    fresh: bool,
    fanout: bool,
    finish: Arc<Finish>,
    progress: Arc<Progress>,
}

impl Receiver {
    pub fn new(layout: Layout, finish: Arc<Finish>, progress: Arc<Progress>) -> Receiver {
        Receiver {
            tally: Tally::new(),
            latency: Histogram::new(),
            bytes: 0,
            last: None,
            last_any: Instant::now(),
            fresh: true,
            fanout: matches!(layout, Layout::Fanout(_)),
            finish,
            progress,
        }
    }

    pub fn on_message(&mut self, payload: &[u8]) {
        let now = stamp::now_ns();
        match stamp::read(payload) {
            Some(s) if s.producer == stamp::BACKLOG => self.tally.record_foreign(),
            Some(s) => {
                self.tally.record(s.producer, s.seq);
                self.latency.record(now.saturating_sub(s.sent_ns));
            }
            None => self.tally.record_foreign(),
        }
        self.bytes += payload.len() as u64;
        let at = Instant::now();
        self.last = Some(at);
        self.last_any = at;
        self.fresh = false;
        self.progress.add(1);
        self.finish.received.fetch_add(1, Ordering::Relaxed);
    }

    /// True when this receiver should stop: everything expected arrived, or the
    /// producers are done and nothing came for the idle timeout.
    pub fn done(&self) -> bool {
        let expected = self.finish.expected();
        let got = if self.fanout {
            self.tally.unique()
        } else {
            self.finish.received.load(Ordering::Relaxed)
        };
        if got >= expected {
            return true;
        }
        // Before the first message, wait longer: a group join (5 s on some Kafka-protocol
        // brokers) is not a loss.
        let idle = if self.fresh {
            self.finish.idle.max(FIRST_MESSAGE)
        } else {
            self.finish.idle
        };
        self.finish.is_produced() && self.last_any.elapsed() > idle
    }

    /// The consumer behind this receiver was restarted (`guarantees`): its group join or
    /// session resumption is not idleness.
    pub fn restarted(&mut self) {
        self.fresh = true;
        self.last_any = Instant::now();
    }

    /// Called while waiting for messages, so that the idle clock starts no earlier than
    /// the end of production.
    pub fn waiting(&mut self) {
        if !self.finish.is_produced() {
            self.last_any = Instant::now();
        }
    }
}

/// Turns what producers sent and what receivers got into one measurement.
pub fn summarize(
    layout: Layout,
    sent: &[(u32, u64)],
    receivers: Vec<Receiver>,
    started: Instant,
    size: usize,
) -> Measured {
    let total_sent: u64 = sent.iter().map(|s| s.1).sum();
    let mut latency = Histogram::new();
    let mut m = Measured {
        sent: total_sent,
        ..Measured::default()
    };
    let mut last = None::<Instant>;
    let mut merged = Tally::new();
    let shares: Vec<u64> = receivers.iter().map(|r| r.tally.received()).collect();
    m.note = shares_note(&shares);
    for r in &receivers {
        latency.merge(&r.latency);
        m.received += r.tally.received();
        m.bytes += r.bytes;
        last = last.max(r.last);
        match layout {
            Layout::Fanout(_) => {
                m.lost += r.tally.lost(sent);
                m.duplicated += r.tally.duplicated();
            }
            _ => merged.merge(&r.tally),
        }
    }
    if let Layout::Competing(_) = layout {
        m.lost = merged.lost(sent);
        m.duplicated = merged.duplicated();
    }
    if layout == Layout::SendOnly {
        m.counted = total_sent;
        m.bytes = total_sent * size as u64;
        m.elapsed = started.elapsed();
    } else {
        m.counted = m.received;
        m.elapsed = last.map_or_else(|| started.elapsed(), |l| l.duration_since(started));
        m.latency = Some(latency);
    }
    m
}

/// How several receivers shared the messages: each one's count, or the range for many.
fn shares_note(shares: &[u64]) -> String {
    let idle = shares.iter().filter(|&&s| s == 0).count();
    let mut note = match shares.len() {
        0 | 1 => String::new(),
        2..=8 => format!(
            "per consumer {}",
            shares
                .iter()
                .map(u64::to_string)
                .collect::<Vec<_>>()
                .join("/")
        ),
        n => format!(
            "per consumer min {} max {} ({n} consumers)",
            shares.iter().min().unwrap_or(&0),
            shares.iter().max().unwrap_or(&0)
        ),
    };
    if idle > 0 && shares.len() > 1 {
        note.push_str(&format!(", {idle} idle"));
    }
    note
}

/// A name no earlier run used, for queues, exchanges and topics.
pub fn unique_name(what: &str) -> String {
    static N: AtomicU64 = AtomicU64::new(0);
    format!(
        "trident-bench-{}-{}-{what}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::args::Budget;

    #[test]
    fn quota_splits_the_count() {
        let now = Instant::now();
        let q: Vec<u64> = (0..3)
            .map(|i| match Quota::split(Budget::Count(10), i, 3, now) {
                Quota::Count(n) => n,
                Quota::Until(_) => 0,
            })
            .collect();
        assert_eq!(q, vec![4, 3, 3]);
    }

    fn receiver(layout: Layout, finish: &Arc<Finish>) -> Receiver {
        let line = crate::progress::start(String::new(), None, None);
        Receiver::new(layout, finish.clone(), line.progress())
    }

    fn payload(producer: u32, seq: u64) -> Vec<u8> {
        let mut b = stamp::filler(32);
        stamp::write(&mut b, producer, seq);
        b
    }

    #[test]
    fn fanout_counts_each_subscriber() {
        let finish = Finish::new(true);
        let (mut a, mut b) = (
            receiver(Layout::Fanout(2), &finish),
            receiver(Layout::Fanout(2), &finish),
        );
        for s in 0..10 {
            a.on_message(&payload(0, s));
            if s != 3 {
                b.on_message(&payload(0, s)); // b loses 3
            }
        }
        b.on_message(&payload(0, 5)); // and gets 5 twice
        finish.produced(10);
        assert!(a.done());
        let m = summarize(
            Layout::Fanout(2),
            &[(0, 10)],
            vec![a, b],
            Instant::now(),
            32,
        );
        assert_eq!((m.sent, m.received, m.lost, m.duplicated), (10, 20, 1, 1));
        assert_eq!(m.latency.map(|h| h.len()), Some(20));
    }

    #[test]
    fn competing_consumers_share() {
        let finish = Finish::new(true);
        let (mut a, mut b) = (
            receiver(Layout::Competing(2), &finish),
            receiver(Layout::Competing(2), &finish),
        );
        for s in 0..10 {
            if s % 2 == 0 { &mut a } else { &mut b }.on_message(&payload(1, s));
        }
        a.on_message(&payload(1, 1)); // redelivered to the other consumer
        finish.produced(10);
        assert!(a.done() && b.done());
        let m = summarize(
            Layout::Competing(2),
            &[(1, 12)],
            vec![a, b],
            Instant::now(),
            32,
        );
        assert_eq!((m.received, m.lost, m.duplicated), (11, 2, 1));
    }

    #[test]
    fn backlog_messages_count_but_are_neither_matched_nor_timed() {
        let finish = Finish::new(true);
        let mut r = receiver(Layout::Competing(1), &finish);
        r.on_message(&payload(stamp::BACKLOG, 0));
        r.on_message(&payload(stamp::BACKLOG, 0));
        r.on_message(&payload(0, 0));
        finish.produced(1 + 2);
        assert!(r.done());
        let m = summarize(Layout::Competing(1), &[(0, 1)], vec![r], Instant::now(), 32);
        assert_eq!((m.received, m.lost, m.duplicated), (3, 0, 0));
        assert_eq!(m.latency.map(|h| h.len()), Some(1));
    }

    #[test]
    fn idle_consumers_are_named() {
        assert_eq!(
            shares_note(&[150, 150, 0, 0]),
            "per consumer 150/150/0/0, 2 idle"
        );
        assert_eq!(shares_note(&[3, 4]), "per consumer 3/4");
        assert_eq!(shares_note(&[0]), "");
    }
}
