//! Accepted connections for every listener, plain TCP or TLS.
//!
//! A listener is a [`Listener`]: a `TcpListener` plus, for a TLS port, a rustls
//! acceptor. `accept` hands out an [`Incoming`] at once; the TLS handshake runs when the
//! connection's own task calls [`Incoming::establish`], bounded by a timeout, so a slow
//! or garbage handshake costs that connection only and never holds up the accept loop.
//! The result is a [`Stream`] (an `AsyncRead + AsyncWrite`) that the protocol adapters
//! use without knowing whether TLS is underneath.
//!
//! The plain path stays what it was: a `TcpStream` split into tokio's owned halves,
//! with readiness-first reads (an idle connection holds no read buffer). The TLS halves
//! are boxed so that they add one pointer, not their state, to every plain connection.

mod config;
mod listener;
mod stream;

pub use config::{TlsConfigError, TlsFiles, server_config};
pub use listener::{HandshakeError, Incoming, Listener};
pub use stream::{ReadHalf, Stream, WriteHalf};

/// Re-exported so that callers can hold a server configuration without naming rustls.
pub use rustls::ServerConfig;
