//! An HDR-style latency histogram: exact below 128 ns, then 128 linear sub-buckets per
//! power of two, so every recorded value is kept within 1/128 (< 0.8 %) of itself at any
//! magnitude, in a few kilobytes, and histograms of many consumers merge by addition.

const SUB_BITS: u32 = 7;
const SUB: u64 = 1 << SUB_BITS;

#[derive(Debug, Clone, Default)]
pub struct Histogram {
    counts: Vec<u64>,
    total: u64,
    min: u64,
    max: u64,
}

fn index(v: u64) -> usize {
    if v < SUB {
        return v as usize;
    }
    let e = 63 - v.leading_zeros(); // floor(log2 v), at least SUB_BITS
    let shift = e - SUB_BITS;
    let sub = (v >> shift) - SUB;
    (SUB + u64::from(shift) * SUB + sub) as usize
}

/// The lowest value and the width of bucket `i`.
fn bucket(i: usize) -> (u64, u64) {
    let i = i as u64;
    if i < SUB {
        return (i, 1);
    }
    let shift = (i - SUB) / SUB;
    let sub = (i - SUB) % SUB;
    ((SUB + sub) << shift, 1 << shift)
}

impl Histogram {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn record(&mut self, v: u64) {
        let i = index(v);
        if self.counts.len() <= i {
            self.counts.resize(i + 1, 0);
        }
        self.counts[i] += 1;
        if self.total == 0 || v < self.min {
            self.min = v;
        }
        self.max = self.max.max(v);
        self.total += 1;
    }

    pub fn merge(&mut self, other: &Histogram) {
        if other.total == 0 {
            return;
        }
        if self.counts.len() < other.counts.len() {
            self.counts.resize(other.counts.len(), 0);
        }
        for (a, b) in self.counts.iter_mut().zip(&other.counts) {
            *a += b;
        }
        self.min = if self.total == 0 {
            other.min
        } else {
            self.min.min(other.min)
        };
        self.max = self.max.max(other.max);
        self.total += other.total;
    }

    pub fn len(&self) -> u64 {
        self.total
    }

    pub fn is_empty(&self) -> bool {
        self.total == 0
    }

    /// The value at quantile `q` (0..=1): the middle of the bucket holding the
    /// ceil(q * n)-th smallest sample, clamped to the recorded range. `None` when empty.
    pub fn quantile(&self, q: f64) -> Option<u64> {
        if self.total == 0 {
            return None;
        }
        let rank = ((q.clamp(0.0, 1.0) * self.total as f64).ceil() as u64).max(1);
        let mut seen = 0u64;
        for (i, &c) in self.counts.iter().enumerate() {
            seen += c;
            if seen >= rank {
                let (low, width) = bucket(i);
                let mid = low + (width - 1) / 2;
                return Some(mid.clamp(self.min, self.max));
            }
        }
        Some(self.max)
    }

    /// The quantile in milliseconds, for the table and the JSON.
    pub fn quantile_ms(&self, q: f64) -> Option<f64> {
        self.quantile(q).map(|ns| ns as f64 / 1e6)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn within(got: u64, want: f64, rel: f64) -> bool {
        (got as f64 - want).abs() <= want * rel
    }

    #[test]
    fn buckets_cover_every_value_once() {
        let mut last_end = 0u64;
        for i in 0..index(1 << 40) {
            let (low, width) = bucket(i);
            assert_eq!(low, last_end, "bucket {i} starts where the previous ended");
            assert_eq!(index(low), i);
            assert_eq!(index(low + width - 1), i);
            last_end = low + width;
        }
        assert_eq!(index(u64::MAX), index(u64::MAX - 1));
    }

    #[test]
    fn uniform_distribution() {
        let mut h = Histogram::new();
        for v in 1..=1_000_000u64 {
            h.record(v);
        }
        for (q, want) in [(0.5, 500_000.0), (0.99, 990_000.0), (0.999, 999_000.0)] {
            let got = h.quantile(q).unwrap_or_default();
            assert!(within(got, want, 0.008), "q{q}: got {got}, want {want}");
        }
        assert_eq!(h.quantile(0.0), Some(1));
        assert_eq!(h.quantile(1.0), Some(1_000_000));
    }

    #[test]
    fn exponential_distribution() {
        // Samples at evenly spaced quantiles of an exponential with mean 2 ms: the
        // histogram's quantiles must match the inverse CDF, -ln(1 - q) * mean.
        let mean = 2_000_000.0;
        let n = 200_000;
        let mut h = Histogram::new();
        for i in 0..n {
            let u = (i as f64 + 0.5) / n as f64;
            h.record((-(1.0 - u).ln() * mean) as u64);
        }
        for q in [0.5, 0.9, 0.99, 0.999] {
            let want = -(1.0f64 - q).ln() * mean;
            let got = h.quantile(q).unwrap_or_default();
            assert!(within(got, want, 0.01), "q{q}: got {got}, want {want}");
        }
    }

    #[test]
    fn bimodal_tail_is_seen() {
        // 99 % fast (100 us), 1 % slow (50 ms): p50 is fast, p999 is slow.
        let mut h = Histogram::new();
        for i in 0..100_000u64 {
            h.record(if i % 100 == 0 { 50_000_000 } else { 100_000 });
        }
        assert!(within(
            h.quantile(0.5).unwrap_or_default(),
            100_000.0,
            0.008
        ));
        assert!(within(
            h.quantile(0.999).unwrap_or_default(),
            50_000_000.0,
            0.008
        ));
    }

    #[test]
    fn merge_equals_recording_together() {
        let (mut a, mut b, mut all) = (Histogram::new(), Histogram::new(), Histogram::new());
        for v in 0..10_000u64 {
            let x = v * 37 % 9_973 * 1_000;
            if v % 3 == 0 { &mut a } else { &mut b }.record(x);
            all.record(x);
        }
        a.merge(&b);
        for q in [0.1, 0.5, 0.99, 0.999] {
            assert_eq!(a.quantile(q), all.quantile(q));
        }
        assert_eq!(a.len(), 10_000);
    }

    #[test]
    fn empty_has_no_quantiles() {
        assert_eq!(Histogram::new().quantile(0.5), None);
    }
}
