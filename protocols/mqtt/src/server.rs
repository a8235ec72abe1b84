//! The listener: accepts TCP connections and runs one task per connection. A
//! connection's failure (or panic) ends that task only.

use std::sync::Arc;

use tokio::sync::watch;
use tokio_util::task::TaskTracker;
use trident_core::ExchangeName;
use trident_engine::Engine;
use trident_transport::Listener;

use crate::config::MqttConfig;
use crate::connection::{self, Shared};
use crate::registry::Registry;
use crate::stats::MqttStats;

/// Why the listener could not start.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("MQTT vhost '{vhost}' cannot be used: {source}")]
    Vhost {
        vhost: String,
        source: trident_core::Error,
    },
    #[error("MQTT exchange '{0}' is not a valid exchange name")]
    Exchange(String),
}

/// The MQTT listener.
#[derive(Debug)]
pub struct MqttServer {
    engine: Engine,
    config: MqttConfig,
    stats: Arc<MqttStats>,
}

impl MqttServer {
    pub fn new(engine: Engine, config: MqttConfig) -> Self {
        Self {
            engine,
            config,
            stats: Arc::default(),
        }
    }

    /// The counters of this listener (for `/metrics`).
    pub fn stats(&self) -> Arc<MqttStats> {
        self.stats.clone()
    }

    /// Accepts connections until `shutdown` turns true (or its sender goes away), then
    /// asks every connection to close (v5: DISCONNECT 0x8B) and waits for them.
    pub async fn serve(
        self,
        listener: impl Into<Listener>,
        shutdown: watch::Receiver<bool>,
    ) -> Result<(), ServeError> {
        self.serve_all(vec![listener.into()], shutdown).await
    }

    /// [`serve`](Self::serve) on several listeners (plain and TLS) that share one
    /// session registry, so a client id taken over on one is seen on the other.
    pub async fn serve_all(
        self,
        listeners: Vec<Listener>,
        shutdown: watch::Receiver<bool>,
    ) -> Result<(), ServeError> {
        let vhost = self
            .engine
            .vhost(&self.config.vhost)
            .map_err(|source| ServeError::Vhost {
                vhost: self.config.vhost.clone(),
                source,
            })?;
        let exchange = ExchangeName::new(&self.config.exchange)
            .map_err(|_| ServeError::Exchange(self.config.exchange.clone()))?;
        let store = match self.engine.adapter_store(crate::session_store::NAMESPACE) {
            Ok(s) => Some(s),
            Err(e) => {
                tracing::error!(error = %e, "MQTT session store unavailable: QoS 2 state will not survive a restart");
                None
            }
        };
        let shared = Arc::new(Shared {
            store,
            engine: self.engine,
            config: self.config,
            vhost,
            exchange,
            registry: Registry::default(),
            keys: Default::default(),
            stats: self.stats,
            shutdown: shutdown.clone(),
        });
        let tracker = TaskTracker::new();
        tracker.spawn(crate::sys::publish_loop(shared.clone(), shutdown.clone()));
        let loops: Vec<_> = listeners
            .into_iter()
            .map(|l| {
                tokio::spawn(accept_loop(
                    l,
                    shared.clone(),
                    tracker.clone(),
                    shutdown.clone(),
                ))
            })
            .collect();
        for l in loops {
            let _ = l.await;
        }
        tracker.close();
        tracker.wait().await;
        Ok(())
    }
}

async fn accept_loop(
    listener: Listener,
    shared: Arc<Shared>,
    tracker: TaskTracker,
    mut shutdown: watch::Receiver<bool>,
) {
    loop {
        if *shutdown.borrow() {
            break;
        }
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    let max = shared.config.max_connections;
                    if max > 0 && tracker.len() > max {
                        tracing::warn!(%peer, max, "MQTT connection refused: connection limit reached");
                        drop(stream);
                        continue;
                    }
                    tracker.spawn(connection::run(stream, peer, shared.clone()));
                }
                Err(e) => {
                    // Running out of file descriptors is the usual cause; pausing
                    // lets some connections end instead of spinning on accept.
                    tracing::warn!(error = %e, "MQTT accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                }
            },
            changed = shutdown.changed() => {
                if changed.is_err() {
                    break;
                }
            }
        }
    }
}

/// Serves MQTT on `listener` until `shutdown` turns true.
pub async fn serve(
    listener: impl Into<Listener>,
    engine: Engine,
    config: MqttConfig,
    shutdown: watch::Receiver<bool>,
) -> Result<(), ServeError> {
    MqttServer::new(engine, config)
        .serve(listener, shutdown)
        .await
}
