//! The on-disk framing of one batch in a segment's `.log` file.
//!
//! ```text
//! offset size field
//!  0     1    magic          0xB7
//!  1     1    version        1
//!  2     1    encoding       BatchEncoding as u8 (or a crate-internal tag)
//!  3     1    flags          0 (reserved)
//!  4     8    base_offset    u64 LE
//! 12     4    record_count   u32 LE, > 0
//! 16     8    max_timestamp  i64 LE
//! 24     4    payload_len    u32 LE
//! 28     4    crc32c         over bytes 0..28 and the payload
//! 32     payload_len bytes of payload
//! ```
//!
//! Fixed-width, little-endian, no varints: recovery must be able to read a header
//! without trusting anything but its 32 bytes, and the CRC covers the header so that a
//! torn or stale header (e.g. zeroes after a crash that extended the file but did not
//! write the data) is detected as well as a torn payload.

use trident_core::Offset;

pub(crate) const HEADER_LEN: usize = 32;
const MAGIC: u8 = 0xB7;
const VERSION: u8 = 1;
const CRC_AT: usize = 28;

/// Encoding tag of a queue-store message (never exposed through [`crate::SegmentLog`]'s
/// public read, which only yields Kafka batches).
pub(crate) const ENCODING_QUEUE_MESSAGE: u8 = 0x80;
/// A queue-store message preceded by its arrival (matched bindings, replayed mark).
pub(crate) const ENCODING_QUEUE_ARRIVAL: u8 = 0x81;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct EntryHeader {
    pub encoding: u8,
    pub base_offset: Offset,
    pub record_count: u32,
    pub max_timestamp: i64,
    pub payload_len: u32,
    pub crc: u32,
}

impl EntryHeader {
    pub fn new(
        encoding: u8,
        base_offset: Offset,
        record_count: u32,
        max_timestamp: i64,
        payload: &[u8],
    ) -> Self {
        let mut h = EntryHeader {
            encoding,
            base_offset,
            record_count,
            max_timestamp,
            // Callers check the length against max_batch_bytes (a u32) first.
            payload_len: u32::try_from(payload.len()).unwrap_or(u32::MAX),
            crc: 0,
        };
        let bytes = h.encode();
        h.crc = crc32c::crc32c_append(crc32c::crc32c(&bytes[..CRC_AT]), payload);
        h
    }

    pub fn encode(&self) -> [u8; HEADER_LEN] {
        let mut b = [0u8; HEADER_LEN];
        b[0] = MAGIC;
        b[1] = VERSION;
        b[2] = self.encoding;
        b[3] = 0;
        b[4..12].copy_from_slice(&self.base_offset.to_le_bytes());
        b[12..16].copy_from_slice(&self.record_count.to_le_bytes());
        b[16..24].copy_from_slice(&self.max_timestamp.to_le_bytes());
        b[24..28].copy_from_slice(&self.payload_len.to_le_bytes());
        b[28..32].copy_from_slice(&self.crc.to_le_bytes());
        b
    }

    /// Parses and sanity-checks a header. `Err` carries the reason it is not a valid
    /// header; the CRC itself can only be checked with the payload ([`Self::crc_matches`]).
    pub fn decode(b: &[u8]) -> Result<Self, &'static str> {
        let Some(b) = b.get(..HEADER_LEN) else {
            return Err("truncated header");
        };
        if b[0] != MAGIC {
            return Err("bad magic");
        }
        if b[1] != VERSION {
            return Err("unknown entry version");
        }
        if b[3] != 0 {
            return Err("reserved flags set");
        }
        let h = EntryHeader {
            encoding: b[2],
            base_offset: u64::from_le_bytes(arr(&b[4..12])),
            record_count: u32::from_le_bytes(arr(&b[12..16])),
            max_timestamp: i64::from_le_bytes(arr(&b[16..24])),
            payload_len: u32::from_le_bytes(arr(&b[24..28])),
            crc: u32::from_le_bytes(arr(&b[28..32])),
        };
        if h.record_count == 0 {
            return Err("record count is zero");
        }
        if h.base_offset
            .checked_add(u64::from(h.record_count))
            .is_none()
        {
            return Err("offset overflow");
        }
        Ok(h)
    }

    /// The CRC state after the header fields; feed the payload into it with
    /// `crc32c_append` (possibly in pieces) and compare with `self.crc`.
    pub fn crc_seed(&self) -> u32 {
        crc32c::crc32c(&self.encode()[..CRC_AT])
    }

    pub fn crc_matches(&self, payload: &[u8]) -> bool {
        crc32c::crc32c_append(self.crc_seed(), payload) == self.crc
    }

    /// Total bytes of the entry on disk.
    pub fn entry_len(&self) -> u64 {
        HEADER_LEN as u64 + u64::from(self.payload_len)
    }

    pub fn next_offset(&self) -> Offset {
        // decode() rejected overflowing headers; new() is only called with checked values.
        self.base_offset
            .saturating_add(u64::from(self.record_count))
    }
}

fn arr<const N: usize>(s: &[u8]) -> [u8; N] {
    let mut a = [0u8; N];
    a.copy_from_slice(s);
    a
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn header_round_trip_and_crc() {
        let payload = b"hello world";
        let h = EntryHeader::new(2, 42, 3, -7, payload);
        let enc = h.encode();
        let d = EntryHeader::decode(&enc).unwrap();
        assert_eq!(d, h);
        assert!(d.crc_matches(payload));
        assert!(!d.crc_matches(b"hello worle"));
        for i in 0..HEADER_LEN {
            let mut bad = enc;
            bad[i] ^= 0x01;
            match EntryHeader::decode(&bad) {
                Err(_) => {}
                Ok(h2) => assert!(!h2.crc_matches(payload), "flip at {i} undetected"),
            }
        }
    }

    #[test]
    fn zeroes_are_not_a_header() {
        assert!(EntryHeader::decode(&[0u8; HEADER_LEN]).is_err());
        assert!(EntryHeader::decode(&[0u8; 5]).is_err());
    }
}
