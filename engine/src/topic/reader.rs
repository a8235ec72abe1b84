//! Stream consumers: one task per consumer that reads a topic's partitions from the
//! offset the consumer chose and pushes each record, as a message, to its sink. Reading
//! removes nothing: a log keeps its records until retention takes them, and any number
//! of consumers read it independently.
//!
//! To the adapter a stream consumer looks like a queue consumer: it is reached through
//! a [`QueueRef`] of its own, whose owner task is this reader, so credit (`grant`),
//! settlements and cancellation travel the way they do for queues. Credit is the only
//! bound, as for queues: the reader stops reading when the consumer has none and
//! resumes when settlements give some back. Settling moves credit and nothing else
//! (there is nothing to remove, and a requeue has nothing to put back).
//!
//! Several partitions are read round robin, one read (up to [`READ_BYTES`]) at a time:
//! each partition's records stay in order, partitions interleave.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use tokio::sync::{Notify, mpsc};
use trident_core::{Arrival, ConnectionId, Error, QueueArgs, QueueDef, QueueName, Result};
use trident_records::{from_record, record};

use super::{PartitionRef, Topic};
use crate::delivery::{
    ConsumerEvent, ConsumerOptions, ConsumerSink, Delivery, LogPosition, StreamReadOptions,
    StreamStart,
};
use crate::queue::{QueueCommand, QueueCounters, QueueRef};

/// How much one read takes from one partition before the next partition's turn.
const READ_BYTES: usize = 256 * 1024;

/// Starts a reader for `opts.tag` on `topic` and returns the handle its deliveries
/// settle through.
pub(crate) async fn spawn_reader(
    topic: Arc<Topic>,
    opts: ConsumerOptions,
    read: StreamReadOptions,
    sink: ConsumerSink,
) -> Result<QueueRef> {
    let parts: Vec<PartitionRef> = match read.partition {
        None => topic.partitions.clone(),
        Some(i) => vec![topic.partition(i).cloned().ok_or_else(|| {
            Error::PreconditionFailed(format!(
                "stream '{}' has no partition {i} (it has {})",
                topic.name,
                topic.partitions.len()
            ))
        })?],
    };
    let name = QueueName::new(topic.name.as_str())
        .map_err(|e| Error::InvalidArgument(format!("topic '{}': {e}", topic.name)))?;
    let mut positions = Vec::with_capacity(parts.len());
    for p in &parts {
        positions.push(start_offset(p, read.start).await?);
    }
    let def = QueueDef {
        name,
        durable: true,
        exclusive: false,
        auto_delete: false,
        args: QueueArgs {
            stream: true,
            ..QueueArgs::default()
        },
    };
    let (tx, rx) = mpsc::channel(16);
    let (urgent_tx, urgent) = mpsc::unbounded_channel();
    let counters = Arc::new(QueueCounters::default());
    counters.consumers.store(1, Ordering::Relaxed);
    let handle = QueueRef::new(def, None, tx, urgent_tx, counters.clone());
    let wake = Arc::new(Wake::default());
    let watchers = parts
        .iter()
        .map(|p| tokio::spawn(watch_partition(p.clone(), wake.clone())).abort_handle())
        .collect();
    let reader = Reader {
        handle: handle.clone(),
        tag: opts.tag,
        owner: opts.owner,
        no_ack: opts.no_ack,
        credit: opts.initial_credit,
        sink,
        partitions: u32::try_from(topic.partitions.len()).unwrap_or(u32::MAX),
        indexes: parts.iter().map(PartitionRef::index).collect(),
        parts,
        positions,
        next_part: 0,
        pending: VecDeque::new(),
        next_id: 1,
        counters,
        wake,
        _watchers: Watchers(watchers),
        _count: ReaderCount::new(topic.readers.clone()),
    };
    tokio::spawn(reader.run(rx, urgent));
    Ok(handle)
}

/// The first offset to read in one partition.
async fn start_offset(p: &PartitionRef, start: StreamStart) -> Result<u64> {
    let first = p.log_start_offset();
    let end = p.high_watermark();
    Ok(match start {
        StreamStart::First => first,
        StreamStart::Next => end,
        StreamStart::Offset(n) => n.clamp(first, end),
        StreamStart::Last if end > first => {
            // The batch holding the last record: the log's "last chunk".
            let read = p.read(end - 1, 1).await?;
            read.batches
                .first()
                .map_or(end, |b| b.base_offset.max(first))
        }
        StreamStart::Last => end,
        StreamStart::Timestamp(ts) => p.offset_for_timestamp(ts).await?.unwrap_or(end),
    })
}

/// Wakes the reader when any of its partitions grows, and tells it when one is gone.
#[derive(Default)]
struct Wake {
    notify: Notify,
    gone: AtomicBool,
}

async fn watch_partition(p: PartitionRef, wake: Arc<Wake>) {
    let mut hw = p.watch();
    while hw.changed().await.is_ok() {
        wake.notify.notify_one();
    }
    // The partition stopped: its topic was deleted, or the engine is shutting down.
    wake.gone.store(true, Ordering::Release);
    wake.notify.notify_one();
}

/// Stops the watchers with the reader.
struct Watchers(Vec<tokio::task::AbortHandle>);

impl Drop for Watchers {
    fn drop(&mut self) {
        for w in &self.0 {
            w.abort();
        }
    }
}

/// Counts the reader among its topic's consumers while it lives.
struct ReaderCount(Arc<std::sync::atomic::AtomicU32>);

impl ReaderCount {
    fn new(c: Arc<std::sync::atomic::AtomicU32>) -> Self {
        c.fetch_add(1, Ordering::Relaxed);
        Self(c)
    }
}

impl Drop for ReaderCount {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

struct Reader {
    /// Its own handle, handed out with every delivery.
    handle: QueueRef,
    tag: Arc<str>,
    owner: ConnectionId,
    no_ack: bool,
    /// Deliveries it may still push; `u32::MAX` is unlimited.
    credit: u32,
    sink: ConsumerSink,
    /// Partitions of the whole topic (for `LogPosition::partitions`).
    partitions: u32,
    parts: Vec<PartitionRef>,
    indexes: Vec<u32>,
    /// The next offset to read, per entry of `parts`.
    positions: Vec<u64>,
    next_part: usize,
    /// Records read and not yet delivered: (entry of `parts`, record).
    pending: VecDeque<(usize, record::Record)>,
    next_id: u64,
    counters: Arc<QueueCounters>,
    wake: Arc<Wake>,
    _watchers: Watchers,
    _count: ReaderCount,
}

/// Whether the reader goes on after a command.
enum Next {
    Continue,
    Stop,
}

impl Reader {
    async fn run(
        mut self,
        mut rx: mpsc::Receiver<QueueCommand>,
        mut urgent: mpsc::UnboundedReceiver<QueueCommand>,
    ) {
        loop {
            if !self.deliver() {
                return;
            }
            if self.credit > 0 && self.pending.is_empty() {
                if self.wake.gone.load(Ordering::Acquire) {
                    return self.cancelled();
                }
                match self.fill().await {
                    Ok(true) => continue,
                    Ok(false) => {}
                    Err(e) => {
                        tracing::debug!(consumer = %self.tag, error = %e, "stream read failed");
                        return self.cancelled();
                    }
                }
            }
            let hungry = self.credit > 0 && self.pending.is_empty();
            let next = tokio::select! {
                biased;
                cmd = urgent.recv() => match cmd {
                    Some(cmd) => self.handle(cmd),
                    None => Next::Stop,
                },
                cmd = rx.recv() => match cmd {
                    Some(cmd) => self.handle(cmd),
                    None => Next::Stop,
                },
                () = self.wake.notify.notified(), if hungry => Next::Continue,
                () = self.sink.closed() => Next::Stop,
            };
            if let Next::Stop = next {
                return;
            }
        }
    }

    /// Pushes pending records while there is credit; false once the sink is closed.
    fn deliver(&mut self) -> bool {
        while self.credit > 0 {
            let Some((i, r)) = self.pending.pop_front() else {
                break;
            };
            let delivery = Delivery {
                queue: self.handle.clone(),
                consumer_tag: self.tag.clone(),
                id: self.next_id,
                message: Arc::new(self.message_of(&r)),
                redelivered: false,
                position: None,
                arrival: Arrival::default(),
                remaining: 0,
                log: Some(LogPosition {
                    partition: self.indexes[i],
                    offset: r.offset,
                    partitions: self.partitions,
                }),
            };
            self.next_id += 1;
            if self.sink.send(ConsumerEvent::Deliver(delivery)).is_err() {
                return false;
            }
            if self.credit != u32::MAX {
                self.credit -= 1;
            }
            self.counters.delivered.fetch_add(1, Ordering::Relaxed);
            if self.no_ack {
                self.counters.acked.fetch_add(1, Ordering::Relaxed);
            } else {
                self.counters.unacked.fetch_add(1, Ordering::Relaxed);
            }
        }
        true
    }

    /// The message a record becomes: the one documented mapping (`trident-records`),
    /// and, as a forwarded record gets, the record key (or the topic name) as routing
    /// key when the record does not carry the one it was published with.
    fn message_of(&self, r: &record::Record) -> trident_core::Message {
        let mut m = from_record(r);
        if m.routing_key.is_empty() {
            m.routing_key = r
                .key
                .as_deref()
                .and_then(|k| std::str::from_utf8(k).ok())
                .unwrap_or(self.handle.name().as_str())
                .to_string();
        }
        m
    }

    /// Reads the next partition that has something; whether anything was read.
    async fn fill(&mut self) -> Result<bool> {
        let n = self.parts.len();
        for step in 0..n {
            let i = (self.next_part + step) % n;
            let part = &self.parts[i];
            // Retention may have taken what this consumer had not read yet: it goes on
            // from the oldest record kept, as a Kafka consumer resets to the earliest.
            let mut pos = self.positions[i].max(part.log_start_offset());
            if pos >= part.high_watermark() {
                self.positions[i] = pos;
                continue;
            }
            let read = part.read(pos, READ_BYTES).await?;
            if read.batches.is_empty() {
                // Nothing at an offset below the watermark: a hole (records deleted
                // under us); skip to what the partition says comes next.
                self.positions[i] = read.high_watermark.max(pos);
                continue;
            }
            for batch in &read.batches {
                match record::decode(&batch.bytes, batch.base_offset) {
                    Ok(records) => self.pending.extend(
                        records
                            .into_iter()
                            .filter(|r| r.offset >= pos)
                            .map(|r| (i, r)),
                    ),
                    Err(e) => tracing::warn!(
                        topic = %part.topic(), partition = part.index(),
                        offset = batch.base_offset, error = %e,
                        "stream consumer skipped a batch it cannot decode"
                    ),
                }
                pos = pos.max(batch.next_offset());
            }
            self.positions[i] = pos;
            self.next_part = (i + 1) % n;
            if !self.pending.is_empty() {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// The topic went away: the consumer is told, as a queue's consumers are.
    fn cancelled(self) {
        let _ = self.sink.send(ConsumerEvent::Cancelled {
            consumer_tag: self.tag.clone(),
        });
    }

    fn handle(&mut self, cmd: QueueCommand) -> Next {
        match cmd {
            QueueCommand::Credit { tag, credit } if tag == self.tag => {
                self.credit = self.credit.saturating_add(credit);
            }
            QueueCommand::Credit { .. } => {}
            QueueCommand::Settle { ids, written, .. } => {
                let n = ids.len() as u64;
                self.counters.acked.fetch_add(n, Ordering::Relaxed);
                let _ =
                    self.counters
                        .unacked
                        .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |u| {
                            Some(u.saturating_sub(n))
                        });
                // Nothing to write: settling a stream delivery changes no state kept on disk.
                if let Some(w) = written {
                    let _ = w.send(());
                }
            }
            QueueCommand::Cancel { tag, reply } => {
                if let Some(r) = reply {
                    let _ = r.send(());
                }
                if tag == self.tag {
                    return Next::Stop;
                }
            }
            QueueCommand::ConnectionClosed { conn } if conn == self.owner => return Next::Stop,
            QueueCommand::ConnectionClosed { .. } => {}
            QueueCommand::Shutdown { reply } => {
                let _ = reply.send(());
                return Next::Stop;
            }
            QueueCommand::WhenShort { reply, .. } => {
                let _ = reply.send(());
            }
            QueueCommand::SetExpires { reply, .. } => {
                let _ = reply.send(());
            }
            // The reader's handle is not in any routing table and serves one consumer;
            // these reach it only through misuse of the handle.
            QueueCommand::Publish { ticket, .. } => {
                if let Some(t) = ticket {
                    t.complete(Ok(()));
                }
            }
            QueueCommand::Consume { reply, .. } => {
                let _ = reply.send(Err(Error::PreconditionFailed(
                    "a stream consumer's handle takes no other consumer".into(),
                )));
            }
            QueueCommand::Get { reply, .. } => {
                let _ = reply.send(Err(Error::PreconditionFailed(
                    "basic.get is not supported by stream queues".into(),
                )));
            }
            QueueCommand::Purge { reply } => {
                let _ = reply.send(Err(Error::PreconditionFailed(
                    "purge is not supported by stream queues".into(),
                )));
            }
            QueueCommand::Delete { reply, .. } => {
                let _ = reply.send(Ok(0));
            }
        }
        Next::Continue
    }
}
