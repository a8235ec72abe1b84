//! The frame layer (spec §4.2.3): `type:u8 channel:u16 size:u32 payload frame-end(0xCE)`.
//!
//! Decoding is sans-io: hand it the bytes read so far and it returns complete frames.
//! The 7-byte header is checked *before* anything is buffered for the payload, so a
//! size field larger than the negotiated `frame_max` is refused at once instead of
//! making the reader wait for (and buffer) gigabytes.

use bytes::{Buf, BufMut, Bytes, BytesMut};

pub const FRAME_METHOD: u8 = 1;
pub const FRAME_HEADER: u8 = 2;
pub const FRAME_BODY: u8 = 3;
pub const FRAME_HEARTBEAT: u8 = 8;
pub const FRAME_END: u8 = 0xCE;

/// Header plus frame-end octet: what a frame costs beyond its payload.
pub const FRAME_OVERHEAD: usize = 8;
/// Type, channel and size: what precedes a payload.
pub const HEADER_LEN: usize = 7;

/// The smallest frame_max a peer may negotiate, and what both peers must accept before
/// tuning (spec §4.2.3 "frame-min-size").
pub const FRAME_MIN_SIZE: u32 = 4096;

/// What a 0-9-1 client sends first, and what we answer a wrong protocol header with.
pub const PROTOCOL_HEADER: [u8; 8] = *b"AMQP\x00\x00\x09\x01";

/// A heartbeat frame, ready to write.
pub const HEARTBEAT_FRAME: [u8; 8] = [FRAME_HEARTBEAT, 0, 0, 0, 0, 0, 0, FRAME_END];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrameType {
    Method,
    Header,
    Body,
    Heartbeat,
}

impl FrameType {
    fn from_octet(b: u8) -> Option<Self> {
        Some(match b {
            FRAME_METHOD => Self::Method,
            FRAME_HEADER => Self::Header,
            FRAME_BODY => Self::Body,
            FRAME_HEARTBEAT => Self::Heartbeat,
            _ => return None,
        })
    }
}

/// One complete frame. The payload shares the read buffer (no copy).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    pub channel: u16,
    pub kind: FrameType,
    pub payload: Bytes,
}

/// Fatal framing errors: the stream can no longer be trusted to be in sync, so each of
/// them closes the connection with 501 FRAME_ERROR.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    #[error("unknown frame type {0}")]
    UnknownType(u8),
    #[error("frame of {size} bytes exceeds frame_max {max}")]
    TooLarge { size: u64, max: u32 },
    #[error("frame end octet was {0:#04x}, expected 0xce")]
    BadFrameEnd(u8),
    #[error("heartbeat frame on channel {0} (must be 0) or with a payload")]
    BadHeartbeat(u16),
}

/// The header of a complete frame at the front of a buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameHead {
    pub kind: FrameType,
    pub channel: u16,
    /// Payload length.
    pub size: usize,
}

impl FrameHead {
    /// Bytes the whole frame occupies, header and frame-end included.
    pub fn total(&self) -> usize {
        self.size + FRAME_OVERHEAD
    }

    /// The payload of this frame, which must be at the front of `buf`.
    pub fn payload<'a>(&self, buf: &'a [u8]) -> &'a [u8] {
        &buf[HEADER_LEN..HEADER_LEN + self.size]
    }
}

/// What [`peek_frame`] found.
#[derive(Debug, PartialEq, Eq)]
pub enum Peeked {
    /// A complete, valid frame is at the front of the buffer.
    Frame(FrameHead),
    /// The buffer holds part of a frame; at least this many bytes in total are needed.
    NeedMore(usize),
}

/// What [`decode_frame`] found.
#[derive(Debug, PartialEq, Eq)]
pub enum Decoded {
    Frame(Frame),
    /// The buffer holds part of a frame; at least this many bytes in total are needed.
    NeedMore(usize),
}

/// Checks the frame at the front of `buf` without consuming it, so that the caller can
/// decode the payload in place (no reference counting, and the read buffer stays
/// reusable). `frame_max` counts the whole frame, header and frame-end included, as
/// the spec defines it.
pub fn peek_frame(buf: &[u8], frame_max: u32) -> Result<Peeked, FrameError> {
    if buf.len() < HEADER_LEN {
        return Ok(Peeked::NeedMore(HEADER_LEN));
    }
    let kind = FrameType::from_octet(buf[0]).ok_or(FrameError::UnknownType(buf[0]))?;
    let channel = u16::from_be_bytes([buf[1], buf[2]]);
    let size = u32::from_be_bytes([buf[3], buf[4], buf[5], buf[6]]);
    let total = u64::from(size) + FRAME_OVERHEAD as u64;
    if total > u64::from(frame_max) {
        return Err(FrameError::TooLarge {
            size: total,
            max: frame_max,
        });
    }
    if kind == FrameType::Heartbeat && (channel != 0 || size != 0) {
        return Err(FrameError::BadHeartbeat(channel));
    }
    // `total <= frame_max <= u32::MAX`, so this fits a usize on every platform we build.
    let total = total as usize;
    if buf.len() < total {
        return Ok(Peeked::NeedMore(total));
    }
    let end = buf[total - 1];
    if end != FRAME_END {
        return Err(FrameError::BadFrameEnd(end));
    }
    Ok(Peeked::Frame(FrameHead {
        kind,
        channel,
        size: size as usize,
    }))
}

/// Takes one frame off the front of `buf`, its payload sharing the buffer.
pub fn decode_frame(buf: &mut BytesMut, frame_max: u32) -> Result<Decoded, FrameError> {
    match peek_frame(buf, frame_max)? {
        Peeked::NeedMore(n) => Ok(Decoded::NeedMore(n)),
        Peeked::Frame(h) => {
            buf.advance(HEADER_LEN);
            let payload = buf.split_to(h.size).freeze();
            buf.advance(1);
            Ok(Decoded::Frame(Frame {
                channel: h.channel,
                kind: h.kind,
                payload,
            }))
        }
    }
}

/// Starts a frame in `out`; returns where it starts, for [`end_frame`].
pub fn begin_frame(out: &mut BytesMut, kind: u8, channel: u16) -> usize {
    let at = out.len();
    out.put_u8(kind);
    out.put_u16(channel);
    out.put_u32(0);
    at
}

/// Completes the frame started at `at`: patches its size and appends the frame end.
pub fn end_frame(out: &mut BytesMut, at: usize) {
    let size = out.len() - at - HEADER_LEN;
    let size = u32::try_from(size).unwrap_or(u32::MAX);
    out[at + 3..at + 7].copy_from_slice(&size.to_be_bytes());
    out.put_u8(FRAME_END);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(kind: u8, channel: u16, payload: &[u8]) -> BytesMut {
        let mut b = BytesMut::new();
        let at = begin_frame(&mut b, kind, channel);
        b.extend_from_slice(payload);
        end_frame(&mut b, at);
        b
    }

    #[test]
    fn decodes_frames_split_anywhere() {
        let mut all = frame(FRAME_METHOD, 1, b"hello");
        all.extend_from_slice(&HEARTBEAT_FRAME);
        for cut in 0..all.len() {
            let mut buf = BytesMut::from(&all[..cut]);
            let mut frames = Vec::new();
            while let Ok(Decoded::Frame(f)) = decode_frame(&mut buf, 4096) {
                frames.push(f);
            }
            buf.extend_from_slice(&all[cut..]);
            while let Ok(Decoded::Frame(f)) = decode_frame(&mut buf, 4096) {
                frames.push(f);
            }
            assert_eq!(frames.len(), 2, "cut at {cut}");
            assert_eq!(&frames[0].payload[..], b"hello");
            assert_eq!(frames[1].kind, FrameType::Heartbeat);
            assert!(buf.is_empty());
        }
    }

    #[test]
    fn oversized_frame_is_refused_from_the_header_alone() {
        let mut buf = BytesMut::from(&[FRAME_BODY, 0, 1, 0x7f, 0xff, 0xff, 0xff][..]);
        assert_eq!(
            decode_frame(&mut buf, 131_072),
            Err(FrameError::TooLarge {
                size: 0x7fff_ffff + 8,
                max: 131_072
            })
        );
    }

    #[test]
    fn bad_frame_end_and_type() {
        let mut f = frame(FRAME_BODY, 1, b"x");
        let last = f.len() - 1;
        f[last] = 0;
        assert_eq!(decode_frame(&mut f, 4096), Err(FrameError::BadFrameEnd(0)));
        let mut g = BytesMut::from(&b"GET / HTTP/1.1\r\n"[..]);
        assert_eq!(
            decode_frame(&mut g, 4096),
            Err(FrameError::UnknownType(b'G'))
        );
    }

    #[test]
    fn heartbeat_must_be_on_channel_zero() {
        let mut f = frame(FRAME_HEARTBEAT, 3, b"");
        assert_eq!(decode_frame(&mut f, 4096), Err(FrameError::BadHeartbeat(3)));
    }
}
