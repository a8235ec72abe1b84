//! Recovery of a damaged active segment: whatever the damage, every entry before it is
//! intact, nothing from it on is returned, and appends continue at the right offset.

#![allow(clippy::unwrap_used)]

mod common;

use std::path::{Path, PathBuf};

use common::*;
use proptest::prelude::*;
use trident_storage::SegmentLog;

const MAX: usize = 200;
const HEADER: u64 = 32;

/// Writes `n` batches into a log whose earlier segments are closed; returns the log
/// dir, all bases, and (base, position, length) of the entries in the active segment.
fn build(dir: &Path, n: usize, segment_bytes: u64) -> (Vec<u64>, PathBuf, Vec<(u64, u64, u64)>) {
    let mut log = SegmentLog::open(dir, small_config(segment_bytes)).unwrap();
    let bases = append_generated(&mut log, n, MAX);
    log.sync().unwrap();
    drop(log);
    let mut logs: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "log"))
        .collect();
    logs.sort();
    let active = logs.pop().unwrap();
    let active_base: u64 = active
        .file_stem()
        .unwrap()
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    let mut pos = 0;
    let mut entries = Vec::new();
    for &b in bases.iter().filter(|&&b| b >= active_base) {
        let len = HEADER + payload_for(b, MAX).len() as u64;
        entries.push((b, pos, len));
        pos += len;
    }
    assert_eq!(std::fs::metadata(&active).unwrap().len(), pos);
    (bases, active, entries)
}

/// Reopens and checks: surviving entries are exactly those before `first_lost`.
fn verify(dir: &Path, bases: &[u64], first_lost: u64) {
    let mut log = SegmentLog::open(dir, small_config(u32::MAX as u64)).unwrap();
    assert_eq!(log.next_offset(), first_lost);
    let mut got = Vec::new();
    let mut cur = log.start_offset();
    while cur < log.next_offset() {
        for b in log.read(cur, 4096).unwrap() {
            check_batch(&b, MAX);
            got.push(b.base_offset);
            cur = b.next_offset();
        }
    }
    let want: Vec<u64> = bases.iter().copied().filter(|&b| b < first_lost).collect();
    assert_eq!(got, want);
    // Appends continue where the valid data ends, and read back.
    let again = append_generated(&mut log, 3, MAX);
    assert_eq!(again[0], first_lost);
    let back = log.read(first_lost, usize::MAX).unwrap();
    assert_eq!(back.len(), 3);
    back.iter().for_each(|b| check_batch(b, MAX));
    log.sync().unwrap();
    drop(log);
    let log = SegmentLog::open(dir, small_config(u32::MAX as u64)).unwrap();
    assert_eq!(log.next_offset(), again[2] + u64::from(count_for(again[2])));
}

/// The first entry an edit at byte `at` damages.
fn first_damaged(entries: &[(u64, u64, u64)], at: u64, end_offset: u64) -> u64 {
    entries
        .iter()
        .find(|(_, pos, len)| at < pos + len)
        .map_or(end_offset, |(b, _, _)| *b)
}

fn end_offset(bases: &[u64]) -> u64 {
    let last = *bases.last().unwrap();
    last + u64::from(count_for(last))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn truncation_at_any_position(cut_frac in 0.0f64..=1.0, multi in any::<bool>()) {
        let dir = tempfile::tempdir().unwrap();
        let (bases, active, entries) = build(dir.path(), 120, if multi { 4096 } else { 1 << 20 });
        let len = std::fs::metadata(&active).unwrap().len();
        let cut = (len as f64 * cut_frac) as u64;
        std::fs::OpenOptions::new().write(true).open(&active).unwrap().set_len(cut).unwrap();
        // An entry survives only if it is entirely before the cut.
        let first_lost = entries
            .iter()
            .find(|(_, pos, l)| pos + l > cut)
            .map_or(end_offset(&bases), |(b, _, _)| *b);
        verify(dir.path(), &bases, first_lost);
    }

    #[test]
    fn overwritten_tail_bytes(at_frac in 0.0f64..1.0, n in 1usize..64, xor in 1u8..=255, multi in any::<bool>()) {
        let dir = tempfile::tempdir().unwrap();
        let (bases, active, entries) = build(dir.path(), 120, if multi { 4096 } else { 1 << 20 });
        let mut data = std::fs::read(&active).unwrap();
        let at = (data.len() as f64 * at_frac) as usize;
        for b in data.iter_mut().skip(at).take(n) {
            *b ^= xor;
        }
        std::fs::write(&active, &data).unwrap();
        verify(dir.path(), &bases, first_damaged(&entries, at as u64, end_offset(&bases)));
    }

    #[test]
    fn garbage_appended_after_valid_entries(garbage in proptest::collection::vec(any::<u8>(), 1..300)) {
        let dir = tempfile::tempdir().unwrap();
        let (bases, active, _) = build(dir.path(), 30, 1 << 20);
        let mut data = std::fs::read(&active).unwrap();
        data.extend_from_slice(&garbage);
        std::fs::write(&active, &data).unwrap();
        verify(dir.path(), &bases, end_offset(&bases));
    }
}

#[test]
fn zero_filled_tail_is_cut() {
    // What a crash after the file grew but before the data reached disk can leave.
    let dir = tempfile::tempdir().unwrap();
    let (bases, active, _) = build(dir.path(), 50, 1 << 20);
    let f = std::fs::OpenOptions::new()
        .write(true)
        .open(&active)
        .unwrap();
    let len = f.metadata().unwrap().len();
    f.set_len(len + 4096).unwrap();
    verify(dir.path(), &bases, end_offset(&bases));
}

#[test]
fn huge_length_field_does_not_allocate() {
    // A header claiming a 4 GiB payload at the tail must be treated as a torn entry.
    let dir = tempfile::tempdir().unwrap();
    let (bases, active, entries) = build(dir.path(), 20, 1 << 20);
    let mut data = std::fs::read(&active).unwrap();
    let (_, pos, _) = *entries.last().unwrap();
    data[pos as usize + 24..pos as usize + 28].copy_from_slice(&u32::MAX.to_le_bytes());
    std::fs::write(&active, &data).unwrap();
    verify(dir.path(), &bases, entries.last().unwrap().0);
}
