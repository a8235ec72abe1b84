//! Idempotent producer state across restarts: after a clean stop (snapshot), after a
//! crash (snapshot at the last roll plus a replay of the batches after it), and with
//! the snapshot torn, corrupt or ahead of the log (rebuilt from the log; the partition
//! still opens). A crash is the runtime dropped under the partition tasks: nothing they
//! would do at shutdown runs.

use std::path::Path;

use bytes::BytesMut;
use trident_core::{BatchEncoding, TopicConfig, TopicName};
use trident_engine::{AppendError, AppendRequest, AppendResult, Engine, EngineConfig, ProducerSeq};

const SNAPSHOT: &str = "producer-snapshot";

/// A stand-in record batch v2: the header fields the partition reads (magic, producer
/// id, epoch, base sequence) at their offsets, and a payload marker after them.
fn batch(pid: i64, epoch: i16, seq: i32, records: u32) -> AppendRequest {
    let mut b = vec![0u8; 61];
    b[16] = 2;
    b[43..51].copy_from_slice(&pid.to_be_bytes());
    b[51..53].copy_from_slice(&epoch.to_be_bytes());
    b[53..57].copy_from_slice(&seq.to_be_bytes());
    b.extend_from_slice(&[0xAB; 200]);
    AppendRequest {
        record_count: records,
        max_timestamp: 1_000,
        encoding: BatchEncoding::RecordBatchV2,
        bytes: BytesMut::from(&b[..]),
        producer: Some(ProducerSeq {
            producer_id: pid,
            epoch,
            base_sequence: seq,
        }),
        wait_durable: true,
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
}

fn topic_config(segment_bytes: u64) -> TopicConfig {
    TopicConfig {
        partitions: 1,
        segment_bytes,
        ..TopicConfig::default()
    }
}

/// One life of the broker on `dir`: opens the engine, runs `f`, then stops cleanly or
/// crashes.
fn life<T>(dir: &Path, crash: bool, f: impl AsyncFnOnce(&Engine) -> T) -> T {
    let rt = runtime();
    let engine = rt.block_on(async {
        let engine = Engine::open(EngineConfig::new(dir)).await.expect("open");
        let name = TopicName::new("idem").expect("name");
        if engine.topic("idem").is_none() {
            engine
                .create_topic(name, topic_config(4096))
                .await
                .expect("create");
        }
        engine
    });
    let out = rt.block_on(f(&engine));
    if crash {
        // Dropping the runtime drops the partition tasks where they stand.
        drop(rt);
        drop(engine);
    } else {
        rt.block_on(engine.shutdown());
        drop(engine);
        drop(rt);
    }
    out
}

async fn append(e: &Engine, req: AppendRequest) -> Result<AppendResult, AppendError> {
    let t = e.topic("idem").expect("topic");
    t.partition(0)
        .expect("p0")
        .append(req)
        .await
        .expect("partition alive")
}

fn snapshot_path(dir: &Path) -> std::path::PathBuf {
    dir.join("topics").join("idem-0").join(SNAPSHOT)
}

/// 30 batches of 10 records from producer 7: several segment rolls at 4 KiB.
async fn write_thirty(e: &Engine) -> Vec<u64> {
    let mut offsets = Vec::new();
    for i in 0..30 {
        let r = append(e, batch(7, 0, i * 10, 10)).await.expect("append");
        assert!(!r.duplicate);
        offsets.push(r.base_offset);
    }
    offsets
}

/// The retries of the last five batches are duplicates with their original offsets,
/// a gap is refused, and the next batch in sequence is appended after the rest.
async fn check_state(e: &Engine, offsets: &[u64]) {
    for i in 25..30 {
        let r = append(e, batch(7, 0, i * 10, 10)).await.expect("retry");
        assert!(r.duplicate, "batch {i} recognised as a retry");
        assert_eq!(r.base_offset, offsets[i as usize], "original offset of {i}");
    }
    assert_eq!(
        append(e, batch(7, 0, 310, 10)).await,
        Err(AppendError::OutOfOrderSequence {
            expected: 300,
            got: 310
        })
    );
    let next = append(e, batch(7, 0, 300, 10)).await.expect("next");
    assert_eq!((next.base_offset, next.duplicate), (300, false));
}

#[test]
fn retries_are_recognised_after_a_clean_stop() {
    let dir = tempfile::tempdir().expect("tempdir");
    let offsets = life(dir.path(), false, write_thirty);
    assert!(
        snapshot_path(dir.path()).exists(),
        "shutdown wrote a snapshot"
    );
    life(dir.path(), false, async |e| check_state(e, &offsets).await);
}

#[test]
fn retries_are_recognised_after_a_crash() {
    let dir = tempfile::tempdir().expect("tempdir");
    let offsets = life(dir.path(), true, write_thirty);
    // The rolls wrote snapshots; the batches after the last one are replayed.
    assert!(
        snapshot_path(dir.path()).exists(),
        "a roll wrote a snapshot"
    );
    life(dir.path(), true, async |e| check_state(e, &offsets).await);
}

#[test]
fn a_missing_snapshot_is_rebuilt_from_the_log() {
    let dir = tempfile::tempdir().expect("tempdir");
    let offsets = life(dir.path(), true, write_thirty);
    std::fs::remove_file(snapshot_path(dir.path())).expect("remove snapshot");
    life(dir.path(), false, async |e| check_state(e, &offsets).await);
}

#[test]
fn a_torn_or_corrupt_snapshot_is_rebuilt_from_the_log() {
    for damage in ["truncate", "flip", "garbage", "empty"] {
        let dir = tempfile::tempdir().expect("tempdir");
        let offsets = life(dir.path(), false, write_thirty);
        let path = snapshot_path(dir.path());
        let mut bytes = std::fs::read(&path).expect("snapshot");
        match damage {
            "truncate" => bytes.truncate(bytes.len() / 2),
            "flip" => {
                let mid = bytes.len() / 2;
                bytes[mid] ^= 0x40;
            }
            "garbage" => bytes = b"not a snapshot at all".to_vec(),
            _ => bytes.clear(),
        }
        std::fs::write(&path, bytes).expect("damage");
        life(dir.path(), false, async |e| check_state(e, &offsets).await);
    }
}

#[test]
fn a_snapshot_ahead_of_the_log_is_ignored() {
    let dir = tempfile::tempdir().expect("tempdir");
    // A snapshot from a longer log (written by a clean stop after more batches)...
    let other = tempfile::tempdir().expect("tempdir");
    life(other.path(), false, async |e| {
        write_thirty(e).await;
        for i in 30..60 {
            append(e, batch(7, 0, i * 10, 10)).await.expect("append");
        }
    });
    let ahead = std::fs::read(snapshot_path(other.path())).expect("snapshot");
    // ...put next to a log that ends earlier: it would claim batches that are not there.
    let offsets = life(dir.path(), false, write_thirty);
    std::fs::write(snapshot_path(dir.path()), ahead).expect("replace");
    life(dir.path(), false, async |e| check_state(e, &offsets).await);
}

#[test]
fn fencing_and_epoch_bumps_survive_a_crash() {
    let dir = tempfile::tempdir().expect("tempdir");
    life(dir.path(), true, async |e| {
        append(e, batch(9, 0, 0, 5)).await.expect("epoch 0");
        append(e, batch(9, 1, 0, 5))
            .await
            .expect("bumped to epoch 1");
    });
    life(dir.path(), true, async |e| {
        assert_eq!(
            append(e, batch(9, 0, 5, 5)).await,
            Err(AppendError::ProducerFenced { current: 1, got: 0 })
        );
        assert_eq!(
            append(e, batch(9, 1, 7, 5)).await,
            Err(AppendError::OutOfOrderSequence {
                expected: 5,
                got: 7
            })
        );
        let r = append(e, batch(9, 1, 0, 5)).await.expect("retry");
        assert_eq!((r.base_offset, r.duplicate), (5, true));
    });
}
