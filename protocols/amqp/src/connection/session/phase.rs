//! Where the connection is in its life after the handshake: open, closing (we sent
//! `connection.close` and wait for close-ok), finished; and how the socket is let go.

use tokio::sync::watch;
use tokio::time::Instant;

use super::Session;
use crate::codec::ServerMethod;
use crate::error::{AmqpError, code};

/// What happens to the socket after the last write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Linger {
    /// Close at once (peer gone, or it answered our close with close-ok).
    None,
    /// We answered the client's close with close-ok: let the client close first, as
    /// RabbitMQ does, so that it reads close-ok before it sees end-of-stream.
    AwaitPeerClose,
    /// We gave up on an unparsable stream: send end-of-stream after the close frame and
    /// discard what still arrives, so that closing does not reset the connection and
    /// destroy the close frame in the peer's receive buffer.
    Drain,
}

pub(super) struct Phase {
    /// Set once we sent `connection.close`: until close-ok or this deadline, only
    /// close and close-ok are processed.
    pub closing: Option<Instant>,
    /// The loop ends at its next turn (after a last flush).
    pub finished: bool,
    pub linger: Linger,
    /// Complete frames are left in the read buffer (we paused while output drained).
    pub input_pending: bool,
    pub shutdown: watch::Receiver<bool>,
    /// False once the shutdown signal fired or its sender went away.
    pub shutdown_live: bool,
}

impl Phase {
    pub fn new(shutdown: watch::Receiver<bool>) -> Self {
        Self {
            closing: None,
            finished: false,
            linger: Linger::None,
            input_pending: false,
            shutdown,
            shutdown_live: true,
        }
    }

    pub fn is_closing(&self) -> bool {
        self.closing.is_some()
    }

    /// The peer closed (or answered our close): the loop ends, letting the peer close
    /// the socket first when `linger` says so.
    pub fn finish(&mut self, linger: Linger) {
        self.finished = true;
        self.linger = linger;
    }
}

impl Session {
    /// Sends `connection.close` and stops processing anything else.
    pub(super) fn close_connection(&mut self, e: AmqpError) {
        if self.phase.closing.is_some() || self.phase.finished {
            return;
        }
        self.send(
            0,
            &ServerMethod::ConnectionClose {
                reply_code: e.code,
                reply_text: &e.reply_text(),
                class_id: e.class_id,
                method_id: e.method_id,
            },
        );
        self.phase.closing = Some(Instant::now() + self.shared.config.close_timeout);
    }

    /// An operator closed the connection (320 CONNECTION_FORCED, as RabbitMQ's
    /// management API and `rabbitmqctl close_connection` send).
    pub(super) fn close_by_operator(&mut self, reason: &str) {
        self.close_connection(AmqpError::connection(
            code::CONNECTION_FORCED,
            format!("broker forced connection closure with reason '{reason}'"),
        ));
    }

    /// The broker is shutting down (320 CONNECTION_FORCED, as RabbitMQ sends).
    pub(super) fn shutdown_now(&mut self) {
        self.close_connection(AmqpError::connection(
            code::CONNECTION_FORCED,
            "broker forced connection closure with reason 'shutdown'",
        ));
    }
}
