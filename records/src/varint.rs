//! Varints as Kafka encodes them: unsigned LEB128 (compact lengths of the flexible
//! protocol versions) and zig-zag signed varints / varlongs (record fields). One
//! implementation for the log's record format and for the Kafka wire codec.
//!
//! Readers work on any `Buf` and never read past what it holds: a truncated or
//! over-long varint is an error, not a panic.

use bytes::{Buf, BufMut};

/// Why a varint could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum VarintError {
    #[error("varint truncated after {0} bytes")]
    Truncated(usize),
    #[error("varint longer than {0} bytes")]
    TooLong(usize),
}

fn get_unsigned(buf: &mut impl Buf, max_bytes: usize) -> Result<u64, VarintError> {
    let mut value: u64 = 0;
    for i in 0..max_bytes {
        if !buf.has_remaining() {
            return Err(VarintError::Truncated(i));
        }
        let b = buf.get_u8();
        value |= u64::from(b & 0x7f) << (7 * i);
        if b & 0x80 == 0 {
            return Ok(value);
        }
    }
    Err(VarintError::TooLong(max_bytes))
}

/// Unsigned LEB128 varint of at most 32 bits (5 bytes).
pub fn get_uvarint(buf: &mut impl Buf) -> Result<u32, VarintError> {
    // Five 7-bit groups carry 35 bits; the top ones are dropped as Kafka's
    // ByteUtils.readUnsignedVarint does.
    Ok(get_unsigned(buf, 5)? as u32)
}

/// Zig-zag varint of at most 32 bits.
pub fn get_varint(buf: &mut impl Buf) -> Result<i32, VarintError> {
    let v = get_uvarint(buf)?;
    Ok(((v >> 1) as i32) ^ -((v & 1) as i32))
}

/// Zig-zag varlong of at most 64 bits (10 bytes).
pub fn get_varlong(buf: &mut impl Buf) -> Result<i64, VarintError> {
    let v = get_unsigned(buf, 10)?;
    Ok(((v >> 1) as i64) ^ -((v & 1) as i64))
}

/// Writes an unsigned LEB128 varint.
pub fn put_uvarint(buf: &mut impl BufMut, v: u32) {
    put_unsigned(buf, u64::from(v));
}

fn put_unsigned(buf: &mut impl BufMut, mut v: u64) {
    while v >= 0x80 {
        buf.put_u8((v as u8) | 0x80);
        v >>= 7;
    }
    buf.put_u8(v as u8);
}

/// Writes a zig-zag varint.
pub fn put_varint(buf: &mut impl BufMut, v: i32) {
    put_uvarint(buf, ((v << 1) ^ (v >> 31)) as u32);
}

/// Writes a zig-zag varlong.
pub fn put_varlong(buf: &mut impl BufMut, v: i64) {
    put_unsigned(buf, ((v << 1) ^ (v >> 63)) as u64);
}

/// Bytes [`put_varint`] writes for `v` (record sizes are written before the record).
pub fn varint_len(v: i32) -> usize {
    let mut z = ((v << 1) ^ (v >> 31)) as u32;
    let mut n = 1;
    while z >= 0x80 {
        z >>= 7;
        n += 1;
    }
    n
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn known_encodings() {
        let mut b = Vec::new();
        put_varint(&mut b, -1);
        put_varint(&mut b, 1);
        put_varint(&mut b, 64);
        assert_eq!(b, [0x01, 0x02, 0x80, 0x01]);
        assert_eq!(varint_len(64), 2);
    }

    #[test]
    fn truncated_and_overlong_are_errors() {
        assert_eq!(
            get_varint(&mut &[0x80u8, 0x80][..]),
            Err(VarintError::Truncated(2))
        );
        assert_eq!(
            get_uvarint(&mut &[0xffu8; 6][..]),
            Err(VarintError::TooLong(5))
        );
        assert_eq!(
            get_varlong(&mut &[0xffu8; 11][..]),
            Err(VarintError::TooLong(10))
        );
    }

    proptest! {
        #[test]
        fn roundtrip(a: i32, b: i64, c: u32) {
            let mut buf = Vec::new();
            put_varint(&mut buf, a);
            prop_assert_eq!(buf.len(), varint_len(a));
            put_varlong(&mut buf, b);
            put_uvarint(&mut buf, c);
            let mut r = &buf[..];
            prop_assert_eq!(get_varint(&mut r), Ok(a));
            prop_assert_eq!(get_varlong(&mut r), Ok(b));
            prop_assert_eq!(get_uvarint(&mut r), Ok(c));
            prop_assert!(r.is_empty());
        }
    }
}
