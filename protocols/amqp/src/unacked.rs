//! A channel's outstanding deliveries, in delivery-tag order.
//!
//! Tags grow by one per delivery, so the entries are sorted by construction: lookups
//! are binary searches, and the common in-order ack pops the front. A `VecDeque`
//! instead of a tree keeps the hot path free of per-delivery allocations.

use std::collections::VecDeque;

/// `basic.ack`/`nack`/`reject` named a tag that is not outstanding: 406 in RabbitMQ.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UnknownTag(pub u64);

#[derive(Debug)]
pub struct Unacked<T> {
    entries: VecDeque<(u64, T)>,
}

impl<T> Default for Unacked<T> {
    fn default() -> Self {
        Self {
            entries: VecDeque::new(),
        }
    }
}

impl<T> Unacked<T> {
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Records a delivery. Tags must be pushed in increasing order.
    pub fn push(&mut self, tag: u64, value: T) {
        debug_assert!(self.entries.back().is_none_or(|(t, _)| *t < tag));
        self.entries.push_back((tag, value));
    }

    /// Removes what an acknowledgement names: the tag itself, or with `multiple` every
    /// tag up to and including it; tag 0 with `multiple` means everything (spec §1.8.3.13).
    /// As in RabbitMQ, the named tag itself must be outstanding.
    pub fn take(
        &mut self,
        tag: u64,
        multiple: bool,
        into: &mut Vec<(u64, T)>,
    ) -> Result<(), UnknownTag> {
        if multiple && tag == 0 {
            into.extend(self.entries.drain(..));
            return Ok(());
        }
        let idx = self
            .entries
            .binary_search_by_key(&tag, |(t, _)| *t)
            .map_err(|_| UnknownTag(tag))?;
        if multiple {
            into.extend(self.entries.drain(..=idx));
        } else if let Some(e) = self.entries.remove(idx) {
            into.push(e);
        }
        Ok(())
    }

    /// Removes everything (channel close, `basic.recover`).
    pub fn take_all(&mut self) -> Vec<(u64, T)> {
        self.entries.drain(..).collect()
    }

    /// Puts back entries taken earlier (`tx.rollback` forgets acks, the deliveries
    /// stay outstanding).
    pub fn restore(&mut self, mut back: Vec<(u64, T)>) {
        back.extend(self.entries.drain(..));
        back.sort_by_key(|(t, _)| *t);
        self.entries = back.into();
    }

    pub fn iter(&self) -> impl Iterator<Item = &(u64, T)> {
        self.entries.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn filled(n: u64) -> Unacked<u64> {
        let mut u = Unacked::default();
        for t in 1..=n {
            u.push(t, t * 10);
        }
        u
    }

    fn tags(v: &[(u64, u64)]) -> Vec<u64> {
        v.iter().map(|(t, _)| *t).collect()
    }

    #[test]
    fn single_and_multiple() {
        let mut u = filled(5);
        let mut got = Vec::new();
        assert_eq!(u.take(3, false, &mut got), Ok(()));
        assert_eq!(tags(&got), [3]);
        got.clear();
        assert_eq!(u.take(4, true, &mut got), Ok(()));
        assert_eq!(tags(&got), [1, 2, 4]);
        assert_eq!(u.len(), 1);
        assert_eq!(u.take(4, false, &mut got), Err(UnknownTag(4)));
        assert_eq!(u.take(0, false, &mut got), Err(UnknownTag(0)));
    }

    #[test]
    fn zero_multiple_means_all() {
        let mut u = filled(3);
        let mut got = Vec::new();
        assert_eq!(u.take(0, true, &mut got), Ok(()));
        assert_eq!(tags(&got), [1, 2, 3]);
        assert!(u.is_empty());
    }

    #[test]
    fn multiple_requires_the_named_tag() {
        let mut u = filled(3);
        let mut got = Vec::new();
        let _ = u.take(2, false, &mut got);
        assert_eq!(u.take(2, true, &mut got), Err(UnknownTag(2)));
        assert_eq!(u.len(), 2);
    }

    #[test]
    fn restore_keeps_order() {
        let mut u = filled(5);
        let mut got = Vec::new();
        let _ = u.take(2, false, &mut got);
        let _ = u.take(4, false, &mut got);
        u.restore(got);
        assert_eq!(
            u.iter().map(|(t, _)| *t).collect::<Vec<_>>(),
            [1, 2, 3, 4, 5]
        );
    }
}
