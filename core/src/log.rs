//! The unit a partitioned log stores: a batch of records with consecutive offsets.

use bytes::Bytes;

/// A position in a partition. Offsets start at 0 and grow by one per record.
pub type Offset = u64;

/// How a batch's bytes are laid out. The log never interprets them; the tag lets any
/// reader pick the right decoder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum BatchEncoding {
    /// The record batch v2 layout (magic byte 2, as defined by Kafka's KIP-98), stored
    /// exactly as a producer sent it. It is the log's interchange format because it is
    /// the one format that every Kafka client reads natively, so fetches can hand the
    /// stored bytes to the socket without re-encoding.
    RecordBatchV2 = 2,
}

impl BatchEncoding {
    pub fn from_u8(v: u8) -> Option<Self> {
        match v {
            2 => Some(Self::RecordBatchV2),
            _ => None,
        }
    }
}

/// One stored batch.
#[derive(Debug, Clone, PartialEq)]
pub struct LogBatch {
    /// Offset of the first record.
    pub base_offset: Offset,
    /// Number of records; offsets `base_offset .. base_offset + record_count` belong to it.
    pub record_count: u32,
    /// Largest record timestamp in the batch (ms since the epoch): the time index key.
    pub max_timestamp: i64,
    pub encoding: BatchEncoding,
    pub bytes: Bytes,
}

impl LogBatch {
    /// The offset after the last record.
    pub fn next_offset(&self) -> Offset {
        self.base_offset + u64::from(self.record_count)
    }
}
