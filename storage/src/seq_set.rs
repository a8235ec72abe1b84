//! A set of sequence numbers: everything below a low-water mark, plus disjoint ranges
//! above it. A queue keeps two: the removed messages and the delivered ones. Both grow
//! mostly contiguously (FIFO), so a backlog of millions with a few stragglers costs a
//! handful of ranges, not a bit per message.

use std::collections::BTreeMap;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct SeqSet {
    /// Every seq below this is in the set; `lwm` itself is not.
    lwm: u64,
    /// start -> end (half-open), all starts > lwm, disjoint and never adjacent.
    ranges: BTreeMap<u64, u64>,
    /// Total length of `ranges`.
    above: u64,
}

impl SeqSet {
    pub fn new(lwm: u64) -> Self {
        SeqSet {
            lwm,
            ranges: BTreeMap::new(),
            above: 0,
        }
    }

    /// The lowest seq not in the set.
    pub fn lwm(&self) -> u64 {
        self.lwm
    }

    /// How many seqs at or above the low-water mark are in the set.
    pub fn members_above_lwm(&self) -> u64 {
        self.above
    }

    pub fn range_count(&self) -> usize {
        self.ranges.len()
    }

    pub fn ranges(&self) -> impl Iterator<Item = (u64, u64)> + '_ {
        self.ranges.iter().map(|(&s, &e)| (s, e))
    }

    pub fn contains(&self, seq: u64) -> bool {
        seq < self.lwm
            || self
                .ranges
                .range(..=seq)
                .next_back()
                .is_some_and(|(_, &e)| seq < e)
    }

    /// The smallest seq >= `seq` not in the set.
    pub fn next_present(&self, seq: u64) -> u64 {
        let seq = seq.max(self.lwm);
        match self.ranges.range(..=seq).next_back() {
            Some((_, &e)) if seq < e => e,
            _ => seq,
        }
    }

    /// The smallest member `>= seq` (`u64::MAX` when there is none). With
    /// [`Self::next_present`] this walks the gaps of the set range by range.
    pub fn next_member(&self, seq: u64) -> u64 {
        if seq < self.lwm {
            return seq;
        }
        match self.ranges.range(..=seq).next_back() {
            Some((_, &e)) if seq < e => seq,
            _ => self
                .ranges
                .range(seq..)
                .next()
                .map_or(u64::MAX, |(&s, _)| s),
        }
    }

    /// Adds `from..to`; returns how many seqs were not in the set before.
    pub fn insert(&mut self, from: u64, to: u64) -> u64 {
        let mut start = from.max(self.lwm);
        let mut end = to;
        if start >= end {
            return 0;
        }
        let mut newly = end - start;
        // Ranges that overlap or touch [start, end): their start is <= end and their
        // end >= start. Walk backwards from the last range starting at or before `end`.
        let touching: Vec<(u64, u64)> = self
            .ranges
            .range(..=end)
            .rev()
            .take_while(|(_, e)| **e >= start)
            .map(|(&s, &e)| (s, e))
            .collect();
        for (s, e) in touching {
            let overlap = e.min(end).saturating_sub(s.max(start));
            newly -= overlap.min(newly);
            self.ranges.remove(&s);
            self.above -= e - s;
            start = start.min(s);
            end = end.max(e);
        }
        if start == self.lwm {
            self.lwm = end;
        } else {
            self.ranges.insert(start, end);
            self.above += end - start;
        }
        newly
    }

    /// Adds everything below `below` (a compaction base record).
    pub fn set_base(&mut self, below: u64) {
        if below > self.lwm {
            self.insert(self.lwm, below);
        }
    }

    /// Forgets members at or above `limit` (acks or delivery marks of messages that did
    /// not survive a crash). Returns whether anything changed.
    pub fn clamp(&mut self, limit: u64) -> bool {
        let mut changed = false;
        if self.lwm > limit {
            self.lwm = limit;
            changed = true;
        }
        let beyond: Vec<(u64, u64)> = self
            .ranges
            .range(..)
            .filter(|(_, e)| **e > limit)
            .map(|(&s, &e)| (s, e))
            .collect();
        for (s, e) in beyond {
            changed = true;
            self.ranges.remove(&s);
            self.above -= e - s;
            if s < limit {
                self.ranges.insert(s, limit);
                self.above += limit - s;
            }
        }
        changed
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeSet;

    proptest! {
        #[test]
        fn matches_a_plain_set(ops in proptest::collection::vec((0u64..200, 1u64..20), 0..60), base in 0u64..50, clamp in 0u64..250) {
            let mut r = SeqSet::new(base);
            let mut model: BTreeSet<u64> = (0..base).collect();
            for (from, len) in ops {
                let to = from + len;
                let before = model.len();
                model.extend(from..to);
                let newly = r.insert(from, to);
                prop_assert_eq!(newly as usize, model.len() - before);
            }
            let check = |r: &SeqSet, model: &BTreeSet<u64>| -> Result<(), TestCaseError> {
                let lwm = (0..).find(|s| !model.contains(s)).unwrap();
                prop_assert_eq!(r.lwm(), lwm);
                for s in 0..300 {
                    prop_assert_eq!(r.contains(s), model.contains(&s), "seq {}", s);
                    let np = (s..).find(|x| !model.contains(x)).unwrap();
                    prop_assert_eq!(r.next_present(s), np);
                    let nm = (s..400).find(|x| model.contains(x)).unwrap_or(u64::MAX);
                    prop_assert_eq!(r.next_member(s), nm);
                }
                prop_assert_eq!(r.members_above_lwm() as usize, model.iter().filter(|&&s| s >= lwm).count());
                let mut prev_end = None;
                for (s, e) in r.ranges() {
                    prop_assert!(s > lwm && s < e);
                    if let Some(p) = prev_end { prop_assert!(s > p, "adjacent or overlapping ranges"); }
                    prev_end = Some(e);
                }
                Ok(())
            };
            check(&r, &model)?;
            r.clamp(clamp);
            model.retain(|&s| s < clamp);
            check(&r, &model)?;
        }
    }
}
