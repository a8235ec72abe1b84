//! The accepted stream and its read and write halves.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use bytes::BytesMut;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};

type Tls = tokio_rustls::server::TlsStream<TcpStream>;

/// Room for one TLS record's plaintext (16 KiB), read ahead by [`ReadHalf::readable`].
const STASH: usize = 16 * 1024;

/// A connection as the adapters see it.
#[derive(Debug)]
pub enum Stream {
    Plain(TcpStream),
    Tls(Box<Tls>),
}

impl Stream {
    pub fn is_tls(&self) -> bool {
        matches!(self, Stream::Tls(_))
    }

    pub fn set_nodelay(&self, on: bool) -> io::Result<()> {
        match self {
            Stream::Plain(s) => s.set_nodelay(on),
            Stream::Tls(s) => s.get_ref().0.set_nodelay(on),
        }
    }

    /// Splits into halves that two tasks (or two `select!` branches) can use at once.
    /// The plain halves are tokio's owned halves, as before TLS existed.
    pub fn into_split(self) -> (ReadHalf, WriteHalf) {
        match self {
            Stream::Plain(s) => {
                let (r, w) = s.into_split();
                (ReadHalf::Plain(r), WriteHalf::Plain(w))
            }
            Stream::Tls(s) => {
                let (r, w) = tokio::io::split(*s);
                (
                    ReadHalf::Tls(Box::new(TlsRead {
                        rd: r,
                        stash: BytesMut::new(),
                        eof: false,
                        err: None,
                    })),
                    WriteHalf::Tls(Box::new(TlsWrite {
                        wr: w,
                        accepted: None,
                    })),
                )
            }
        }
    }
}

/// The read half. Adapters wait with [`readable`](Self::readable) and then read with
/// [`try_read_buf`](Self::try_read_buf), so that an idle plain connection holds no
/// buffer. TLS cannot tell readiness apart from reading (a record must be decrypted to
/// know whether it holds application data), so its `readable` reads ahead into a
/// stash that `try_read_buf` hands over.
#[derive(Debug)]
pub enum ReadHalf {
    Plain(OwnedReadHalf),
    Tls(Box<TlsRead>),
}

#[derive(Debug)]
pub struct TlsRead {
    rd: tokio::io::ReadHalf<Tls>,
    stash: BytesMut,
    eof: bool,
    err: Option<io::Error>,
}

impl ReadHalf {
    /// Waits until a read would not block. Cancel-safe: bytes read ahead stay stashed.
    pub async fn readable(&mut self) -> io::Result<()> {
        match self {
            ReadHalf::Plain(r) => r.readable().await,
            ReadHalf::Tls(t) => {
                if !t.stash.is_empty() || t.eof || t.err.is_some() {
                    return Ok(());
                }
                t.stash.reserve(STASH);
                match t.rd.read_buf(&mut t.stash).await {
                    Ok(0) => t.eof = true,
                    Ok(_) => {}
                    // Reported by the next try_read_buf, where the adapters look for it.
                    Err(e) => t.err = Some(e),
                }
                Ok(())
            }
        }
    }

    /// Reads what is available without waiting; `Ok(0)` is end of stream and
    /// `WouldBlock` a spurious readiness.
    pub fn try_read_buf(&mut self, buf: &mut BytesMut) -> io::Result<usize> {
        match self {
            ReadHalf::Plain(r) => r.try_read_buf(buf),
            ReadHalf::Tls(t) => {
                if !t.stash.is_empty() {
                    let n = t.stash.len();
                    if buf.is_empty() {
                        // Hand the stash over instead of copying it.
                        std::mem::swap(buf, &mut t.stash);
                        t.stash.clear();
                    } else {
                        buf.extend_from_slice(&t.stash);
                        t.stash.clear();
                    }
                    return Ok(n);
                }
                if let Some(e) = t.err.take() {
                    return Err(e);
                }
                if t.eof {
                    return Ok(0);
                }
                Err(io::ErrorKind::WouldBlock.into())
            }
        }
    }
}

impl AsyncRead for ReadHalf {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            ReadHalf::Plain(r) => Pin::new(r).poll_read(cx, buf),
            ReadHalf::Tls(t) => {
                if !t.stash.is_empty() {
                    let n = t.stash.len().min(buf.remaining());
                    buf.put_slice(&t.stash.split_to(n));
                    return Poll::Ready(Ok(()));
                }
                if let Some(e) = t.err.take() {
                    return Poll::Ready(Err(e));
                }
                if t.eof {
                    return Poll::Ready(Ok(()));
                }
                Pin::new(&mut t.rd).poll_read(cx, buf)
            }
        }
    }
}

/// The write half.
#[derive(Debug)]
pub enum WriteHalf {
    Plain(OwnedWriteHalf),
    Tls(Box<TlsWrite>),
}

#[derive(Debug)]
pub struct TlsWrite {
    wr: tokio::io::WriteHalf<Tls>,
    /// Bytes rustls took whose records are not on the socket yet.
    accepted: Option<usize>,
}

impl AsyncWrite for WriteHalf {
    /// For TLS a write completes only once its records reach the socket. rustls would
    /// otherwise keep them buffered and report them written, and an adapter that then
    /// waits for the peer (which waits for those bytes) would never flush them. The
    /// adapters retry a pending write with the same bytes (possibly more appended), as
    /// `write_all` and `write_buf` do, which is what makes reporting `n` later sound.
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            WriteHalf::Plain(w) => Pin::new(w).poll_write(cx, buf),
            WriteHalf::Tls(t) => {
                if let Some(n) = t.accepted {
                    ready!(Pin::new(&mut t.wr).poll_flush(cx))?;
                    t.accepted = None;
                    return Poll::Ready(Ok(n.min(buf.len())));
                }
                let n = ready!(Pin::new(&mut t.wr).poll_write(cx, buf))?;
                match Pin::new(&mut t.wr).poll_flush(cx) {
                    Poll::Ready(r) => Poll::Ready(r.map(|()| n)),
                    Poll::Pending => {
                        t.accepted = Some(n);
                        Poll::Pending
                    }
                }
            }
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            WriteHalf::Plain(w) => Pin::new(w).poll_write_vectored(cx, bufs),
            tls => {
                // rustls copies into records anyway; the first non-empty slice is
                // what the default would write too.
                let first = bufs.iter().find(|b| !b.is_empty()).map_or(&[][..], |b| b);
                Pin::new(tls).poll_write(cx, first)
            }
        }
    }

    fn is_write_vectored(&self) -> bool {
        matches!(self, WriteHalf::Plain(_))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            WriteHalf::Plain(w) => Pin::new(w).poll_flush(cx),
            WriteHalf::Tls(t) => Pin::new(&mut t.wr).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            WriteHalf::Plain(w) => Pin::new(w).poll_shutdown(cx),
            WriteHalf::Tls(t) => {
                t.accepted = None;
                // Sends close_notify, then half-closes the socket.
                Pin::new(&mut t.wr).poll_shutdown(cx)
            }
        }
    }
}

impl AsyncRead for Stream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Stream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_write_vectored(cx, bufs),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_write_vectored(cx, bufs),
        }
    }

    fn is_write_vectored(&self) -> bool {
        match self {
            Stream::Plain(s) => s.is_write_vectored(),
            Stream::Tls(s) => s.is_write_vectored(),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_flush(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}
