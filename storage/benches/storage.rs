//! Storage micro-benchmarks: log appends (with and without an fsync per batch), a
//! sequential log read, queue-store append+ack, and the message codec.
//!
//! Run: `cargo bench -p trident-storage --bench storage -- --warm-up-time 1 --measurement-time 3`
#![allow(clippy::unwrap_used)]

use std::hint::black_box;

use bytes::Bytes;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use trident_core::{BatchEncoding, FieldValue, Message};
use trident_storage::{
    LogConfig, QueueStore, QueueStoreConfig, SegmentLog, decode_message, encode_message,
};

const RECORDS_PER_BATCH: usize = 16;

fn log_config() -> LogConfig {
    LogConfig {
        segment_bytes: 64 * 1024 * 1024,
        segment_ms: None,
        retention_ms: None,
        // Keeps the benchmark's disk use bounded; retention runs every 1024 appends.
        retention_bytes: Some(256 * 1024 * 1024),
        index_interval_bytes: 4096,
        max_batch_bytes: 1 << 20,
    }
}

fn log_append_fsync(c: &mut Criterion) {
    log_append(c, true);
}

fn log_append_no_sync(c: &mut Criterion) {
    log_append(c, false);
}

fn log_append(c: &mut Criterion, sync: bool) {
    let mut g = c.benchmark_group("log_append");
    for record in [100usize, 1024] {
        let payload = vec![0xabu8; record * RECORDS_PER_BATCH];
        {
            let dir = tempfile::tempdir().unwrap();
            let mut log = SegmentLog::open(dir.path(), log_config()).unwrap();
            g.throughput(Throughput::Bytes(payload.len() as u64));
            let name = format!(
                "{record}B_x{RECORDS_PER_BATCH}{}",
                if sync { "_fsync_each" } else { "" }
            );
            let mut n = 0u64;
            g.bench_function(name, |b| {
                b.iter(|| {
                    let off = log
                        .append(
                            RECORDS_PER_BATCH as u32,
                            0,
                            BatchEncoding::RecordBatchV2,
                            black_box(&payload),
                        )
                        .unwrap();
                    if sync {
                        log.sync().unwrap();
                    }
                    n += 1;
                    if n.is_multiple_of(1024) {
                        log.apply_retention(0).unwrap();
                    }
                    off
                })
            });
        }
    }
    g.finish();
}

fn log_read(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let mut log = SegmentLog::open(dir.path(), log_config()).unwrap();
    let payload = vec![0x5au8; 1024 * RECORDS_PER_BATCH];
    while log.size_bytes() < 64 * 1024 * 1024 {
        log.append(
            RECORDS_PER_BATCH as u32,
            0,
            BatchEncoding::RecordBatchV2,
            &payload,
        )
        .unwrap();
    }
    log.sync().unwrap();
    let end = log.next_offset();
    let mut g = c.benchmark_group("log_read");
    const FETCH: usize = 1024 * 1024;
    g.throughput(Throughput::Bytes(FETCH as u64));
    let mut cur = 0;
    g.bench_function("sequential_1MiB_fetches_of_16KiB_batches", |b| {
        b.iter(|| {
            let batches = log.read(cur, FETCH).unwrap();
            cur = batches.last().unwrap().next_offset();
            if cur >= end {
                cur = 0;
            }
            batches.len()
        })
    });
    g.finish();
}

fn message(body: usize) -> Message {
    let mut m = Message::new(Bytes::from(vec![7u8; body]));
    m.routing_key = "orders.created".into();
    m.exchange = "events".into();
    m.properties.content_type = Some("application/json".into());
    m.properties.message_id = Some("0f8fad5b-d9cb-469f-a165-70867728950e".into());
    m.headers
        .insert("tenant", FieldValue::LongString("acme".into()));
    m.headers.insert("attempt", FieldValue::I32(1));
    m
}

fn queue_store_no_sync(c: &mut Criterion) {
    let mut g = c.benchmark_group("queue_store");
    let msg = message(100);
    {
        let dir = tempfile::tempdir().unwrap();
        let (mut q, _) = QueueStore::open(dir.path(), QueueStoreConfig::default()).unwrap();
        g.throughput(Throughput::Elements(1));
        // Consumer 1000 messages behind the producer; acks are in order.
        g.bench_function("append_ack_100B_no_sync", |b| {
            b.iter(|| {
                let seq = q.append(black_box(&msg)).unwrap();
                if seq >= 1000 {
                    q.ack(seq - 1000).unwrap();
                }
                if seq.is_multiple_of(65_536) {
                    q.sync().unwrap(); // lets it reclaim acked segments
                }
            })
        });
    }
    g.finish();
}

fn queue_store_fsync(c: &mut Criterion) {
    let mut g = c.benchmark_group("queue_store");
    let msg = message(100);
    {
        let dir = tempfile::tempdir().unwrap();
        let (mut q, _) = QueueStore::open(dir.path(), QueueStoreConfig::default()).unwrap();
        const GROUP: u64 = 64;
        g.throughput(Throughput::Elements(GROUP));
        g.bench_function("append_ack_100B_x64_then_sync", |b| {
            b.iter(|| {
                for _ in 0..GROUP {
                    let seq = q.append(black_box(&msg)).unwrap();
                    if seq >= 1000 {
                        q.ack(seq - 1000).unwrap();
                    }
                }
                q.sync().unwrap();
            })
        });
    }
    g.finish();
}

fn codec(c: &mut Criterion) {
    let mut g = c.benchmark_group("message_codec");
    let msg = message(1024);
    let mut buf = Vec::new();
    encode_message(&msg, &mut buf);
    let enc = Bytes::from(buf.clone());
    g.throughput(Throughput::Elements(1));
    g.bench_function("encode_1KiB", |b| {
        b.iter(|| {
            buf.clear();
            encode_message(black_box(&msg), &mut buf);
            buf.len()
        })
    });
    g.bench_function("decode_1KiB", |b| {
        b.iter(|| decode_message(black_box(&enc)).unwrap())
    });
    g.finish();
}

// The fsync benchmarks run first: this machine's (virtual) disk throttles after a few
// GB of writes, and fsync latency then rises from ~0.2 ms to several ms for a while.
criterion_group!(
    benches,
    log_append_fsync,
    queue_store_fsync,
    log_append_no_sync,
    queue_store_no_sync,
    log_read,
    codec
);
criterion_main!(benches);
