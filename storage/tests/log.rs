#![allow(clippy::unwrap_used)]
mod common;

use common::*;
use trident_core::BatchEncoding;
use trident_storage::{LogConfig, SegmentLog, StorageError};

const MAX: usize = 300;

fn segment_files(dir: &std::path::Path) -> usize {
    std::fs::read_dir(dir)
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .ends_with(".log")
        })
        .count()
}

/// Reads everything from `from` in pages of `max_bytes` and checks contiguity and content.
fn read_all(log: &SegmentLog, from: u64, max_bytes: usize) -> Vec<u64> {
    let mut bases = Vec::new();
    let mut cur = from;
    let mut first = true;
    while cur < log.next_offset() {
        let batches = log.read(cur, max_bytes).unwrap();
        assert!(
            !batches.is_empty(),
            "read({cur}) returned nothing before the end"
        );
        if first {
            assert!(batches[0].base_offset <= cur && cur < batches[0].next_offset());
            first = false;
        } else {
            assert_eq!(batches[0].base_offset, cur);
        }
        let total: usize = batches.iter().map(|b| b.bytes.len()).sum();
        assert!(
            batches.len() == 1 || total <= max_bytes,
            "{total} > {max_bytes}"
        );
        for w in batches.windows(2) {
            assert_eq!(w[0].next_offset(), w[1].base_offset);
        }
        for b in &batches {
            check_batch(b, MAX);
            bases.push(b.base_offset);
        }
        cur = batches.last().unwrap().next_offset();
    }
    bases
}

#[test]
fn round_trip_across_many_segments_and_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = SegmentLog::open(dir.path(), small_config(4096)).unwrap();
    assert_eq!((log.start_offset(), log.next_offset()), (0, 0));
    let bases = append_generated(&mut log, 2000, MAX);
    assert!(segment_files(dir.path()) > 50, "expected many rolls");
    for max_bytes in [0, 100, 1000, 50_000, usize::MAX] {
        assert_eq!(read_all(&log, 0, max_bytes), bases);
    }
    // Every offset, including those in the middle of batches.
    for from in (0..log.next_offset()).step_by(7) {
        let b = log.read(from, 0).unwrap();
        assert_eq!(b.len(), 1);
        assert!(
            b[0].base_offset <= from && from < b[0].next_offset(),
            "from {from}: {:?}",
            b[0].base_offset
        );
        check_batch(&b[0], MAX);
    }
    let next = log.next_offset();
    let size = log.size_bytes();
    log.sync().unwrap();
    drop(log);

    let mut log = SegmentLog::open(dir.path(), small_config(4096)).unwrap();
    assert_eq!(log.next_offset(), next);
    assert_eq!(log.size_bytes(), size);
    assert_eq!(read_all(&log, 0, 10_000), bases);
    let more = append_generated(&mut log, 100, MAX);
    assert_eq!(more[0], next);
    let mut all = bases.clone();
    all.extend(more);
    assert_eq!(read_all(&log, 0, 10_000), all);
}

#[test]
fn read_edges() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = SegmentLog::open(dir.path(), small_config(4096)).unwrap();
    assert!(log.read(0, 100).unwrap().is_empty());
    assert!(matches!(
        log.read(1, 100),
        Err(StorageError::OffsetOutOfRange {
            offset: 1,
            start: 0,
            end: 0
        })
    ));
    append_generated(&mut log, 10, MAX);
    let next = log.next_offset();
    assert!(log.read(next, 100).unwrap().is_empty());
    assert!(matches!(
        log.read(next + 1, 100),
        Err(StorageError::OffsetOutOfRange { .. })
    ));
    // A batch larger than max_bytes still comes back alone.
    let big = vec![7u8; 10_000];
    let base = log
        .append(3, 5, BatchEncoding::RecordBatchV2, &big)
        .unwrap();
    let got = log.read(base, 10).unwrap();
    assert_eq!(got.len(), 1);
    assert_eq!(&got[0].bytes[..], &big[..]);
}

#[test]
fn invalid_appends_write_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = small_config(1 << 20);
    cfg.max_batch_bytes = 1000;
    let mut log = SegmentLog::open(dir.path(), cfg).unwrap();
    append_generated(&mut log, 3, 500);
    let (next, size) = (log.next_offset(), log.size_bytes());
    assert!(matches!(
        log.append(1, 0, BatchEncoding::RecordBatchV2, &[0u8; 1001]),
        Err(StorageError::BatchTooLarge {
            size: 1001,
            max: 1000
        })
    ));
    assert!(matches!(
        log.append(0, 0, BatchEncoding::RecordBatchV2, b"x"),
        Err(StorageError::InvalidArgument(_))
    ));
    assert_eq!((log.next_offset(), log.size_bytes()), (next, size));
    let e: trident_core::Error = StorageError::BatchTooLarge {
        size: 1001,
        max: 1000,
    }
    .into();
    assert_eq!(e.kind(), trident_core::ErrorKind::InvalidArgument);
    let e: trident_core::Error = StorageError::Io {
        path: "x".into(),
        source: std::io::Error::from(std::io::ErrorKind::StorageFull),
    }
    .into();
    assert_eq!(e.kind(), trident_core::ErrorKind::ResourceExhausted);
}

#[test]
fn second_handle_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let _log = SegmentLog::open(dir.path(), small_config(4096)).unwrap();
    assert!(matches!(
        SegmentLog::open(dir.path(), small_config(4096)),
        Err(StorageError::Locked { .. })
    ));
}

/// First batch whose max timestamp >= ts, by brute force.
fn expected_ts(batches: &[(u64, i64)], ts: i64, start: u64) -> Option<u64> {
    batches
        .iter()
        .zip(batches.iter().skip(1).map(|b| b.0).chain([u64::MAX]))
        .filter(|((_, _), next)| *next > start)
        .find(|((_, t), _)| *t >= ts)
        .map(|((b, _), _)| (*b).max(start))
}

#[test]
fn offset_for_timestamp_matches_brute_force() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = SegmentLog::open(dir.path(), small_config(2048)).unwrap();
    let mut batches = Vec::new();
    // Mostly increasing timestamps with regressions, as producers with skewed clocks send.
    for i in 0..1500i64 {
        let ts = i * 10 + if i % 7 == 0 { -95 } else { 0 } + if i % 50 == 0 { 400 } else { 0 };
        let base = log
            .append(
                1 + (i % 3) as u32,
                ts,
                BatchEncoding::RecordBatchV2,
                &vec![1u8; 20 + (i % 90) as usize],
            )
            .unwrap();
        batches.push((base, ts));
    }
    let check = |log: &SegmentLog, batches: &[(u64, i64)]| {
        for ts in (-200..15_500).step_by(13) {
            assert_eq!(
                log.offset_for_timestamp(ts).unwrap(),
                expected_ts(batches, ts, log.start_offset()),
                "ts {ts}"
            );
        }
        assert_eq!(log.offset_for_timestamp(i64::MAX).unwrap(), None);
        assert_eq!(
            log.offset_for_timestamp(i64::MIN).unwrap(),
            Some(log.start_offset())
        );
    };
    check(&log, &batches);
    log.sync().unwrap();
    drop(log);
    // Closed segments answer from their persisted time indexes after a reopen.
    let mut log = SegmentLog::open(dir.path(), small_config(2048)).unwrap();
    check(&log, &batches);
    let mid = batches[700].0 + 1;
    log.delete_records_before(mid).unwrap();
    check(&log, &batches);
}

#[test]
fn retention_by_time() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = small_config(1000);
    cfg.retention_ms = Some(1000);
    let mut log = SegmentLog::open(dir.path(), cfg).unwrap();
    // 10 batches of ~300 B per "second", so about 3 per segment.
    for i in 0..100i64 {
        log.append(1, i * 100, BatchEncoding::RecordBatchV2, &[0u8; 268])
            .unwrap();
    }
    let segs = log.segment_count();
    assert!(segs >= 30);
    // now = 5000: batches with ts < 4000 are past retention; a segment goes when its
    // newest batch is.
    let deleted = log.apply_retention(5000).unwrap();
    assert!(deleted > 0);
    assert_eq!(log.segment_count(), segs - deleted as usize);
    let start = log.start_offset();
    // Everything before start had timestamps < 4000, the first kept batch's segment has
    // a batch at >= 4000.
    assert!(start <= 40 && start > 30, "start {start}");
    assert!(matches!(
        log.read(start - 1, 10),
        Err(StorageError::OffsetOutOfRange { .. })
    ));
    assert_eq!(log.read(start, 0).unwrap()[0].base_offset, start);
    // Far future: everything but the active segment goes.
    log.apply_retention(1_000_000).unwrap();
    assert_eq!(log.segment_count(), 1);
    assert_eq!(segment_files(dir.path()), 1);
    log.sync().unwrap();
    drop(log);
    let log = SegmentLog::open(dir.path(), small_config(1000)).unwrap();
    assert_eq!(log.segment_count(), 1);
    assert_eq!(log.next_offset(), 100);
}

#[test]
fn retention_by_size() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = small_config(1000);
    cfg.retention_bytes = Some(5000);
    let mut log = SegmentLog::open(dir.path(), cfg).unwrap();
    for i in 0..100i64 {
        log.append(1, i, BatchEncoding::RecordBatchV2, &[0u8; 268])
            .unwrap();
    }
    log.apply_retention(0).unwrap();
    assert!(log.size_bytes() >= 5000, "{}", log.size_bytes());
    assert!(log.size_bytes() < 5000 + 1000);
    let on_disk: u64 = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap())
        .filter(|e| e.file_name().to_string_lossy().ends_with(".log"))
        .map(|e| e.metadata().unwrap().len())
        .sum();
    assert_eq!(on_disk, log.size_bytes());
}

#[test]
fn delete_records_before_persists() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = SegmentLog::open(dir.path(), small_config(4096)).unwrap();
    let bases = append_generated(&mut log, 500, MAX);
    let segs = log.segment_count();
    let k = (300..).find(|&i| count_for(bases[i]) > 1).unwrap();
    let target = bases[k] + 1; // in the middle of a batch
    assert_eq!(log.delete_records_before(target).unwrap(), target);
    assert_eq!(log.start_offset(), target);
    assert!(log.segment_count() < segs);
    assert!(matches!(
        log.read(target - 1, 10),
        Err(StorageError::OffsetOutOfRange { .. })
    ));
    // The batch containing the start offset is still returned whole.
    assert_eq!(log.read(target, 0).unwrap()[0].base_offset, bases[k]);
    // Going backwards is a no-op; beyond the end is an error.
    assert_eq!(log.delete_records_before(5).unwrap(), target);
    assert!(log.delete_records_before(log.next_offset() + 1).is_err());
    drop(log);
    let mut log = SegmentLog::open(dir.path(), small_config(4096)).unwrap();
    assert_eq!(log.start_offset(), target);
    assert_eq!(read_all(&log, target, 5000), bases[k..].to_vec());
    // Deleting everything leaves an empty, appendable log.
    let end = log.next_offset();
    assert_eq!(log.delete_records_before(end).unwrap(), end);
    assert!(log.read(end, 10).unwrap().is_empty());
    append_generated(&mut log, 3, MAX);
    drop(log);
    let log = SegmentLog::open(dir.path(), small_config(4096)).unwrap();
    assert_eq!(log.start_offset(), end);
    assert_eq!(read_all(&log, end, 5000).len(), 3);
}

#[test]
fn time_based_roll() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = small_config(1 << 20);
    cfg.segment_ms = Some(1000);
    let mut log = SegmentLog::open(dir.path(), cfg).unwrap();
    for i in 0..50i64 {
        log.append(1, i * 100, BatchEncoding::RecordBatchV2, b"abc")
            .unwrap();
    }
    // A new segment whenever a batch is > 1000 ms after the segment's first.
    assert_eq!(log.segment_count(), 5);
}

#[test]
fn damaged_closed_segment_indexes_are_rebuilt() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = SegmentLog::open(dir.path(), small_config(8192)).unwrap();
    let bases = append_generated(&mut log, 400, MAX);
    log.sync().unwrap();
    drop(log);
    let mut names: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    names.sort();
    let indexes: Vec<_> = names
        .iter()
        .filter(|p| p.extension().is_some_and(|e| e == "index"))
        .collect();
    let times: Vec<_> = names
        .iter()
        .filter(|p| p.extension().is_some_and(|e| e == "timeindex"))
        .collect();
    // Garbage length, deleted, and plausible-but-wrong positions.
    std::fs::write(indexes[0], [1u8; 13]).unwrap();
    std::fs::remove_file(times[1]).unwrap();
    let mut wrong = Vec::new();
    for i in 0..4u32 {
        wrong.extend_from_slice(&(i * 3).to_le_bytes());
        wrong.extend_from_slice(&(i * 100 + 1).to_le_bytes());
    }
    std::fs::write(indexes[2], &wrong).unwrap();
    let log = SegmentLog::open(dir.path(), small_config(8192)).unwrap();
    assert_eq!(read_all(&log, 0, 3000), bases);
    for from in 0..log.next_offset() {
        let b = log.read(from, 0).unwrap();
        assert!(b[0].base_offset <= from && from < b[0].next_offset());
    }
}

#[test]
fn corrupt_closed_segment_is_an_error_not_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = SegmentLog::open(dir.path(), small_config(4096)).unwrap();
    append_generated(&mut log, 100, MAX);
    drop(log);
    let first = dir.path().join(format!("{:020}.log", 0));
    let mut data = std::fs::read(&first).unwrap();
    let n = data.len();
    data[n / 2] ^= 0xff;
    std::fs::write(&first, &data).unwrap();
    let log = SegmentLog::open(dir.path(), small_config(4096)).unwrap();
    let mut saw_error = false;
    for from in 0..5 {
        match log.read(from, usize::MAX) {
            Err(StorageError::Corrupt { .. }) => saw_error = true,
            Ok(_) => {}
            Err(e) => panic!("unexpected error {e}"),
        }
    }
    assert!(saw_error);
}

#[test]
fn default_config_is_valid() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = SegmentLog::open(dir.path(), LogConfig::default()).unwrap();
    log.append(1, 0, BatchEncoding::RecordBatchV2, b"x")
        .unwrap();
    let bad = LogConfig {
        segment_bytes: 1 << 40,
        ..LogConfig::default()
    };
    assert!(matches!(
        SegmentLog::open(&dir.path().join("b"), bad),
        Err(StorageError::InvalidArgument(_))
    ));
}
