//! Idempotency keys for incoming QoS 2 publishes of persistent sessions (see
//! `handlers/publish.rs`): the engine's [`PublisherSeq`], recorded with the packet id
//! before the message is routed, so that a PUBLISH the client resends after a crash is
//! routed again with the same key and the queues that stored the first copy drop it.
//!
//! Keys are never reused across restarts and crashes: the sequence numbers come from
//! the engine's durable counter `mqtt.publish_seq` in blocks (one metadata commit per
//! block; a crash skips the unused rest), the publisher id from `mqtt.publisher`, one
//! per broker run. The seq alone is unique; the publisher id says which run tagged it.

use std::ops::Range;
use std::sync::Mutex;

use trident_core::{PublisherSeq, Result};
use trident_engine::Engine;

const PUBLISHER: &str = "mqtt.publisher";
const SEQ: &str = "mqtt.publish_seq";
const BLOCK: u64 = 4096;

#[derive(Debug, Default)]
pub(crate) struct PublishKeys {
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    publisher: Option<u64>,
    block: Range<u64>,
}

impl PublishKeys {
    /// A key no publish has had (a metadata commit once per [`BLOCK`] keys).
    pub fn next(&self, engine: &Engine) -> Result<PublisherSeq> {
        // A poisoned lock only means a panic between two range operations; the state
        // is still valid.
        let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let publisher = match s.publisher {
            Some(p) => p,
            None => {
                let p = engine.reserve_ids(PUBLISHER, 1)?.start;
                s.publisher = Some(p);
                p
            }
        };
        if s.block.is_empty() {
            s.block = engine.reserve_ids(SEQ, BLOCK)?;
        }
        let seq = s.block.start;
        s.block.start += 1;
        Ok(PublisherSeq::new(publisher, seq))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn keys_are_unique_across_restarts() {
        let dir = tempfile::tempdir().unwrap();
        let mut seen = std::collections::HashSet::new();
        for _ in 0..3 {
            let engine = Engine::open(trident_engine::EngineConfig::new(dir.path()))
                .await
                .unwrap();
            let keys = PublishKeys::default();
            for _ in 0..5000 {
                assert!(seen.insert(keys.next(&engine).unwrap()));
            }
            engine.shutdown().await;
        }
    }
}
