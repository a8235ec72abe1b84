//! Messages routed into a stream queue: publishes that reach a partition together are
//! written as one record batch (a Kafka consumer then reads a stream queue at the rate
//! of a Kafka-made topic), each confirmed once stored, every record in publish order.
#![allow(clippy::unwrap_used)]

use bytes::Bytes;
use trident_core::{DeliveryMode, ExchangeName, Message, QueueName};
use trident_engine::{Engine, EngineConfig, PublishOptions, StreamSpec};
use trident_records::record;

const PUBLISHERS: usize = 4;
const EACH: usize = 500;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_publishes_share_batches_and_keep_their_order() {
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::open(EngineConfig::new(dir.path())).await.unwrap();
    let vhost = engine.vhost("/").unwrap();
    let name = QueueName::new("coalesced").unwrap();
    let spec = StreamSpec {
        partitions: Some(1),
        ..StreamSpec::default()
    };
    engine
        .declare_stream_queue(&vhost, &name, &spec)
        .await
        .unwrap();

    // Each publisher sends all its messages before waiting for any confirm (as an AMQP
    // publisher with a confirm window does), so several are queued on the partition
    // while it writes and fsyncs the ones before them.
    let mut tasks = Vec::new();
    for p in 0..PUBLISHERS {
        let vhost = vhost.clone();
        tasks.push(tokio::spawn(async move {
            let mut confirms = Vec::new();
            for i in 0..EACH {
                let mut m = Message::new(Bytes::from(format!("{p}:{i}")));
                m.routing_key = "coalesced".into();
                m.delivery_mode = DeliveryMode::Persistent;
                let opts = PublishOptions {
                    confirm: true,
                    mandatory: false,
                };
                let published = vhost
                    .publish(m, &ExchangeName::default_exchange(), opts)
                    .await
                    .unwrap();
                assert_eq!(published.routed, 1);
                confirms.extend(published.confirm);
            }
            for c in confirms {
                c.wait().await.unwrap();
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }

    let total = PUBLISHERS * EACH;
    let partition = engine
        .topic("coalesced")
        .unwrap()
        .partition(0)
        .unwrap()
        .clone();
    assert_eq!(partition.high_watermark(), total as u64);
    let mut batches = 0usize;
    let mut next_of = [0usize; PUBLISHERS];
    let mut offset = 0u64;
    while offset < total as u64 {
        let read = partition.read(offset, 1 << 20).await.unwrap();
        assert!(!read.batches.is_empty(), "nothing readable at {offset}");
        for batch in &read.batches {
            batches += 1;
            let records = record::decode(&batch.bytes, batch.base_offset).unwrap();
            assert_eq!(records.len(), batch.record_count as usize);
            for r in records {
                // Offsets are contiguous across batches...
                assert_eq!(r.offset, offset);
                offset += 1;
                // ...and each publisher's messages come in the order it sent them.
                let body = String::from_utf8(r.value.unwrap().to_vec()).unwrap();
                let (p, i) = body.split_once(':').unwrap();
                let (p, i): (usize, usize) = (p.parse().unwrap(), i.parse().unwrap());
                assert_eq!(
                    i, next_of[p],
                    "publisher {p} out of order at offset {}",
                    r.offset
                );
                next_of[p] += 1;
            }
        }
    }
    assert_eq!(next_of, [EACH; PUBLISHERS]);
    assert!(
        batches < total,
        "{total} records in {batches} batches: publishes queued together were not coalesced"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn coalesced_records_survive_a_restart_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let name = QueueName::new("kept").unwrap();
    {
        let engine = Engine::open(EngineConfig::new(dir.path())).await.unwrap();
        let vhost = engine.vhost("/").unwrap();
        engine
            .declare_stream_queue(&vhost, &name, &StreamSpec::default())
            .await
            .unwrap();
        let mut confirms = Vec::new();
        for i in 0..300 {
            let mut m = Message::new(Bytes::from(format!("{i}")));
            m.routing_key = "kept".into();
            m.delivery_mode = DeliveryMode::Persistent;
            let opts = PublishOptions {
                confirm: true,
                mandatory: false,
            };
            let p = vhost
                .publish(m, &ExchangeName::default_exchange(), opts)
                .await
                .unwrap();
            confirms.extend(p.confirm);
        }
        for c in confirms {
            c.wait().await.unwrap();
        }
        engine.shutdown().await;
    }
    let engine = Engine::open(EngineConfig::new(dir.path())).await.unwrap();
    let topic = engine.topic("kept").unwrap();
    let mut seen = Vec::new();
    for partition in &topic.partitions {
        let read = partition.read(0, 16 << 20).await.unwrap();
        for batch in &read.batches {
            for r in record::decode(&batch.bytes, batch.base_offset).unwrap() {
                let body = String::from_utf8(r.value.unwrap().to_vec()).unwrap();
                seen.push(body.parse::<u32>().unwrap());
            }
        }
    }
    seen.sort_unstable();
    assert_eq!(seen, (0..300).collect::<Vec<_>>());
}
