//! Content assembly, per channel (spec §4.2.6): a content-bearing method is followed by
//! exactly one content header and then body frames until the announced size is reached.
//! Anything else in between is a 505 UNEXPECTED_FRAME connection error. Sans-io.

use bytes::{Bytes, BytesMut};

use crate::codec::properties::CLASS_BASIC;
use crate::codec::{ClientMethod, ContentHeader, decode_content_header};
use crate::error::{AmqpError, AmqpResult, code};

/// Bodies smaller than this are copied out of the read buffer into their own
/// allocation. A slice would pin the whole read buffer for as long as the message sits
/// in a queue; for small bodies the copy is cheaper than that waste.
pub const COPY_BELOW: usize = 16 * 1024;

/// A publish whose content is complete.
#[derive(Debug)]
pub struct Content {
    pub method: ClientMethod,
    pub header: ContentHeader,
    pub body: Bytes,
}

/// A body frame's payload: borrowed from the read buffer (copied if kept), or already
/// split off it (kept without a copy).
#[derive(Debug)]
pub enum Payload<'a> {
    Slice(&'a [u8]),
    Shared(Bytes),
}

impl Payload<'_> {
    pub fn as_slice(&self) -> &[u8] {
        match self {
            Payload::Slice(s) => s,
            Payload::Shared(b) => b,
        }
    }
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
enum Stage {
    #[default]
    Idle,
    AwaitHeader,
    AwaitBody,
}

/// The content being assembled. Kept (boxed) between publishes so that a publishing
/// channel allocates it once; a channel that never publishes never does.
#[derive(Debug, Default)]
struct Partial {
    method: Option<ClientMethod>,
    header: ContentHeader,
    body: BytesMut,
}

/// One channel's assembler.
#[derive(Debug, Default)]
pub struct Assembler {
    stage: Stage,
    partial: Option<Box<Partial>>,
}

/// What a frame produced.
#[derive(Debug)]
// Returned by value and consumed at once: boxing would cost an allocation per publish.
#[allow(clippy::large_enum_variant)]
pub enum Assembled {
    /// A method without content.
    Method(ClientMethod),
    /// A content-bearing method with its content complete.
    Content(Content),
    /// More frames are needed.
    Pending,
}

impl Assembler {
    /// Whether a content-bearing method is waiting for its header or body.
    pub fn in_progress(&self) -> bool {
        self.stage != Stage::Idle
    }

    /// Forgets a partial content (channel closed).
    pub fn reset(&mut self) {
        self.stage = Stage::Idle;
        if let Some(p) = self.partial.as_mut() {
            p.method = None;
            p.body = BytesMut::new();
        }
    }

    /// Whether a body frame of `size` bytes would be the whole body (so the caller may
    /// hand it over without a copy).
    pub fn is_whole_body(&self, size: usize) -> bool {
        self.stage == Stage::AwaitBody
            && self
                .partial
                .as_ref()
                .is_some_and(|p| p.body.is_empty() && p.header.body_size == size as u64)
    }

    pub fn on_method(&mut self, method: ClientMethod) -> AmqpResult<Assembled> {
        if self.in_progress() {
            self.reset();
            return Err(AmqpError::unexpected_frame(
                "expected content header or body for class 60, got a method frame instead",
            )
            .during(method.ids()));
        }
        if method.has_content() {
            self.partial.get_or_insert_with(Box::default).method = Some(method);
            self.stage = Stage::AwaitHeader;
            Ok(Assembled::Pending)
        } else {
            Ok(Assembled::Method(method))
        }
    }

    /// `max_body` is the largest body the engine accepts; a header announcing more is
    /// refused before a byte of the body is buffered.
    pub fn on_header(&mut self, payload: &[u8], max_body: u64) -> AmqpResult<Assembled> {
        let (Stage::AwaitHeader, Some(p)) = (self.stage, self.partial.as_mut()) else {
            self.reset();
            return Err(AmqpError::unexpected_frame(
                "expected method frame, got a content header instead",
            ));
        };
        let ids = p.method.as_ref().map(ClientMethod::ids).unwrap_or_default();
        let fail = |this: &mut Self, e: AmqpError| {
            this.reset();
            Err(e.during(ids))
        };
        let header = match decode_content_header(payload) {
            Ok(h) => h,
            Err(e) => return fail(self, e.into()),
        };
        if header.class_id != CLASS_BASIC {
            let e = AmqpError::unexpected_frame(format!(
                "expected content header for class {CLASS_BASIC}, got one for class {} instead",
                header.class_id
            ));
            return fail(self, e);
        }
        if header.body_size > max_body {
            let e = AmqpError::channel(
                code::PRECONDITION_FAILED,
                format!(
                    "message size {} is larger than configured max size {max_body}",
                    header.body_size
                ),
            );
            return fail(self, e);
        }
        p.header = header;
        if p.header.body_size == 0 {
            return Ok(self.complete(Bytes::new()));
        }
        self.stage = Stage::AwaitBody;
        Ok(Assembled::Pending)
    }

    fn complete(&mut self, body: Bytes) -> Assembled {
        self.stage = Stage::Idle;
        let Some(p) = self.partial.as_mut() else {
            return Assembled::Pending;
        };
        match p.method.take() {
            Some(method) => Assembled::Content(Content {
                method,
                header: std::mem::take(&mut p.header),
                body,
            }),
            None => Assembled::Pending,
        }
    }

    pub fn on_body(&mut self, payload: Payload<'_>) -> AmqpResult<Assembled> {
        let (Stage::AwaitBody, Some(p)) = (self.stage, self.partial.as_mut()) else {
            self.reset();
            return Err(AmqpError::unexpected_frame(
                "expected method frame, got a content body instead",
            ));
        };
        let want = p.header.body_size;
        let len = payload.as_slice().len();
        let have = p.body.len() as u64 + len as u64;
        if have > want {
            let ids = p.method.as_ref().map(ClientMethod::ids).unwrap_or_default();
            self.reset();
            return Err(AmqpError::unexpected_frame(format!(
                "content body of {have} bytes exceeds the {want} bytes announced in its header"
            ))
            .during(ids));
        }
        if have == want {
            let body = if p.body.is_empty() {
                // The whole body in one frame: the common case.
                match payload {
                    Payload::Shared(b) if len >= COPY_BELOW => b,
                    other => Bytes::copy_from_slice(other.as_slice()),
                }
            } else {
                p.body.extend_from_slice(payload.as_slice());
                std::mem::take(&mut p.body).freeze()
            };
            return Ok(self.complete(body));
        }
        if p.body.is_empty() {
            // Grow with the data actually received, never by the announced size alone:
            // a header may promise far more than the client ever sends.
            p.body.reserve((want as usize).min(1 << 20));
        }
        p.body.extend_from_slice(payload.as_slice());
        Ok(Assembled::Pending)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::put_content_header;
    use trident_core::Message;

    fn publish() -> ClientMethod {
        ClientMethod::BasicPublish {
            exchange: String::new(),
            routing_key: "q".into(),
            mandatory: false,
            immediate: false,
        }
    }

    fn header(size: usize) -> Vec<u8> {
        let m = Message::new(vec![0u8; size]);
        let mut out = BytesMut::new();
        put_content_header(&mut out, 1, &m);
        out[7..out.len() - 1].to_vec()
    }

    #[test]
    fn assembles_multi_frame_body() {
        let mut a = Assembler::default();
        assert!(matches!(a.on_method(publish()), Ok(Assembled::Pending)));
        assert!(matches!(
            a.on_header(&header(5), 100),
            Ok(Assembled::Pending)
        ));
        assert!(matches!(
            a.on_body(Payload::Slice(b"ab")),
            Ok(Assembled::Pending)
        ));
        match a.on_body(Payload::Shared(Bytes::from_static(b"cde"))) {
            Ok(Assembled::Content(c)) => assert_eq!(&c.body[..], b"abcde"),
            other => panic!("unexpected {other:?}"),
        }
        assert!(!a.in_progress());
    }

    #[test]
    fn assembles_publish_after_publish() {
        let mut a = Assembler::default();
        for body in [&b"one"[..], b"two", b""] {
            let _ = a.on_method(publish());
            let h = a.on_header(&header(body.len()), 100);
            let done = if body.is_empty() {
                h
            } else {
                assert!(a.is_whole_body(body.len()));
                a.on_body(Payload::Slice(body))
            };
            match done {
                Ok(Assembled::Content(c)) => {
                    assert_eq!(&c.body[..], body);
                    assert_eq!(c.header.body_size, body.len() as u64);
                }
                other => panic!("unexpected {other:?}"),
            }
        }
    }

    #[test]
    fn body_without_header_is_unexpected() {
        let mut a = Assembler::default();
        let e = a.on_body(Payload::Slice(b"x")).err();
        assert_eq!(e.map(|e| e.code), Some(code::UNEXPECTED_FRAME));
    }

    #[test]
    fn method_during_content_is_unexpected() {
        let mut a = Assembler::default();
        let _ = a.on_method(publish());
        let e = a.on_method(ClientMethod::TxSelect).err();
        assert_eq!(e.map(|e| e.code), Some(code::UNEXPECTED_FRAME));
    }

    #[test]
    fn too_large_is_refused_at_the_header() {
        let mut a = Assembler::default();
        let _ = a.on_method(publish());
        let e = a.on_header(&header(101), 100).err();
        assert_eq!(e.map(|e| e.code), Some(code::PRECONDITION_FAILED));
    }

    #[test]
    fn empty_body_completes_at_the_header() {
        let mut a = Assembler::default();
        let _ = a.on_method(publish());
        assert!(matches!(
            a.on_header(&header(0), 100),
            Ok(Assembled::Content(_))
        ));
    }

    #[test]
    fn overlong_body_is_refused() {
        let mut a = Assembler::default();
        let _ = a.on_method(publish());
        let _ = a.on_header(&header(2), 100);
        let e = a.on_body(Payload::Slice(b"xyz")).err();
        assert_eq!(e.map(|e| e.code), Some(code::UNEXPECTED_FRAME));
    }
}
