//! What a persistent session keeps in the engine's adapter store (namespace `mqtt`),
//! so that QoS 2 stays exactly once across a broker restart (or `kill -9`). Every
//! write is fsynced (group committed) before it returns.
//!
//! - `qos2in/<len>:<client id>/<packet id>` = `<publisher>:<seq>`: an incoming QoS 2
//!   message about to be routed, or routed and not yet released, with the idempotency
//!   key it is routed with. Written before the message is routed: after a restart a
//!   PUBLISH resent with that id is routed again with the same key, and the queues that
//!   stored the first copy drop it (an empty value, from before keys: acknowledged,
//!   not routed again).
//! - `qos2out/<len>:<client id>/pos/<store position>` = packet id: an outgoing QoS 2
//!   message sent and not yet PUBREC'd; resent after a restart with the same id.
//! - `qos2out/<len>:<client id>/rel/<packet id>` = store position: PUBREC received, a
//!   PUBREL owed. Written before the engine delivery is settled, so a message whose
//!   settlement a crash lost is recognised by its position and not sent again.
//!
//! The length prefix keeps one client's prefix from matching another id that extends
//! it (`a` and `a/b`).

use trident_core::PublisherSeq;
use trident_engine::AdapterStore;

use crate::session::StoreWrite;

pub const NAMESPACE: &str = "mqtt";

fn prefix(client_id: &str) -> String {
    format!("qos2in/{}:{client_id}/", client_id.len())
}

fn key(client_id: &str, packet_id: u16) -> String {
    format!("{}{packet_id}", prefix(client_id))
}

fn out_prefix(client_id: &str) -> String {
    format!("qos2out/{}:{client_id}/", client_id.len())
}

/// The outgoing QoS 2 state of a session.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Outgoing {
    /// Store position -> packet id, sent and not yet PUBREC'd.
    pub sent: Vec<(u64, u16)>,
    /// Packet id -> store position, PUBREL owed.
    pub released: Vec<(u16, u64)>,
}

pub fn outgoing(store: &AdapterStore, client_id: &str) -> Outgoing {
    let p = out_prefix(client_id);
    let rows = match store.scan_prefix(&p) {
        Ok(rows) => rows,
        Err(e) => {
            tracing::warn!(client = client_id, error = %e, "MQTT session state unreadable");
            return Outgoing::default();
        }
    };
    let (mut sent, mut released) = (Vec::new(), Vec::new());
    for (k, v) in rows {
        let value = String::from_utf8_lossy(&v);
        let Some(rest) = k.strip_prefix(&p) else {
            continue;
        };
        if let Some(pos) = rest.strip_prefix("pos/") {
            if let (Ok(pos), Ok(id)) = (pos.parse(), value.parse()) {
                sent.push((pos, id));
            }
        } else if let Some(id) = rest.strip_prefix("rel/")
            && let (Ok(id), Ok(pos)) = (id.parse(), value.parse())
        {
            released.push((id, pos));
        }
    }
    Outgoing { sent, released }
}

/// The record of an outgoing QoS 2 message at `position` sent as `packet_id`, for a
/// batch of the caller's.
pub fn sent_record(client_id: &str, position: u64, packet_id: u16) -> (String, String) {
    (
        format!("{}pos/{position}", out_prefix(client_id)),
        packet_id.to_string(),
    )
}

/// An outgoing QoS 2 message at `position` went out as `packet_id`.
pub fn sent(store: &AdapterStore, client_id: &str, position: u64, packet_id: u16) -> StoreWrite {
    let store = store.clone();
    let (key, value) = sent_record(client_id, position, packet_id);
    tokio::spawn(async move { store.put(&key, value).await })
}

/// PUBREC for `packet_id` (the message at `position`): a PUBREL is owed.
pub fn received(
    store: &AdapterStore,
    client_id: &str,
    packet_id: u16,
    position: Option<u64>,
) -> StoreWrite {
    let mut batch = store.batch();
    let p = out_prefix(client_id);
    if let Some(pos) = position {
        batch.delete(&format!("{p}pos/{pos}"));
    }
    batch.put(
        &format!("{p}rel/{packet_id}"),
        position.map(|p| p.to_string()).unwrap_or_default(),
    );
    tokio::spawn(batch.commit())
}

/// PUBCOMP for `packet_id`: the exchange is over.
pub fn completed(store: &AdapterStore, client_id: &str, packet_id: u16) -> StoreWrite {
    let store = store.clone();
    let key = format!("{}rel/{packet_id}", out_prefix(client_id));
    tokio::spawn(async move { store.delete(&key).await })
}

fn parse_key(value: &[u8]) -> Option<PublisherSeq> {
    let (p, s) = std::str::from_utf8(value).ok()?.split_once(':')?;
    Some(PublisherSeq::new(p.parse().ok()?, s.parse().ok()?))
}

/// The ids recorded for `client_id`, with the keys they were routed with.
pub fn pending_release(store: &AdapterStore, client_id: &str) -> Vec<(u16, Option<PublisherSeq>)> {
    let p = prefix(client_id);
    match store.scan_prefix(&p) {
        Ok(rows) => rows
            .iter()
            .filter_map(|(k, v)| Some((k.strip_prefix(&p)?.parse().ok()?, parse_key(v))))
            .collect(),
        Err(e) => {
            tracing::warn!(client = client_id, error = %e, "MQTT session state unreadable");
            Vec::new()
        }
    }
}

/// An incoming QoS 2 message with `packet_id` is about to be routed with `with`.
pub fn record(
    store: &AdapterStore,
    client_id: &str,
    packet_id: u16,
    with: PublisherSeq,
) -> StoreWrite {
    let (store, key) = (store.clone(), key(client_id, packet_id));
    let value = format!("{}:{}", with.publisher, with.seq);
    tokio::spawn(async move { store.put(&key, value).await })
}

pub fn release(store: &AdapterStore, client_id: &str, packet_id: u16) -> StoreWrite {
    let (store, key) = (store.clone(), key(client_id, packet_id));
    tokio::spawn(async move { store.delete(&key).await })
}

/// Forgets everything of `client_id` (clean start, or the session ended).
pub async fn forget(store: &AdapterStore, client_id: &str) {
    let mut batch = store.batch();
    batch
        .delete_prefix(&prefix(client_id))
        .delete_prefix(&out_prefix(client_id));
    if let Err(e) = batch.commit().await {
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
        let k = PublisherSeq::new(3, 1 << 40);
        record(&store, "a", 7, k).await.unwrap().unwrap();
        record(&store, "a/b", 8, k).await.unwrap().unwrap();
        assert_eq!(pending_release(&store, "a"), vec![(7, Some(k))]);
        store.put(&key("old", 9), Vec::new()).await.unwrap();
        assert_eq!(pending_release(&store, "old"), vec![(9, None)]);
        release(&store, "a", 7).await.unwrap().unwrap();
        assert!(pending_release(&store, "a").is_empty());
        forget(&store, "a/b").await;
        assert!(pending_release(&store, "a/b").is_empty());

        sent(&store, "c", 40, 3).await.unwrap().unwrap();
        sent(&store, "c", 41, 4).await.unwrap().unwrap();
        received(&store, "c", 3, Some(40)).await.unwrap().unwrap();
        let out = outgoing(&store, "c");
        assert_eq!((out.sent, out.released), (vec![(41, 4)], vec![(3, 40)]));
        completed(&store, "c", 3).await.unwrap().unwrap();
        forget(&store, "c").await;
        assert_eq!(outgoing(&store, "c"), Outgoing::default());
        engine.shutdown().await;
    }
}
