//! The record batch v2 header (KIP-98): what a produce needs to know about a batch
//! without touching its records — record count, max timestamp, producer identity — and
//! the CRC check that decides CORRUPT_MESSAGE. Records are never decoded or re-encoded;
//! the batch is stored as the producer sent it.
//!
//! Layout (big-endian):
//! ```text
//!  0 baseOffset i64        8 batchLength i32      12 partitionLeaderEpoch i32
//! 16 magic i8             17 crc u32 (CRC-32C of bytes 21..end)
//! 21 attributes i16       23 lastOffsetDelta i32  27 baseTimestamp i64
//! 35 maxTimestamp i64     43 producerId i64       51 producerEpoch i16
//! 53 baseSequence i32     57 recordCount i32      61 records...
//! ```

use bytes::BytesMut;

use super::reader::Reader;

pub const HEADER_LEN: usize = 61;
/// Bytes before `batchLength` counts (baseOffset + batchLength).
pub const LOG_OVERHEAD: usize = 12;
const CRC_START: usize = 21;

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

impl BatchHeader {
    pub fn compression(&self) -> Option<Compression> {
        match self.attributes & 0x07 {
            0 => Some(Compression::None),
            1 => Some(Compression::Gzip),
            2 => Some(Compression::Snappy),
            3 => Some(Compression::Lz4),
            4 => Some(Compression::Zstd),
            _ => None,
        }
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
    let magic = bytes[16] as i8;
    if magic != 2 {
        return Err(BatchError::BadMagic(magic));
    }
    let crc = u32::from_be_bytes([bytes[17], bytes[18], bytes[19], bytes[20]]);
    let computed = crc32c::crc32c(&bytes[CRC_START..]);
    if crc != computed {
        return Err(BatchError::CrcMismatch {
            expected: crc,
            computed,
        });
    }
    let header = BatchHeader {
        batch_length,
        magic,
        crc,
        attributes: be_i16(bytes, 21),
        last_offset_delta: be_i32(bytes, 23),
        base_timestamp: be_i64(bytes, 27),
        max_timestamp: be_i64(bytes, 35),
        producer_id: be_i64(bytes, 43),
        producer_epoch: be_i16(bytes, 51),
        base_sequence: be_i32(bytes, 53),
        record_count: be_i32(bytes, 57),
    };
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

/// The offset delta and timestamp of the first record whose timestamp is at or after
/// `ts` (ListOffsets by time is per record, the engine's time index per batch).
/// Compressed batches are decompressed for this, within a size cap. `None` when no
/// record qualifies or the batch cannot be read.
pub fn first_record_at_or_after(batch: &[u8], ts: i64) -> Option<(i32, i64)> {
    if batch.len() < HEADER_LEN {
        return None;
    }
    let codec = match be_i16(batch, 21) & 0x07 {
        0 => Compression::None,
        1 => Compression::Gzip,
        2 => Compression::Snappy,
        3 => Compression::Lz4,
        4 => Compression::Zstd,
        _ => return None,
    };
    let base_ts = be_i64(batch, 27);
    let count = be_i32(batch, 57);
    let records = match codec {
        Compression::None => BytesMut::from(&batch[HEADER_LEN..]),
        c => BytesMut::from(&super::compression::decompress(c, &batch[HEADER_LEN..]).ok()?[..]),
    };
    let mut r = Reader::new(records, true);
    for _ in 0..count {
        let len = usize::try_from(r.varint().ok()?).ok()?;
        let before = r.remaining();
        let _attributes = r.i8().ok()?;
        let ts_delta = r.varlong().ok()?;
        let offset_delta = r.varint().ok()?;
        let record_ts = base_ts.checked_add(ts_delta)?;
        if record_ts >= ts {
            return Some((offset_delta, record_ts));
        }
        let used = before - r.remaining();
        r.skip(len.checked_sub(used)?).ok()?;
    }
    None
}

/// A record for [`build`]: key, value, timestamp.
pub type TestRecord<'a> = (Option<&'a [u8]>, &'a [u8], i64);

/// Builds an uncompressed batch (tests, benches, the fuzz corpus); `producer` is
/// (producer id, epoch, base sequence).
pub fn build(records: &[TestRecord<'_>], producer: Option<(i64, i16, i32)>) -> BytesMut {
    use super::writer::Writer;
    let base_ts = records.first().map_or(0, |r| r.2);
    let max_ts = records.iter().map(|r| r.2).max().unwrap_or(base_ts);
    let mut body = Writer::new(true);
    for (i, (key, value, ts)) in records.iter().enumerate() {
        let mut rec = Writer::new(true);
        rec.i8(0);
        rec.varlong(ts - base_ts);
        rec.varint(i as i32);
        match key {
            Some(k) => {
                rec.varint(k.len() as i32);
                rec.raw(k);
            }
            None => rec.varint(-1),
        }
        rec.varint(value.len() as i32);
        rec.raw(value);
        rec.varint(0);
        let rec = rec.finish().to_bytes();
        body.varint(rec.len() as i32);
        body.raw(&rec);
    }
    let body = body.finish().to_bytes();
    let (pid, epoch, seq) = producer.unwrap_or((-1, -1, -1));
    let mut tail = Writer::new(false);
    tail.i16(0);
    tail.i32(records.len() as i32 - 1);
    tail.i64(base_ts);
    tail.i64(max_ts);
    tail.i64(pid);
    tail.i16(epoch);
    tail.i32(seq);
    tail.i32(records.len() as i32);
    tail.raw(&body);
    let tail = tail.finish().to_bytes();
    let crc = crc32c::crc32c(&tail);
    let mut out = Writer::new(false);
    out.i64(0);
    out.i32((tail.len() + 9) as i32);
    out.i32(0);
    out.i8(2);
    out.u32(crc);
    out.raw(&tail);
    BytesMut::from(&out.finish().to_bytes()[..])
}

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn record_timestamps() {
        let b = sample();
        assert_eq!(first_record_at_or_after(&b, 0), Some((0, 1000)));
        assert_eq!(first_record_at_or_after(&b, 1001), Some((1, 1005)));
        assert_eq!(first_record_at_or_after(&b, 1010), Some((2, 1010)));
        assert_eq!(first_record_at_or_after(&b, 1011), None);
    }
}
