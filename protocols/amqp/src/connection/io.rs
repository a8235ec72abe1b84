//! The socket halves and the read buffer, with the few operations both the handshake
//! and the session need.

use std::io;
use std::time::Duration;

use bytes::BytesMut;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use trident_transport::{ReadHalf, Stream, WriteHalf};

use crate::codec::{Decoded, Frame, FrameError, decode_frame};

/// Read buffer sizing: start small (idle connections are the majority and should cost
/// little), grow while reads fill the buffer, up to a size that amortises syscalls.
const READ_MIN: usize = 4 * 1024;
const READ_MAX: usize = 256 * 1024;

#[derive(Debug)]
pub(crate) struct Io {
    pub reader: ReadHalf,
    pub writer: WriteHalf,
    pub inbuf: BytesMut,
    read_chunk: usize,
}

/// Why reading a frame in the handshake did not produce one.
#[derive(Debug)]
pub(crate) enum ReadError {
    Closed,
    Io(io::Error),
    Frame(FrameError),
}

impl Io {
    pub fn new(stream: Stream) -> Self {
        let (reader, writer) = stream.into_split();
        Self {
            reader,
            writer,
            inbuf: BytesMut::new(),
            read_chunk: READ_MIN,
        }
    }

    /// Makes room for the next read. Called before every read.
    pub fn prepare_read(&mut self) {
        let spare = self.inbuf.capacity() - self.inbuf.len();
        if spare < READ_MIN / 2 {
            self.inbuf.reserve(self.read_chunk);
        }
    }

    /// Adapts the read size to what the last read returned.
    pub fn after_read(&mut self, n: usize, spare_before: usize) {
        if n == spare_before && self.read_chunk < READ_MAX {
            self.read_chunk *= 2;
        } else if n < self.read_chunk / 8 && self.read_chunk > READ_MIN {
            self.read_chunk /= 2;
        }
    }

    pub fn spare(&self) -> usize {
        self.inbuf.capacity() - self.inbuf.len()
    }

    /// Reads what the socket has without waiting (after `readable()`); `Ok(0)` is end
    /// of stream.
    pub fn try_read(&mut self) -> io::Result<usize> {
        self.prepare_read();
        let spare = self.spare();
        let n = self.reader.try_read_buf(&mut self.inbuf)?;
        self.after_read(n, spare);
        Ok(n)
    }

    /// Drops an empty read buffer of a connection that reads little, so that idle
    /// connections hold none. Busy ones keep theirs: it is reused once the frames
    /// sliced from it are gone.
    pub fn release_if_empty(&mut self) {
        if self.inbuf.is_empty() && self.inbuf.capacity() > 0 && self.read_chunk <= READ_MIN {
            self.inbuf = BytesMut::new();
        }
    }

    /// Reads once; `Ok(0)` is end of stream.
    pub async fn read_some(&mut self) -> io::Result<usize> {
        self.prepare_read();
        let spare = self.spare();
        let n = self.reader.read_buf(&mut self.inbuf).await?;
        self.after_read(n, spare);
        Ok(n)
    }

    /// Reads until at least `n` bytes are buffered.
    pub async fn fill(&mut self, n: usize) -> Result<(), ReadError> {
        while self.inbuf.len() < n {
            match self.read_some().await {
                Ok(0) => return Err(ReadError::Closed),
                Ok(_) => {}
                Err(e) => return Err(ReadError::Io(e)),
            }
        }
        Ok(())
    }

    /// The next frame (handshake use; the session decodes from `inbuf` itself).
    pub async fn next_frame(&mut self, frame_max: u32) -> Result<Frame, ReadError> {
        loop {
            match decode_frame(&mut self.inbuf, frame_max) {
                Ok(Decoded::Frame(f)) => return Ok(f),
                Ok(Decoded::NeedMore(n)) => {
                    if self.inbuf.capacity() < n {
                        self.inbuf.reserve(n - self.inbuf.len());
                    }
                    self.fill(n).await?;
                }
                Err(e) => return Err(ReadError::Frame(e)),
            }
        }
    }

    /// Writes all of `out` and clears it.
    pub async fn write_all(&mut self, out: &mut BytesMut) -> io::Result<()> {
        let r = self.writer.write_all(out).await;
        out.clear();
        r
    }

    /// Half-closes the socket after the last bytes are out, with a bound on how long a
    /// peer that does not read can keep us.
    pub async fn shutdown(&mut self) {
        let _ = tokio::time::timeout(Duration::from_secs(1), self.writer.shutdown()).await;
    }
}
