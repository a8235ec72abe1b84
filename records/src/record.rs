//! The records inside a record batch v2: decoding a stored batch into records (for
//! readers that are not Kafka clients: stream-queue consumers, forwarding tasks,
//! ListOffsets by time) and encoding records into a new uncompressed batch (for
//! writers that are not Kafka producers).
//!
//! Record layout (KIP-98), after the 61-byte batch header:
//! ```text
//! length varint, attributes i8, timestampDelta varlong, offsetDelta varint,
//! keyLength varint (-1 = null), key, valueLength varint (-1 = null), value,
//! headerCount varint, then per header: keyLength varint, key (UTF-8),
//! valueLength varint (-1 = null), value
//! ```

use bytes::{Buf, BufMut, Bytes, BytesMut};

use crate::batch::{self, BatchError, CRC_START, Compression, HEADER_LEN, LOG_OVERHEAD};
use crate::compression::{self, DecompressError};
use crate::varint::{self, VarintError};

/// One record, with its absolute offset and timestamp.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Record {
    pub offset: u64,
    pub timestamp: i64,
    pub key: Option<Bytes>,
    pub value: Option<Bytes>,
    pub headers: Vec<(String, Option<Bytes>)>,
}

/// Why a stored batch's records could not be read.
#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    #[error("batch header: {0}")]
    Header(#[from] BatchError),
    #[error("records section: {0}")]
    Decompress(#[from] DecompressError),
    #[error("record {index}: {what}")]
    Malformed { index: i32, what: &'static str },
    #[error("record {index}: {source}")]
    Varint { index: i32, source: VarintError },
}

/// Decodes every record of one stored batch whose first offset is `base_offset`.
/// Uncompressed batches are split without copying keys and values.
pub fn decode(bytes: &Bytes, base_offset: u64) -> Result<Vec<Record>, RecordError> {
    let header = batch::read_header(bytes)?;
    let codec = header
        .compression()
        .ok_or(BatchError::BadCompression(header.attributes & 0x07))?;
    let section = bytes.slice(HEADER_LEN.min(bytes.len())..);
    let mut buf = match codec {
        Compression::None => section,
        c => Bytes::from(compression::decompress(c, &section)?),
    };
    let count = header.record_count.max(0);
    // Capacity follows the bytes present, never the claimed count alone.
    let mut out = Vec::with_capacity((count as usize).min(buf.len()));
    for index in 0..count {
        let v = |source| RecordError::Varint { index, source };
        let short = |what| RecordError::Malformed { index, what };
        let len = usize::try_from(varint::get_varint(&mut buf).map_err(v)?)
            .map_err(|_| short("negative record length"))?;
        if len > buf.len() {
            return Err(short("record longer than the batch"));
        }
        let mut rec = buf.split_to(len);
        if !rec.has_remaining() {
            return Err(short("empty record"));
        }
        let _attributes = rec.get_i8();
        let ts_delta = varint::get_varlong(&mut rec).map_err(v)?;
        let offset_delta = varint::get_varint(&mut rec).map_err(v)?;
        let key = nullable(&mut rec).map_err(|e| e.at(index))?;
        let value = nullable(&mut rec).map_err(|e| e.at(index))?;
        let n_headers = varint::get_varint(&mut rec).map_err(v)?;
        let mut headers = Vec::new();
        for _ in 0..n_headers.max(0) {
            let name = nullable(&mut rec)
                .map_err(|e| e.at(index))?
                .ok_or_else(|| short("null header name"))?;
            // Kafka header names are bytes; a name that is not UTF-8 is escaped (the
            // one documented, reversible escape) rather than failing the batch.
            let name = crate::crossing::header_name_from_bytes(&name);
            let value = nullable(&mut rec).map_err(|e| e.at(index))?;
            headers.push((name, value));
        }
        out.push(Record {
            offset: base_offset.saturating_add(u64::try_from(offset_delta).unwrap_or(0)),
            timestamp: header.base_timestamp.saturating_add(ts_delta),
            key,
            value,
            headers,
        });
    }
    Ok(out)
}

enum FieldError {
    Varint(VarintError),
    Short,
}

impl FieldError {
    fn at(self, index: i32) -> RecordError {
        match self {
            FieldError::Varint(source) => RecordError::Varint { index, source },
            FieldError::Short => RecordError::Malformed {
                index,
                what: "field longer than its record",
            },
        }
    }
}

fn nullable(rec: &mut Bytes) -> Result<Option<Bytes>, FieldError> {
    let len = varint::get_varint(rec).map_err(FieldError::Varint)?;
    let Ok(len) = usize::try_from(len) else {
        return Ok(None);
    };
    if len > rec.len() {
        return Err(FieldError::Short);
    }
    Ok(Some(rec.split_to(len)))
}

/// The offset delta and timestamp of the first record whose timestamp is at or after
/// `ts` (ListOffsets by time is per record, the engine's time index per batch).
/// Compressed batches are decompressed for this, within a size cap. `None` when no
/// record qualifies or the batch cannot be read.
pub fn first_record_at_or_after(batch: &[u8], ts: i64) -> Option<(i32, i64)> {
    let records = decode(&Bytes::copy_from_slice(batch), 0).ok()?;
    records
        .into_iter()
        .find(|r| r.timestamp >= ts)
        .and_then(|r| Some((i32::try_from(r.offset).ok()?, r.timestamp)))
}

/// A record to write: what a producer supplies (offsets are assigned by the log).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NewRecord {
    pub timestamp: i64,
    pub key: Option<Bytes>,
    pub value: Option<Bytes>,
    pub headers: Vec<(String, Option<Bytes>)>,
}

/// Why records could not be encoded into a batch.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EncodeError {
    #[error("a batch needs at least one record")]
    Empty,
    #[error("a record field of {0} bytes exceeds the 2 GiB a record length can say")]
    TooLarge(usize),
}

fn put_nullable(out: &mut BytesMut, b: Option<&[u8]>) -> Result<(), EncodeError> {
    match b {
        None => varint::put_varint(out, -1),
        Some(b) => {
            let len = i32::try_from(b.len()).map_err(|_| EncodeError::TooLarge(b.len()))?;
            varint::put_varint(out, len);
            out.put_slice(b);
        }
    }
    Ok(())
}

/// Encodes records into one uncompressed batch v2 (base offset 0: the log assigns the
/// real one), with `producer` = (producer id, epoch, base sequence) or none (-1).
pub fn encode(
    records: &[NewRecord],
    producer: Option<(i64, i16, i32)>,
) -> Result<BytesMut, EncodeError> {
    let first = records.first().ok_or(EncodeError::Empty)?;
    let base_ts = first.timestamp;
    let max_ts = records.iter().map(|r| r.timestamp).max().unwrap_or(base_ts);
    let mut body = BytesMut::new();
    let mut rec = BytesMut::new();
    for (i, r) in records.iter().enumerate() {
        rec.clear();
        rec.put_i8(0);
        varint::put_varlong(&mut rec, r.timestamp.saturating_sub(base_ts));
        varint::put_varint(
            &mut rec,
            i32::try_from(i).map_err(|_| EncodeError::TooLarge(i))?,
        );
        put_nullable(&mut rec, r.key.as_deref())?;
        put_nullable(&mut rec, r.value.as_deref())?;
        let n =
            i32::try_from(r.headers.len()).map_err(|_| EncodeError::TooLarge(r.headers.len()))?;
        varint::put_varint(&mut rec, n);
        for (name, value) in &r.headers {
            put_nullable(&mut rec, Some(&crate::crossing::header_name_bytes(name)))?;
            put_nullable(&mut rec, value.as_deref())?;
        }
        let len = i32::try_from(rec.len()).map_err(|_| EncodeError::TooLarge(rec.len()))?;
        varint::put_varint(&mut body, len);
        body.put_slice(&rec);
    }
    let count = i32::try_from(records.len()).map_err(|_| EncodeError::TooLarge(records.len()))?;
    let (pid, epoch, seq) = producer.unwrap_or((-1, -1, -1));
    let mut out = BytesMut::with_capacity(HEADER_LEN + body.len());
    out.put_i64(0);
    let batch_length = HEADER_LEN - LOG_OVERHEAD + body.len();
    out.put_i32(i32::try_from(batch_length).map_err(|_| EncodeError::TooLarge(batch_length))?);
    out.put_i32(0); // partition leader epoch
    out.put_i8(2);
    out.put_u32(0); // CRC, patched below
    out.put_i16(0); // attributes: no compression, CreateTime, not transactional
    out.put_i32(count - 1);
    out.put_i64(base_ts);
    out.put_i64(max_ts);
    out.put_i64(pid);
    out.put_i16(epoch);
    out.put_i32(seq);
    out.put_i32(count);
    out.put_slice(&body);
    let crc = crc32c::crc32c(&out[CRC_START..]);
    out[17..21].copy_from_slice(&crc.to_be_bytes());
    Ok(out)
}

/// A record for [`build`]: key, value, timestamp.
pub type TestRecord<'a> = (Option<&'a [u8]>, &'a [u8], i64);

/// Builds an uncompressed batch from (key, value, timestamp) triples (tests, benches,
/// the fuzz corpus); `producer` is (producer id, epoch, base sequence).
pub fn build(records: &[TestRecord<'_>], producer: Option<(i64, i16, i32)>) -> BytesMut {
    let records: Vec<NewRecord> = records
        .iter()
        .map(|(k, v, ts)| NewRecord {
            timestamp: *ts,
            key: k.map(Bytes::copy_from_slice),
            value: Some(Bytes::copy_from_slice(v)),
            headers: Vec::new(),
        })
        .collect();
    encode(&records, producer).unwrap_or_default()
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
    fn record_timestamps() {
        let b = sample();
        assert_eq!(first_record_at_or_after(&b, 0), Some((0, 1000)));
        assert_eq!(first_record_at_or_after(&b, 1001), Some((1, 1005)));
        assert_eq!(first_record_at_or_after(&b, 1010), Some((2, 1010)));
        assert_eq!(first_record_at_or_after(&b, 1011), None);
    }

    #[test]
    fn encode_decode_roundtrip_with_headers() {
        let recs = vec![
            NewRecord {
                timestamp: 5,
                key: None,
                value: Some(Bytes::from_static(b"\x00\xffbody")),
                headers: vec![
                    ("a".into(), Some(Bytes::from_static(b"1"))),
                    ("a".into(), None),
                ],
            },
            NewRecord {
                timestamp: 3,
                key: Some(Bytes::new()),
                value: None,
                headers: vec![],
            },
        ];
        let b = encode(&recs, None).expect("encodes").freeze();
        let h = batch::validate(&b).expect("valid batch");
        assert_eq!(h.max_timestamp, 5);
        let got = decode(&b, 100).expect("decodes");
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].offset, 100);
        assert_eq!(got[1].offset, 101);
        assert_eq!(got[1].timestamp, 3);
        assert_eq!(got[0].value, recs[0].value);
        assert_eq!(got[0].headers, recs[0].headers);
        assert_eq!(got[1].key, Some(Bytes::new()));
        assert_eq!(got[1].value, None);
    }

    #[test]
    fn compressed_batches_decode() {
        let plain = sample();
        let mut z = plain.clone();
        let records = zstd::encode_all(&plain[HEADER_LEN..], 1).unwrap_or_default();
        z.truncate(HEADER_LEN);
        z.extend_from_slice(&records);
        z[22] |= 4; // attributes low byte: zstd
        let got = decode(&z.freeze(), 0).expect("decodes");
        assert_eq!(got.len(), 3);
        assert_eq!(got[1].value.as_deref(), Some(&b"value-two"[..]));
    }

    #[test]
    fn truncated_records_are_errors() {
        let b = sample().freeze();
        for cut in HEADER_LEN..b.len() {
            assert!(decode(&b.slice(..cut), 0).is_err(), "cut at {cut}");
        }
    }
}
