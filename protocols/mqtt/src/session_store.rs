//! What a persistent session keeps in the engine's adapter store (namespace `mqtt`):
//! the incoming QoS 2 packet ids routed and not yet released, so that a PUBLISH
//! resent after a broker restart (or `kill -9`) is acknowledged and not routed twice.
//! Every write is fsynced (group committed) before it returns.
//!
//! Keys: `qos2in/<len>:<client id>/<packet id>`; the length prefix keeps one client's
//! prefix from matching another id that extends it (`a` and `a/b`).

use trident_engine::AdapterStore;

use crate::session::StoreWrite;

pub const NAMESPACE: &str = "mqtt";

fn prefix(client_id: &str) -> String {
    format!("qos2in/{}:{client_id}/", client_id.len())
}

fn key(client_id: &str, packet_id: u16) -> String {
    format!("{}{packet_id}", prefix(client_id))
}

/// The ids recorded for `client_id`.
pub fn pending_release(store: &AdapterStore, client_id: &str) -> Vec<u16> {
    let p = prefix(client_id);
    match store.scan_prefix(&p) {
        Ok(rows) => rows
            .iter()
            .filter_map(|(k, _)| k.strip_prefix(&p)?.parse().ok())
            .collect(),
        Err(e) => {
            tracing::warn!(client = client_id, error = %e, "MQTT session state unreadable");
            Vec::new()
        }
    }
}

pub fn record(store: &AdapterStore, client_id: &str, packet_id: u16) -> StoreWrite {
    let (store, key) = (store.clone(), key(client_id, packet_id));
    tokio::spawn(async move { store.put(&key, Vec::new()).await })
}

pub fn release(store: &AdapterStore, client_id: &str, packet_id: u16) -> StoreWrite {
    let (store, key) = (store.clone(), key(client_id, packet_id));
    tokio::spawn(async move { store.delete(&key).await })
}

/// Forgets everything of `client_id` (clean start, or the session ended).
pub async fn forget(store: &AdapterStore, client_id: &str) {
    if let Err(e) = store.delete_prefix(&prefix(client_id)).await {
        tracing::warn!(client = client_id, error = %e, "MQTT session state not removed");
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn ids_survive_in_the_store_per_client() {
        let dir = tempfile::tempdir().unwrap();
        let engine = trident_engine::Engine::open(trident_engine::EngineConfig::new(dir.path()))
            .await
            .unwrap();
        let store = engine.adapter_store(NAMESPACE).unwrap();
        record(&store, "a", 7).await.unwrap().unwrap();
        record(&store, "a/b", 8).await.unwrap().unwrap();
        assert_eq!(pending_release(&store, "a"), vec![7]);
        release(&store, "a", 7).await.unwrap().unwrap();
        assert!(pending_release(&store, "a").is_empty());
        forget(&store, "a/b").await;
        assert!(pending_release(&store, "a/b").is_empty());
        engine.shutdown().await;
    }
}
