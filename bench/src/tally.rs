//! Lost and duplicated counting from the stamps' (producer, sequence) pairs: one bitset
//! per producer per receiver. A receiver that should see every message (a fan-out
//! subscriber) is checked on its own; receivers that share the work (competing
//! consumers) are merged first, and a message two of them both got is a duplicate.

use std::collections::HashMap;

#[derive(Debug, Clone, Default)]
pub struct Tally {
    seen: HashMap<u32, Vec<u64>>,
    received: u64,
    duplicated: u64,
    foreign: u64,
}

/// Sequence numbers at or above this are not tracked (the bitset would not fit).
const MAX_SEQ: u64 = 1 << 32;

impl Tally {
    pub fn new() -> Self {
        Self::default()
    }

    /// Records one reception; true when it is the first of this (producer, seq).
    pub fn record(&mut self, producer: u32, seq: u64) -> bool {
        self.received += 1;
        if seq >= MAX_SEQ {
            self.foreign += 1;
            return true;
        }
        let bits = self.seen.entry(producer).or_default();
        let (word, bit) = ((seq / 64) as usize, seq % 64);
        if bits.len() <= word {
            bits.resize(word + 1, 0);
        }
        if bits[word] & (1 << bit) != 0 {
            self.duplicated += 1;
            return false;
        }
        bits[word] |= 1 << bit;
        true
    }

    /// A reception without a readable stamp (counted, never matched).
    pub fn record_foreign(&mut self) {
        self.received += 1;
        self.foreign += 1;
    }

    /// Every reception, duplicates included.
    pub fn received(&self) -> u64 {
        self.received
    }

    pub fn duplicated(&self) -> u64 {
        self.duplicated
    }

    /// Distinct stamped messages received.
    pub fn unique(&self) -> u64 {
        self.received - self.duplicated - self.foreign
    }

    /// How many of the messages each producer sent (sequence numbers `0..sent`) never
    /// arrived.
    pub fn lost(&self, sent: &[(u32, u64)]) -> u64 {
        sent.iter()
            .map(|&(producer, n)| {
                let got = self.seen.get(&producer).map_or(0, |bits| {
                    let full = (n / 64) as usize;
                    let mut c: u64 = bits
                        .iter()
                        .take(full)
                        .map(|w| u64::from(w.count_ones()))
                        .sum();
                    let rest = n % 64;
                    if rest > 0
                        && let Some(w) = bits.get(full)
                    {
                        c += u64::from((w & ((1u64 << rest) - 1)).count_ones());
                    }
                    c
                });
                n - got
            })
            .sum()
    }

    /// Folds in another receiver of the same stream: what both received counts as
    /// duplicated.
    pub fn merge(&mut self, other: &Tally) {
        self.received += other.received;
        self.duplicated += other.duplicated;
        self.foreign += other.foreign;
        for (producer, theirs) in &other.seen {
            let mine = self.seen.entry(*producer).or_default();
            if mine.len() < theirs.len() {
                mine.resize(theirs.len(), 0);
            }
            for (a, b) in mine.iter_mut().zip(theirs) {
                self.duplicated += u64::from((*a & b).count_ones());
                *a |= b;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn complete_stream() {
        let mut t = Tally::new();
        for p in 0..3 {
            for s in 0..1000 {
                assert!(t.record(p, s));
            }
        }
        assert_eq!(t.lost(&[(0, 1000), (1, 1000), (2, 1000)]), 0);
        assert_eq!(t.duplicated(), 0);
        assert_eq!(t.unique(), 3000);
    }

    #[test]
    fn forced_loss_and_duplicate() {
        let mut t = Tally::new();
        for s in 0..100 {
            if s != 42 {
                t.record(0, s);
            }
        }
        assert!(!t.record(0, 7), "a second 7 is a duplicate");
        assert_eq!(t.lost(&[(0, 100)]), 1);
        assert_eq!(t.duplicated(), 1);
        assert_eq!(t.received(), 100);
        // A producer that never arrived at all: everything it sent is lost.
        assert_eq!(t.lost(&[(0, 100), (9, 5)]), 6);
    }

    #[test]
    fn lost_ignores_receptions_beyond_what_was_sent() {
        let mut t = Tally::new();
        for s in 0..130 {
            t.record(1, s);
        }
        assert_eq!(t.lost(&[(1, 65)]), 0);
        assert_eq!(t.lost(&[(1, 200)]), 70);
    }

    #[test]
    fn competing_receivers_merge() {
        let (mut a, mut b) = (Tally::new(), Tally::new());
        for s in 0..1000u64 {
            if s % 2 == 0 { &mut a } else { &mut b }.record(0, s);
        }
        b.record(0, 10); // delivered to both consumers
        a.merge(&b);
        assert_eq!(a.lost(&[(0, 1000)]), 0);
        assert_eq!(a.duplicated(), 1);
        assert_eq!(a.received(), 1001);
    }

    #[test]
    fn foreign_messages_are_not_matched() {
        let mut t = Tally::new();
        t.record_foreign();
        t.record(0, 0);
        assert_eq!(t.unique(), 1);
        assert_eq!(t.received(), 2);
    }
}
