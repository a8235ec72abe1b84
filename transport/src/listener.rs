//! A listening socket with an optional TLS acceptor.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;

use crate::stream::Stream;

/// How long a client gets to complete the TLS handshake (RabbitMQ's handshake_timeout
/// is 5 s; a little more room for slow links).
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// A TCP listener, plain or TLS.
#[derive(Debug)]
pub struct Listener {
    tcp: TcpListener,
    tls: Option<Arc<rustls::ServerConfig>>,
    handshake_timeout: Duration,
}

/// An accepted TCP connection whose TLS handshake (if any) has not run yet.
#[derive(Debug)]
pub struct Incoming {
    tcp: TcpStream,
    tls: Option<(Arc<rustls::ServerConfig>, Duration)>,
}

#[derive(Debug, thiserror::Error)]
pub enum HandshakeError {
    #[error("TLS handshake failed: {0}")]
    Failed(io::Error),
    #[error("TLS handshake not completed within {0:?}")]
    TimedOut(Duration),
}

impl Listener {
    pub fn plain(tcp: TcpListener) -> Self {
        Self {
            tcp,
            tls: None,
            handshake_timeout: HANDSHAKE_TIMEOUT,
        }
    }

    pub fn tls(tcp: TcpListener, config: Arc<rustls::ServerConfig>) -> Self {
        Self {
            tcp,
            tls: Some(config),
            handshake_timeout: HANDSHAKE_TIMEOUT,
        }
    }

    /// A shorter or longer bound for the handshake (tests use a short one).
    pub fn with_handshake_timeout(mut self, timeout: Duration) -> Self {
        self.handshake_timeout = timeout;
        self
    }

    pub fn is_tls(&self) -> bool {
        self.tls.is_some()
    }

    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.tcp.local_addr()
    }

    /// The next TCP connection; no TLS work is done here.
    pub async fn accept(&self) -> io::Result<(Incoming, SocketAddr)> {
        let (tcp, peer) = self.tcp.accept().await?;
        let tls = self
            .tls
            .as_ref()
            .map(|a| (a.clone(), self.handshake_timeout));
        Ok((Incoming { tcp, tls }, peer))
    }
}

impl From<TcpListener> for Listener {
    fn from(tcp: TcpListener) -> Self {
        Self::plain(tcp)
    }
}

impl Incoming {
    /// A plain connection (tests and callers that accept sockets themselves).
    pub fn plain(tcp: TcpStream) -> Self {
        Self { tcp, tls: None }
    }

    pub fn is_tls(&self) -> bool {
        self.tls.is_some()
    }

    /// The socket, for options that must be set before any byte moves.
    pub fn tcp(&self) -> &TcpStream {
        &self.tcp
    }

    /// Runs the TLS handshake (when this is a TLS port) and returns the stream. A
    /// plain-text client on a TLS port fails here and its socket is closed (rustls
    /// answers with an alert when it can), which is the clean close clients see.
    pub async fn establish(self) -> Result<Stream, HandshakeError> {
        match self.tls {
            None => Ok(Stream::Plain(self.tcp)),
            Some((config, timeout)) => {
                let acceptor = TlsAcceptor::from(config);
                match tokio::time::timeout(timeout, acceptor.accept(self.tcp)).await {
                    Ok(Ok(tls)) => Ok(Stream::Tls(Box::new(tls))),
                    Ok(Err(e)) => Err(HandshakeError::Failed(e)),
                    Err(_) => Err(HandshakeError::TimedOut(timeout)),
                }
            }
        }
    }
}
