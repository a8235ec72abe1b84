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
