//! The publisher window of a queue store: keys survive a reopen and the removal of
//! their messages, keys of messages a crash lost are not trusted (and stay gone when
//! the seq is reused), and compaction keeps the window.
#![allow(clippy::unwrap_used)]
use std::path::Path;

use bytes::Bytes;
use trident_core::{Arrival, DeliveryMode, Message, PUBLISHER_WINDOW, PublisherSeq};
use trident_storage::{QueueStore, QueueStoreConfig};

fn msg(n: u64) -> Message {
    let mut m = Message::new(Bytes::from(format!("message {n}")));
    m.delivery_mode = DeliveryMode::Persistent;
    m
}

fn open(dir: &Path) -> QueueStore {
    QueueStore::open(dir, QueueStoreConfig::default())
        .unwrap()
        .0
}

fn key(seq: u64) -> PublisherSeq {
    PublisherSeq::new(7, seq)
}

/// Cuts the only message segment after its first `keep` entries (what a crash that lost
/// the later messages leaves).
fn cut_messages_after(dir: &Path, keep: usize) {
    let seg = dir.join("messages").join(format!("{:020}.log", 0));
    let data = std::fs::read(&seg).unwrap();
    let mut pos = 0usize;
    for _ in 0..keep {
        let len = u32::from_le_bytes(data[pos + 24..pos + 28].try_into().unwrap()) as usize;
        pos += 32 + len;
    }
    std::fs::OpenOptions::new()
        .write(true)
        .open(&seg)
        .unwrap()
        .set_len(pos as u64)
        .unwrap();
}

#[test]
fn keys_outlive_their_messages_across_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let mut q = open(dir.path());
    q.append(&msg(0)).unwrap();
    let a = Arrival::default();
    assert_eq!(q.append_keyed(&msg(1), &a, Some(key(1))).unwrap(), 1);
    let (m2, m3) = (msg(2), msg(3));
    q.append_many_keyed(&[(&m2, &a), (&m3, &a)], &[None, Some(key(3))])
        .unwrap();
    assert!(q.has_key(&key(1)) && q.has_key(&key(3)) && !q.has_key(&key(2)));
    // Consumed and acknowledged: the resend may still come.
    q.ack_range(0, 4).unwrap();
    q.sync().unwrap();
    drop(q);
    let q = open(dir.path());
    assert!(q.is_empty());
    assert!(q.has_key(&key(1)) && q.has_key(&key(3)) && !q.has_key(&key(2)));
    assert_eq!(q.keys().collect::<Vec<_>>(), vec![key(1), key(3)]);
}

#[test]
fn keys_of_lost_messages_are_not_trusted_and_do_not_come_back() {
    let dir = tempfile::tempdir().unwrap();
    let mut q = open(dir.path());
    let a = Arrival::default();
    for i in 0..4 {
        q.append_keyed(&msg(i), &a, Some(key(i))).unwrap();
    }
    q.sync().unwrap();
    drop(q);
    // The crash kept the keys of all four (written first) and the first two messages.
    cut_messages_after(dir.path(), 2);
    let mut q = open(dir.path());
    assert_eq!(q.next_seq(), 2);
    assert!(q.has_key(&key(0)) && q.has_key(&key(1)));
    assert!(
        !q.has_key(&key(2)) && !q.has_key(&key(3)),
        "their messages were lost"
    );
    // New messages reuse seqs 2 and 3; the old keys must not claim them after another
    // reopen, or the resends of keys 2 and 3 would be swallowed.
    q.append(&msg(20)).unwrap();
    q.append_keyed(&msg(21), &a, Some(key(21))).unwrap();
    q.sync().unwrap();
    drop(q);
    let q = open(dir.path());
    assert_eq!(q.keys().collect::<Vec<_>>(), vec![key(0), key(1), key(21)]);
}

#[test]
fn compaction_keeps_the_latest_window() {
    let dir = tempfile::tempdir().unwrap();
    let mut q = open(dir.path());
    let a = Arrival::default();
    let n = PUBLISHER_WINDOW as u64 * 3;
    for i in 0..n {
        let s = q.append_keyed(&msg(i), &a, Some(key(i))).unwrap();
        q.ack(s).unwrap();
        if i % 100 == 0 {
            q.sync().unwrap();
        }
    }
    q.sync().unwrap();
    let journal = std::fs::metadata(dir.path().join("acks")).unwrap().len();
    // Two records per remembered key, compacted at twice what is needed plus slack.
    assert!(
        journal <= (2 * (2 * PUBLISHER_WINDOW as u64 + 3) + 4096) * 24,
        "{journal}"
    );
    drop(q);
    let q = open(dir.path());
    let keys: Vec<_> = q.keys().collect();
    let want: Vec<_> = (n - PUBLISHER_WINDOW as u64..n).map(key).collect();
    assert_eq!(keys, want);
    assert!(!q.has_key(&key(n - PUBLISHER_WINDOW as u64 - 1)));
}
