//! One client connection: the handshake, then the session loop, then cleanup.

mod handshake;
mod io;
mod session;

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::sync::watch;
use trident_engine::{ConnectionInfo, Engine, Metrics};
use trident_transport::Incoming;

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
pub(crate) async fn run(incoming: Incoming, peer: SocketAddr, shared: Arc<Shared>) {
    // Boxed: the handshake's state is needed only until it completes.
    let stream = match Box::pin(incoming.establish()).await {
        Ok(s) => s,
        Err(why) => {
            tracing::info!(%peer, %why, "AMQPS connection closed before AMQP started");
            return;
        }
    };
    // Small frames (acks, confirms, RPC replies) must not wait for Nagle.
    let _ = stream.set_nodelay(true);
    let metrics = shared.engine.metrics().clone();
    Metrics::add(&metrics.connections_opened, 1);
    let id = shared.engine.next_connection_id();
    let mut io = Io::new(stream);
    // Boxed: its state is needed only until the connection is open.
    match Box::pin(handshake::handshake(&mut io, &shared, peer)).await {
        Ok(negotiated) => {
            tracing::debug!(%peer, user = %negotiated.user.name, vhost = %negotiated.vhost.name(), "AMQP connection open");
            // Listed for operators (management API) until this task ends.
            let mut registered = shared.engine.register_connection(ConnectionInfo {
                id,
                protocol: "amqp".into(),
                peer,
                user: Some(negotiated.user.name.clone()),
                vhost: Some(negotiated.vhost.name().to_string()),
                client: negotiated.client_name.clone(),
                connected_at_ms: trident_core::message::now_ms(),
            });
            let mut session = session::Session::new(shared.clone(), id, negotiated);
            session.run(&mut io, &mut registered).await;
            if session.touched_engine() {
                // Requeues what the connection still held and deletes its exclusive
                // queues; skipped for connections that never consumed or declared one
                // (plain publishers), because it visits every queue.
                Box::pin(shared.engine.connection_closed(id)).await;
            }
        }
        Err(why) => tracing::debug!(%peer, %why, "AMQP connection ended during the handshake"),
    }
    io.shutdown().await;
    Metrics::add(&metrics.connections_closed, 1);
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    /// Every open connection keeps this future alive; with 10k idle connections its size
    /// is most of their memory. Buffers and rarely-live states are boxed to keep it small.
    #[tokio::test]
    async fn a_connection_future_stays_small() {
        let dir = tempfile::tempdir().unwrap();
        let engine = Engine::open(trident_engine::EngineConfig::new(dir.path()))
            .await
            .unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let _client = tokio::net::TcpStream::connect(addr).await.unwrap();
        let (stream, peer) = listener.accept().await.unwrap();
        let shared = Arc::new(Shared {
            engine: engine.clone(),
            config: AmqpConfig::default(),
            alarm: watch::channel(None).1,
            shutdown: watch::channel(false).1,
        });
        let fut = run(Incoming::plain(stream), peer, shared);
        let size = std::mem::size_of_val(&fut);
        assert!(size <= 2048, "connection future is {size} bytes");
        drop(fut);
        engine.shutdown().await;
    }
}
