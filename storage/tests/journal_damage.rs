//! A damaged ack journal (the removals and delivery marks of a queue) never stops the
//! store from opening and never loses a message: whatever the damage, every message
//! that was not removed is still there, in order, and nothing is flagged delivered that
//! was not. What the damage can cost is bounded: records it hit are forgotten (those
//! messages come back, at-least-once), every other record holds, and the journal is
//! rewritten clean so the next open sees no damage.

#![allow(clippy::unwrap_used)]

use std::collections::BTreeSet;
use std::path::Path;

use bytes::Bytes;
use proptest::prelude::*;
use trident_core::{DeliveryMode, Message};
use trident_storage::{QueueStore, QueueStoreConfig};

const RECORD: usize = 24;
const MESSAGES: u64 = 600;

fn msg(seq: u64) -> Message {
    let mut m = Message::new(Bytes::from(format!("m{seq}")));
    m.delivery_mode = DeliveryMode::Persistent;
    m
}

fn cfg() -> QueueStoreConfig {
    QueueStoreConfig {
        segment_bytes: 8 * 1024,
        ..QueueStoreConfig::default()
    }
}

fn open(dir: &Path) -> QueueStore {
    QueueStore::open(dir, cfg()).unwrap().0
}

/// The seqs the store returns, in order.
fn live(q: &QueueStore) -> Vec<u64> {
    let mut out = Vec::new();
    let mut from = 0;
    loop {
        let page = q.read(from, 1000, 1 << 20).unwrap();
        let Some(&(last, _)) = page.last() else {
            return out;
        };
        for (seq, m) in page {
            assert_eq!(m.body, Bytes::from(format!("m{seq}")), "body of {seq}");
            out.push(seq);
        }
        from = last + 1;
    }
}

fn flagged(q: &QueueStore) -> BTreeSet<u64> {
    (0..MESSAGES).filter(|&s| q.was_delivered(s)).collect()
}

/// A queue whose journal holds one record per removal and per delivery mark (gaps
/// between the seqs keep runs from merging): removed every 10th seq from 5, marked
/// every 10th from 7. Returns (removed, marked).
fn build(dir: &Path) -> (BTreeSet<u64>, BTreeSet<u64>) {
    let mut q = open(dir);
    for i in 0..MESSAGES {
        q.append(&msg(i)).unwrap();
    }
    let removed: BTreeSet<u64> = (5..MESSAGES).step_by(10).collect();
    let marked: BTreeSet<u64> = (7..MESSAGES).step_by(10).collect();
    for (&r, &m) in removed.iter().zip(&marked) {
        q.ack(r).unwrap();
        q.mark_delivered(m).unwrap();
        // One flush per pair: each record is written on its own, as acks of separate
        // batches are.
        q.flush().unwrap();
    }
    q.sync().unwrap();
    drop(q);
    (removed, marked)
}

#[test]
fn a_bad_record_inside_the_journal_costs_only_that_record() {
    let dir = tempfile::tempdir().unwrap();
    let (removed, marked) = build(dir.path());
    let path = dir.path().join("acks");
    let mut data = std::fs::read(&path).unwrap();
    assert_eq!(data.len(), 2 * removed.len() * RECORD);
    // Records alternate REMOVE(5), DELIVERED(7), REMOVE(15)...: hit the REMOVE of 105
    // and the DELIVERED of 207 in the middle of the file.
    data[20 * RECORD + 9] ^= 0x20;
    data[41 * RECORD + 2] ^= 0xff;
    std::fs::write(&path, &data).unwrap();

    let q = open(dir.path());
    let expect_live: Vec<u64> = (0..MESSAGES)
        .filter(|s| !removed.contains(s) || *s == 105)
        .collect();
    assert_eq!(live(&q), expect_live, "only the ack of 105 was lost");
    let mut expect_flagged = marked.clone();
    expect_flagged.remove(&207);
    assert_eq!(flagged(&q), expect_flagged);
    drop(q);

    // The journal was rewritten clean: no damage left to skip, same state.
    let after = std::fs::read(&path).unwrap();
    assert_eq!(after.len() % RECORD, 0);
    assert!(after.len() < data.len(), "compacted on open");
    let mut q = open(dir.path());
    assert_eq!(live(&q), expect_live);
    assert_eq!(flagged(&q), expect_flagged);
    // And it takes new records as before.
    q.ack(105).unwrap();
    q.sync().unwrap();
    drop(q);
    let q = open(dir.path());
    assert_eq!(live(&q).len(), expect_live.len() - 1);
}

#[test]
fn a_journal_of_garbage_brings_every_message_back_unflagged() {
    let dir = tempfile::tempdir().unwrap();
    build(dir.path());
    let path = dir.path().join("acks");
    let len = std::fs::metadata(&path).unwrap().len() as usize;
    // Not even a whole number of records.
    let garbage: Vec<u8> = (0..len + 5).map(|i| (i * 131 % 251) as u8).collect();
    std::fs::write(&path, &garbage).unwrap();
    let (q, rec) = QueueStore::open(dir.path(), cfg()).unwrap();
    assert_eq!(rec.messages, MESSAGES);
    assert_eq!(live(&q), (0..MESSAGES).collect::<Vec<_>>());
    assert!(flagged(&q).is_empty());
}

#[test]
fn an_emptied_or_missing_journal_brings_every_message_back() {
    for remove in [false, true] {
        let dir = tempfile::tempdir().unwrap();
        build(dir.path());
        let path = dir.path().join("acks");
        if remove {
            std::fs::remove_file(&path).unwrap();
        } else {
            std::fs::write(&path, b"").unwrap();
        }
        let mut q = open(dir.path());
        assert_eq!(live(&q).len() as u64, MESSAGES);
        // The recreated journal works.
        q.ack(0).unwrap();
        q.sync().unwrap();
        drop(q);
        assert_eq!(live(&open(dir.path())).len() as u64, MESSAGES - 1);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]
    /// Any damage to the journal (bytes flipped anywhere, or the file cut anywhere):
    /// the store opens, no message that was not removed is missing, nothing unmarked is
    /// flagged, and at most the records the damage touched are forgotten.
    #[test]
    fn any_journal_damage_loses_no_message(at in 0usize..100_000, len in 1usize..80, xor in 1u8..=255, cut in any::<bool>()) {
        let dir = tempfile::tempdir().unwrap();
        let (removed, marked) = build(dir.path());
        let path = dir.path().join("acks");
        let mut data = std::fs::read(&path).unwrap();
        let at = at % data.len();
        let (first, last) = if cut {
            data.truncate(at);
            (at / RECORD, usize::MAX)
        } else {
            for b in data.iter_mut().skip(at).take(len) {
                *b ^= xor;
            }
            (at / RECORD, (at + len - 1) / RECORD)
        };
        std::fs::write(&path, &data).unwrap();
        let q = open(dir.path());
        let got: BTreeSet<u64> = live(&q).into_iter().collect();
        let flags = flagged(&q);
        for s in 0..MESSAGES {
            if !removed.contains(&s) {
                prop_assert!(got.contains(&s), "message {} lost", s);
            }
            if !marked.contains(&s) {
                prop_assert!(!flags.contains(&s), "message {} flagged", s);
            }
        }
        // Record i (0-based) is REMOVE of 10*(i/2)+5 for even i, DELIVERED of
        // 10*(i/2)+7 for odd i: every record outside the damage still holds.
        for i in 0..2 * removed.len() {
            if (first..=last).contains(&i) {
                continue;
            }
            let seq = 10 * (i as u64 / 2) + if i % 2 == 0 { 5 } else { 7 };
            if i % 2 == 0 {
                prop_assert!(!got.contains(&seq), "ack of {} lost", seq);
            } else {
                prop_assert!(flags.contains(&seq), "mark of {} lost", seq);
            }
        }
    }
}
