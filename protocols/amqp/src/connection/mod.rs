//! One client connection: the handshake, then the session loop, then cleanup.

mod handshake;
mod io;
mod session;

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::TcpStream;
use tokio::sync::watch;
use trident_engine::{Engine, Metrics};

use crate::config::AmqpConfig;

pub(crate) use io::Io;

/// What every connection task of one listener shares.
#[derive(Debug)]
pub(crate) struct Shared {
    pub engine: Engine,
    pub config: AmqpConfig,
    pub alarm: watch::Receiver<Option<String>>,
    pub shutdown: watch::Receiver<bool>,
}

/// Runs a connection to its end. Never panics on what the peer sends, and whatever
/// happens here stays with this connection.
pub(crate) async fn run(stream: TcpStream, peer: SocketAddr, shared: Arc<Shared>) {
    // Small frames (acks, confirms, RPC replies) must not wait for Nagle.
    let _ = stream.set_nodelay(true);
    let metrics = shared.engine.metrics().clone();
    Metrics::add(&metrics.connections_opened, 1);
    let id = shared.engine.next_connection_id();
    let mut io = Io::new(stream);
    match handshake::handshake(&mut io, &shared, peer).await {
        Ok(negotiated) => {
            tracing::debug!(%peer, user = %negotiated.user.name, vhost = %negotiated.vhost.name(), "AMQP connection open");
            let mut session = session::Session::new(shared.clone(), id, negotiated);
            session.run(&mut io).await;
            if session.touched_engine() {
                // Requeues what the connection still held and deletes its exclusive
                // queues; skipped for connections that never consumed or declared one
                // (plain publishers), because it visits every queue.
                shared.engine.connection_closed(id).await;
            }
        }
        Err(why) => tracing::debug!(%peer, %why, "AMQP connection ended during the handshake"),
    }
    io.shutdown().await;
    Metrics::add(&metrics.connections_closed, 1);
}
