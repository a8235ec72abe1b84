//! [`PublisherSeq`]: the idempotency key of a publish. A publisher that may send the same
//! message twice (a client resending after a crash it cannot see through) tags every
//! publish with its own id and a sequence number it never reuses; each queue remembers
//! the recent keys it stored and confirms a repeat without storing it again, as a Kafka
//! partition does for an idempotent producer.

/// One publish of one publisher: `seq` is never used twice for the same `publisher`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PublisherSeq {
    pub publisher: u64,
    pub seq: u64,
}

impl PublisherSeq {
    pub fn new(publisher: u64, seq: u64) -> Self {
        Self { publisher, seq }
    }
}

/// How many recent keys a queue remembers, oldest forgotten first. A repeat is
/// recognised while fewer than this many keyed publishes reached the queue after the
/// original: far more than a publisher keeps in flight (MQTT `receive_maximum`, 1024 by
/// default), so a resend after a restart always finds its original.
pub const PUBLISHER_WINDOW: usize = 4096;

/// The keys a queue stored most recently, at most [`PUBLISHER_WINDOW`] of them, each with
/// what its owner keeps beside it (the store: the message's seq).
#[derive(Debug, Clone)]
pub struct PublisherWindow<T = ()> {
    keys: std::collections::HashMap<PublisherSeq, T>,
    /// Insertion order, oldest first: what is forgotten first.
    order: std::collections::VecDeque<PublisherSeq>,
    cap: usize,
}

impl<T> Default for PublisherWindow<T> {
    fn default() -> Self {
        Self::with_capacity(PUBLISHER_WINDOW)
    }
}

impl<T> PublisherWindow<T> {
    pub fn with_capacity(cap: usize) -> Self {
        Self {
            keys: Default::default(),
            order: Default::default(),
            cap: cap.max(1),
        }
    }

    pub fn contains(&self, key: &PublisherSeq) -> bool {
        self.keys.contains_key(key)
    }

    pub fn len(&self) -> usize {
        self.keys.len()
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Remembers `key` (a key already held keeps its place and value), forgetting the
    /// oldest beyond the capacity.
    pub fn insert(&mut self, key: PublisherSeq, value: T) {
        if self.keys.contains_key(&key) {
            return;
        }
        self.keys.insert(key, value);
        self.order.push_back(key);
        while self.order.len() > self.cap {
            if let Some(old) = self.order.pop_front() {
                self.keys.remove(&old);
            }
        }
    }

    /// Forgets `key` (a publish that turned out not to be stored). Linear: rare.
    pub fn remove(&mut self, key: &PublisherSeq) {
        if self.keys.remove(key).is_some() {
            self.order.retain(|k| k != key);
        }
    }

    /// Oldest first.
    pub fn iter(&self) -> impl Iterator<Item = (PublisherSeq, &T)> {
        self.order
            .iter()
            .filter_map(|k| self.keys.get(k).map(|v| (*k, v)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_oldest_keys_are_forgotten_first() {
        let mut w = PublisherWindow::with_capacity(3);
        for s in 0..5 {
            w.insert(PublisherSeq::new(1, s), s * 10);
        }
        w.insert(PublisherSeq::new(1, 3), 99);
        assert!(!w.contains(&PublisherSeq::new(1, 1)));
        assert!(w.contains(&PublisherSeq::new(1, 2)));
        let kept: Vec<_> = w.iter().map(|(k, v)| (k.seq, *v)).collect();
        assert_eq!(kept, vec![(2, 20), (3, 30), (4, 40)]);
        w.remove(&PublisherSeq::new(1, 3));
        assert_eq!(w.len(), 2);
        assert!(!w.contains(&PublisherSeq::new(1, 3)));
    }
}
