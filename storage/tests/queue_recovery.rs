//! Queue store recovery from its index and journal: counts and bytes come from the
//! queue index (and are the same when it is lost or damaged and rebuilt), delivery
//! marks survive a crash once flushed, and damaged journals or index files never stop
//! the store from opening or lose an acknowledged removal that was written.

#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};

use bytes::Bytes;
use proptest::prelude::*;
use trident_core::{DeliveryMode, Message};
use trident_storage::{QueueStore, QueueStoreConfig, Recovered};

fn msg(seq: u64) -> Message {
    // Varied body sizes, so a wrong length anywhere shows in the byte total.
    let mut m = Message::new(Bytes::from(vec![
        b'a' + (seq % 26) as u8;
        (seq % 97) as usize
    ]));
    m.delivery_mode = DeliveryMode::Persistent;
    m
}

fn cfg() -> QueueStoreConfig {
    QueueStoreConfig {
        segment_bytes: 16 * 1024,
        ..QueueStoreConfig::default()
    }
}

fn open(dir: &Path) -> (QueueStore, Recovered) {
    QueueStore::open(dir, cfg()).unwrap()
}

/// Runs `work` in a child process (this test binary, re-run for one test) that then
/// aborts: what `kill -9` leaves, everything written to the OS and nothing more (no
/// destructors, no flush on drop, locks released by the OS).
fn in_crashing_child(test: &str, dir: &Path, work: impl FnOnce(&Path)) {
    const CHILD: &str = "TRIDENT_CRASH_CHILD_DIR";
    if let Ok(d) = std::env::var(CHILD) {
        work(Path::new(&d));
        std::process::abort();
    }
    let status = std::process::Command::new(std::env::current_exe().unwrap())
        .args([test, "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD, dir)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(!status.success(), "the child was meant to abort");
}

/// The directory a test works in: the parent's, or the one the parent handed down.
fn test_dir() -> (Option<tempfile::TempDir>, PathBuf) {
    match std::env::var("TRIDENT_CRASH_CHILD_DIR") {
        Ok(d) => (None, PathBuf::from(d)),
        Err(_) => {
            let t = tempfile::tempdir().unwrap();
            let p = t.path().to_path_buf();
            (Some(t), p)
        }
    }
}

fn index_files(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir.join("index"))
        .map(|d| d.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    v.sort();
    v
}

/// A store with several sealed segments, some acks in the middle and at the head.
fn build(dir: &Path) -> (u64, u64) {
    let (mut q, _) = open(dir);
    for i in 0..3000 {
        q.append(&msg(i)).unwrap();
    }
    q.ack_range(0, 400).unwrap();
    for s in (500..2500).step_by(7) {
        q.ack(s).unwrap();
    }
    q.sync().unwrap();
    let live: Vec<u64> = (400..3000)
        .filter(|s| !(500..2500).contains(s) || (s - 500) % 7 != 0)
        .collect();
    let bytes = live.iter().map(|s| s % 97).sum();
    (live.len() as u64, bytes)
}

#[test]
fn counts_and_bytes_come_from_the_index_and_survive_its_loss() {
    let dir = tempfile::tempdir().unwrap();
    let (messages, bytes) = build(dir.path());
    let files = index_files(dir.path());
    assert!(
        files.len() >= 3,
        "sealed segments have index files: {files:?}"
    );
    let (_, rec) = open(dir.path());
    assert_eq!(
        (rec.messages, rec.bytes, rec.first_seq),
        (messages, bytes, 400)
    );

    // Lost: rebuilt from the segments, same answer, files back.
    for f in &files {
        std::fs::remove_file(f).unwrap();
    }
    let (_, rec) = open(dir.path());
    assert_eq!((rec.messages, rec.bytes), (messages, bytes));
    assert_eq!(index_files(dir.path()), files);

    // Truncated, corrupted, emptied, or swapped with another segment's: the same.
    std::fs::write(&files[0], b"").unwrap();
    let data = std::fs::read(&files[1]).unwrap();
    std::fs::write(&files[1], &data[..data.len() / 2]).unwrap();
    let mut data = std::fs::read(&files[2]).unwrap();
    data[30] ^= 0xff;
    std::fs::write(&files[2], &data).unwrap();
    let (_, rec) = open(dir.path());
    assert_eq!((rec.messages, rec.bytes), (messages, bytes));
    if files.len() > 4 {
        std::fs::copy(&files[3], &files[4]).unwrap();
        let (_, rec) = open(dir.path());
        assert_eq!((rec.messages, rec.bytes), (messages, bytes));
    }
}

#[test]
fn index_files_go_with_their_segments() {
    let dir = tempfile::tempdir().unwrap();
    let (mut q, _) = open(dir.path());
    for i in 0..3000 {
        q.append(&msg(i)).unwrap();
    }
    q.sync().unwrap();
    let before = index_files(dir.path()).len();
    q.ack_range(0, 2000).unwrap();
    q.sync().unwrap();
    let after = index_files(dir.path()).len();
    assert!(after < before, "{before} -> {after}");
    // A leftover index of a deleted segment is removed at open.
    std::fs::write(
        dir.path().join("index").join(format!("{:020}.qidx", 1)),
        b"x",
    )
    .unwrap();
    drop(q);
    let (_, rec) = open(dir.path());
    assert_eq!(rec.messages, 1000);
    assert_eq!(index_files(dir.path()).len(), after);
}

#[test]
fn delivery_marks_survive_a_crash_once_flushed() {
    let (_keep, dir) = test_dir();
    in_crashing_child("delivery_marks_survive_a_crash_once_flushed", &dir, |dir| {
        let (mut q, _) = open(dir);
        for i in 0..1000 {
            q.append(&msg(i)).unwrap();
        }
        q.sync().unwrap();
        for s in 0..300 {
            q.mark_delivered(s).unwrap();
        }
        // Out of order, as a priority queue or a requeue delivers.
        for s in [500, 502, 999] {
            q.mark_delivered(s).unwrap();
        }
        q.ack_range(0, 100).unwrap();
        q.flush().unwrap();
        // Buffered but never written: lost with the crash (forget: no flush on drop,
        // as after kill -9).
        q.mark_delivered(700).unwrap();
        std::mem::forget(q);
    });
    let (q, rec) = open(&dir);
    assert_eq!(rec.messages, 900);
    assert_eq!(rec.first_seq, 100);
    let flagged: Vec<u64> = (0..1000).filter(|&s| q.was_delivered(s)).collect();
    let mut expect: Vec<u64> = (100..300).collect();
    expect.extend([500, 502, 999]);
    assert_eq!(flagged, expect);
}

#[test]
fn delivery_marks_survive_compaction() {
    let dir = tempfile::tempdir().unwrap();
    let (mut q, _) = open(dir.path());
    let n = 20_000;
    for i in 0..n {
        q.append(&msg(i)).unwrap();
    }
    for s in 0..n {
        q.mark_delivered(s).unwrap();
        // Every other ack: the journal fills with ranges and gets compacted.
        if s % 2 == 1 {
            q.ack(s).unwrap();
        }
        if s % 500 == 0 {
            q.sync().unwrap();
        }
    }
    q.sync().unwrap();
    let journal = std::fs::metadata(dir.path().join("acks")).unwrap().len();
    drop(q);
    let (q, rec) = open(dir.path());
    assert_eq!(rec.messages, n / 2);
    assert!((0..n).step_by(2).all(|s| q.was_delivered(s)));
    assert!(journal < (3 * n / 2 + 8192) * 24, "journal {journal} bytes");
}

#[test]
fn marks_of_lost_messages_do_not_flag_their_successors() {
    let dir = tempfile::tempdir().unwrap();
    let (mut q, _) = QueueStore::open(dir.path(), QueueStoreConfig::default()).unwrap();
    for i in 0..100 {
        q.append(&msg(i)).unwrap();
    }
    for s in 0..100 {
        q.mark_delivered(s).unwrap();
    }
    q.sync().unwrap();
    drop(q);
    // Power loss: the journal reached the disk, messages 50.. did not.
    let seg = dir.path().join("messages").join(format!("{:020}.log", 0));
    let data = std::fs::read(&seg).unwrap();
    let mut pos = 0usize;
    for _ in 0..50 {
        let len = u32::from_le_bytes(data[pos + 24..pos + 28].try_into().unwrap()) as usize;
        pos += 32 + len;
    }
    std::fs::write(&seg, &data[..pos]).unwrap();
    let (mut q, rec) = QueueStore::open(dir.path(), QueueStoreConfig::default()).unwrap();
    assert_eq!(rec.next_seq, 50);
    for i in 50..60 {
        assert_eq!(q.append(&msg(i)).unwrap(), i);
    }
    assert!((0..50).all(|s| q.was_delivered(s)));
    assert!((50..60).all(|s| !q.was_delivered(s)));
}

#[test]
fn a_damaged_journal_tail_keeps_every_earlier_record() {
    let (_keep, dir) = test_dir();
    in_crashing_child(
        "a_damaged_journal_tail_keeps_every_earlier_record",
        &dir,
        |dir| {
            let (mut q, _) = open(dir);
            for i in 0..100 {
                q.append(&msg(i)).unwrap();
            }
            q.ack_range(0, 10).unwrap();
            q.mark_delivered(10).unwrap();
            q.mark_delivered(11).unwrap();
            q.flush().unwrap();
            q.ack(50).unwrap();
            q.mark_delivered(60).unwrap();
            q.flush().unwrap();
            std::mem::forget(q);
        },
    );
    let path = dir.join("acks");
    let mut data = std::fs::read(&path).unwrap();
    // Garbage where the last record was: it is cut off; the others hold.
    let n = data.len();
    data[n - 10] ^= 0x55;
    std::fs::write(&path, &data).unwrap();
    let (q, rec) = open(&dir);
    assert_eq!(rec.first_seq, 10);
    assert!(q.was_delivered(10) && q.was_delivered(11));
    // The last flush wrote the ack of 50, then the mark of 60: only the mark is lost.
    assert_eq!(rec.messages, 89);
    assert!(!q.was_delivered(60));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]
    /// Any damage to any index file: the store opens and counts the same.
    #[test]
    fn any_index_damage_is_rebuilt(file in 0usize..8, at in 0usize..4000, len in 0usize..64, xor in 1u8..=255, cut in any::<bool>()) {
        let dir = tempfile::tempdir().unwrap();
        let (messages, bytes) = build(dir.path());
        let files = index_files(dir.path());
        let f = &files[file % files.len()];
        let mut data = std::fs::read(f).unwrap();
        if cut {
            data.truncate(at % (data.len() + 1));
        } else {
            let at = at % data.len();
            for b in data.iter_mut().skip(at).take(len.max(1)) {
                *b ^= xor;
            }
        }
        std::fs::write(f, &data).unwrap();
        let (_, rec) = open(dir.path());
        prop_assert_eq!((rec.messages, rec.bytes), (messages, bytes));
    }
}
