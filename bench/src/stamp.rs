//! The latency stamp every payload carries: send time, sequence number and producer id,
//! so that the receiving side measures latency and counts lost and duplicated messages
//! without any side channel.
//!
//! Layout (little endian): bytes 0..8 send time in nanoseconds since the process time
//! base, 8..16 the producer's sequence number, 16..20 the producer id. Producers and
//! consumers run in the same process, so a monotonic clock is valid on both sides.

use std::sync::OnceLock;
use std::time::Instant;

/// The smallest payload that holds a whole stamp.
pub const STAMP_LEN: usize = 20;

/// The producer id of backlog messages (`backlog`): published before the measured run,
/// counted as received but neither matched against a producer nor timed.
pub const BACKLOG: u32 = u32::MAX;

fn base() -> Instant {
    static BASE: OnceLock<Instant> = OnceLock::new();
    *BASE.get_or_init(Instant::now)
}

/// Nanoseconds since the process time base (monotonic).
pub fn now_ns() -> u64 {
    u64::try_from(base().elapsed().as_nanos()).unwrap_or(u64::MAX)
}

/// What a stamp says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stamp {
    pub sent_ns: u64,
    pub seq: u64,
    pub producer: u32,
}

/// Writes a stamp with the current time into the front of `body` (at least
/// [`STAMP_LEN`] bytes; shorter bodies are left as they are).
pub fn write(body: &mut [u8], producer: u32, seq: u64) {
    write_at(body, producer, seq, now_ns());
}

pub fn write_at(body: &mut [u8], producer: u32, seq: u64, sent_ns: u64) {
    if body.len() < STAMP_LEN {
        return;
    }
    body[0..8].copy_from_slice(&sent_ns.to_le_bytes());
    body[8..16].copy_from_slice(&seq.to_le_bytes());
    body[16..20].copy_from_slice(&producer.to_le_bytes());
}

/// Reads the stamp of a received payload; `None` for a payload too short to hold one
/// (a foreign message on the same queue or topic).
pub fn read(body: &[u8]) -> Option<Stamp> {
    let sent_ns = u64::from_le_bytes(body.get(0..8)?.try_into().ok()?);
    let seq = u64::from_le_bytes(body.get(8..16)?.try_into().ok()?);
    let producer = u32::from_le_bytes(body.get(16..20)?.try_into().ok()?);
    Some(Stamp {
        sent_ns,
        seq,
        producer,
    })
}

/// A payload of `size` bytes of pseudo-random printable filler (so that compression is
/// not trivially effective), to be stamped per message.
pub fn filler(size: usize) -> Vec<u8> {
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    (0..size.max(STAMP_LEN))
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            b' ' + (x % 94) as u8
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let mut b = filler(64);
        write_at(&mut b, 7, 123_456_789, 42);
        assert_eq!(
            read(&b),
            Some(Stamp {
                sent_ns: 42,
                seq: 123_456_789,
                producer: 7
            })
        );
    }

    #[test]
    fn short_payload_has_no_stamp() {
        assert_eq!(read(&[0u8; 19]), None);
        let mut b = vec![1u8; 10];
        write(&mut b, 1, 1);
        assert_eq!(b, vec![1u8; 10]);
    }

    #[test]
    fn filler_is_at_least_a_stamp() {
        assert_eq!(filler(4).len(), STAMP_LEN);
        assert_eq!(filler(1000).len(), 1000);
    }
}
