//! MQTT data representation (spec §1.5): big-endian integers, variable byte integers,
//! length-prefixed UTF-8 strings and binary data. Reading never trusts a length beyond
//! the bytes present, so a hostile length can neither allocate nor panic; binary
//! fields are slices of the packet's buffer (no copy).

use bytes::{BufMut, Bytes, BytesMut};

use super::error::{EncodeError, Field, Malformed};

/// The largest value a variable byte integer holds (four bytes of seven bits).
pub const MAX_VAR_INT: u32 = 268_435_455;

/// A cursor over one packet's body.
#[derive(Debug)]
pub(crate) struct Reader {
    buf: Bytes,
    pos: usize,
}

impl Reader {
    pub(crate) fn new(buf: Bytes) -> Self {
        Self { buf, pos: 0 }
    }

    pub(crate) fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.remaining() == 0
    }

    fn need(&self, n: usize) -> Result<(), Malformed> {
        match n.checked_sub(self.remaining()) {
            Some(needed) if needed > 0 => Err(Malformed::Truncated { needed }),
            _ => Ok(()),
        }
    }

    fn slice(&mut self, n: usize) -> Result<&[u8], Malformed> {
        self.need(n)?;
        let at = self.pos;
        self.pos += n;
        Ok(&self.buf[at..at + n])
    }

    /// The next `n` bytes, sharing the packet's buffer.
    pub(crate) fn take(&mut self, n: usize) -> Result<Bytes, Malformed> {
        self.need(n)?;
        let b = self.buf.slice(self.pos..self.pos + n);
        self.pos += n;
        Ok(b)
    }

    /// Everything left, sharing the packet's buffer.
    pub(crate) fn rest(&mut self) -> Bytes {
        let b = self.buf.slice(self.pos..);
        self.pos = self.buf.len();
        b
    }

    pub(crate) fn u8(&mut self) -> Result<u8, Malformed> {
        Ok(self.slice(1)?[0])
    }

    pub(crate) fn u16(&mut self) -> Result<u16, Malformed> {
        let s = self.slice(2)?;
        Ok(u16::from_be_bytes([s[0], s[1]]))
    }

    pub(crate) fn u32(&mut self) -> Result<u32, Malformed> {
        let s = self.slice(4)?;
        Ok(u32::from_be_bytes([s[0], s[1], s[2], s[3]]))
    }

    /// A variable byte integer (§1.5.5): at most four bytes.
    pub(crate) fn var_int(&mut self) -> Result<u32, Malformed> {
        match read_var_int(&self.buf[self.pos..])? {
            VarInt::Complete { value, len } => {
                self.pos += len;
                Ok(value)
            }
            VarInt::Incomplete => Err(Malformed::Truncated { needed: 1 }),
        }
    }

    /// Binary Data (§1.5.6): a two-byte length and that many bytes.
    pub(crate) fn binary(&mut self) -> Result<Bytes, Malformed> {
        let len = usize::from(self.u16()?);
        self.take(len)
    }

    /// A UTF-8 Encoded String (§1.5.4), validated.
    pub(crate) fn string(&mut self, field: Field) -> Result<String, Malformed> {
        let len = usize::from(self.u16()?);
        let raw = self.slice(len)?;
        Ok(validate_utf8(raw, field)?.to_owned())
    }

    /// A sub-reader over the next `n` bytes (a property block).
    pub(crate) fn sub(&mut self, n: usize) -> Result<Reader, Malformed> {
        Ok(Reader::new(self.take(n)?))
    }
}

/// What [`read_var_int`] found at the front of a buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum VarInt {
    Complete {
        value: u32,
        len: usize,
    },
    /// Fewer than four bytes, all with the continuation bit.
    Incomplete,
}

/// Reads a variable byte integer. A fourth byte with its continuation bit set is
/// malformed at once (§1.5.5 allows four bytes at most), without waiting for a fifth.
/// Non-minimal encodings ("0x80 0x00" for 0) are accepted: [MQTT-1.5.5-1] binds the
/// sender, and Mosquitto reads them too.
pub(crate) fn read_var_int(buf: &[u8]) -> Result<VarInt, Malformed> {
    let mut value = 0u32;
    for (i, &b) in buf.iter().take(4).enumerate() {
        value |= u32::from(b & 0x7f) << (7 * i);
        if b & 0x80 == 0 {
            return Ok(VarInt::Complete { value, len: i + 1 });
        }
        if i == 3 {
            return Err(Malformed::VarIntTooLong);
        }
    }
    Ok(VarInt::Incomplete)
}

/// Bytes a variable byte integer takes.
pub(crate) const fn var_int_len(v: u32) -> usize {
    match v {
        0..=127 => 1,
        128..=16_383 => 2,
        16_384..=2_097_151 => 3,
        _ => 4,
    }
}

/// Checks a UTF-8 Encoded String: well-formed UTF-8 without surrogates
/// ([MQTT-1.5.4-1]; 3.1.1 [MQTT-1.5.3-1]), no U+0000 ([MQTT-1.5.4-2]; 3.1.1
/// [MQTT-1.5.3-2]), and none of the disallowed code points (control characters
/// U+0001..U+001F and U+007F..U+009F, noncharacters). Both specs say a receiver MAY
/// treat those as malformed; Mosquitto 2 refuses them in every version, and so do we.
/// A BOM (U+FEFF) is kept as is ([MQTT-1.5.4-3]).
pub(crate) fn validate_utf8(raw: &[u8], field: Field) -> Result<&str, Malformed> {
    let s = std::str::from_utf8(raw).map_err(|_| Malformed::InvalidUtf8(field))?;
    // Topic names, client ids and most property values are printable ASCII: one pass.
    if raw.iter().all(|&b| (0x20..0x7f).contains(&b)) {
        return Ok(s);
    }
    for c in s.chars() {
        let cp = u32::from(c);
        if cp == 0 {
            return Err(Malformed::NullCharacter(field));
        }
        if is_disallowed(cp) {
            return Err(Malformed::DisallowedCodePoint {
                field,
                code_point: cp,
            });
        }
    }
    Ok(s)
}

/// The spec's Disallowed Unicode code points (§1.5.4).
const fn is_disallowed(cp: u32) -> bool {
    matches!(cp, 0x01..=0x1f | 0x7f..=0x9f | 0xfdd0..=0xfdef) || (cp & 0xfffe) == 0xfffe
}

/// Where encoded bytes go: the output buffer, or a counter that measures a packet
/// before it is written (so lengths are known up front and nothing is encoded twice
/// into the buffer).
pub(crate) trait Sink {
    fn put_u8(&mut self, v: u8);
    fn put_slice(&mut self, s: &[u8]);

    fn put_u16(&mut self, v: u16) {
        self.put_slice(&v.to_be_bytes());
    }

    fn put_u32(&mut self, v: u32) {
        self.put_slice(&v.to_be_bytes());
    }
}

impl Sink for BytesMut {
    fn put_u8(&mut self, v: u8) {
        BufMut::put_u8(self, v);
    }

    fn put_slice(&mut self, s: &[u8]) {
        self.extend_from_slice(s);
    }
}

/// Counts what would be written.
#[derive(Debug, Default)]
pub(crate) struct Counter(pub(crate) usize);

impl Sink for Counter {
    fn put_u8(&mut self, _: u8) {
        self.0 += 1;
    }

    fn put_slice(&mut self, s: &[u8]) {
        self.0 += s.len();
    }
}

pub(crate) fn put_var_int(out: &mut impl Sink, mut v: u32) -> Result<(), EncodeError> {
    if v > MAX_VAR_INT {
        return Err(EncodeError::VarIntTooLarge(v));
    }
    loop {
        let byte = (v & 0x7f) as u8;
        v >>= 7;
        if v == 0 {
            out.put_u8(byte);
            return Ok(());
        }
        out.put_u8(byte | 0x80);
    }
}

fn prefixed_len(field: &'static str, len: usize) -> Result<u16, EncodeError> {
    u16::try_from(len).map_err(|_| EncodeError::FieldTooLong { field, len })
}

/// A UTF-8 Encoded String. The encoder does not validate content (Rust strings are
/// UTF-8 already), so tests can send what a broken client would.
pub(crate) fn put_str(
    out: &mut impl Sink,
    field: &'static str,
    s: &str,
) -> Result<(), EncodeError> {
    put_binary(out, field, s.as_bytes())
}

/// Binary Data.
pub(crate) fn put_binary(
    out: &mut impl Sink,
    field: &'static str,
    b: &[u8],
) -> Result<(), EncodeError> {
    out.put_u16(prefixed_len(field, b.len())?);
    out.put_slice(b);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn var_int_boundaries() {
        for v in [
            0,
            127,
            128,
            16_383,
            16_384,
            2_097_151,
            2_097_152,
            MAX_VAR_INT,
        ] {
            let mut b = BytesMut::new();
            put_var_int(&mut b, v).expect("in range");
            assert_eq!(b.len(), var_int_len(v), "{v}");
            assert_eq!(
                read_var_int(&b),
                Ok(VarInt::Complete {
                    value: v,
                    len: b.len()
                })
            );
        }
        assert!(put_var_int(&mut BytesMut::new(), MAX_VAR_INT + 1).is_err());
    }

    #[test]
    fn var_int_fifth_byte_and_truncation() {
        assert_eq!(
            read_var_int(&[0xff, 0xff, 0xff, 0xff]),
            Err(Malformed::VarIntTooLong)
        );
        assert_eq!(read_var_int(&[0xff, 0xff, 0xff]), Ok(VarInt::Incomplete));
        assert_eq!(read_var_int(&[]), Ok(VarInt::Incomplete));
        // Non-minimal but legal length: 0 in two bytes.
        assert_eq!(
            read_var_int(&[0x80, 0x00]),
            Ok(VarInt::Complete { value: 0, len: 2 })
        );
    }

    #[test]
    fn strings_are_checked() {
        let f = Field::TopicName;
        assert_eq!(validate_utf8(b"a/b", f), Ok("a/b"));
        assert_eq!(validate_utf8("é/ü".as_bytes(), f), Ok("é/ü"));
        assert_eq!(
            validate_utf8(b"a\0b", f),
            Err(Malformed::NullCharacter(Field::TopicName))
        );
        assert_eq!(
            validate_utf8(&[0xc3, 0x28], f),
            Err(Malformed::InvalidUtf8(Field::TopicName))
        );
        // A surrogate encoded as UTF-8 (CESU style) is not UTF-8.
        assert!(validate_utf8(&[0xed, 0xa0, 0x80], f).is_err());
        assert_eq!(
            validate_utf8(b"a\x07", f),
            Err(Malformed::DisallowedCodePoint {
                field: f,
                code_point: 7
            })
        );
        assert!(validate_utf8("\u{fffe}".as_bytes(), f).is_err());
        assert!(validate_utf8("\u{1ffff}".as_bytes(), f).is_err());
        assert!(validate_utf8("\u{85}".as_bytes(), f).is_err());
        // The BOM is kept, not stripped.
        assert_eq!(validate_utf8("\u{feff}x".as_bytes(), f), Ok("\u{feff}x"));
    }

    #[test]
    fn reader_never_reads_past_the_end() {
        let mut r = Reader::new(Bytes::from_static(&[0x00, 0x05, b'a']));
        assert_eq!(
            r.string(Field::TopicName),
            Err(Malformed::Truncated { needed: 4 })
        );
        let mut r = Reader::new(Bytes::from_static(&[0xff, 0xff, 1]));
        assert!(r.binary().is_err());
        let mut r = Reader::new(Bytes::from_static(&[0x80]));
        assert_eq!(r.var_int(), Err(Malformed::Truncated { needed: 1 }));
    }

    #[test]
    fn too_long_fields_are_refused() {
        let long = "x".repeat(65_536);
        assert_eq!(
            put_str(&mut Counter::default(), "topic", &long),
            Err(EncodeError::FieldTooLong {
                field: "topic",
                len: 65_536
            })
        );
    }
}
