//! The in-memory part of a queue's ready messages, ordered by priority then FIFO.

use std::collections::VecDeque;
use std::sync::Arc;

use trident_core::{Arrival, Message};

/// One message waiting in (or delivered from) a queue.
#[derive(Debug, Clone)]
pub(crate) struct Entry {
    pub message: Arc<Message>,
    /// Position in the queue's store, when the message was written there (persistent
    /// message in a durable queue, or paged out under a deep backlog).
    pub seq: Option<u64>,
    /// Where it stands in the queue's order (increasing as messages enter the ready
    /// list). A requeued message goes back to its position, as in RabbitMQ, whatever
    /// order its settlement comes in.
    pub pos: u64,
    pub redelivered: bool,
    /// When the message expires, in ms since the epoch (queue or message TTL).
    pub expires_at: Option<i64>,
    /// How it came into this queue, when that is more than a plain publish. Boxed
    /// because almost every entry (all of AMQP's) has a plain one, and a queue holds
    /// many entries in memory.
    pub arrival: Option<Box<Arrival>>,
}

impl Entry {
    pub fn size(&self) -> usize {
        self.message.body.len()
    }

    /// The arrival as a delivery reports it.
    pub fn arrival(&self) -> Arrival {
        self.arrival.as_deref().cloned().unwrap_or_default()
    }
}

/// The boxed form an entry keeps: nothing for a plain arrival.
pub(crate) fn boxed_arrival(arrival: Arrival) -> Option<Box<Arrival>> {
    (!arrival.is_plain()).then(|| Box::new(arrival))
}

/// Ready messages held in memory. Without `x-max-priority` there is one level; with
/// it, one FIFO per priority, highest served first (RabbitMQ's classic priority queue).
#[derive(Debug)]
pub(crate) struct Ready {
    levels: Vec<VecDeque<Entry>>,
    count: usize,
    bytes: usize,
}

impl Ready {
    pub fn new(max_priority: Option<u8>) -> Self {
        let n = usize::from(max_priority.unwrap_or(0)) + 1;
        Self {
            levels: (0..n).map(|_| VecDeque::new()).collect(),
            count: 0,
            bytes: 0,
        }
    }

    pub fn is_prioritised(&self) -> bool {
        self.levels.len() > 1
    }

    fn level(&self, e: &Entry) -> usize {
        usize::from(e.message.priority()).min(self.levels.len() - 1)
    }

    pub fn push_back(&mut self, e: Entry) {
        self.count += 1;
        self.bytes += e.size();
        let l = self.level(&e);
        self.levels[l].push_back(e);
    }

    /// Puts a message back at its position among the ready ones (each level is kept
    /// sorted by position; requeued messages usually land at or near the front, where
    /// inserting is cheap).
    pub fn insert_at_position(&mut self, e: Entry) {
        self.count += 1;
        self.bytes += e.size();
        let l = self.level(&e);
        let level = &mut self.levels[l];
        let i = level.partition_point(|x| x.pos < e.pos);
        level.insert(i, e);
    }

    pub fn pop_front(&mut self) -> Option<Entry> {
        let e = self.levels.iter_mut().rev().find_map(VecDeque::pop_front)?;
        self.count -= 1;
        self.bytes -= e.size();
        Some(e)
    }

    /// The earliest expiry among the heads of each level: RabbitMQ expires messages
    /// only when they reach the head, and so do we.
    pub fn next_head_expiry(&self) -> Option<i64> {
        self.levels
            .iter()
            .filter_map(|l| l.front().and_then(|e| e.expires_at))
            .min()
    }

    /// Removes expired heads (`now` in ms) and returns them.
    pub fn take_expired_heads(&mut self, now: i64) -> Vec<Entry> {
        let mut out = Vec::new();
        for level in &mut self.levels {
            while level
                .front()
                .is_some_and(|e| e.expires_at.is_some_and(|t| t <= now))
            {
                if let Some(e) = level.pop_front() {
                    self.count -= 1;
                    self.bytes -= e.size();
                    out.push(e);
                }
            }
        }
        out
    }

    pub fn drain(&mut self) -> Vec<Entry> {
        self.count = 0;
        self.bytes = 0;
        self.levels.iter_mut().flat_map(|l| l.drain(..)).collect()
    }

    pub fn len(&self) -> usize {
        self.count
    }

    pub fn bytes(&self) -> usize {
        self.bytes
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(body: &str, priority: Option<u8>) -> Entry {
        let mut m = Message::new(body.to_string());
        m.properties.priority = priority;
        Entry {
            message: Arc::new(m),
            seq: None,
            pos: 0,
            redelivered: false,
            expires_at: None,
            arrival: None,
        }
    }

    #[test]
    fn requeued_messages_return_to_their_position_in_any_order() {
        for order in [[0, 1, 2], [2, 1, 0], [1, 2, 0], [2, 0, 1]] {
            let mut r = Ready::new(Some(2));
            let mut all = Vec::new();
            for (i, (body, prio)) in [
                ("a", None),
                ("b", Some(2)),
                ("c", None),
                ("d", None),
                ("e", Some(2)),
            ]
            .into_iter()
            .enumerate()
            {
                let mut e = entry(body, prio);
                e.pos = i as u64;
                all.push(e.clone());
                r.push_back(e);
            }
            // Take three from the front (b, e, a), then put them back in `order`.
            let taken: Vec<Entry> = (0..3).map(|_| r.pop_front().expect("ready")).collect();
            for i in order {
                r.insert_at_position(taken[i].clone());
            }
            let got: Vec<_> = std::iter::from_fn(|| r.pop_front())
                .map(|e| e.message.body.clone())
                .collect();
            assert_eq!(got, vec!["b", "e", "a", "c", "d"], "order {order:?}");
        }
    }

    #[test]
    fn fifo_within_priority_highest_first() {
        let mut r = Ready::new(Some(5));
        r.push_back(entry("a", None));
        r.push_back(entry("b", Some(3)));
        r.push_back(entry("c", Some(9))); // capped at 5
        r.push_back(entry("d", Some(3)));
        let order: Vec<_> = std::iter::from_fn(|| r.pop_front())
            .map(|e| e.message.body.clone())
            .collect();
        assert_eq!(order, vec!["c", "b", "d", "a"]);
        assert_eq!(r.len(), 0);
        assert_eq!(r.bytes(), 0);
    }

    #[test]
    fn expired_heads_only() {
        let mut r = Ready::new(None);
        let mut a = entry("a", None);
        a.expires_at = Some(10);
        let mut b = entry("b", None);
        b.expires_at = Some(100);
        let mut c = entry("c", None);
        c.expires_at = Some(5);
        r.push_back(a);
        r.push_back(b);
        r.push_back(c);
        let gone = r.take_expired_heads(50);
        assert_eq!(gone.len(), 1, "c expired but is behind b, so it waits");
        assert_eq!(r.next_head_expiry(), Some(100));
    }
}
