//! Single-record appends that reach a partition together become one record batch.
//!
//! A message routed to a stream (an AMQP or MQTT publish into a stream queue) is one
//! record. Written as a batch of its own, a Kafka consumer then pays one batch header
//! (61 bytes, a CRC, a decode step) per record and reads a stream queue at about 0.6 of
//! the rate of a topic its producers filled in batches (docs/benchmarks.md). So the
//! partition's owner task gathers the record appends it drains from its queue in one
//! round and writes them as one batch; each sender still gets its own offset, and its
//! answer under the same durability rule as before (after the group fsync when it asked
//! to wait for durability).

use bytes::BytesMut;
use tokio::sync::oneshot;
use trident_core::BatchEncoding;
use trident_records::record::{self, NewRecord};

use super::{AppendError, AppendRequest, AppendResult};

/// Where one record's outcome goes.
pub(crate) type Reply = oneshot::Sender<Result<AppendResult, AppendError>>;

/// Past this many bytes of keys and values a batch is written and a new one begun, so
/// that one batch stays well under a consumer's fetch size and a segment.
const MAX_BATCH_BYTES: usize = 1 << 20;

/// Record appends waiting to be written as one batch, in arrival order.
#[derive(Debug, Default)]
pub(crate) struct Coalescer {
    records: Vec<NewRecord>,
    replies: Vec<Reply>,
    wait_durable: bool,
    bytes: usize,
}

/// A batch ready to append and the replies of its records, in offset order.
pub(crate) struct Coalesced {
    pub req: AppendRequest,
    pub replies: Vec<Reply>,
}

impl Coalescer {
    /// Adds a record; true when the batch is full and should be written now.
    pub(crate) fn push(&mut self, record: NewRecord, wait_durable: bool, reply: Reply) -> bool {
        self.bytes += record.key.as_ref().map_or(0, |k| k.len())
            + record.value.as_ref().map_or(0, |v| v.len());
        self.wait_durable |= wait_durable;
        self.records.push(record);
        self.replies.push(reply);
        self.bytes >= MAX_BATCH_BYTES
    }

    /// The gathered records as one batch, or one batch per record when they cannot be
    /// encoded together (a record too large for the format fails alone, not its
    /// neighbours). Empty when nothing is waiting.
    pub(crate) fn take(&mut self) -> Vec<Coalesced> {
        if self.records.is_empty() {
            return Vec::new();
        }
        let records = std::mem::take(&mut self.records);
        let replies = std::mem::take(&mut self.replies);
        let wait_durable = std::mem::take(&mut self.wait_durable);
        self.bytes = 0;
        if let Ok(bytes) = record::encode(&records, None) {
            return vec![Coalesced {
                req: request(&records, bytes, wait_durable),
                replies,
            }];
        }
        let mut out = Vec::new();
        for (r, reply) in records.into_iter().zip(replies) {
            match record::encode(std::slice::from_ref(&r), None) {
                Ok(bytes) => out.push(Coalesced {
                    req: request(std::slice::from_ref(&r), bytes, wait_durable),
                    replies: vec![reply],
                }),
                Err(e) => {
                    let _ = reply.send(Err(AppendError::Engine(e.to_string())));
                }
            }
        }
        out
    }
}

fn request(records: &[NewRecord], bytes: BytesMut, wait_durable: bool) -> AppendRequest {
    AppendRequest {
        // At most a few hundred records per round (the owner task's drain limit) or
        // MAX_BATCH_BYTES, far below u32::MAX.
        record_count: u32::try_from(records.len()).unwrap_or(u32::MAX),
        max_timestamp: records.iter().map(|r| r.timestamp).max().unwrap_or(0),
        encoding: BatchEncoding::RecordBatchV2,
        bytes,
        producer: None,
        wait_durable,
    }
}
