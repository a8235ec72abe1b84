//! The socket halves and the read buffer, with the few operations both the CONNECT
//! exchange and the session need.

use std::io;
use std::time::Duration;

use bytes::BytesMut;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use trident_transport::{ReadHalf, Stream, WriteHalf};

/// Read buffer sizing: start small (idle connections are the majority and should cost
/// little), grow while reads fill the buffer, up to a size that amortises syscalls.
const READ_MIN: usize = 2 * 1024;
const READ_MAX: usize = 256 * 1024;

#[derive(Debug)]
pub(crate) struct Io {
    pub reader: ReadHalf,
    pub writer: WriteHalf,
    pub inbuf: BytesMut,
    read_chunk: usize,
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

    fn prepare_read(&mut self) -> usize {
        let spare = self.inbuf.capacity() - self.inbuf.len();
        if spare < READ_MIN / 2 {
            self.inbuf.reserve(self.read_chunk);
        }
        self.inbuf.capacity() - self.inbuf.len()
    }

    fn after_read(&mut self, n: usize, spare_before: usize) {
        if n == spare_before && self.read_chunk < READ_MAX {
            self.read_chunk *= 2;
        } else if n < self.read_chunk / 8 && self.read_chunk > READ_MIN {
            self.read_chunk /= 2;
        }
    }

    /// Reads what the socket has without waiting (after `readable()`); `Ok(0)` is end
    /// of stream.
    pub fn try_read(&mut self) -> io::Result<usize> {
        let spare = self.prepare_read();
        let n = self.reader.try_read_buf(&mut self.inbuf)?;
        self.after_read(n, spare);
        Ok(n)
    }

    /// Reads once; `Ok(0)` is end of stream.
    pub async fn read_some(&mut self) -> io::Result<usize> {
        let spare = self.prepare_read();
        let n = self.reader.read_buf(&mut self.inbuf).await?;
        self.after_read(n, spare);
        Ok(n)
    }

    /// Drops an empty read buffer of a connection that reads little, so that idle
    /// connections hold none.
    pub fn release_if_empty(&mut self) {
        if self.inbuf.is_empty() && self.inbuf.capacity() > 0 && self.read_chunk <= READ_MIN {
            self.inbuf = BytesMut::new();
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
