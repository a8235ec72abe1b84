//! The primitives of the message codec: varints, length-prefixed bytes, typed
//! header tables, and a reader that checks every length against what remains.

use bytes::Bytes;
use trident_core::{FieldTable, FieldValue};

use super::{CodecError, MAX_DEPTH};

pub(crate) fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

pub(crate) fn put_bytes(out: &mut Vec<u8>, b: &[u8]) {
    put_varint(out, b.len() as u64);
    out.extend_from_slice(b);
}

pub(crate) fn encode_table(t: &FieldTable, out: &mut Vec<u8>) {
    put_varint(out, t.0.len() as u64);
    for (k, v) in &t.0 {
        put_bytes(out, k.as_bytes());
        encode_value(v, out);
    }
}

fn encode_value(v: &FieldValue, out: &mut Vec<u8>) {
    match v {
        FieldValue::Void => out.push(0),
        FieldValue::Bool(b) => out.extend_from_slice(&[1, u8::from(*b)]),
        FieldValue::I8(x) => out.extend_from_slice(&[2, *x as u8]),
        FieldValue::U8(x) => out.extend_from_slice(&[3, *x]),
        FieldValue::I16(x) => {
            out.push(4);
            out.extend_from_slice(&x.to_le_bytes());
        }
        FieldValue::U16(x) => {
            out.push(5);
            out.extend_from_slice(&x.to_le_bytes());
        }
        FieldValue::I32(x) => {
            out.push(6);
            out.extend_from_slice(&x.to_le_bytes());
        }
        FieldValue::U32(x) => {
            out.push(7);
            out.extend_from_slice(&x.to_le_bytes());
        }
        FieldValue::I64(x) => {
            out.push(8);
            out.extend_from_slice(&x.to_le_bytes());
        }
        FieldValue::U64(x) => {
            out.push(9);
            out.extend_from_slice(&x.to_le_bytes());
        }
        FieldValue::F32(x) => {
            out.push(10);
            out.extend_from_slice(&x.to_bits().to_le_bytes());
        }
        FieldValue::F64(x) => {
            out.push(11);
            out.extend_from_slice(&x.to_bits().to_le_bytes());
        }
        FieldValue::Decimal { scale, value } => {
            out.extend_from_slice(&[12, *scale]);
            out.extend_from_slice(&value.to_le_bytes());
        }
        FieldValue::ShortString(s) => {
            out.push(13);
            put_bytes(out, s.as_bytes());
        }
        FieldValue::LongString(s) => {
            out.push(14);
            put_bytes(out, s.as_bytes());
        }
        FieldValue::Bytes(b) => {
            out.push(15);
            put_bytes(out, b);
        }
        FieldValue::Timestamp(t) => {
            out.push(16);
            out.extend_from_slice(&t.to_le_bytes());
        }
        FieldValue::Table(t) => {
            out.push(17);
            encode_table(t, out);
        }
        FieldValue::Array(a) => {
            out.push(18);
            put_varint(out, a.len() as u64);
            for v in a {
                encode_value(v, out);
            }
        }
    }
}

pub(crate) fn decode_table(r: &mut Reader<'_>, depth: usize) -> Result<FieldTable, CodecError> {
    if depth > MAX_DEPTH {
        return Err(CodecError::TooDeep);
    }
    // An entry is at least a one-byte name length and a one-byte tag.
    let n = r.count(2)?;
    let mut entries = Vec::with_capacity(n);
    for _ in 0..n {
        let k = r.string()?;
        let v = decode_value(r, depth)?;
        entries.push((k, v));
    }
    Ok(FieldTable(entries))
}

fn decode_value(r: &mut Reader<'_>, depth: usize) -> Result<FieldValue, CodecError> {
    let tag = r.u8()?;
    Ok(match tag {
        0 => FieldValue::Void,
        1 => match r.u8()? {
            0 => FieldValue::Bool(false),
            1 => FieldValue::Bool(true),
            _ => return Err(CodecError::Invalid("bool")),
        },
        2 => FieldValue::I8(i8::from_le_bytes(r.array()?)),
        3 => FieldValue::U8(r.u8()?),
        4 => FieldValue::I16(i16::from_le_bytes(r.array()?)),
        5 => FieldValue::U16(u16::from_le_bytes(r.array()?)),
        6 => FieldValue::I32(i32::from_le_bytes(r.array()?)),
        7 => FieldValue::U32(u32::from_le_bytes(r.array()?)),
        8 => FieldValue::I64(i64::from_le_bytes(r.array()?)),
        9 => FieldValue::U64(u64::from_le_bytes(r.array()?)),
        10 => FieldValue::F32(f32::from_bits(u32::from_le_bytes(r.array()?))),
        11 => FieldValue::F64(f64::from_bits(u64::from_le_bytes(r.array()?))),
        12 => {
            let scale = r.u8()?;
            FieldValue::Decimal {
                scale,
                value: u32::from_le_bytes(r.array()?),
            }
        }
        13 => FieldValue::ShortString(r.string()?),
        14 => FieldValue::LongString(r.string()?),
        15 => FieldValue::Bytes(r.bytes()?),
        16 => FieldValue::Timestamp(u64::from_le_bytes(r.array()?)),
        17 => FieldValue::Table(decode_table(r, depth + 1)?),
        18 => {
            if depth + 1 > MAX_DEPTH {
                return Err(CodecError::TooDeep);
            }
            let n = r.count(1)?;
            let mut items = Vec::with_capacity(n);
            for _ in 0..n {
                items.push(decode_value(r, depth + 1)?);
            }
            FieldValue::Array(items)
        }
        t => return Err(CodecError::UnknownTag(t)),
    })
}

pub(crate) struct Reader<'a> {
    pub(crate) buf: &'a Bytes,
    pub(crate) pos: usize,
}

impl Reader<'_> {
    pub(crate) fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    pub(crate) fn take(&mut self, n: usize) -> Result<&[u8], CodecError> {
        if n > self.remaining() {
            return Err(CodecError::Truncated);
        }
        let s = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    pub(crate) fn u8(&mut self) -> Result<u8, CodecError> {
        Ok(self.take(1)?[0])
    }

    pub(crate) fn array<const N: usize>(&mut self) -> Result<[u8; N], CodecError> {
        let mut a = [0u8; N];
        a.copy_from_slice(self.take(N)?);
        Ok(a)
    }

    pub(crate) fn varint(&mut self) -> Result<u64, CodecError> {
        let mut v: u64 = 0;
        for i in 0..10 {
            let b = self.u8()?;
            if i == 9 && b > 1 {
                return Err(CodecError::Invalid("varint overflows 64 bits"));
            }
            v |= u64::from(b & 0x7f) << (7 * i);
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err(CodecError::Invalid("varint too long"))
    }

    /// A length that must fit in the remaining input.
    pub(crate) fn len(&mut self) -> Result<usize, CodecError> {
        let n = self.varint()?;
        match usize::try_from(n) {
            Ok(n) if n <= self.remaining() => Ok(n),
            _ => Err(CodecError::Truncated),
        }
    }

    /// An element count, each element taking at least `min_size` bytes.
    pub(crate) fn count(&mut self, min_size: usize) -> Result<usize, CodecError> {
        let n = self.varint()?;
        match usize::try_from(n) {
            Ok(n) if n.saturating_mul(min_size) <= self.remaining() => Ok(n),
            _ => Err(CodecError::Truncated),
        }
    }

    pub(crate) fn bytes(&mut self) -> Result<Bytes, CodecError> {
        let n = self.len()?;
        let s = self.buf.slice(self.pos..self.pos + n);
        self.pos += n;
        Ok(s)
    }

    pub(crate) fn string(&mut self) -> Result<String, CodecError> {
        let n = self.len()?;
        let s = self.take(n)?;
        std::str::from_utf8(s)
            .map(str::to_owned)
            .map_err(|_| CodecError::Invalid("UTF-8 in string"))
    }
}
