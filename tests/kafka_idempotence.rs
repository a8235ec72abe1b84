//! Kafka idempotent producers against the real broker binary and SIGKILL (KIP-98: a
//! retry is recognised across broker failures). An rdkafka producer with
//! `enable.idempotence=true` keeps running while the broker is killed and restarted
//! several times: every record must be stored exactly once, at contiguous offsets, in
//! the order produced. And the sequence rules answer the same before and after a crash
//! and a clean restart: a retry gets its original offset, a gap
//! OUT_OF_ORDER_SEQUENCE_NUMBER, a stale epoch INVALID_PRODUCER_EPOCH.

mod support;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::{Buf, BytesMut};
use rdkafka::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use rdkafka::producer::{BaseRecord, DeliveryResult, Producer, ProducerContext, ThreadedProducer};
use support::Broker;
use trident_kafka::codec::api::{self, key};
use trident_kafka::codec::header::{RequestHeader, write_request_header};
use trident_kafka::codec::record_batch;
use trident_kafka::codec::{Reader, Wire, Writer};
use trident_kafka::error_code as ec;
use trident_kafka::messages::produce::{
    ProducePartition, ProducePartitionResponse, ProduceRequest, ProduceResponse, ProduceTopic,
};
use trident_kafka::messages::producer_id::{InitProducerIdRequest, InitProducerIdResponse};

/// Kill cycles of the soak test; small so that CI stays fast (tools/soak runs more).
const CYCLES: usize = 3;
/// Records acknowledged between two kills.
const PER_CYCLE: u64 = 3_000;

/// Counts delivery reports; any failure is kept with its value.
#[derive(Default)]
struct Reports {
    acked: AtomicU64,
    failed: Mutex<Vec<(u64, String)>>,
}

#[derive(Clone)]
struct Ctx(Arc<Reports>);

impl rdkafka::ClientContext for Ctx {}

impl ProducerContext for Ctx {
    type DeliveryOpaque = Box<u64>;

    fn delivery(&self, result: &DeliveryResult<'_>, value: Self::DeliveryOpaque) {
        match result {
            Ok(_) => {
                self.0.acked.fetch_add(1, Ordering::AcqRel);
            }
            Err((e, _)) => self
                .0
                .failed
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push((*value, e.to_string())),
        }
    }
}

#[test]
fn idempotent_producer_across_sigkills_stores_each_record_once() {
    // Small segments, so that the kills land both before and after rolls (snapshot at
    // roll plus replay) as well as in a first segment (replay only).
    let mut broker = Broker::start_with(&[("topics.segment_bytes", "65536")]);
    let reports = Arc::new(Reports::default());
    let producer: ThreadedProducer<Ctx> = ClientConfig::new()
        .set("bootstrap.servers", broker.kafka.to_string())
        .set("enable.idempotence", "true")
        .set("acks", "all")
        .set("linger.ms", "2")
        .set("batch.num.messages", "50")
        .set("queue.buffering.max.messages", "2000")
        // Long enough to ride out every restart: nothing may fail, only be retried.
        .set("message.timeout.ms", "120000")
        .set("reconnect.backoff.ms", "20")
        .set("reconnect.backoff.max.ms", "200")
        .create_with_context(Ctx(reports.clone()))
        .expect("producer");

    let done = Arc::new(AtomicBool::new(false));
    let killer = {
        let reports = reports.clone();
        let done = done.clone();
        std::thread::spawn(move || {
            for cycle in 1..=CYCLES as u64 {
                let deadline = Instant::now() + Duration::from_secs(120);
                while reports.acked.load(Ordering::Acquire) < cycle * PER_CYCLE {
                    assert!(Instant::now() < deadline, "no progress before kill {cycle}");
                    std::thread::sleep(Duration::from_millis(2));
                }
                // Restart = SIGKILL (no flush, no snapshot), then the same ports and data.
                broker.restart();
            }
            done.store(true, Ordering::Release);
            broker
        })
    };

    let mut produced: u64 = 0;
    let target_after_kills = PER_CYCLE;
    let mut extra_start = None;
    loop {
        if done.load(Ordering::Acquire) {
            let start = *extra_start.get_or_insert(produced);
            if produced >= start + target_after_kills {
                break;
            }
        }
        let value = produced.to_string();
        let record = BaseRecord::<(), _, _>::with_opaque_to("idem", Box::new(produced))
            .partition(0)
            .payload(&value);
        match producer.send(record) {
            Ok(()) => produced += 1,
            Err((e, _)) => {
                assert!(
                    matches!(
                        e.rdkafka_error_code(),
                        Some(rdkafka::types::RDKafkaErrorCode::QueueFull)
                    ),
                    "send failed: {e}"
                );
                std::thread::sleep(Duration::from_millis(2));
            }
        }
    }
    let broker = killer.join().expect("killer thread");
    producer
        .flush(Duration::from_secs(120))
        .expect("every record delivered");
    let failed = reports.failed.lock().expect("reports").clone();
    assert!(failed.is_empty(), "deliveries failed: {failed:?}");
    assert_eq!(reports.acked.load(Ordering::Acquire), produced);
    drop(producer);

    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", broker.kafka.to_string())
        .set("group.id", "idem-check")
        .set("enable.auto.commit", "false")
        .set("check.crcs", "true")
        .create()
        .expect("consumer");
    let (_, high) = consumer
        .fetch_watermarks("idem", 0, Duration::from_secs(10))
        .expect("watermarks");
    assert_eq!(
        high as u64, produced,
        "{produced} records produced, {high} stored: duplicates or losses"
    );
    let mut tpl = rdkafka::TopicPartitionList::new();
    tpl.add_partition_offset("idem", 0, rdkafka::Offset::Beginning)
        .expect("tpl");
    consumer.assign(&tpl).expect("assign");
    let mut next: i64 = 0;
    let deadline = Instant::now() + Duration::from_secs(60);
    while next < high {
        assert!(Instant::now() < deadline, "read back stalled at {next}");
        match consumer.poll(Duration::from_millis(200)) {
            Some(Ok(m)) => {
                let v: i64 = m
                    .payload()
                    .and_then(|p| std::str::from_utf8(p).ok())
                    .and_then(|s| s.parse().ok())
                    .expect("a sequence number");
                assert_eq!(m.offset(), next, "contiguous offsets");
                assert_eq!(
                    v, next,
                    "record {v} at offset {next}: lost, duplicated or reordered"
                );
                next += 1;
            }
            Some(Err(e)) => panic!("fetch failed: {e}"),
            None => {}
        }
    }
}

/// A bare protocol client over a blocking socket, for requests no real client sends on
/// purpose (gaps, stale epochs, exact retries).
struct Raw {
    stream: TcpStream,
    correlation: i32,
}

impl Raw {
    fn connect(addr: SocketAddr) -> Raw {
        let stream = TcpStream::connect(addr).expect("connect");
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .expect("timeout");
        Raw {
            stream,
            correlation: 0,
        }
    }

    fn call<Q: Wire, R: Wire>(&mut self, api_key: i16, version: i16, body: &Q) -> R {
        self.correlation += 1;
        let spec = api::spec(api_key).expect("served api");
        let mut w = Writer::new(spec.is_flexible(version));
        write_request_header(
            &mut w,
            &RequestHeader {
                api_key,
                api_version: version,
                correlation_id: self.correlation,
                client_id: Some("idem-raw".into()),
            },
        );
        body.write(&mut w, version);
        let body = w.finish().to_bytes();
        let mut frame = (body.len() as u32).to_be_bytes().to_vec();
        frame.extend_from_slice(&body);
        self.stream.write_all(&frame).expect("send");
        let mut len = [0u8; 4];
        self.stream.read_exact(&mut len).expect("response length");
        let mut buf = BytesMut::zeroed(u32::from_be_bytes(len) as usize);
        self.stream.read_exact(&mut buf).expect("response");
        assert_eq!(buf.get_i32(), self.correlation);
        let mut r = Reader::new(buf, spec.is_flexible(version));
        if spec.response_header_v1(version) {
            r.tagged_fields().expect("header tags");
        }
        R::read(&mut r, version).expect("decodable response")
    }

    fn init_producer_id(&mut self, id: i64, epoch: i16) -> (i64, i16) {
        let r: InitProducerIdResponse = self.call(
            key::INIT_PRODUCER_ID,
            4,
            &InitProducerIdRequest {
                transactional_id: None,
                transaction_timeout_ms: 60_000,
                producer_id: id,
                producer_epoch: epoch,
            },
        );
        assert_eq!(r.error_code, ec::NONE);
        (r.producer_id, r.producer_epoch)
    }

    /// Produces two records as (producer id, epoch, base sequence).
    fn produce(&mut self, pid: i64, epoch: i16, seq: i32) -> ProducePartitionResponse {
        let batch =
            record_batch::build(&[(None, b"a", 1), (None, b"b", 2)], Some((pid, epoch, seq)));
        let r: ProduceResponse = self.call(
            key::PRODUCE,
            9,
            &ProduceRequest {
                transactional_id: None,
                acks: -1,
                timeout_ms: 5_000,
                topics: vec![ProduceTopic {
                    name: "seq".into(),
                    partitions: vec![ProducePartition {
                        index: 0,
                        records: Some(batch),
                    }],
                }],
            },
        );
        r.responses[0].partitions[0].clone()
    }
}

fn ok_at(r: &ProducePartitionResponse) -> i64 {
    assert_eq!(r.error_code, ec::NONE, "{:?}", r.error_message);
    r.base_offset
}

#[test]
fn sequence_rules_hold_across_a_crash_and_a_clean_restart() {
    let mut broker = Broker::start();
    let mut c = Raw::connect(broker.kafka);
    let (pid, epoch) = c.init_producer_id(-1, -1);
    assert_eq!(epoch, 0);
    assert_eq!(ok_at(&c.produce(pid, 0, 0)), 0);
    // Before any restart.
    assert_eq!(
        ok_at(&c.produce(pid, 0, 0)),
        0,
        "a retry gets the original offset"
    );
    assert_eq!(
        c.produce(pid, 0, 9).error_code,
        ec::OUT_OF_ORDER_SEQUENCE_NUMBER
    );

    // Crash: no snapshot was ever written, the state comes from the log alone.
    broker.restart();
    let mut c = Raw::connect(broker.kafka);
    assert_eq!(
        ok_at(&c.produce(pid, 0, 0)),
        0,
        "retry after a crash: original offset"
    );
    assert_eq!(
        c.produce(pid, 0, 9).error_code,
        ec::OUT_OF_ORDER_SEQUENCE_NUMBER,
        "a gap after a crash"
    );
    assert_eq!(
        ok_at(&c.produce(pid, 0, 2)),
        2,
        "the retry was not stored again"
    );
    // KIP-360 bump: the same id with epoch 1 starts over at sequence 0.
    assert_eq!(c.init_producer_id(pid, 0), (pid, 1));
    assert_eq!(ok_at(&c.produce(pid, 1, 0)), 4);

    // Crash again: epoch 1 is known from the log, so epoch 0 is fenced.
    broker.restart();
    let mut c = Raw::connect(broker.kafka);
    assert_eq!(
        c.produce(pid, 0, 4).error_code,
        ec::INVALID_PRODUCER_EPOCH,
        "a stale epoch after a crash"
    );
    assert_eq!(ok_at(&c.produce(pid, 1, 2)), 6);

    // Clean restart: the state comes from the shutdown snapshot.
    broker.stop();
    broker.restart();
    let mut c = Raw::connect(broker.kafka);
    assert_eq!(c.produce(pid, 0, 4).error_code, ec::INVALID_PRODUCER_EPOCH);
    assert_eq!(
        ok_at(&c.produce(pid, 1, 2)),
        6,
        "retry after a clean restart"
    );
    assert_eq!(
        c.produce(pid, 1, 8).error_code,
        ec::OUT_OF_ORDER_SEQUENCE_NUMBER
    );
    assert_eq!(ok_at(&c.produce(pid, 1, 4)), 8);

    // Ids handed out before the restarts are never handed out again.
    let (fresh, fresh_epoch) = c.init_producer_id(-1, -1);
    // Ids come from a durable counter: later ones are larger, even after crashes.
    assert!(
        fresh > pid,
        "fresh id {fresh} after restarts, first was {pid}"
    );
    assert_eq!(fresh_epoch, 0);
    assert_eq!(ok_at(&c.produce(fresh, 0, 0)), 10, "a new id starts fresh");
}
