//! Idempotent producers (KIP-98): per partition, the last sequence numbers each
//! producer wrote, so that a retried batch is recognised and not appended twice, and a
//! gap is refused instead of silently reordering.
//!
//! The state lives in memory and is rebuilt when the partition opens: from the last
//! snapshot (`producer_snapshot`, written at segment roll and at shutdown) plus the
//! batch headers appended after it, which carry producer id, epoch and sequence. So a
//! retry after a crash is still recognised. A producer the partition has no state for
//! at all is accepted from whatever sequence it sends, as Kafka does.

use std::collections::{HashMap, VecDeque};

use trident_core::Offset;

use super::{AppendError, ProducerSeq};

/// Kafka keeps the five most recent batches per producer: a client may have at most
/// five requests in flight with idempotence on.
pub(super) const RECENT: usize = 5;

/// How long a producer that wrote nothing is remembered: Kafka's
/// `producer.id.expiration.ms` default (1 day). Without it every short-lived producer
/// (Java clients are idempotent by default) would cost memory and snapshot space
/// forever. Unlike Kafka, which judges by the batch's max timestamp, the clock here is
/// the broker's at append (at recovery for replayed batches): a producer sending old
/// CreateTime timestamps (a backfill) must not lose its duplicate detection.
pub(crate) const EXPIRE_AFTER_MS: i64 = 24 * 60 * 60 * 1000;

/// One of a producer's recent batches: its sequence range and where it was stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Recent {
    pub first_seq: i32,
    pub last_seq: i32,
    pub base_offset: Offset,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct ProducerEntry {
    pub epoch: i16,
    pub last_seq: i32,
    /// Broker wall clock (ms) of the producer's last append, for expiry.
    pub last_timestamp: i64,
    /// Oldest first, at most [`RECENT`].
    pub recent: VecDeque<Recent>,
}

#[derive(Debug, PartialEq, Eq)]
pub(crate) enum SeqCheck {
    Append,
    Duplicate(Offset),
}

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct ProducerStates {
    pub(super) map: HashMap<i64, ProducerEntry>,
}

fn last_seq(p: &ProducerSeq, record_count: u32) -> i32 {
    // Sequences wrap from i32::MAX to 0 (KIP-98).
    let span = i64::from(record_count.max(1)) - 1;
    ((i64::from(p.base_sequence) + span) % (i64::from(i32::MAX) + 1)) as i32
}

fn next_seq(seq: i32) -> i32 {
    if seq == i32::MAX { 0 } else { seq + 1 }
}

impl ProducerStates {
    pub fn check(&self, p: &ProducerSeq, record_count: u32) -> Result<SeqCheck, AppendError> {
        let Some(e) = self.map.get(&p.producer_id) else {
            return Ok(SeqCheck::Append);
        };
        if p.epoch < e.epoch {
            return Err(AppendError::ProducerFenced {
                current: e.epoch,
                got: p.epoch,
            });
        }
        if p.epoch > e.epoch {
            return if p.base_sequence == 0 {
                Ok(SeqCheck::Append)
            } else {
                Err(AppendError::OutOfOrderSequence {
                    expected: 0,
                    got: p.base_sequence,
                })
            };
        }
        let last = last_seq(p, record_count);
        if let Some(r) = e
            .recent
            .iter()
            .find(|r| r.first_seq == p.base_sequence && r.last_seq == last)
        {
            return Ok(SeqCheck::Duplicate(r.base_offset));
        }
        let expected = next_seq(e.last_seq);
        if p.base_sequence != expected {
            return Err(AppendError::OutOfOrderSequence {
                expected,
                got: p.base_sequence,
            });
        }
        Ok(SeqCheck::Append)
    }

    pub fn record(&mut self, p: &ProducerSeq, record_count: u32, base_offset: Offset, now_ms: i64) {
        let last = last_seq(p, record_count);
        let e = self
            .map
            .entry(p.producer_id)
            .or_insert_with(|| ProducerEntry {
                epoch: p.epoch,
                last_seq: last,
                last_timestamp: now_ms,
                recent: VecDeque::new(),
            });
        e.last_timestamp = e.last_timestamp.max(now_ms);
        if p.epoch != e.epoch {
            e.epoch = p.epoch;
            e.recent.clear();
        }
        e.last_seq = last;
        if e.recent.len() == RECENT {
            e.recent.pop_front();
        }
        e.recent.push_back(Recent {
            first_seq: p.base_sequence,
            last_seq: last,
            base_offset,
        });
    }

    /// Forgets producers whose last batch is older than [`EXPIRE_AFTER_MS`] before
    /// `now_ms`; returns how many.
    pub fn expire(&mut self, now_ms: i64) -> usize {
        let before = self.map.len();
        self.map
            .retain(|_, e| now_ms.saturating_sub(e.last_timestamp) < EXPIRE_AFTER_MS);
        before - self.map.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seq(base: i32, epoch: i16) -> ProducerSeq {
        ProducerSeq {
            producer_id: 7,
            epoch,
            base_sequence: base,
        }
    }

    #[test]
    fn duplicates_and_gaps() {
        let mut s = ProducerStates::default();
        assert_eq!(s.check(&seq(0, 0), 10), Ok(SeqCheck::Append));
        s.record(&seq(0, 0), 10, 100, 0);
        assert_eq!(s.check(&seq(0, 0), 10), Ok(SeqCheck::Duplicate(100)));
        assert_eq!(s.check(&seq(10, 0), 5), Ok(SeqCheck::Append));
        assert!(matches!(
            s.check(&seq(12, 0), 5),
            Err(AppendError::OutOfOrderSequence {
                expected: 10,
                got: 12
            })
        ));
        s.record(&seq(10, 0), 5, 110, 0);
        assert!(matches!(
            s.check(&seq(0, 0), 1),
            Err(AppendError::OutOfOrderSequence { .. })
        ));
        // A bumped epoch restarts at 0; an old epoch is fenced.
        assert_eq!(s.check(&seq(0, 1), 1), Ok(SeqCheck::Append));
        s.record(&seq(0, 1), 1, 200, 0);
        assert!(matches!(
            s.check(&seq(15, 0), 1),
            Err(AppendError::ProducerFenced { .. })
        ));
    }

    #[test]
    fn idle_producers_expire() {
        let mut s = ProducerStates::default();
        s.record(&seq(0, 0), 1, 0, 1_000);
        assert_eq!(s.expire(1_000 + EXPIRE_AFTER_MS - 1), 0);
        assert_eq!(s.check(&seq(0, 0), 1), Ok(SeqCheck::Duplicate(0)));
        assert_eq!(s.expire(1_000 + EXPIRE_AFTER_MS), 1);
        // Forgotten: accepted from any sequence, as an unknown producer.
        assert_eq!(s.check(&seq(50, 0), 1), Ok(SeqCheck::Append));
    }

    #[test]
    fn sequence_wraps() {
        let mut s = ProducerStates::default();
        s.record(&seq(i32::MAX - 1, 0), 2, 0, 0);
        assert_eq!(s.check(&seq(0, 0), 1), Ok(SeqCheck::Append));
    }
}
