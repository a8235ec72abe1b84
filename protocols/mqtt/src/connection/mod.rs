//! One client connection: CONNECT, the session loop, then letting the session go.

mod handshake;
mod io;

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::sync::watch;
use trident_core::ExchangeName;
use trident_engine::{AdapterStore, Engine, Metrics, Vhost};
use trident_transport::Incoming;

use crate::config::MqttConfig;
use crate::registry::Registry;
use crate::session::Session;
use crate::stats::MqttStats;

pub(crate) use handshake::refuse;
pub(crate) use io::Io;

/// What every connection task of one listener shares.
pub(crate) struct Shared {
    pub engine: Engine,
    pub config: MqttConfig,
    pub vhost: Vhost,
    pub exchange: ExchangeName,
    pub registry: Registry,
    /// Durable session state (`session_store`); `None` if the engine could not open it.
    pub store: Option<AdapterStore>,
    /// Idempotency keys for incoming QoS 2 publishes of persistent sessions.
    pub keys: crate::publish_keys::PublishKeys,
    pub stats: Arc<MqttStats>,
    pub shutdown: watch::Receiver<bool>,
}

/// Runs a connection to its end. Never panics on what the peer sends, and whatever
/// happens here stays with this connection.
pub(crate) async fn run(incoming: Incoming, peer: SocketAddr, shared: Arc<Shared>) {
    // Boxed: the handshake's state is needed only until it completes.
    let stream = match Box::pin(incoming.establish()).await {
        Ok(s) => s,
        Err(why) => {
            tracing::info!(%peer, %why, "MQTT over TLS connection closed before CONNECT");
            return;
        }
    };
    // Acknowledgements are small and latency matters more than packet count.
    let _ = stream.set_nodelay(true);
    let metrics = shared.engine.metrics().clone();
    Metrics::add(&metrics.connections_opened, 1);
    let id = shared.engine.next_connection_id();
    let mut io = Io::new(stream);
    match Box::pin(handshake::read_connect(&mut io, &shared.config)).await {
        Ok(connect) => {
            let opened = Box::pin(Session::open(shared.clone(), id, peer, connect, &mut io)).await;
            if let Some(mut session) = opened {
                MqttStats::add(&shared.stats.connections_open, 1);
                MqttStats::add(&shared.stats.connections_total, 1);
                session.run(&mut io).await;
                Box::pin(session.end()).await;
                MqttStats::sub(&shared.stats.connections_open, 1);
            }
        }
        Err(why) => tracing::debug!(%peer, %why, "MQTT connection ended before CONNECT"),
    }
    io.shutdown().await;
    Metrics::add(&metrics.connections_closed, 1);
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    /// Every open connection keeps this future alive; with tens of thousands of idle
    /// connections its size is most of their memory (the goal is under 4 KB per idle
    /// connection in all). Buffers and rarely-live states are boxed to keep it small.
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
            vhost: engine.vhost("/").unwrap(),
            exchange: ExchangeName::new("amq.topic").unwrap(),
            engine: engine.clone(),
            config: MqttConfig::default(),
            registry: Registry::default(),
            store: None,
            keys: Default::default(),
            stats: Arc::default(),
            shutdown: watch::channel(false).1,
        });
        let fut = run(Incoming::plain(stream), peer, shared);
        let size = std::mem::size_of_val(&fut);
        eprintln!(
            "connection future {size} bytes, session {} bytes",
            std::mem::size_of::<Session>()
        );
        let session = std::mem::size_of::<Session>();
        assert!(size <= 2048, "connection future is {size} bytes");
        // Boxed on the heap, but every connection has one.
        assert!(session <= 1024, "session is {session} bytes");
        drop(fut);
        engine.shutdown().await;
    }
}
