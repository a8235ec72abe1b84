//! The few fields of a stored record batch v2 header that the partition itself needs.
//!
//! The log's interchange format is the record batch v2 layout (see
//! `BatchEncoding::RecordBatchV2`), and that layout is also where the idempotence
//! contract of the log lives: every batch carries its producer id, epoch and first
//! sequence number. Rebuilding producer state after a crash means reading them back
//! from stored batches, so the engine reads these fixed offsets itself rather than
//! depend on a protocol adapter's codec (adapters depend on the engine, not the other
//! way round). Only fixed-width big-endian fields at fixed positions are read; nothing
//! variable-length is parsed.
//!
//! ```text
//!  0 baseOffset i64   8 batchLength i32   12 partitionLeaderEpoch i32   16 magic i8
//! 17 crc u32         21 attributes i16    23 lastOffsetDelta i32        27 baseTimestamp i64
//! 35 maxTimestamp i64  43 producerId i64  51 producerEpoch i16  53 baseSequence i32
//! 57 recordCount i32   61 records...
//! ```

use super::ProducerSeq;

/// Bytes of the header up to and including the record count.
pub(super) const HEADER_LEN: usize = 61;
const MAGIC_AT: usize = 16;
const PRODUCER_ID_AT: usize = 43;
const EPOCH_AT: usize = 51;
const BASE_SEQUENCE_AT: usize = 53;

/// The producer identity of a stored batch, or `None` when the batch was not written
/// by an idempotent producer (producer id -1) or the bytes are not a v2 header.
pub(super) fn producer_of(header: &[u8]) -> Option<ProducerSeq> {
    let h = header.get(..HEADER_LEN)?;
    if h[MAGIC_AT] != 2 {
        return None;
    }
    let producer_id = i64::from_be_bytes(h[PRODUCER_ID_AT..EPOCH_AT].try_into().ok()?);
    if producer_id < 0 {
        return None;
    }
    let epoch = i16::from_be_bytes(h[EPOCH_AT..BASE_SEQUENCE_AT].try_into().ok()?);
    let base_sequence =
        i32::from_be_bytes(h[BASE_SEQUENCE_AT..BASE_SEQUENCE_AT + 4].try_into().ok()?);
    Some(ProducerSeq {
        producer_id,
        epoch,
        base_sequence,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

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
