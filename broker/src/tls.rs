//! TLS for the listeners: the server configuration from `tls.*`, and the HTTPS
//! listener that axum serves.

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use tokio::sync::{mpsc, watch};
use trident_config::Config;
use trident_transport::{Listener, ServerConfig, Stream, TlsFiles};

/// The rustls configuration for the broker protocols and, with `http/1.1` offered by
/// ALPN, for HTTPS. `None` when no listener uses TLS.
pub fn server_configs(config: &Config) -> anyhow::Result<Option<TlsConfigs>> {
    if !trident_config::TlsSettings::any_listener(config) {
        return Ok(None);
    }
    let t = &config.tls;
    let files = TlsFiles {
        cert_file: t.cert_file.clone().unwrap_or_default(),
        key_file: t.key_file.clone().unwrap_or_default(),
        ca_file: t.ca_file.clone(),
        require_client_cert: t.require_client_cert,
    };
    let protocols = trident_transport::server_config(&files, &[]).context("TLS settings")?;
    let http = trident_transport::server_config(&files, &[b"http/1.1"]).context("TLS settings")?;
    Ok(Some(TlsConfigs { protocols, http }))
}

#[derive(Debug, Clone)]
pub struct TlsConfigs {
    pub protocols: Arc<ServerConfig>,
    pub http: Arc<ServerConfig>,
}

/// HTTPS for axum: a task accepts and spawns one handshake task per connection, so a
/// stalled handshake never holds up the next client; finished streams come out of
/// `accept`.
#[derive(Debug)]
pub struct HttpsListener {
    rx: mpsc::Receiver<(Stream, SocketAddr)>,
    local: SocketAddr,
}

impl HttpsListener {
    pub fn spawn(listener: Listener, mut shutdown: watch::Receiver<bool>) -> std::io::Result<Self> {
        let local = listener.local_addr()?;
        let (tx, rx) = mpsc::channel(64);
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    accepted = listener.accept() => match accepted {
                        Ok((incoming, peer)) => {
                            let tx = tx.clone();
                            tokio::spawn(async move {
                                match incoming.establish().await {
                                    Ok(stream) => {
                                        let _ = tx.send((stream, peer)).await;
                                    }
                                    Err(why) => tracing::info!(%peer, %why, "HTTPS connection closed"),
                                }
                            });
                        }
                        Err(e) => {
                            tracing::warn!(error = %e, "HTTPS accept failed");
                            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                        }
                    },
                    () = async { let _ = shutdown.wait_for(|stop| *stop).await; } => break,
                    () = tx.closed() => break,
                }
            }
        });
        Ok(Self { rx, local })
    }
}

impl axum::serve::Listener for HttpsListener {
    type Io = Stream;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.rx.recv().await {
            Some(conn) => conn,
            // The accepting task has stopped (shutdown): nothing more will come.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        Ok(self.local)
    }
}
