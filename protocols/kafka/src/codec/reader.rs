//! A bounds-checked reader over one request frame.
//!
//! Every length read from the wire is checked against the bytes that remain *before*
//! anything is allocated: a string or byte field must fit in what is left, and an array
//! of `n` elements needs at least `n` bytes (no Kafka struct encodes in zero bytes), so a
//! forged length can never turn into a huge allocation. Byte fields are split off the
//! frame without copying (`BytesMut::split_to`), which is how produced record batches
//! reach the engine without a copy.

use bytes::{Buf, BytesMut};
use trident_records::varint::{self, VarintError};

/// Why a frame could not be decoded. The connection answers or closes; nothing panics.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("truncated: needed {needed} more bytes, {remaining} remain")]
    Truncated { needed: usize, remaining: usize },
    #[error("negative length {0} for a non-nullable field")]
    NegativeLength(i64),
    #[error("length {len} exceeds the {remaining} bytes that remain")]
    LengthTooLarge { len: usize, remaining: usize },
    #[error("varint longer than {0} bytes")]
    VarintTooLong(usize),
    #[error("string is not valid UTF-8")]
    BadUtf8,
    #[error("null where a value is required")]
    UnexpectedNull,
    #[error("{0}")]
    Invalid(&'static str),
}

pub type DecodeResult<T> = Result<T, DecodeError>;

fn varint_error(e: VarintError) -> DecodeError {
    match e {
        VarintError::Truncated(_) => DecodeError::Truncated {
            needed: 1,
            remaining: 0,
        },
        VarintError::TooLong(n) => DecodeError::VarintTooLong(n),
    }
}

/// Reads Kafka primitive types. `flexible` selects the compact encodings (KIP-482).
#[derive(Debug)]
pub struct Reader {
    buf: BytesMut,
    flexible: bool,
}

/// Arrays start with at most this capacity; they grow as elements actually decode, so
/// memory follows the bytes that really arrived, never a claimed count.
const MAX_INITIAL_CAPACITY: usize = 1024;

impl Reader {
    pub fn new(buf: BytesMut, flexible: bool) -> Self {
        Self { buf, flexible }
    }

    pub fn flexible(&self) -> bool {
        self.flexible
    }

    pub fn set_flexible(&mut self, flexible: bool) {
        self.flexible = flexible;
    }

    pub fn remaining(&self) -> usize {
        self.buf.len()
    }

    /// What is left, consuming the reader.
    pub fn into_rest(self) -> BytesMut {
        self.buf
    }

    fn need(&self, n: usize) -> DecodeResult<()> {
        if self.buf.len() < n {
            Err(DecodeError::Truncated {
                needed: n - self.buf.len(),
                remaining: self.buf.len(),
            })
        } else {
            Ok(())
        }
    }

    pub fn i8(&mut self) -> DecodeResult<i8> {
        self.need(1)?;
        Ok(self.buf.get_i8())
    }

    pub fn bool(&mut self) -> DecodeResult<bool> {
        Ok(self.i8()? != 0)
    }

    pub fn i16(&mut self) -> DecodeResult<i16> {
        self.need(2)?;
        Ok(self.buf.get_i16())
    }

    pub fn i32(&mut self) -> DecodeResult<i32> {
        self.need(4)?;
        Ok(self.buf.get_i32())
    }

    pub fn u32(&mut self) -> DecodeResult<u32> {
        self.need(4)?;
        Ok(self.buf.get_u32())
    }

    pub fn i64(&mut self) -> DecodeResult<i64> {
        self.need(8)?;
        Ok(self.buf.get_i64())
    }

    pub fn uuid(&mut self) -> DecodeResult<[u8; 16]> {
        self.need(16)?;
        let mut id = [0u8; 16];
        self.buf.copy_to_slice(&mut id);
        Ok(id)
    }

    /// Unsigned LEB128 varint of at most 32 bits (compact lengths).
    pub fn uvarint(&mut self) -> DecodeResult<u32> {
        varint::get_uvarint(&mut self.buf).map_err(varint_error)
    }

    /// Zig-zag varint of at most 32 bits (record fields).
    pub fn varint(&mut self) -> DecodeResult<i32> {
        varint::get_varint(&mut self.buf).map_err(varint_error)
    }

    /// Zig-zag varlong of at most 64 bits (record timestamps and offsets).
    pub fn varlong(&mut self) -> DecodeResult<i64> {
        varint::get_varlong(&mut self.buf).map_err(varint_error)
    }

    /// Advances past `n` bytes.
    pub fn skip(&mut self, n: usize) -> DecodeResult<()> {
        self.need(n)?;
        self.buf.advance(n);
        Ok(())
    }

    /// Splits `n` bytes off without copying.
    pub fn take(&mut self, n: usize) -> DecodeResult<BytesMut> {
        self.need(n)?;
        Ok(self.buf.split_to(n))
    }

    /// Length of a string: int16 (-1 = null) or compact (varint, 0 = null).
    fn string_len(&mut self) -> DecodeResult<Option<usize>> {
        let len: i64 = if self.flexible {
            i64::from(self.uvarint()?) - 1
        } else {
            i64::from(self.i16()?)
        };
        self.checked_len(len)
    }

    /// Length of a bytes field: int32 (-1 = null) or compact.
    fn bytes_len(&mut self) -> DecodeResult<Option<usize>> {
        let len: i64 = if self.flexible {
            i64::from(self.uvarint()?) - 1
        } else {
            i64::from(self.i32()?)
        };
        self.checked_len(len)
    }

    /// `None` for the null marker (-1); any other negative length is an error, and a
    /// length beyond what remains is refused before anything is allocated.
    fn checked_len(&self, len: i64) -> DecodeResult<Option<usize>> {
        if len == -1 {
            return Ok(None);
        }
        let len = usize::try_from(len).map_err(|_| DecodeError::NegativeLength(len))?;
        if len > self.buf.len() {
            return Err(DecodeError::LengthTooLarge {
                len,
                remaining: self.buf.len(),
            });
        }
        Ok(Some(len))
    }

    pub fn nullable_string(&mut self) -> DecodeResult<Option<String>> {
        let Some(len) = self.string_len()? else {
            return Ok(None);
        };
        let raw = self.buf.split_to(len);
        String::from_utf8(raw.to_vec())
            .map(Some)
            .map_err(|_| DecodeError::BadUtf8)
    }

    pub fn string(&mut self) -> DecodeResult<String> {
        self.nullable_string()?.ok_or(DecodeError::UnexpectedNull)
    }

    pub fn nullable_bytes(&mut self) -> DecodeResult<Option<BytesMut>> {
        let Some(len) = self.bytes_len()? else {
            return Ok(None);
        };
        Ok(Some(self.buf.split_to(len)))
    }

    pub fn bytes(&mut self) -> DecodeResult<BytesMut> {
        self.nullable_bytes()?.ok_or(DecodeError::UnexpectedNull)
    }

    /// Element count of an array, `None` for null. Refuses counts larger than the bytes
    /// that remain: every element takes at least one byte.
    pub fn nullable_array_len(&mut self) -> DecodeResult<Option<usize>> {
        let len: i64 = if self.flexible {
            i64::from(self.uvarint()?) - 1
        } else {
            i64::from(self.i32()?)
        };
        self.checked_len(len)
    }

    pub fn array_len(&mut self) -> DecodeResult<usize> {
        self.nullable_array_len()?
            .ok_or(DecodeError::UnexpectedNull)
    }

    /// Reads `n` elements with `f`, allocating only as elements arrive.
    pub fn elements<T>(
        &mut self,
        n: usize,
        mut f: impl FnMut(&mut Self) -> DecodeResult<T>,
    ) -> DecodeResult<Vec<T>> {
        let mut out = Vec::with_capacity(n.min(MAX_INITIAL_CAPACITY));
        for _ in 0..n {
            out.push(f(self)?);
        }
        Ok(out)
    }

    /// Skips a tagged-field section (flexible versions only). Known tags of the requests
    /// we serve carry nothing we act on, so all are skipped, each bounds-checked.
    pub fn tagged_fields(&mut self) -> DecodeResult<()> {
        if !self.flexible {
            return Ok(());
        }
        let count = self.uvarint()?;
        for _ in 0..count {
            let _tag = self.uvarint()?;
            let size = self.uvarint()? as usize;
            self.skip(size)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reader(bytes: &[u8], flexible: bool) -> Reader {
        Reader::new(BytesMut::from(bytes), flexible)
    }

    #[test]
    fn huge_array_length_is_refused_without_allocating() {
        let mut r = reader(&[0x7f, 0xff, 0xff, 0xff, 0, 0], false);
        assert!(matches!(
            r.array_len(),
            Err(DecodeError::LengthTooLarge {
                len: 0x7fff_ffff,
                ..
            })
        ));
        let mut r = reader(&[0xff, 0xff, 0xff, 0xff, 0x0f], true);
        assert!(r.array_len().is_err());
    }

    #[test]
    fn nulls_and_negative_lengths() {
        let mut r = reader(&[0xff, 0xff], false);
        assert_eq!(r.nullable_string(), Ok(None));
        let mut r = reader(&[0xff, 0xfe], false);
        assert_eq!(r.nullable_string(), Err(DecodeError::NegativeLength(-2)));
        let mut r = reader(&[0], true);
        assert_eq!(r.nullable_string(), Ok(None));
        let mut r = reader(&[0], true);
        assert_eq!(r.string(), Err(DecodeError::UnexpectedNull));
    }

    #[test]
    fn varints() {
        let mut r = reader(&[0xac, 0x02], true);
        assert_eq!(r.uvarint(), Ok(300));
        let mut r = reader(&[0x03], true);
        assert_eq!(r.varint(), Ok(-2));
        let mut r = reader(&[0xff; 6], true);
        assert_eq!(r.uvarint(), Err(DecodeError::VarintTooLong(5)));
    }

    #[test]
    fn tagged_fields_are_bounds_checked() {
        let mut r = reader(&[1, 0, 5, 1, 2], true);
        assert!(r.tagged_fields().is_err());
        let mut r = reader(&[1, 0, 2, 1, 2], true);
        assert_eq!(r.tagged_fields(), Ok(()));
        assert_eq!(r.remaining(), 0);
    }
}
