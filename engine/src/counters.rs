//! Durable id counters: named sequences whose values are never handed out twice, not
//! even across crashes, without trusting the clock.
//!
//! Each counter stores, in the metadata store, the first value not yet reserved. A
//! caller reserves a block of values at once; the new mark is committed (fsynced)
//! before the block is returned, so a crash can only skip the unused rest of a block,
//! never repeat a value. Callers keep the block in memory and come back when it runs
//! out, so the cost is one metadata commit per block, not per id.

use std::ops::Range;
use std::sync::{Arc, Mutex};

use trident_core::{Error, Result};
use trident_storage::{MetaStore, MetaTable};

#[derive(Debug)]
pub(crate) struct Counters {
    meta: Arc<MetaStore>,
    /// Serialises the read-modify-write of a mark (the metadata store serialises
    /// commits, not the read before them).
    lock: Mutex<()>,
}

fn key(name: &str) -> String {
    format!("counter.{name}")
}

impl Counters {
    pub(crate) fn new(meta: Arc<MetaStore>) -> Self {
        Self {
            meta,
            lock: Mutex::new(()),
        }
    }

    /// Reserves `count` consecutive values of counter `name`, durably.
    pub(crate) fn reserve(&self, name: &str, count: u64) -> Result<Range<u64>> {
        if count == 0 || name.is_empty() {
            return Err(Error::InvalidArgument(
                "a reservation needs a counter name and at least one value".into(),
            ));
        }
        // A poisoned lock guards no data of its own; the mark is in the store.
        let _guard = self.lock.lock().unwrap_or_else(|p| p.into_inner());
        let key = key(name);
        let start: u64 = self.meta.get(MetaTable::Settings, &key)?.unwrap_or(0);
        let end = start
            .checked_add(count)
            .ok_or_else(|| Error::InvalidArgument(format!("counter '{name}' is exhausted")))?;
        self.meta.put(MetaTable::Settings, &key, &end)?;
        Ok(start..end)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn blocks_never_overlap_across_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("meta.redb");
        let first = {
            let c = Counters::new(Arc::new(MetaStore::open(&path).unwrap()));
            let a = c.reserve("ids", 10).unwrap();
            let b = c.reserve("ids", 5).unwrap();
            assert_eq!((a.clone(), b.clone()), (0..10, 10..15));
            assert_eq!(
                c.reserve("other", 3).unwrap(),
                0..3,
                "counters are separate"
            );
            b
        };
        let c = Counters::new(Arc::new(MetaStore::open(&path).unwrap()));
        let again = c.reserve("ids", 10).unwrap();
        assert_eq!(again.start, first.end, "a reopened counter continues");
        assert!(c.reserve("ids", 0).is_err());
        assert!(c.reserve("ids", u64::MAX).is_err());
    }
}
