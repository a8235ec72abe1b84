//! The connection's read buffer, sized on demand.
//!
//! Idle connections are the majority, so an idle one holds no buffer at all: the
//! reader waits for readiness first and only then makes room. A busy connection's
//! reads grow while they fill the buffer and shrink again when they stop doing so,
//! so a burst of large produce requests does not pin a large buffer forever.

use std::io;

use bytes::BytesMut;
use trident_transport::ReadHalf;

const READ_MIN: usize = 4 * 1024;
const READ_MAX: usize = 256 * 1024;

#[derive(Debug, Default)]
pub(crate) struct ReadBuffer {
    pub buf: BytesMut,
    chunk: usize,
}

impl ReadBuffer {
    pub fn new() -> Self {
        Self {
            buf: BytesMut::new(),
            chunk: READ_MIN,
        }
    }

    /// Gives the buffer back when nothing is pending in it and the connection reads
    /// little; frames already sliced from it keep their part alive until dropped.
    pub fn release_if_idle(&mut self) {
        if self.buf.is_empty() && self.buf.capacity() > 0 && self.chunk <= READ_MIN {
            self.buf = BytesMut::new();
        }
    }

    /// Reads what the socket holds without waiting (call after `readable()`).
    /// `Ok(0)` is end of stream; `WouldBlock` means the readiness was spurious.
    pub fn try_read(&mut self, rd: &mut ReadHalf) -> io::Result<usize> {
        let spare = self.buf.capacity() - self.buf.len();
        if spare < READ_MIN / 2 {
            self.buf.reserve(self.chunk);
        }
        let spare = self.buf.capacity() - self.buf.len();
        let n = rd.try_read_buf(&mut self.buf)?;
        if n == spare && self.chunk < READ_MAX {
            self.chunk *= 2;
        } else if n < self.chunk / 8 && self.chunk > READ_MIN {
            self.chunk /= 2;
        }
        Ok(n)
    }
}
