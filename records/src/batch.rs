//! The record batch v2 header (KIP-98): what a produce needs to know about a batch
//! without touching its records — record count, max timestamp, producer identity — and
//! the CRC check that decides CORRUPT_MESSAGE. Produce stores the batch as the producer
//! sent it; the records themselves are read only by [`crate::record`].
//!
//! Layout (big-endian):
//! ```text
//!  0 baseOffset i64        8 batchLength i32      12 partitionLeaderEpoch i32
//! 16 magic i8             17 crc u32 (CRC-32C of bytes 21..end)
//! 21 attributes i16       23 lastOffsetDelta i32  27 baseTimestamp i64
//! 35 maxTimestamp i64     43 producerId i64       51 producerEpoch i16
//! 53 baseSequence i32     57 recordCount i32      61 records...
//! ```

pub const HEADER_LEN: usize = 61;
/// Bytes before `batchLength` counts (baseOffset + batchLength).
pub const LOG_OVERHEAD: usize = 12;
pub(crate) const CRC_START: usize = 21;
const MAGIC_AT: usize = 16;
const PRODUCER_ID_AT: usize = 43;
const EPOCH_AT: usize = 51;
const BASE_SEQUENCE_AT: usize = 53;

/// Compression codec in attribute bits 0-2.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    None,
    Gzip,
    Snappy,
    Lz4,
    Zstd,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchHeader {
    pub batch_length: i32,
    pub magic: i8,
    pub crc: u32,
    pub attributes: i16,
    pub last_offset_delta: i32,
    pub base_timestamp: i64,
    pub max_timestamp: i64,
    pub producer_id: i64,
    pub producer_epoch: i16,
    pub base_sequence: i32,
    pub record_count: i32,
}

impl Compression {
    /// The codec of attribute bits 0-2, `None` for the unassigned values 5-7.
    pub fn from_attributes(attributes: i16) -> Option<Self> {
        match attributes & 0x07 {
            0 => Some(Self::None),
            1 => Some(Self::Gzip),
            2 => Some(Self::Snappy),
            3 => Some(Self::Lz4),
            4 => Some(Self::Zstd),
            _ => None,
        }
    }
}

/// The idempotent producer identity a batch carries (KIP-98): the engine's producer
/// state is rebuilt from these after a crash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProducerSeq {
    pub producer_id: i64,
    pub epoch: i16,
    pub base_sequence: i32,
}

impl BatchHeader {
    pub fn compression(&self) -> Option<Compression> {
        Compression::from_attributes(self.attributes)
    }

    pub fn is_transactional(&self) -> bool {
        self.attributes & 0x10 != 0
    }

    pub fn is_control(&self) -> bool {
        self.attributes & 0x20 != 0
    }

    /// Offsets the batch occupies: lastOffsetDelta + 1 (what Kafka assigns by).
    pub fn offset_count(&self) -> u32 {
        u32::try_from(self.last_offset_delta).map_or(0, |d| d.saturating_add(1))
    }

    /// An idempotent producer's batch carries a producer id >= 0.
    pub fn is_idempotent(&self) -> bool {
        self.producer_id >= 0
    }
}

/// Why a produced batch is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BatchError {
    #[error("record data of {0} bytes is shorter than a batch header")]
    TooShort(usize),
    #[error("batch length {declared} does not match the {actual} bytes sent")]
    LengthMismatch { declared: i64, actual: usize },
    #[error("record batch magic {0} is not supported (only v2)")]
    BadMagic(i8),
    #[error("CRC mismatch: batch says {expected:#010x}, computed {computed:#010x}")]
    CrcMismatch { expected: u32, computed: u32 },
    #[error("invalid record count (lastOffsetDelta {0})")]
    BadCount(i32),
    #[error("unsupported compression codec {0}")]
    BadCompression(i16),
    #[error("control batches may not be produced by clients")]
    Control,
}

/// The producer identity of a stored batch, or `None` when the batch was not written
/// by an idempotent producer (producer id -1) or the bytes are not a v2 header. Reads
/// fixed offsets of a header prefix only (recovery scans stored prefixes, not batches).
pub fn producer_of(header: &[u8]) -> Option<ProducerSeq> {
    let h = header.get(..HEADER_LEN)?;
    if h[MAGIC_AT] != 2 {
        return None;
    }
    let producer_id = be_i64(h, PRODUCER_ID_AT);
    if producer_id < 0 {
        return None;
    }
    Some(ProducerSeq {
        producer_id,
        epoch: be_i16(h, EPOCH_AT),
        base_sequence: be_i32(h, BASE_SEQUENCE_AT),
    })
}

/// Reads the header fields of a stored batch without checking the CRC (the log
/// checked it on append and checksums its own segments).
pub fn read_header(bytes: &[u8]) -> Result<BatchHeader, BatchError> {
    if bytes.len() < HEADER_LEN {
        return Err(BatchError::TooShort(bytes.len()));
    }
    let magic = bytes[MAGIC_AT] as i8;
    if magic != 2 {
        return Err(BatchError::BadMagic(magic));
    }
    Ok(BatchHeader {
        batch_length: be_i32(bytes, 8),
        magic,
        crc: u32::from_be_bytes([bytes[17], bytes[18], bytes[19], bytes[20]]),
        attributes: be_i16(bytes, 21),
        last_offset_delta: be_i32(bytes, 23),
        base_timestamp: be_i64(bytes, 27),
        max_timestamp: be_i64(bytes, 35),
        producer_id: be_i64(bytes, PRODUCER_ID_AT),
        producer_epoch: be_i16(bytes, EPOCH_AT),
        base_sequence: be_i32(bytes, BASE_SEQUENCE_AT),
        record_count: be_i32(bytes, 57),
    })
}

// Callers check `HEADER_LEN` first; these read fixed positions inside it.
fn be_i16(b: &[u8], at: usize) -> i16 {
    i16::from_be_bytes([b[at], b[at + 1]])
}
fn be_i32(b: &[u8], at: usize) -> i32 {
    i32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}
fn be_i64(b: &[u8], at: usize) -> i64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[at..at + 8]);
    i64::from_be_bytes(a)
}

/// Reads the header of a batch that must span exactly `bytes` (a produce request carries
/// one batch per partition) and checks magic, length, CRC-32C and the record count.
pub fn validate(bytes: &[u8]) -> Result<BatchHeader, BatchError> {
    if bytes.len() < HEADER_LEN {
        return Err(BatchError::TooShort(bytes.len()));
    }
    let batch_length = be_i32(bytes, 8);
    let declared = i64::from(batch_length) + LOG_OVERHEAD as i64;
    if declared != bytes.len() as i64 {
        return Err(BatchError::LengthMismatch {
            declared,
            actual: bytes.len(),
        });
    }
    let header = read_header(bytes)?;
    let computed = crc32c::crc32c(&bytes[CRC_START..]);
    if header.crc != computed {
        return Err(BatchError::CrcMismatch {
            expected: header.crc,
            computed,
        });
    }
    if header.last_offset_delta < 0 || header.record_count < 0 {
        return Err(BatchError::BadCount(header.last_offset_delta));
    }
    if header.compression().is_none() {
        return Err(BatchError::BadCompression(header.attributes & 0x07));
    }
    if header.is_control() {
        return Err(BatchError::Control);
    }
    Ok(header)
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::BytesMut;

    use crate::record::build;

    fn sample() -> BytesMut {
        build(
            &[
                (Some(b"k1"), b"v1", 1000),
                (None, b"value-two", 1005),
                (Some(b"k3"), b"v3", 1010),
            ],
            None,
        )
    }

    #[test]
    fn valid_batch_header() {
        let b = sample();
        let h = validate(&b).expect("valid");
        assert_eq!(h.offset_count(), 3);
        assert_eq!(h.max_timestamp, 1010);
        assert_eq!(h.compression(), Some(Compression::None));
        assert!(!h.is_idempotent());
    }

    #[test]
    fn flipped_byte_is_a_crc_mismatch() {
        let mut b = sample();
        let last = b.len() - 1;
        b[last] ^= 0x40;
        assert!(matches!(validate(&b), Err(BatchError::CrcMismatch { .. })));
    }

    #[test]
    fn base_offset_is_outside_the_crc() {
        let mut b = sample();
        b[..8].copy_from_slice(&42i64.to_be_bytes());
        assert!(validate(&b).is_ok());
    }

    #[test]
    fn wrong_length_and_magic() {
        let b = sample();
        assert!(matches!(
            validate(&b[..b.len() - 1]),
            Err(BatchError::LengthMismatch { .. })
        ));
        let mut m = sample();
        m[16] = 1;
        assert!(matches!(validate(&m), Err(BatchError::BadMagic(1))));
        assert!(matches!(validate(&b[..20]), Err(BatchError::TooShort(20))));
    }

    fn header(producer_id: i64, epoch: i16, seq: i32) -> Vec<u8> {
        let mut h = vec![0u8; HEADER_LEN + 3];
        h[MAGIC_AT] = 2;
        h[PRODUCER_ID_AT..EPOCH_AT].copy_from_slice(&producer_id.to_be_bytes());
        h[EPOCH_AT..BASE_SEQUENCE_AT].copy_from_slice(&epoch.to_be_bytes());
        h[BASE_SEQUENCE_AT..BASE_SEQUENCE_AT + 4].copy_from_slice(&seq.to_be_bytes());
        h
    }

    #[test]
    fn reads_the_producer_fields() {
        let got = producer_of(&header(0x0102_0304_0506, 7, 1_000_000));
        assert_eq!(
            got,
            Some(ProducerSeq {
                producer_id: 0x0102_0304_0506,
                epoch: 7,
                base_sequence: 1_000_000
            })
        );
        let built = build(&[(None, b"a", 1)], Some((9, 2, 40)));
        assert_eq!(
            producer_of(&built),
            Some(ProducerSeq {
                producer_id: 9,
                epoch: 2,
                base_sequence: 40
            })
        );
    }

    #[test]
    fn not_idempotent_short_or_old_magic_is_none() {
        assert_eq!(producer_of(&header(-1, -1, -1)), None);
        assert_eq!(producer_of(&header(5, 0, 0)[..HEADER_LEN - 1]), None);
        let mut old = header(5, 0, 0);
        old[MAGIC_AT] = 1;
        assert_eq!(producer_of(&old), None);
    }
}
