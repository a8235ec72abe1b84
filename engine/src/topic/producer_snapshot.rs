//! Producer state that survives a restart: a snapshot in the partition directory,
//! written at segment roll and at shutdown, plus a replay of the batch headers stored
//! after it.
//!
//! The snapshot says which log offset it covers: the state is exact for every batch
//! below that offset. It is written only when everything below that offset is durable
//! (a roll fsyncs the sealed segment first; shutdown syncs the log first), so a good
//! snapshot is never ahead of the log. At open, the batches from the covered offset on
//! are replayed from their headers (the active segment at most, after a crash; nothing
//! after a clean shutdown). A snapshot that is missing, torn, corrupt or ahead of the
//! log is ignored with a warning and the state is rebuilt from every batch still
//! stored: the partition always opens.
//!
//! Format, little-endian, `crc32c` over everything before it:
//! ```text
//! "TPS1" | covers u64 | producers u32 | per producer:
//!     producer_id i64 | epoch i16 | last_seq i32 | last_timestamp i64 | recent u8 (<= 5) |
//!     per recent batch: first_seq i32 | last_seq i32 | base_offset u64
//! | crc32c u32
//! ```

use std::collections::VecDeque;

use trident_core::{BatchEncoding, Offset};
use trident_storage::SegmentLog;

use super::producer_state::{ProducerEntry, ProducerStates, RECENT, Recent};
use trident_records::batch;

/// The sidecar's name in the partition directory.
pub(crate) const SNAPSHOT: &str = "producer-snapshot";
const MAGIC: &[u8; 4] = b"TPS1";
const FIXED: usize = 4 + 8 + 4;
const PRODUCER_LEN: usize = 8 + 2 + 4 + 8 + 1;
const RECENT_LEN: usize = 4 + 4 + 8;

/// Why a snapshot was not used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum SnapshotError {
    #[error("producer snapshot is truncated ({0} bytes)")]
    Truncated(usize),
    #[error("producer snapshot has an unknown format")]
    BadMagic,
    #[error("producer snapshot checksum mismatch")]
    Checksum,
    #[error("producer snapshot is inconsistent: {0}")]
    Inconsistent(&'static str),
}

pub(crate) fn encode(states: &ProducerStates, covers: Offset) -> Vec<u8> {
    let mut out =
        Vec::with_capacity(FIXED + states.map.len() * (PRODUCER_LEN + RECENT * RECENT_LEN) + 4);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&covers.to_le_bytes());
    // The map never holds more than u32::MAX producers (each took an append).
    out.extend_from_slice(&(states.map.len() as u32).to_le_bytes());
    // Sorted, so that the same state always gives the same bytes.
    let mut ids: Vec<&i64> = states.map.keys().collect();
    ids.sort_unstable();
    for id in ids {
        let e = &states.map[id];
        out.extend_from_slice(&id.to_le_bytes());
        out.extend_from_slice(&e.epoch.to_le_bytes());
        out.extend_from_slice(&e.last_seq.to_le_bytes());
        out.extend_from_slice(&e.last_timestamp.to_le_bytes());
        out.push(e.recent.len().min(RECENT) as u8);
        for r in e.recent.iter().rev().take(RECENT).rev() {
            out.extend_from_slice(&r.first_seq.to_le_bytes());
            out.extend_from_slice(&r.last_seq.to_le_bytes());
            out.extend_from_slice(&r.base_offset.to_le_bytes());
        }
    }
    let crc = crc32c::crc32c(&out);
    out.extend_from_slice(&crc.to_le_bytes());
    out
}

/// A little-endian reader that never reads past the end (lengths were checked once
/// against the whole buffer, but each field is still bounds-checked).
struct Fields<'a> {
    b: &'a [u8],
}

impl Fields<'_> {
    fn take<const N: usize>(&mut self) -> Result<[u8; N], SnapshotError> {
        let (head, rest) = self
            .b
            .split_at_checked(N)
            .ok_or(SnapshotError::Inconsistent("a record runs past the end"))?;
        self.b = rest;
        let mut a = [0u8; N];
        a.copy_from_slice(head);
        Ok(a)
    }
}

/// Returns the state and the offset it covers.
pub(crate) fn decode(bytes: &[u8]) -> Result<(ProducerStates, Offset), SnapshotError> {
    if bytes.len() < FIXED + 4 {
        return Err(SnapshotError::Truncated(bytes.len()));
    }
    if &bytes[..4] != MAGIC {
        return Err(SnapshotError::BadMagic);
    }
    let (body, crc) = bytes.split_at(bytes.len() - 4);
    let mut c = [0u8; 4];
    c.copy_from_slice(crc);
    if crc32c::crc32c(body) != u32::from_le_bytes(c) {
        return Err(SnapshotError::Checksum);
    }
    let mut f = Fields { b: &body[4..] };
    let covers = u64::from_le_bytes(f.take()?);
    let count = u32::from_le_bytes(f.take()?) as usize;
    // Bound the count by the bytes present before allocating for it.
    if count > f.b.len() / PRODUCER_LEN {
        return Err(SnapshotError::Inconsistent("more producers than bytes"));
    }
    let mut states = ProducerStates::default();
    states.map.reserve(count);
    for _ in 0..count {
        let id = i64::from_le_bytes(f.take()?);
        let epoch = i16::from_le_bytes(f.take()?);
        let last_seq = i32::from_le_bytes(f.take()?);
        let last_timestamp = i64::from_le_bytes(f.take()?);
        let [n] = f.take::<1>()?;
        if usize::from(n) > RECENT {
            return Err(SnapshotError::Inconsistent("too many recent batches"));
        }
        let mut recent = VecDeque::with_capacity(usize::from(n));
        for _ in 0..n {
            let first_seq = i32::from_le_bytes(f.take()?);
            let last = i32::from_le_bytes(f.take()?);
            let base_offset = u64::from_le_bytes(f.take()?);
            if base_offset >= covers {
                return Err(SnapshotError::Inconsistent(
                    "a batch at or after the covered offset",
                ));
            }
            recent.push_back(Recent {
                first_seq,
                last_seq: last,
                base_offset,
            });
        }
        if id < 0 || states.map.contains_key(&id) {
            return Err(SnapshotError::Inconsistent("bad or repeated producer id"));
        }
        states.map.insert(
            id,
            ProducerEntry {
                epoch,
                last_seq,
                last_timestamp,
                recent,
            },
        );
    }
    if !f.b.is_empty() {
        return Err(SnapshotError::Inconsistent("trailing bytes"));
    }
    Ok((states, covers))
}

/// Writes the snapshot of `states`, which must be exact for every batch below
/// `covers`, and everything below `covers` must already be durable.
pub(crate) fn write(log: &SegmentLog, states: &ProducerStates, covers: Offset, partition: &str) {
    if let Err(e) = log.write_sidecar(SNAPSHOT, &encode(states, covers)) {
        // Not fatal: the next open replays from the previous snapshot (or the log).
        tracing::warn!(partition, error = %e, "could not write the producer snapshot");
    }
}

/// The producer state of a freshly opened log: the snapshot, then every batch stored
/// after the offset it covers. Never fails; a bad snapshot means a longer replay.
pub(crate) fn recover(log: &SegmentLog, partition: &str) -> ProducerStates {
    let (mut states, from) = match log.read_sidecar(SNAPSHOT) {
        Ok(None) => (ProducerStates::default(), 0),
        Ok(Some(bytes)) => match decode(&bytes) {
            Ok((s, covers)) if covers <= log.next_offset() => (s, covers),
            Ok((_, covers)) => {
                tracing::warn!(
                    partition,
                    covers,
                    log_end = log.next_offset(),
                    "producer snapshot is ahead of the log; rebuilding producer state from the log"
                );
                (ProducerStates::default(), 0)
            }
            Err(e) => {
                tracing::warn!(partition, error = %e, "ignoring the producer snapshot; rebuilding producer state from the log");
                (ProducerStates::default(), 0)
            }
        },
        Err(e) => {
            tracing::warn!(partition, error = %e, "cannot read the producer snapshot; rebuilding producer state from the log");
            (ProducerStates::default(), 0)
        }
    };
    // Replayed producers count as active now: the batches' own timestamps are the
    // clients' and may be arbitrarily old.
    let now = trident_core::message::now_ms();
    let replayed = log.scan_batch_prefixes(from, batch::HEADER_LEN, |b| {
        if b.base_offset >= from
            && b.encoding == Some(BatchEncoding::RecordBatchV2)
            && let Some(p) = batch::producer_of(b.prefix)
        {
            states.record(&p, b.record_count, b.base_offset, now);
        }
        true
    });
    if let Err(e) = replayed {
        // The log itself opened, so this is a read error past its validated tail;
        // keep what was rebuilt so far rather than refuse to serve the partition.
        tracing::warn!(partition, error = %e, "producer state replay stopped early");
    }
    states
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::topic::ProducerSeq;

    fn sample() -> ProducerStates {
        let mut s = ProducerStates::default();
        for (pid, batches) in [(7i64, 8u64), (1 << 40, 2)] {
            for i in 0..batches {
                let p = ProducerSeq {
                    producer_id: pid,
                    epoch: 3,
                    base_sequence: (i * 10) as i32,
                };
                s.record(&p, 10, 100 + i * 10, 5_000 + i as i64);
            }
        }
        s
    }

    #[test]
    fn round_trip_keeps_every_field() {
        let s = sample();
        let bytes = encode(&s, 500);
        assert_eq!(decode(&bytes).unwrap(), (s, 500));
        let empty = ProducerStates::default();
        assert_eq!(decode(&encode(&empty, 0)).unwrap(), (empty, 0));
    }

    #[test]
    fn every_truncation_is_refused() {
        let bytes = encode(&sample(), 500);
        for len in 0..bytes.len() {
            assert!(
                decode(&bytes[..len]).is_err(),
                "truncated to {len} accepted"
            );
        }
    }

    #[test]
    fn every_flipped_bit_is_refused() {
        let bytes = encode(&sample(), 500);
        for i in 0..bytes.len() {
            for bit in 0..8 {
                let mut bad = bytes.clone();
                bad[i] ^= 1 << bit;
                assert!(decode(&bad).is_err(), "flip of bit {bit} at {i} accepted");
            }
        }
    }

    #[test]
    fn inconsistent_contents_with_a_valid_crc_are_refused() {
        let reseal = |mut body: Vec<u8>| {
            body.truncate(body.len() - 4);
            let crc = crc32c::crc32c(&body);
            body.extend_from_slice(&crc.to_le_bytes());
            body
        };
        // A producer count far beyond the bytes present must not allocate for it.
        let mut huge = encode(&sample(), 500);
        huge[12..16].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(matches!(
            decode(&reseal(huge)),
            Err(SnapshotError::Inconsistent(_))
        ));
        // A recent batch at the covered offset cannot have been covered.
        let bytes = encode(&sample(), 100);
        assert!(matches!(
            decode(&bytes),
            Err(SnapshotError::Inconsistent(_))
        ));
    }
}
