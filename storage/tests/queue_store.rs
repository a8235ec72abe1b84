#![allow(clippy::unwrap_used)]
use std::collections::BTreeSet;
use std::path::Path;

use bytes::Bytes;
use trident_core::{DeliveryMode, FieldValue, Message};
use trident_storage::{QueueStore, QueueStoreConfig, StorageError};

fn msg(seq: u64) -> Message {
    let mut m = Message::new(Bytes::from(format!(
        "message {seq} {}",
        "x".repeat((seq % 50) as usize)
    )));
    m.delivery_mode = DeliveryMode::Persistent;
    m.routing_key = format!("rk.{seq}");
    m.headers.insert("seq", FieldValue::U64(seq));
    m.properties.message_id = Some(seq.to_string());
    m
}

fn seq_of(m: &Message) -> u64 {
    match m.headers.get("seq") {
        Some(FieldValue::U64(s)) => *s,
        other => panic!("no seq header: {other:?}"),
    }
}

fn small() -> QueueStoreConfig {
    QueueStoreConfig {
        segment_bytes: 8 * 1024,
        ..QueueStoreConfig::default()
    }
}

fn read_all(q: &QueueStore, page: usize) -> Vec<u64> {
    let mut out = Vec::new();
    let mut from = 0;
    loop {
        let got = q.read(from, page, usize::MAX).unwrap();
        if got.is_empty() {
            return out;
        }
        for (seq, m) in got {
            assert_eq!(seq_of(&m), seq);
            assert_eq!(m, {
                let mut e = msg(seq);
                e.timestamp_ms = m.timestamp_ms;
                e
            });
            out.push(seq);
            from = seq + 1;
        }
    }
}

fn open(dir: &Path) -> (QueueStore, trident_storage::Recovered) {
    QueueStore::open(dir, small()).unwrap()
}

#[test]
fn append_ack_read_and_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let (mut q, rec) = open(dir.path());
    assert_eq!(
        (rec.messages, rec.bytes, rec.first_seq, rec.next_seq),
        (0, 0, 0, 0)
    );
    for i in 0..1000 {
        assert_eq!(q.append(&msg(i)).unwrap(), i);
    }
    let mut live: BTreeSet<u64> = (0..1000).collect();
    // Out-of-order removals: every third, a block in the middle, the first few.
    for s in (0..1000).step_by(3) {
        q.ack(s).unwrap();
        live.remove(&s);
    }
    assert_eq!(
        q.ack_range(400, 600).unwrap(),
        200 - (400..600).filter(|s| s % 3 == 0).count() as u64
    );
    live.retain(|s| !(400..600).contains(s));
    for s in 0..10 {
        q.ack(s).unwrap();
        live.remove(&s);
    }
    q.ack(1).unwrap(); // twice: no-op
    assert!(matches!(q.ack(1000), Err(StorageError::InvalidArgument(_))));
    assert_eq!(q.len(), live.len() as u64);
    assert_eq!(q.first_seq(), *live.first().unwrap());
    let want: Vec<u64> = live.iter().copied().collect();
    assert_eq!(read_all(&q, 7), want);
    assert_eq!(read_all(&q, 1000), want);
    // Reading from the middle, and byte limits (always at least one message).
    let mid = q.read(401, 5, usize::MAX).unwrap();
    assert_eq!(
        mid.iter().map(|(s, _)| *s).collect::<Vec<_>>(),
        want.iter()
            .copied()
            .filter(|&s| s >= 401)
            .take(5)
            .collect::<Vec<_>>()
    );
    assert_eq!(q.read(0, 100, 0).unwrap().len(), 1);
    let some = q.read(0, 1000, 500).unwrap();
    assert!(some.len() > 1 && some.len() < 20, "{}", some.len());

    let bytes: u64 = live.iter().map(|&s| msg(s).body.len() as u64).sum();
    q.sync().unwrap();
    drop(q);
    let (mut q, rec) = open(dir.path());
    assert_eq!(rec.messages, live.len() as u64);
    assert_eq!(rec.bytes, bytes);
    assert_eq!(rec.first_seq, *live.first().unwrap());
    assert_eq!(rec.next_seq, 1000);
    assert_eq!(read_all(&q, 100), want);
    assert_eq!(q.append(&msg(1000)).unwrap(), 1000);
}

#[test]
fn acked_segments_are_deleted_and_drained_queue_shrinks() {
    let dir = tempfile::tempdir().unwrap();
    let (mut q, _) = open(dir.path());
    for i in 0..3000 {
        q.append(&msg(i)).unwrap();
    }
    q.sync().unwrap();
    let full = q.disk_bytes();
    let files = |d: &Path| std::fs::read_dir(d.join("messages")).unwrap().count();
    let before = files(dir.path());
    q.ack_range(0, 2000).unwrap();
    q.sync().unwrap();
    assert!(q.disk_bytes() < full / 2, "{} vs {full}", q.disk_bytes());
    assert!(files(dir.path()) < before);
    assert_eq!(q.purge_all().unwrap(), 1000);
    assert!(q.is_empty());
    q.sync().unwrap();
    // Only a fresh, small active segment is left.
    assert!(q.disk_bytes() <= 8 * 1024, "{}", q.disk_bytes());
    drop(q);
    let (q, rec) = open(dir.path());
    assert_eq!((rec.messages, rec.first_seq, rec.next_seq), (0, 3000, 3000));
    assert!(q.read(0, 10, usize::MAX).unwrap().is_empty());
}

#[test]
fn ack_journal_is_compacted_and_replays_correctly() {
    let dir = tempfile::tempdir().unwrap();
    let (mut q, _) = open(dir.path());
    let n = 30_000u64;
    for i in 0..n {
        q.append(&msg(i)).unwrap();
    }
    // Every other message, so nothing merges and the low-water mark barely moves:
    // the journal must still stay bounded.
    for s in (1..n).step_by(2) {
        q.ack(s).unwrap();
        if s % 1001 == 0 {
            q.sync().unwrap();
        }
    }
    q.sync().unwrap();
    let journal = std::fs::metadata(dir.path().join("acks")).unwrap().len();
    // 15k ranges need 15k records; compaction keeps it within ~2x + slack.
    assert!(journal <= (2 * 15_001 + 4096) * 24, "{journal}");
    // Now ack the rest in order: the low-water mark sweeps up and a compaction shrinks
    // the journal to almost nothing.
    for s in (0..=20_000).step_by(2) {
        q.ack(s).unwrap();
        if s % 64 == 0 {
            q.sync().unwrap();
        }
    }
    q.sync().unwrap();
    let live: Vec<u64> = (0..n).filter(|s| s % 2 == 0 && *s > 20_000).collect();
    assert!(read_all(&q, 500) == live);
    drop(q);
    let (q, rec) = open(dir.path());
    assert_eq!(rec.messages, live.len() as u64);
    assert!(read_all(&q, 500) == live);
    let journal = std::fs::metadata(dir.path().join("acks")).unwrap().len();
    // ~5000 ranges (odd acks above 20000) remain: bounded by 2x + slack again, far
    // below the ~25k records written in total.
    assert!(journal <= (2 * 5001 + 4097) * 24, "{journal}");
}

#[test]
fn torn_journal_tail_loses_only_the_torn_acks() {
    let dir = tempfile::tempdir().unwrap();
    let (mut q, _) = open(dir.path());
    for i in 0..100 {
        q.append(&msg(i)).unwrap();
    }
    q.ack(5).unwrap();
    q.ack(7).unwrap();
    q.sync().unwrap();
    q.ack(9).unwrap();
    q.sync().unwrap();
    drop(q);
    let path = dir.path().join("acks");
    let data = std::fs::read(&path).unwrap();
    std::fs::write(&path, &data[..data.len() - 5]).unwrap();
    let (q, rec) = open(dir.path());
    assert_eq!(rec.messages, 98);
    let got = read_all(&q, 1000);
    assert!(!got.contains(&5) && !got.contains(&7) && got.contains(&9));
}

#[test]
fn removals_of_lost_messages_are_forgotten() {
    // Power loss can persist journal pages but not message pages (acks are fsynced
    // after messages, but the OS may write back in any order before that). Simulate:
    // messages 50.. lost, their acks survived.
    let dir = tempfile::tempdir().unwrap();
    let (mut q, _) = QueueStore::open(dir.path(), QueueStoreConfig::default()).unwrap();
    for i in 0..100 {
        q.append(&msg(i)).unwrap();
    }
    q.ack_range(60, 70).unwrap();
    q.ack(10).unwrap();
    q.sync().unwrap();
    drop(q);
    let seg = dir.path().join("messages").join(format!("{:020}.log", 0));
    let mut entries_end = 0u64;
    // Cut the (only) segment after message 49 by walking the entry headers.
    let data = std::fs::read(&seg).unwrap();
    let mut pos = 0usize;
    for _ in 0..50 {
        let len = u32::from_le_bytes(data[pos + 24..pos + 28].try_into().unwrap()) as usize;
        pos += 32 + len;
        entries_end = pos as u64;
    }
    std::fs::OpenOptions::new()
        .write(true)
        .open(&seg)
        .unwrap()
        .set_len(entries_end)
        .unwrap();
    let (mut q, rec) = QueueStore::open(dir.path(), QueueStoreConfig::default()).unwrap();
    assert_eq!((rec.messages, rec.next_seq), (49, 50));
    // New messages reuse seqs 50..: they must not be considered removed.
    for i in 50..100 {
        assert_eq!(q.append(&msg(i)).unwrap(), i);
    }
    let got = read_all(&q, 1000);
    assert_eq!(got.len(), 99);
    assert!((60..70).all(|s| got.contains(&s)));
    q.sync().unwrap();
    drop(q);
    let (_, rec) = QueueStore::open(dir.path(), QueueStoreConfig::default()).unwrap();
    assert_eq!(rec.messages, 99);
}

#[test]
fn large_backlog_pages() {
    let dir = tempfile::tempdir().unwrap();
    let (mut q, _) = QueueStore::open(dir.path(), QueueStoreConfig::default()).unwrap();
    let n = 50_000;
    for i in 0..n {
        q.append(&msg(i)).unwrap();
    }
    q.sync().unwrap();
    // Consumer pattern: take a page, ack it, continue from after it.
    let mut from = 0;
    let mut seen = 0;
    loop {
        let page = q.read(from, 1000, 256 * 1024).unwrap();
        if page.is_empty() {
            break;
        }
        for (s, _) in &page {
            assert_eq!(*s, seen);
            seen += 1;
        }
        let last = page.last().unwrap().0;
        q.ack_range(from, last + 1).unwrap();
        from = last + 1;
    }
    assert_eq!(seen, n);
    assert!(q.is_empty());
}

#[test]
fn destroy_removes_everything() {
    let dir = tempfile::tempdir().unwrap();
    let qdir = dir.path().join("q");
    let (mut q, _) = open(&qdir);
    q.append(&msg(0)).unwrap();
    q.destroy().unwrap();
    assert!(!qdir.exists());
}

#[test]
fn append_many_assigns_consecutive_seqs_and_survives_reopen() {
    let dir = tempfile::tempdir().expect("tempdir");
    let msgs: Vec<trident_core::Message> = (0..500)
        .map(|i| trident_core::Message::new(format!("m{i}")))
        .collect();
    {
        let (mut store, _) = trident_storage::QueueStore::open(
            dir.path(),
            trident_storage::QueueStoreConfig {
                segment_bytes: 4096,
                ..Default::default()
            },
        )
        .expect("open");
        let first = store.append(&msgs[0]).expect("append");
        let refs: Vec<&trident_core::Message> = msgs[1..].iter().collect();
        // Several groups, each larger than a segment: they roll and stay readable.
        let mut next = first + 1;
        for chunk in refs.chunks(100) {
            assert_eq!(store.append_many(chunk).expect("append_many"), next);
            next += chunk.len() as u64;
        }
        assert_eq!(store.next_seq(), 500);
        store.sync().expect("sync");
    }
    let (store, rec) =
        trident_storage::QueueStore::open(dir.path(), trident_storage::QueueStoreConfig::default())
            .expect("reopen");
    assert_eq!(rec.messages, 500);
    let read = store.read(0, 1000, usize::MAX).expect("read");
    assert_eq!(read.len(), 500);
    for (i, (seq, m)) in read.iter().enumerate() {
        assert_eq!(*seq, i as u64);
        assert_eq!(m.body, msgs[i].body);
    }
}

/// What a queue keeps beside a message (matched bindings' arguments, the replayed
/// mark) comes back after a reopen, singly appended or paged in a batch, and entries
/// written without one read back as plain.
#[test]
fn arrivals_survive_reopen() {
    use std::sync::Arc;
    use trident_core::{Arrival, FieldTable, MatchedBindings};

    let dir = tempfile::tempdir().unwrap();
    let table = |qos: i64| {
        let mut t = FieldTable::new();
        t.insert("qos", FieldValue::I64(qos));
        Arc::new(t)
    };
    let with = Arrival {
        matched: MatchedBindings::from_tables([table(1), table(2)]),
        replayed: false,
    };
    let replayed = Arrival {
        matched: MatchedBindings::from_tables([table(0)]),
        replayed: true,
    };
    {
        let (mut q, _) = open(dir.path());
        assert_eq!(q.append(&msg(0)).unwrap(), 0);
        assert_eq!(q.append_with_arrival(&msg(1), &with).unwrap(), 1);
        let (m2, m3) = (msg(2), msg(3));
        let batch = [(&m2, &replayed), (&m3, &Arrival::default())];
        assert_eq!(q.append_many_with_arrival(&batch).unwrap(), 2);
        q.sync().unwrap();
    }
    let (q, rec) = open(dir.path());
    assert_eq!(rec.messages, 4);
    let back = q.read_with_arrival(0, 10, usize::MAX).unwrap();
    let got: Vec<(u64, u64, Arrival)> = back
        .into_iter()
        .map(|s| (s.seq, seq_of(&s.message), s.arrival))
        .collect();
    assert_eq!(
        got,
        [
            (0, 0, Arrival::default()),
            (1, 1, with),
            (2, 2, replayed),
            (3, 3, Arrival::default()),
        ]
    );
    // The plain reader still works over mixed entries.
    assert_eq!(read_all(&q, 3), [0, 1, 2, 3]);
}
