//! Partitioned logs: a topic is N partitions, each owned by one task (see `partition`).

mod coalesce;
pub mod forward;
mod partition;
mod producer_snapshot;
mod producer_state;
mod reader;
pub(crate) mod stream;

use std::sync::Arc;
use std::sync::atomic::Ordering;

use bytes::BytesMut;
use tokio::sync::{mpsc, oneshot, watch};
use trident_core::{BatchEncoding, Error, LogBatch, Offset, Result, TopicConfig, TopicName};

pub(crate) use partition::{PartitionCommand, PartitionShared, spawn_partition};
pub(crate) use reader::spawn_reader;

/// A batch to append, as the producer sent it.
#[derive(Debug)]
pub struct AppendRequest {
    pub record_count: u32,
    pub max_timestamp: i64,
    pub encoding: BatchEncoding,
    /// Mutable so that the partition can write the assigned base offset into it without
    /// a copy (for `RecordBatchV2`, bytes 0..8).
    pub bytes: BytesMut,
    /// Present for idempotent producers: the partition drops duplicates and refuses
    /// gaps, atomically with the append.
    pub producer: Option<ProducerSeq>,
    /// Reply only once the batch is as durable as the durability setting promises
    /// (Kafka acks=all); otherwise once it is written (acks=1).
    pub wait_durable: bool,
}

/// An idempotent producer's identity and the sequence number of a batch's first record
/// (read from stored batch headers by the records crate).
pub use trident_records::ProducerSeq;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AppendResult {
    pub base_offset: Offset,
    pub log_start_offset: Offset,
    /// The batch was a retry of one already stored; `base_offset` is the original's.
    pub duplicate: bool,
}

/// Why an append was refused (beyond generic engine errors).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AppendError {
    #[error("out of order sequence number: expected {expected}, got {got}")]
    OutOfOrderSequence { expected: i32, got: i32 },
    #[error("producer epoch {got} is older than the current epoch {current}")]
    ProducerFenced { current: i16, got: i16 },
    #[error("unknown producer id {0}")]
    UnknownProducer(i64),
    #[error("{0}")]
    Engine(String),
}

/// What a read returns.
#[derive(Debug, Clone, Default)]
pub struct ReadResult {
    pub batches: Vec<LogBatch>,
    /// The offset after the last readable record (Kafka's high watermark).
    pub high_watermark: Offset,
    pub log_start_offset: Offset,
}

/// A cheap handle to one partition's owner task.
#[derive(Debug, Clone)]
pub struct PartitionRef {
    pub(crate) topic: TopicName,
    pub(crate) index: u32,
    pub(crate) tx: mpsc::Sender<PartitionCommand>,
    pub(crate) shared: Arc<PartitionShared>,
}

impl PartitionRef {
    pub fn topic(&self) -> &TopicName {
        &self.topic
    }

    pub fn index(&self) -> u32 {
        self.index
    }

    /// The offset the next record will get.
    pub fn high_watermark(&self) -> Offset {
        self.shared.high_watermark.load(Ordering::Acquire)
    }

    pub fn log_start_offset(&self) -> Offset {
        self.shared.log_start.load(Ordering::Acquire)
    }

    pub fn size_bytes(&self) -> u64 {
        self.shared.size_bytes.load(Ordering::Relaxed)
    }

    /// A receiver that changes whenever the high watermark moves (long polling).
    pub fn watch(&self) -> watch::Receiver<Offset> {
        self.shared.hw_tx.subscribe()
    }

    async fn call<T>(
        &self,
        make: impl FnOnce(oneshot::Sender<T>) -> PartitionCommand,
    ) -> Result<T> {
        let (tx, rx) = oneshot::channel();
        self.tx.send(make(tx)).await.map_err(|_| self.gone())?;
        rx.await.map_err(|_| self.gone())
    }

    pub async fn append(&self, req: AppendRequest) -> Result<Result<AppendResult, AppendError>> {
        self.enqueue_append(req).await?.result().await
    }

    /// Queues an append and returns where its result will arrive. It waits only for
    /// room in the partition's queue (that wait is the backpressure); once it returns,
    /// the append is ordered before every append queued on this partition after it.
    /// A connection that must keep its requests in order queues each request's appends
    /// with this before reading the next request, and waits for the results later.
    pub async fn enqueue_append(&self, req: AppendRequest) -> Result<PendingAppend> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(PartitionCommand::Append { req, reply })
            .await
            .map_err(|_| self.gone())?;
        Ok(PendingAppend { rx })
    }

    /// Queues one record (a message routed to a stream) as [`Self::enqueue_append`]
    /// does, ordered the same way. Records queued together are written as one batch
    /// (`coalesce`); the result carries this record's own offset.
    pub(crate) async fn enqueue_record(
        &self,
        record: trident_records::record::NewRecord,
        wait_durable: bool,
    ) -> Result<PendingAppend> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(PartitionCommand::AppendRecord {
                record,
                wait_durable,
                reply,
            })
            .await
            .map_err(|_| self.gone())?;
        Ok(PendingAppend { rx })
    }

    fn gone(&self) -> Error {
        Error::Unavailable(format!("partition {}-{} is gone", self.topic, self.index))
    }

    /// Batches at or after `offset`, up to `max_bytes` (but at least one batch).
    pub async fn read(&self, offset: Offset, max_bytes: usize) -> Result<ReadResult> {
        self.call(|reply| PartitionCommand::Read {
            offset,
            max_bytes,
            reply,
        })
        .await?
    }

    /// The first offset whose batch has a timestamp at or after `ts`.
    pub async fn offset_for_timestamp(&self, ts: i64) -> Result<Option<Offset>> {
        self.call(|reply| PartitionCommand::OffsetForTimestamp { ts, reply })
            .await?
    }

    /// Kafka DeleteRecords: moves the log start offset forward.
    pub async fn delete_records_before(&self, offset: Offset) -> Result<Offset> {
        self.call(|reply| PartitionCommand::DeleteRecordsBefore { offset, reply })
            .await?
    }
}

/// An append already queued on its partition (see [`PartitionRef::enqueue_append`]).
#[derive(Debug)]
pub struct PendingAppend {
    rx: oneshot::Receiver<Result<AppendResult, AppendError>>,
}

impl PendingAppend {
    /// The outcome: when written, or when durable if the request asked to wait for it.
    pub async fn result(self) -> Result<Result<AppendResult, AppendError>> {
        // The task dropped the reply: it stopped (topic deleted, engine shut down).
        self.rx.await.map_err(|_| {
            Error::Unavailable("the partition stopped before answering the append".into())
        })
    }
}

/// A topic: its settings and its partitions.
#[derive(Debug)]
pub struct Topic {
    pub name: TopicName,
    pub config: TopicConfig,
    pub partitions: Vec<PartitionRef>,
    /// Where the next key-less record goes (round robin).
    pub(crate) next_unkeyed: std::sync::atomic::AtomicU32,
    /// Stream consumers reading it now (`reader`). Shared by the rebuilt copies of a
    /// topic (a config change or new partitions swap in a new `Topic`).
    pub(crate) readers: Arc<std::sync::atomic::AtomicU32>,
}

impl Topic {
    pub fn partition(&self, index: u32) -> Option<&PartitionRef> {
        self.partitions.get(usize::try_from(index).ok()?)
    }

    pub(crate) fn new(name: TopicName, config: TopicConfig, partitions: Vec<PartitionRef>) -> Self {
        Self {
            name,
            config,
            partitions,
            next_unkeyed: std::sync::atomic::AtomicU32::new(0),
            readers: Arc::default(),
        }
    }

    /// A copy with new settings or partitions that keeps the live state of this one.
    pub(crate) fn rebuilt(&self, config: TopicConfig, partitions: Vec<PartitionRef>) -> Self {
        let mut t = Self::new(self.name.clone(), config, partitions);
        t.readers = self.readers.clone();
        t
    }

    /// Records kept across all partitions (high watermark minus log start).
    pub fn record_count(&self) -> u64 {
        self.partitions
            .iter()
            .map(|p| p.high_watermark().saturating_sub(p.log_start_offset()))
            .sum()
    }

    /// Stream consumers reading the topic now.
    pub fn reader_count(&self) -> u32 {
        self.readers.load(Ordering::Relaxed)
    }

    /// Where a record goes when the producer did not pick a partition: by key when it
    /// has one (the same key always lands on the same partition), round robin when not.
    pub fn choose_partition(&self, key: Option<&[u8]>) -> u32 {
        match key {
            Some(k) => self.partition_for_key(k),
            None => {
                let n = self.partitions.len().max(1) as u32;
                self.next_unkeyed.fetch_add(1, Ordering::Relaxed) % n
            }
        }
    }

    /// The partition for a key: the same key always lands on the same partition.
    /// murmur2 like Kafka's default partitioner, so that Trident agrees with Java
    /// producers that leave partitioning to the broker side.
    pub fn partition_for_key(&self, key: &[u8]) -> u32 {
        let n = self.partitions.len().max(1) as u32;
        (murmur2(key) & 0x7fff_ffff) % n
    }
}

/// Kafka's murmur2 (seed 0x9747b28c), as specified by its default partitioner.
pub fn murmur2(data: &[u8]) -> u32 {
    const SEED: u32 = 0x9747_b28c;
    const M: u32 = 0x5bd1_e995;
    const R: u32 = 24;
    let len = data.len();
    let mut h: u32 = SEED ^ (len as u32);
    let mut chunks = data.chunks_exact(4);
    for c in &mut chunks {
        let mut k = u32::from_le_bytes([c[0], c[1], c[2], c[3]]);
        k = k.wrapping_mul(M);
        k ^= k >> R;
        k = k.wrapping_mul(M);
        h = h.wrapping_mul(M);
        h ^= k;
    }
    let rest = chunks.remainder();
    if rest.len() >= 3 {
        h ^= u32::from(rest[2]) << 16;
    }
    if rest.len() >= 2 {
        h ^= u32::from(rest[1]) << 8;
    }
    if !rest.is_empty() {
        h ^= u32::from(rest[0]);
        h = h.wrapping_mul(M);
    }
    h ^= h >> 13;
    h = h.wrapping_mul(M);
    h ^= h >> 15;
    h
}

#[cfg(test)]
mod tests {
    use super::murmur2;

    #[test]
    fn murmur2_matches_kafka_test_vectors() {
        // Values from Kafka's own partitioner tests (as signed Java ints).
        let cases: [(&str, i32); 6] = [
            ("21", -973_932_308),
            ("foobar", -790_332_482),
            ("a-little-bit-long-string", -985_981_536),
            ("a-little-bit-longer-string", -1_486_304_829),
            (
                "lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8",
                -58_897_971,
            ),
            ("abc", 479_470_107),
        ];
        for (input, expected) in cases {
            assert_eq!(murmur2(input.as_bytes()) as i32, expected, "{input}");
        }
    }
}
