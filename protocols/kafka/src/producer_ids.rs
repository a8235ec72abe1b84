//! Producer ids for idempotent producers (InitProducerId).
//!
//! Ids must never be reused, even across restarts and crashes, or a new producer could
//! be taken for an old one's retry (its batches would be dropped as duplicates or
//! refused as out of order). They come from the engine's durable counter
//! `kafka.producer_id` in blocks of [`BLOCK`], as Kafka's controller hands out blocks
//! of 1000: one metadata commit per block, and a crash skips at most the unused rest of
//! the current block. No clock is involved, so a clock stepped back cannot repeat ids.

use std::ops::Range;
use std::sync::Mutex;

use trident_core::Result;
use trident_engine::Engine;

const COUNTER: &str = "kafka.producer_id";
pub const BLOCK: u64 = 1000;

#[derive(Debug, Default)]
pub struct ProducerIds {
    block: Mutex<Range<u64>>,
}

impl ProducerIds {
    pub fn new() -> Self {
        Self::default()
    }

    /// The next unused producer id.
    pub fn allocate(&self, engine: &Engine) -> Result<i64> {
        // A poisoned lock only means a panic between two range operations; the range
        // is still a valid (possibly exhausted) block.
        let mut block = self.block.lock().unwrap_or_else(|p| p.into_inner());
        if block.is_empty() {
            *block = engine.reserve_ids(COUNTER, BLOCK)?;
        }
        let id = block.start;
        block.start += 1;
        // Producer ids are non-negative i64 on the wire; the counter would need 2^63
        // reservations to get there.
        i64::try_from(id)
            .map_err(|_| trident_core::Error::InvalidArgument("producer ids are exhausted".into()))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use trident_engine::EngineConfig;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn ids_are_unique_across_restarts() {
        let dir = tempfile::tempdir().unwrap();
        let mut seen = std::collections::HashSet::new();
        for _ in 0..3 {
            let engine = Engine::open(EngineConfig::new(dir.path())).await.unwrap();
            let ids = ProducerIds::new();
            for _ in 0..1500 {
                let id = ids.allocate(&engine).unwrap();
                assert!(id >= 0);
                assert!(seen.insert(id), "id {id} handed out twice");
            }
            engine.shutdown().await;
        }
    }
}
