//! Partitioned logs through the engine's API.

use bytes::BytesMut;
use trident_core::{BatchEncoding, TopicConfig, TopicName};
use trident_engine::{AppendError, AppendRequest, Engine, EngineConfig, ProducerSeq};

fn batch(payload: &[u8], producer: Option<ProducerSeq>) -> AppendRequest {
    // 8 leading bytes stand for the record batch's base offset field.
    let mut bytes = BytesMut::from(&[0u8; 8][..]);
    bytes.extend_from_slice(payload);
    AppendRequest {
        record_count: 2,
        max_timestamp: 1_000,
        encoding: BatchEncoding::RecordBatchV2,
        bytes,
        producer,
        wait_durable: true,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn append_read_offsets_and_restart() {
    let dir = tempfile::tempdir().expect("tempdir");
    {
        let engine = Engine::open(EngineConfig::new(dir.path()))
            .await
            .expect("open");
        let name = TopicName::new("events").expect("name");
        let topic = engine
            .create_topic(
                name.clone(),
                TopicConfig {
                    partitions: 3,
                    ..TopicConfig::default()
                },
            )
            .await
            .expect("create");
        assert_eq!(topic.partitions.len(), 3);
        assert!(
            engine
                .create_topic(name, TopicConfig::default())
                .await
                .is_err(),
            "exists"
        );
        let p = topic.partition(1).expect("partition 1");
        let a = p
            .append(batch(b"first", None))
            .await
            .expect("call")
            .expect("append");
        let b = p
            .append(batch(b"second", None))
            .await
            .expect("call")
            .expect("append");
        assert_eq!((a.base_offset, b.base_offset), (0, 2));
        assert_eq!(p.high_watermark(), 4);
        let read = p.read(2, 1 << 20).await.expect("read");
        assert_eq!(read.batches.len(), 1);
        assert_eq!(
            &read.batches[0].bytes[..8],
            &2i64.to_be_bytes(),
            "base offset patched in"
        );
        assert_eq!(&read.batches[0].bytes[8..], b"second");
        engine.shutdown().await;
    }
    let engine = Engine::open(EngineConfig::new(dir.path()))
        .await
        .expect("reopen");
    let topic = engine.topic("events").expect("topic recovered");
    assert_eq!(topic.partitions.len(), 3);
    assert_eq!(topic.partition(1).expect("p1").high_watermark(), 4);
    engine.create_partitions("events", 5).await.expect("grow");
    assert_eq!(engine.topic("events").expect("topic").partitions.len(), 5);
    engine.delete_topic("events").await.expect("delete");
    assert!(engine.topic("events").is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idempotent_appends_drop_duplicates_and_refuse_gaps() {
    let dir = tempfile::tempdir().expect("tempdir");
    let engine = Engine::open(EngineConfig::new(dir.path()))
        .await
        .expect("open");
    let topic = engine
        .create_topic(
            TopicName::new("idem").expect("name"),
            TopicConfig::default(),
        )
        .await
        .expect("create");
    let p = topic.partition(0).expect("p0");
    let seq = |base| {
        Some(ProducerSeq {
            producer_id: 42,
            epoch: 0,
            base_sequence: base,
        })
    };
    let first = p
        .append(batch(b"a", seq(0)))
        .await
        .expect("call")
        .expect("append");
    let retry = p
        .append(batch(b"a", seq(0)))
        .await
        .expect("call")
        .expect("duplicate ok");
    assert!(retry.duplicate);
    assert_eq!(retry.base_offset, first.base_offset);
    assert_eq!(p.high_watermark(), 2, "the duplicate was not appended");
    let gap = p.append(batch(b"c", seq(5))).await.expect("call");
    assert!(matches!(
        gap,
        Err(AppendError::OutOfOrderSequence {
            expected: 2,
            got: 5
        })
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn committed_offsets_survive_restart() {
    let dir = tempfile::tempdir().expect("tempdir");
    {
        let engine = Engine::open(EngineConfig::new(dir.path()))
            .await
            .expect("open");
        let o = trident_engine::CommittedOffset {
            offset: 17,
            metadata: "m".into(),
            commit_timestamp_ms: 1,
        };
        engine
            .offsets()
            .commit("g1", vec![("t".into(), 0, o)])
            .expect("commit");
    }
    let engine = Engine::open(EngineConfig::new(dir.path()))
        .await
        .expect("reopen");
    assert_eq!(
        engine.offsets().fetch("g1", "t", 0).map(|o| o.offset),
        Some(17)
    );
    assert_eq!(engine.offsets().groups(), vec!["g1".to_string()]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keyed_records_stick_to_a_partition_and_unkeyed_ones_rotate() {
    let dir = tempfile::tempdir().expect("tempdir");
    let engine = Engine::open(EngineConfig::new(dir.path()))
        .await
        .expect("open");
    let topic = engine
        .create_topic(
            TopicName::new("keyed").expect("name"),
            TopicConfig {
                partitions: 3,
                ..TopicConfig::default()
            },
        )
        .await
        .expect("create");
    for key in ["alice", "bob", "carol", "dave"] {
        let first = topic.choose_partition(Some(key.as_bytes()));
        for _ in 0..10 {
            assert_eq!(topic.choose_partition(Some(key.as_bytes())), first, "{key}");
        }
    }
    let spread: std::collections::BTreeSet<u32> =
        (0..3).map(|_| topic.choose_partition(None)).collect();
    assert_eq!(
        spread.len(),
        3,
        "three key-less records visit all three partitions"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_never_pass_the_high_watermark() {
    let dir = tempfile::tempdir().expect("tempdir");
    let engine = Engine::open(EngineConfig::new(dir.path()))
        .await
        .expect("open");
    let topic = engine
        .create_topic(TopicName::new("hw").expect("name"), TopicConfig::default())
        .await
        .expect("create");
    let p = topic.partition(0).expect("p0").clone();
    // Readers racing a stream of durable appends must only ever see batches below the
    // watermark the same read reports.
    let writer = {
        let p = p.clone();
        tokio::spawn(async move {
            for _ in 0..300 {
                p.append(batch(b"x", None))
                    .await
                    .expect("call")
                    .expect("append");
            }
        })
    };
    let mut offset = 0;
    while !writer.is_finished() || offset < p.high_watermark() {
        let r = p.read(offset, 1 << 20).await.expect("read");
        // The published watermark only grows, so reading it after the fetch bounds what
        // the fetch was allowed to see.
        let published = p.high_watermark();
        for b in &r.batches {
            assert!(
                b.next_offset() <= r.high_watermark,
                "batch {} past its read's hw",
                b.base_offset
            );
            assert!(
                b.next_offset() <= published,
                "batch {} past the published hw {published}",
                b.base_offset
            );
        }
        if let Some(last) = r.batches.last() {
            offset = last.next_offset();
        }
        tokio::task::yield_now().await;
    }
    assert_eq!(offset, 600);
}
