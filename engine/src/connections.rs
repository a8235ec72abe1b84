//! The client connections open right now, for operators: listing them and asking one
//! to close. Adapters register a connection once it is authenticated and keep the
//! returned [`ConnectionHandle`] for its life; dropping the handle unregisters it.
//!
//! Nothing here is on a message path: registering is one map insert per connection.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use tokio::sync::watch;
use trident_core::ConnectionId;

/// What an operator sees of one connection. The adapter fills it in; `protocol` is
/// the adapter's own label, opaque to the engine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectionInfo {
    pub id: ConnectionId,
    pub protocol: String,
    pub peer: SocketAddr,
    pub user: Option<String>,
    pub vhost: Option<String>,
    /// The client's own name for itself (AMQP `connection_name`/product, Kafka
    /// client id, MQTT client identifier), when it gave one.
    pub client: Option<String>,
    pub connected_at_ms: i64,
}

#[derive(Debug)]
struct Entry {
    info: ConnectionInfo,
    close: watch::Sender<Option<String>>,
}

#[derive(Debug, Default)]
pub(crate) struct ConnectionRegistry {
    open: Mutex<BTreeMap<u64, Entry>>,
}

impl ConnectionRegistry {
    pub(crate) fn register(self: &Arc<Self>, info: ConnectionInfo) -> ConnectionHandle {
        let (tx, rx) = watch::channel(None);
        let id = info.id;
        self.lock().insert(id.0, Entry { info, close: tx });
        ConnectionHandle {
            registry: self.clone(),
            id,
            close: rx,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<u64, Entry>> {
        // A panic while holding this lock leaves a consistent map (single inserts and
        // removes); keep serving.
        self.open.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn list(&self) -> Vec<ConnectionInfo> {
        self.lock().values().map(|e| e.info.clone()).collect()
    }

    pub(crate) fn get(&self, id: u64) -> Option<ConnectionInfo> {
        self.lock().get(&id).map(|e| e.info.clone())
    }

    /// Asks the connection to close with `reason`; false if it is not open.
    pub(crate) fn close(&self, id: u64, reason: &str) -> bool {
        match self.lock().get(&id) {
            Some(e) => {
                e.close.send_replace(Some(reason.to_string()));
                true
            }
            None => false,
        }
    }

    /// Asks every connection to `vhost` to close (the vhost is being deleted).
    pub(crate) fn close_vhost(&self, vhost: &str, reason: &str) {
        for e in self.lock().values() {
            if e.info.vhost.as_deref() == Some(vhost) {
                e.close.send_replace(Some(reason.to_string()));
            }
        }
    }
}

/// A registered connection. Poll [`closed`](Self::closed) beside the socket to learn
/// that an operator asked for it to close.
#[derive(Debug)]
pub struct ConnectionHandle {
    registry: Arc<ConnectionRegistry>,
    id: ConnectionId,
    close: watch::Receiver<Option<String>>,
}

impl ConnectionHandle {
    pub fn id(&self) -> ConnectionId {
        self.id
    }

    /// Resolves with the operator's reason once a close was asked for; never resolves
    /// otherwise. Cancel-safe.
    pub async fn closed(&mut self) -> String {
        let reason = match self.close.wait_for(Option::is_some).await {
            Ok(reason) => reason.clone(),
            Err(_) => None,
        };
        match reason {
            Some(r) => r,
            // The sender lives in the registry as long as the handle does; if it were
            // gone, nobody could ask any more.
            None => std::future::pending().await,
        }
    }

    /// Records the client's name for itself once it is known.
    pub fn set_client(&self, client: &str) {
        if let Some(e) = self.registry.lock().get_mut(&self.id.0) {
            e.info.client = Some(client.to_string());
        }
    }

    /// Records the user (after a late authentication, as Kafka SASL is).
    pub fn set_user(&self, user: &str) {
        if let Some(e) = self.registry.lock().get_mut(&self.id.0) {
            e.info.user = Some(user.to_string());
        }
    }
}

impl Drop for ConnectionHandle {
    fn drop(&mut self) {
        self.registry.lock().remove(&self.id.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(id: u64, vhost: &str) -> ConnectionInfo {
        ConnectionInfo {
            id: ConnectionId(id),
            protocol: "test".into(),
            peer: SocketAddr::from(([127, 0, 0, 1], 1000)),
            user: Some("u".into()),
            vhost: Some(vhost.into()),
            client: None,
            connected_at_ms: 0,
        }
    }

    #[tokio::test]
    async fn a_closed_connection_learns_the_reason_and_a_dropped_one_is_gone() {
        let reg = Arc::new(ConnectionRegistry::default());
        let mut a = reg.register(info(1, "/"));
        let b = reg.register(info(2, "other"));
        assert_eq!(reg.list().len(), 2);
        assert!(reg.close(1, "by operator"));
        assert_eq!(a.closed().await, "by operator");
        drop(b);
        assert_eq!(reg.list().len(), 1);
        assert!(!reg.close(2, "gone"));
    }
}
