//! Field tables and arrays (spec §4.2.5.5) with RabbitMQ's type letters, which is what
//! every client actually sends: `s` is a signed 16-bit integer (not a short string),
//! `l` a signed 64-bit integer, and there is no short string type inside tables.

use bytes::{BufMut, Bytes, BytesMut};
use trident_core::{FieldTable, FieldValue};

use super::wire::{DecodeError, Reader, bytes_to_string, put_long_bytes, put_short_str};

/// Nesting limit for tables and arrays. Decoding recurses; without a limit a frame of
/// nested empty tables could exhaust the stack.
pub const MAX_DEPTH: usize = 32;

pub fn read_table(r: &mut Reader<'_>) -> Result<FieldTable, DecodeError> {
    read_table_at(r, 0)
}

/// A table's entries without the length prefix: the form of the AMQPLAIN response in
/// `connection.start-ok`.
pub fn read_table_entries(bytes: &[u8]) -> Result<FieldTable, DecodeError> {
    let mut r = Reader::new(bytes);
    let mut entries = Vec::new();
    while r.remaining() > 0 {
        let name = r.short_str()?;
        let value = read_value(&mut r, 0)?;
        entries.push((name, value));
    }
    Ok(FieldTable(entries))
}

fn read_table_at(r: &mut Reader<'_>, depth: usize) -> Result<FieldTable, DecodeError> {
    if depth >= MAX_DEPTH {
        return Err(DecodeError::TooDeep(MAX_DEPTH));
    }
    let mut inner = Reader::new(r.long_bytes()?);
    // No capacity from the wire: the byte length bounds the entries, but a count
    // guessed from it could still over-allocate for tiny entries.
    let mut entries = Vec::new();
    while inner.remaining() > 0 {
        let name = inner.short_str()?;
        let value = read_value(&mut inner, depth)?;
        entries.push((name, value));
    }
    Ok(FieldTable(entries))
}

fn read_array(r: &mut Reader<'_>, depth: usize) -> Result<Vec<FieldValue>, DecodeError> {
    if depth >= MAX_DEPTH {
        return Err(DecodeError::TooDeep(MAX_DEPTH));
    }
    let mut inner = Reader::new(r.long_bytes()?);
    let mut values = Vec::new();
    while inner.remaining() > 0 {
        values.push(read_value(&mut inner, depth)?);
    }
    Ok(values)
}

fn read_value(r: &mut Reader<'_>, depth: usize) -> Result<FieldValue, DecodeError> {
    let kind = r.u8()?;
    Ok(match kind {
        b't' => FieldValue::Bool(r.u8()? != 0),
        b'b' => FieldValue::I8(r.u8()? as i8),
        b'B' => FieldValue::U8(r.u8()?),
        b's' | b'U' => FieldValue::I16(r.u16()? as i16),
        b'u' => FieldValue::U16(r.u16()?),
        b'I' => FieldValue::I32(r.u32()? as i32),
        b'i' => FieldValue::U32(r.u32()?),
        b'l' => FieldValue::I64(r.u64()? as i64),
        b'L' => FieldValue::U64(r.u64()?),
        b'f' => FieldValue::F32(f32::from_bits(r.u32()?)),
        b'd' => FieldValue::F64(f64::from_bits(r.u64()?)),
        b'D' => {
            let scale = r.u8()?;
            let value = r.u32()?;
            FieldValue::Decimal { scale, value }
        }
        b'S' => {
            let raw = r.long_bytes()?;
            // Long strings may carry binary data; keep it as bytes rather than mangle it.
            match std::str::from_utf8(raw) {
                Ok(s) => FieldValue::LongString(s.to_owned()),
                Err(_) => FieldValue::Bytes(Bytes::copy_from_slice(raw)),
            }
        }
        b'x' => FieldValue::Bytes(r.long_bytes_owned()?),
        b'T' => FieldValue::Timestamp(r.u64()?),
        b'F' => FieldValue::Table(read_table_at(r, depth + 1)?),
        b'A' => FieldValue::Array(read_array(r, depth + 1)?),
        b'V' => FieldValue::Void,
        other => return Err(DecodeError::BadFieldType(other)),
    })
}

/// Writes a table. The length prefix is patched in afterwards so no intermediate
/// buffer is needed.
pub fn put_table(out: &mut BytesMut, table: &FieldTable) {
    let at = out.len();
    out.put_u32(0);
    for (name, value) in table.iter() {
        put_short_str(out, name);
        put_value(out, value);
    }
    patch_len(out, at);
}

fn patch_len(out: &mut BytesMut, at: usize) {
    let len = u32::try_from(out.len() - at - 4).unwrap_or(u32::MAX);
    out[at..at + 4].copy_from_slice(&len.to_be_bytes());
}

fn put_value(out: &mut BytesMut, value: &FieldValue) {
    match value {
        FieldValue::Bool(b) => {
            out.put_u8(b't');
            out.put_u8(u8::from(*b));
        }
        FieldValue::I8(v) => {
            out.put_u8(b'b');
            out.put_i8(*v);
        }
        FieldValue::U8(v) => {
            out.put_u8(b'B');
            out.put_u8(*v);
        }
        FieldValue::I16(v) => {
            out.put_u8(b's');
            out.put_i16(*v);
        }
        FieldValue::U16(v) => {
            out.put_u8(b'u');
            out.put_u16(*v);
        }
        FieldValue::I32(v) => {
            out.put_u8(b'I');
            out.put_i32(*v);
        }
        FieldValue::U32(v) => {
            out.put_u8(b'i');
            out.put_u32(*v);
        }
        FieldValue::I64(v) => {
            out.put_u8(b'l');
            out.put_i64(*v);
        }
        FieldValue::U64(v) => match i64::try_from(*v) {
            // Most clients (and RabbitMQ) only know `l`; use it whenever it fits.
            Ok(v) => {
                out.put_u8(b'l');
                out.put_i64(v);
            }
            Err(_) => {
                out.put_u8(b'L');
                out.put_u64(*v);
            }
        },
        FieldValue::F32(v) => {
            out.put_u8(b'f');
            out.put_f32(*v);
        }
        FieldValue::F64(v) => {
            out.put_u8(b'd');
            out.put_f64(*v);
        }
        FieldValue::Decimal { scale, value } => {
            out.put_u8(b'D');
            out.put_u8(*scale);
            out.put_u32(*value);
        }
        // Tables have no short string type in RabbitMQ's dialect.
        FieldValue::ShortString(s) | FieldValue::LongString(s) => {
            out.put_u8(b'S');
            put_long_bytes(out, s.as_bytes());
        }
        FieldValue::Bytes(b) => {
            out.put_u8(b'x');
            put_long_bytes(out, b);
        }
        FieldValue::Timestamp(t) => {
            out.put_u8(b'T');
            out.put_u64(*t);
        }
        FieldValue::Table(t) => {
            out.put_u8(b'F');
            put_table(out, t);
        }
        FieldValue::Array(values) => {
            out.put_u8(b'A');
            let at = out.len();
            out.put_u32(0);
            for v in values {
                put_value(out, v);
            }
            patch_len(out, at);
        }
        FieldValue::Void => out.put_u8(b'V'),
    }
}

/// Text of a table value that RabbitMQ would accept where it expects a string.
pub fn lossy_str(value: &FieldValue) -> Option<String> {
    match value {
        FieldValue::ShortString(s) | FieldValue::LongString(s) => Some(s.clone()),
        FieldValue::Bytes(b) => Some(bytes_to_string(b)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn roundtrip(t: &FieldTable) -> FieldTable {
        let mut out = BytesMut::new();
        put_table(&mut out, t);
        let mut r = Reader::new(&out);
        let back = read_table(&mut r);
        assert_eq!(r.remaining(), 0);
        back.unwrap_or_default()
    }

    #[test]
    fn every_type_roundtrips() {
        let mut nested = FieldTable::new();
        nested.insert("n", FieldValue::I32(-7));
        let t: FieldTable = vec![
            ("bool".to_string(), FieldValue::Bool(true)),
            ("i8".into(), FieldValue::I8(-3)),
            ("u8".into(), FieldValue::U8(250)),
            ("i16".into(), FieldValue::I16(-300)),
            ("u16".into(), FieldValue::U16(60000)),
            ("i32".into(), FieldValue::I32(-70000)),
            ("u32".into(), FieldValue::U32(4_000_000_000)),
            ("i64".into(), FieldValue::I64(-1 << 40)),
            ("u64".into(), FieldValue::U64(u64::MAX)),
            ("f32".into(), FieldValue::F32(1.5)),
            ("f64".into(), FieldValue::F64(-2.25)),
            (
                "dec".into(),
                FieldValue::Decimal {
                    scale: 2,
                    value: 12345,
                },
            ),
            ("str".into(), FieldValue::LongString("héllo".into())),
            (
                "bytes".into(),
                FieldValue::Bytes(Bytes::from_static(&[0, 255])),
            ),
            ("ts".into(), FieldValue::Timestamp(1_700_000_000)),
            ("table".into(), FieldValue::Table(nested)),
            (
                "array".into(),
                FieldValue::Array(vec![FieldValue::I64(1), FieldValue::LongString("x".into())]),
            ),
            ("void".into(), FieldValue::Void),
        ]
        .into_iter()
        .collect();
        assert_eq!(roundtrip(&t), t);
    }

    #[test]
    fn deep_nesting_is_refused_not_overflowed() {
        // 10k nested tables, each `F` + length prefix around the next.
        let mut inner = BytesMut::new();
        inner.put_u32(0);
        for _ in 0..10_000 {
            let mut outer = BytesMut::new();
            let body_len = 1 + 1 + inner.len();
            outer.put_u32(body_len as u32);
            outer.put_u8(1);
            outer.put_u8(b'k');
            outer.put_u8(b'F');
            outer.extend_from_slice(&inner);
            inner = outer;
        }
        let mut r = Reader::new(&inner);
        assert_eq!(read_table(&mut r), Err(DecodeError::TooDeep(MAX_DEPTH)));
    }

    #[test]
    fn unknown_type_is_an_error() {
        let bytes = [0, 0, 0, 3, 1, b'k', b'?'];
        assert_eq!(
            read_table(&mut Reader::new(&bytes)),
            Err(DecodeError::BadFieldType(b'?'))
        );
    }
}
