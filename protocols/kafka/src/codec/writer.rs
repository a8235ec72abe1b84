//! Builds one response frame (4-byte size, header, body) with as few copies as possible.
//!
//! Small fields go into an owned buffer. Stored record batches (Fetch) are appended as
//! shared `Bytes` slices instead of being copied, so a fetch response is a short list of
//! buffers that the connection hands to `writev`.

use bytes::{BufMut, Bytes, BytesMut};
use trident_records::varint;

/// Shared chunks smaller than this are copied: an extra iovec costs more than a memcpy.
const SHARE_THRESHOLD: usize = 512;

/// A finished frame: the buffers to write, in order.
#[derive(Debug, Clone, Default)]
pub struct Frame {
    pub parts: Vec<Bytes>,
}

impl Frame {
    pub fn len(&self) -> usize {
        self.parts.iter().map(Bytes::len).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.parts.iter().all(Bytes::is_empty)
    }

    /// The frame as one contiguous buffer (tests, and tiny responses).
    pub fn to_bytes(&self) -> Bytes {
        if self.parts.len() == 1 {
            return self.parts[0].clone();
        }
        let mut out = BytesMut::with_capacity(self.len());
        for p in &self.parts {
            out.extend_from_slice(p);
        }
        out.freeze()
    }
}

/// Writes Kafka primitive types; `flexible` selects the compact encodings.
#[derive(Debug)]
pub struct Writer {
    /// The first owned segment; it starts with the frame's 4-byte size (when framed),
    /// patched in [`Writer::finish`].
    head: BytesMut,
    /// Everything after `head` that is already final.
    tail: Vec<Bytes>,
    /// Owned bytes after the last shared chunk (unused while `tail` is empty).
    buf: BytesMut,
    flexible: bool,
    framed: bool,
}

impl Writer {
    /// A writer for a bare body (no size prefix): tests and nested encodings.
    pub fn new(flexible: bool) -> Self {
        Self {
            head: BytesMut::with_capacity(256),
            tail: Vec::new(),
            buf: BytesMut::new(),
            flexible,
            framed: false,
        }
    }

    /// A writer for a response frame: the size placeholder and the response header.
    /// Header v1 (flexible APIs, except ApiVersions) adds an empty tagged-field section.
    pub fn response(correlation_id: i32, header_v1: bool, body_flexible: bool) -> Self {
        let mut w = Self::new(body_flexible);
        w.framed = true;
        w.head.put_u32(0);
        w.head.put_i32(correlation_id);
        if header_v1 {
            w.head.put_u8(0);
        }
        w
    }

    pub fn flexible(&self) -> bool {
        self.flexible
    }

    fn cur(&mut self) -> &mut BytesMut {
        if self.tail.is_empty() {
            &mut self.head
        } else {
            &mut self.buf
        }
    }

    pub fn i8(&mut self, v: i8) {
        self.cur().put_i8(v);
    }

    pub fn bool(&mut self, v: bool) {
        self.cur().put_u8(u8::from(v));
    }

    pub fn i16(&mut self, v: i16) {
        self.cur().put_i16(v);
    }

    pub fn i32(&mut self, v: i32) {
        self.cur().put_i32(v);
    }

    pub fn u32(&mut self, v: u32) {
        self.cur().put_u32(v);
    }

    pub fn i64(&mut self, v: i64) {
        self.cur().put_i64(v);
    }

    pub fn uuid(&mut self, v: &[u8; 16]) {
        self.cur().put_slice(v);
    }

    pub fn uvarint(&mut self, v: u32) {
        varint::put_uvarint(self.cur(), v);
    }

    pub fn varint(&mut self, v: i32) {
        varint::put_varint(self.cur(), v);
    }

    pub fn varlong(&mut self, v: i64) {
        varint::put_varlong(self.cur(), v);
    }

    pub fn raw(&mut self, bytes: &[u8]) {
        self.cur().put_slice(bytes);
    }

    /// Length prefix of a string or array: int16/int32 or compact (n + 1, 0 = null).
    fn len_prefix(&mut self, len: Option<usize>, wide: bool) {
        if self.flexible {
            let v = len.map_or(0, |n| u32::try_from(n).unwrap_or(u32::MAX - 1) + 1);
            self.uvarint(v);
        } else if wide {
            self.i32(len.map_or(-1, |n| i32::try_from(n).unwrap_or(i32::MAX)));
        } else {
            self.i16(len.map_or(-1, |n| i16::try_from(n).unwrap_or(i16::MAX)));
        }
    }

    pub fn string(&mut self, s: &str) {
        // Strings longer than i16::MAX cannot be expressed in the non-flexible encoding;
        // truncating keeps the frame well-formed (only error messages could get there).
        let bytes = if !self.flexible && s.len() > i16::MAX as usize {
            &s.as_bytes()[..i16::MAX as usize]
        } else {
            s.as_bytes()
        };
        self.len_prefix(Some(bytes.len()), false);
        self.raw(bytes);
    }

    pub fn nullable_string(&mut self, s: Option<&str>) {
        match s {
            Some(s) => self.string(s),
            None => self.len_prefix(None, false),
        }
    }

    pub fn bytes(&mut self, b: &[u8]) {
        self.len_prefix(Some(b.len()), true);
        self.raw(b);
    }

    pub fn nullable_bytes(&mut self, b: Option<&[u8]>) {
        match b {
            Some(b) => self.bytes(b),
            None => self.len_prefix(None, true),
        }
    }

    pub fn array_len(&mut self, n: usize) {
        self.len_prefix(Some(n), true);
    }

    pub fn nullable_array_len(&mut self, n: Option<usize>) {
        self.len_prefix(n, true);
    }

    /// An empty tagged-field section (flexible versions only).
    pub fn tagged_fields(&mut self) {
        if self.flexible {
            self.cur().put_u8(0);
        }
    }

    /// A records field: the size prefix, then the stored batches without copying.
    pub fn records(&mut self, batches: Option<&[Bytes]>) {
        let Some(batches) = batches else {
            self.len_prefix(None, true);
            return;
        };
        let total: usize = batches.iter().map(Bytes::len).sum();
        self.len_prefix(Some(total), true);
        for b in batches {
            self.shared(b.clone());
        }
    }

    /// Appends a buffer, sharing it when it is large enough to be worth an iovec.
    pub fn shared(&mut self, b: Bytes) {
        if b.len() < SHARE_THRESHOLD {
            self.raw(&b);
            return;
        }
        if !self.tail.is_empty() && !self.buf.is_empty() {
            let owned = self.buf.split().freeze();
            self.tail.push(owned);
        }
        self.tail.push(b);
    }

    /// Bytes written so far (including the size prefix when framed).
    pub fn len(&self) -> usize {
        self.head.len() + self.tail.iter().map(Bytes::len).sum::<usize>() + self.buf.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Patches the size prefix and hands out the buffers.
    pub fn finish(mut self) -> Frame {
        if self.framed {
            let size = u32::try_from(self.len() - 4).unwrap_or(u32::MAX);
            self.head[..4].copy_from_slice(&size.to_be_bytes());
        }
        let mut parts = Vec::with_capacity(self.tail.len() + 2);
        parts.push(self.head.freeze());
        parts.extend(self.tail);
        if !self.buf.is_empty() {
            parts.push(self.buf.freeze());
        }
        Frame { parts }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frame_size_counts_shared_chunks() {
        let mut w = Writer::response(7, false, false);
        w.i16(0);
        let big = Bytes::from(vec![9u8; 1000]);
        w.records(Some(&[big.clone(), big]));
        w.i32(5);
        let frame = w.finish();
        assert_eq!(frame.parts.len(), 4);
        let bytes = frame.to_bytes();
        let size = u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]) as usize;
        assert_eq!(size, bytes.len() - 4);
        assert_eq!(size, 4 + 2 + 4 + 2000 + 4);
    }

    #[test]
    fn compact_lengths() {
        let mut w = Writer::new(true);
        w.string("ab");
        w.nullable_string(None);
        w.array_len(0);
        let b = w.finish().to_bytes();
        assert_eq!(&b[..], &[3, b'a', b'b', 0, 1]);
    }
}
