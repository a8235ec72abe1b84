//! Helpers shared by the integration tests: deterministic batch contents that can be
//! verified from the base offset alone (so a test can check data written by another
//! process).
#![allow(dead_code, clippy::unwrap_used)]

use trident_core::LogBatch;
use trident_storage::LogConfig;

/// Records in the batch that starts at `base`.
pub fn count_for(base: u64) -> u32 {
    1 + (base % 5) as u32
}

/// Payload of the batch that starts at `base`: its base offset, then a pattern.
pub fn payload_for(base: u64, max_len: usize) -> Vec<u8> {
    let len = 8 + (base.wrapping_mul(7919) % max_len as u64) as usize;
    let mut v = Vec::with_capacity(len);
    v.extend_from_slice(&base.to_le_bytes());
    v.extend((8..len).map(|i| (base as usize).wrapping_mul(31).wrapping_add(i) as u8));
    v
}

pub fn timestamp_for(base: u64) -> i64 {
    1_000_000 + base as i64 * 10
}

pub fn check_batch(b: &LogBatch, max_len: usize) {
    assert_eq!(
        b.record_count,
        count_for(b.base_offset),
        "record count of batch {}",
        b.base_offset
    );
    assert_eq!(
        &b.bytes[..],
        &payload_for(b.base_offset, max_len)[..],
        "payload of batch {}",
        b.base_offset
    );
    assert_eq!(b.max_timestamp, timestamp_for(b.base_offset));
}

pub fn small_config(segment_bytes: u64) -> LogConfig {
    LogConfig {
        segment_bytes,
        segment_ms: None,
        retention_ms: None,
        retention_bytes: None,
        index_interval_bytes: 256,
        max_batch_bytes: 64 * 1024,
    }
}

/// Appends `n` generated batches; returns (base offset, file position delta) per batch.
pub fn append_generated(
    log: &mut trident_storage::SegmentLog,
    n: usize,
    max_len: usize,
) -> Vec<u64> {
    let mut bases = Vec::with_capacity(n);
    for _ in 0..n {
        let base = log.next_offset();
        let got = log
            .append(
                count_for(base),
                timestamp_for(base),
                trident_core::BatchEncoding::RecordBatchV2,
                &payload_for(base, max_len),
            )
            .unwrap();
        assert_eq!(got, base);
        bases.push(base);
    }
    bases
}
