//! Committed offsets of consumer groups (Kafka OffsetCommit/OffsetFetch), kept in
//! memory for reads and written through to the metadata store before a commit is
//! acknowledged, so they survive restarts.

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

use serde::{Deserialize, Serialize};
use trident_core::Result;
use trident_storage::{MetaOp, MetaStore, MetaTable};

/// One committed position.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommittedOffset {
    pub offset: i64,
    /// Opaque client metadata stored with the commit.
    pub metadata: String,
    pub commit_timestamp_ms: i64,
}

type Key = (String, String, u32); // group, topic, partition

/// All groups' committed offsets.
#[derive(Debug)]
pub struct GroupOffsets {
    meta: Arc<MetaStore>,
    map: RwLock<BTreeMap<Key, CommittedOffset>>,
}

fn meta_key(k: &Key) -> String {
    format!("{}\u{0}{}\u{0}{}", k.0, k.1, k.2)
}

fn parse_key(s: &str) -> Option<Key> {
    let mut it = s.split('\u{0}');
    let group = it.next()?.to_string();
    let topic = it.next()?.to_string();
    let partition = it.next()?.parse().ok()?;
    Some((group, topic, partition))
}

impl GroupOffsets {
    pub(crate) fn load(meta: Arc<MetaStore>) -> Result<Self> {
        let mut map = BTreeMap::new();
        for (k, v) in meta.list::<CommittedOffset>(MetaTable::GroupOffsets)? {
            if let Some(key) = parse_key(&k) {
                map.insert(key, v);
            }
        }
        Ok(Self {
            meta,
            map: RwLock::new(map),
        })
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, BTreeMap<Key, CommittedOffset>> {
        self.map.read().unwrap_or_else(|p| p.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, BTreeMap<Key, CommittedOffset>> {
        self.map.write().unwrap_or_else(|p| p.into_inner())
    }

    /// Stores several offsets of one group atomically; durable when it returns.
    pub fn commit(&self, group: &str, offsets: Vec<(String, u32, CommittedOffset)>) -> Result<()> {
        let ops = offsets
            .iter()
            .map(|(t, p, o)| {
                let key = (group.to_string(), t.clone(), *p);
                MetaOp::put(MetaTable::GroupOffsets, meta_key(&key), o)
            })
            .collect::<Result<Vec<_>, _>>()?;
        self.meta.write_batch(ops)?;
        let mut map = self.write();
        for (t, p, o) in offsets {
            map.insert((group.to_string(), t, p), o);
        }
        Ok(())
    }

    pub fn fetch(&self, group: &str, topic: &str, partition: u32) -> Option<CommittedOffset> {
        self.read()
            .get(&(group.to_string(), topic.to_string(), partition))
            .cloned()
    }

    /// Every (topic, partition, offset) a group has committed.
    pub fn group(&self, group: &str) -> Vec<(String, u32, CommittedOffset)> {
        self.read()
            .range((group.to_string(), String::new(), 0)..)
            .take_while(|((g, _, _), _)| g == group)
            .map(|((_, t, p), o)| (t.clone(), *p, o.clone()))
            .collect()
    }

    /// Groups that have committed offsets.
    pub fn groups(&self) -> Vec<String> {
        let mut v: Vec<String> = self.read().keys().map(|(g, _, _)| g.clone()).collect();
        v.dedup();
        v
    }

    /// Removes offsets of a group: all of them, or only those of the given partitions.
    pub fn delete(&self, group: &str, only: Option<&[(String, u32)]>) -> Result<usize> {
        let doomed: Vec<Key> = self
            .group(group)
            .into_iter()
            .filter(|(t, p, _)| only.is_none_or(|o| o.iter().any(|(ot, op)| ot == t && op == p)))
            .map(|(t, p, _)| (group.to_string(), t, p))
            .collect();
        self.remove(&doomed)?;
        Ok(doomed.len())
    }

    /// Drops every group's offsets for a deleted topic.
    pub(crate) fn forget_topic(&self, topic: &str) -> Result<()> {
        let doomed: Vec<Key> = self
            .read()
            .keys()
            .filter(|(_, t, _)| t == topic)
            .cloned()
            .collect();
        self.remove(&doomed)
    }

    /// Deletes keys from the store first, then from memory, so that memory never shows
    /// less than a restart would.
    fn remove(&self, doomed: &[Key]) -> Result<()> {
        if doomed.is_empty() {
            return Ok(());
        }
        let ops = doomed
            .iter()
            .map(|k| MetaOp::delete(MetaTable::GroupOffsets, meta_key(k)))
            .collect();
        self.meta.write_batch(ops)?;
        let mut map = self.write();
        for k in doomed {
            map.remove(k);
        }
        Ok(())
    }
}
