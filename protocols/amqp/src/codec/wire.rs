//! AMQP 0-9-1 primitive types (spec §4.2.5): integers in network byte order, short and
//! long strings, packed bits. Reading never trusts a length from the wire beyond the
//! bytes actually present, so a hostile length can neither allocate nor panic.

use bytes::{BufMut, Bytes, BytesMut};

/// Why a payload could not be decoded. All of these are the peer's fault and end the
/// connection with 502 SYNTAX_ERROR (or 501 where the frame layer is concerned).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("truncated payload: needed {needed} more bytes")]
    Truncated { needed: usize },
    #[error("unknown field value type {0:#04x}")]
    BadFieldType(u8),
    #[error("field tables or arrays nested deeper than {0} levels")]
    TooDeep(usize),
    #[error("content header property flags use the reserved continuation bit")]
    PropertyContinuation,
}

/// A cursor over a payload.
#[derive(Debug)]
pub struct Reader<'a> {
    buf: &'a [u8],
}

impl<'a> Reader<'a> {
    pub fn new(buf: &'a [u8]) -> Self {
        Self { buf }
    }

    pub fn remaining(&self) -> usize {
        self.buf.len()
    }

    pub fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        if self.buf.len() < n {
            return Err(DecodeError::Truncated {
                needed: n - self.buf.len(),
            });
        }
        let (head, tail) = self.buf.split_at(n);
        self.buf = tail;
        Ok(head)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], DecodeError> {
        let mut a = [0u8; N];
        a.copy_from_slice(self.take(N)?);
        Ok(a)
    }

    pub fn u8(&mut self) -> Result<u8, DecodeError> {
        Ok(self.array::<1>()?[0])
    }

    pub fn u16(&mut self) -> Result<u16, DecodeError> {
        Ok(u16::from_be_bytes(self.array()?))
    }

    pub fn u32(&mut self) -> Result<u32, DecodeError> {
        Ok(u32::from_be_bytes(self.array()?))
    }

    pub fn u64(&mut self) -> Result<u64, DecodeError> {
        Ok(u64::from_be_bytes(self.array()?))
    }

    /// A short string. Names and property values are text by convention, not by the
    /// spec; bytes that are not UTF-8 are replaced rather than refused, so an odd client
    /// still gets served.
    pub fn short_str(&mut self) -> Result<String, DecodeError> {
        let len = self.u8()? as usize;
        Ok(bytes_to_string(self.take(len)?))
    }

    pub fn long_bytes(&mut self) -> Result<&'a [u8], DecodeError> {
        let len = self.u32()? as usize;
        self.take(len)
    }

    pub fn long_str(&mut self) -> Result<String, DecodeError> {
        Ok(bytes_to_string(self.long_bytes()?))
    }

    pub fn long_bytes_owned(&mut self) -> Result<Bytes, DecodeError> {
        Ok(Bytes::copy_from_slice(self.long_bytes()?))
    }
}

pub(crate) fn bytes_to_string(b: &[u8]) -> String {
    match std::str::from_utf8(b) {
        Ok(s) => s.to_owned(),
        Err(_) => String::from_utf8_lossy(b).into_owned(),
    }
}

/// Bit `i` of a packed bit octet (the first bit argument is the least significant).
pub fn bit(octet: u8, i: u8) -> bool {
    octet & (1 << i) != 0
}

/// Writes a short string, truncating at 255 bytes (on a char boundary). Every string
/// the server sends in a short-string slot is either a name (validated to fit) or a
/// reply text of ours; truncating beats emitting a corrupt frame.
pub fn put_short_str(out: &mut BytesMut, s: &str) {
    let s = truncate_str(s, 255);
    out.put_u8(s.len() as u8);
    out.put_slice(s.as_bytes());
}

pub fn truncate_str(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

pub fn put_long_bytes(out: &mut BytesMut, b: &[u8]) {
    out.put_u32(u32::try_from(b.len()).unwrap_or(u32::MAX));
    out.put_slice(&b[..b.len().min(u32::MAX as usize)]);
}

/// Packs up to eight bits, first argument in the least significant position.
pub fn pack_bits(bits: &[bool]) -> u8 {
    bits.iter()
        .enumerate()
        .fold(0u8, |acc, (i, &b)| acc | (u8::from(b) << i))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncated_reads_fail_cleanly() {
        let mut r = Reader::new(&[0, 5, b'a']);
        assert_eq!(r.u16().ok(), Some(5));
        assert_eq!(r.short_str(), Err(DecodeError::Truncated { needed: 97 }));
        let mut r = Reader::new(&[0xff, 0xff, 0xff, 0xff, 1]);
        assert!(r.long_bytes().is_err());
    }

    #[test]
    fn short_strings_truncate_on_char_boundary() {
        let s = "é".repeat(200);
        let mut out = BytesMut::new();
        put_short_str(&mut out, &s);
        assert_eq!(out[0], 254);
        assert!(std::str::from_utf8(&out[1..]).is_ok());
    }

    #[test]
    fn bits() {
        assert_eq!(pack_bits(&[true, false, true]), 0b101);
        assert!(bit(0b100, 2));
        assert!(!bit(0b100, 1));
    }
}
