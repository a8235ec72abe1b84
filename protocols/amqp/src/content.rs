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
const COPY_BELOW: usize = 16 * 1024;

/// A publish whose content is complete.
#[derive(Debug)]
pub struct Content {
    pub method: ClientMethod,
    pub header: ContentHeader,
    pub body: Bytes,
}

#[derive(Debug, Default)]
enum State {
    #[default]
    Idle,
    AwaitHeader(ClientMethod),
    /// Boxed: a channel spends most of its life idle, and the header is large.
    AwaitBody(Box<Partial>),
}

#[derive(Debug)]
struct Partial {
    method: ClientMethod,
    header: ContentHeader,
    body: BytesMut,
}

/// One channel's assembler.
#[derive(Debug, Default)]
pub struct Assembler {
    state: State,
}

/// What a frame produced.
#[derive(Debug)]
pub enum Assembled {
    /// A method without content.
    Method(ClientMethod),
    /// A content-bearing method with its content complete.
    Content(Box<Content>),
    /// More frames are needed.
    Pending,
}

impl Assembler {
    /// Whether a content-bearing method is waiting for its header or body.
    pub fn in_progress(&self) -> bool {
        !matches!(self.state, State::Idle)
    }

    /// Forgets a partial content (channel closed).
    pub fn reset(&mut self) {
        self.state = State::Idle;
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
            self.state = State::AwaitHeader(method);
            Ok(Assembled::Pending)
        } else {
            Ok(Assembled::Method(method))
        }
    }

    /// `max_body` is the largest body the engine accepts; a header announcing more is
    /// refused before a byte of the body is buffered.
    pub fn on_header(&mut self, payload: &[u8], max_body: u64) -> AmqpResult<Assembled> {
        let method = match std::mem::take(&mut self.state) {
            State::AwaitHeader(m) => m,
            _ => {
                return Err(AmqpError::unexpected_frame(
                    "expected method frame, got a content header instead",
                ));
            }
        };
        let ids = method.ids();
        let header = decode_content_header(payload).map_err(|e| AmqpError::from(e).during(ids))?;
        if header.class_id != CLASS_BASIC {
            return Err(AmqpError::unexpected_frame(format!(
                "expected content header for class {CLASS_BASIC}, got one for class {} instead",
                header.class_id
            ))
            .during(ids));
        }
        if header.body_size > max_body {
            return Err(AmqpError::channel(
                code::PRECONDITION_FAILED,
                format!(
                    "message size {} is larger than configured max size {max_body}",
                    header.body_size
                ),
            )
            .during(ids));
        }
        if header.body_size == 0 {
            return Ok(Assembled::Content(Box::new(Content {
                method,
                header,
                body: Bytes::new(),
            })));
        }
        self.state = State::AwaitBody(Box::new(Partial {
            method,
            header,
            body: BytesMut::new(),
        }));
        Ok(Assembled::Pending)
    }

    pub fn on_body(&mut self, payload: Bytes) -> AmqpResult<Assembled> {
        let State::AwaitBody(mut partial) = std::mem::take(&mut self.state) else {
            return Err(AmqpError::unexpected_frame(
                "expected method frame, got a content body instead",
            ));
        };
        let want = partial.header.body_size;
        let have = partial.body.len() as u64 + payload.len() as u64;
        if have > want {
            return Err(AmqpError::unexpected_frame(format!(
                "content body of {have} bytes exceeds the {want} bytes announced in its header"
            ))
            .during(partial.method.ids()));
        }
        if have == want {
            let Partial {
                method,
                header,
                mut body,
            } = *partial;
            let body = if body.is_empty() {
                // The whole body in one frame: the common case.
                if payload.len() < COPY_BELOW {
                    Bytes::copy_from_slice(&payload)
                } else {
                    payload
                }
            } else {
                body.extend_from_slice(&payload);
                body.freeze()
            };
            return Ok(Assembled::Content(Box::new(Content {
                method,
                header,
                body,
            })));
        }
        if partial.body.is_empty() {
            // Grow with the data actually received, never by the announced size alone:
            // a header may promise far more than the client ever sends.
            partial.body.reserve((want as usize).min(1 << 20));
        }
        partial.body.extend_from_slice(&payload);
        self.state = State::AwaitBody(partial);
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
            a.on_body(Bytes::from_static(b"ab")),
            Ok(Assembled::Pending)
        ));
        match a.on_body(Bytes::from_static(b"cde")) {
            Ok(Assembled::Content(c)) => assert_eq!(&c.body[..], b"abcde"),
            other => panic!("unexpected {other:?}"),
        }
        assert!(!a.in_progress());
    }

    #[test]
    fn body_without_header_is_unexpected() {
        let mut a = Assembler::default();
        let e = a.on_body(Bytes::from_static(b"x")).err();
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
        let e = a.on_body(Bytes::from_static(b"xyz")).err();
        assert_eq!(e.map(|e| e.code), Some(code::UNEXPECTED_FRAME));
    }
}
