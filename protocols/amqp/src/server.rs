//! The listener: accepts TCP connections and runs one task per connection. A
//! connection's failure (or panic) ends that task only.

use std::sync::Arc;

use tokio::sync::watch;
use tokio_util::task::TaskTracker;
use trident_engine::Engine;
use trident_transport::Listener;

use crate::config::AmqpConfig;
use crate::connection::{self, Shared};

/// The AMQP listener with its optional hooks.
#[derive(Debug)]
pub struct AmqpServer {
    engine: Engine,
    config: AmqpConfig,
    alarm: Option<watch::Receiver<Option<String>>>,
}

impl AmqpServer {
    pub fn new(engine: Engine, config: AmqpConfig) -> Self {
        Self {
            engine,
            config,
            alarm: None,
        }
    }

    /// A resource alarm: while it holds `Some(reason)`, publishing connections are
    /// blocked (RabbitMQ's `connection.blocked`, sent to clients that support it) and
    /// their sockets are no longer read; consumers keep receiving.
    pub fn with_resource_alarm(mut self, alarm: watch::Receiver<Option<String>>) -> Self {
        self.alarm = Some(alarm);
        self
    }

    /// Accepts connections until `shutdown` turns true (or its sender goes away), then
    /// asks every connection to close (320 CONNECTION_FORCED) and waits for them.
    /// `listener` is a plain `TcpListener` or a TLS [`Listener`]; TLS handshakes run
    /// in each connection's task.
    pub async fn serve(self, listener: impl Into<Listener>, mut shutdown: watch::Receiver<bool>) {
        let listener: Listener = listener.into();
        // By default the engine's resource alarms (memory, disk) that the broker's
        // monitor raises.
        let alarm = self
            .alarm
            .unwrap_or_else(|| self.engine.alarms().subscribe());
        let shared = Arc::new(Shared {
            engine: self.engine,
            config: self.config,
            alarm,
            shutdown: shutdown.clone(),
        });
        let tracker = TaskTracker::new();
        loop {
            if *shutdown.borrow() {
                break;
            }
            tokio::select! {
                accepted = listener.accept() => match accepted {
                    Ok((stream, peer)) => {
                        let max = shared.config.max_connections;
                        if max > 0 && tracker.len() >= max {
                            tracing::warn!(%peer, max, "AMQP connection refused: connection limit reached");
                            drop(stream);
                            continue;
                        }
                        let shared = shared.clone();
                        tracker.spawn(connection::run(stream, peer, shared));
                    }
                    Err(e) => {
                        // Running out of file descriptors is the usual cause; pausing
                        // lets some connections end instead of spinning on accept.
                        tracing::warn!(error = %e, "AMQP accept failed");
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
        drop(listener);
        tracker.close();
        tracker.wait().await;
    }
}

/// Serves AMQP 0-9-1 on `listener` until `shutdown` turns true.
pub async fn serve(
    listener: impl Into<Listener>,
    engine: Engine,
    config: AmqpConfig,
    shutdown: watch::Receiver<bool>,
) {
    AmqpServer::new(engine, config)
        .serve(listener, shutdown)
        .await;
}
