//! [`AdapterStore`]: durable key-value state for protocol adapters, in the engine's
//! metadata store rather than a second store of their own.
//!
//! An adapter keeps state there that must survive its clients' disconnects and the
//! broker's restarts (`kill -9` included): session records, packet ids of exactly-once
//! exchanges in flight, wills. Each adapter gets a namespace; keys and values are its
//! own business (the engine stores bytes). Writes are group committed (see
//! `meta_writer`) and return once fsynced.

use trident_core::{Error, Result};
use trident_storage::{MetaOp, MetaStore, MetaTable};

use std::sync::Arc;

use crate::meta_writer::MetaWriter;

/// One adapter's namespace in the metadata store. Cheap to clone.
#[derive(Debug, Clone)]
pub struct AdapterStore {
    /// `namespace` + NUL: what every stored key of this namespace starts with.
    prefix: Arc<str>,
    meta: Arc<MetaStore>,
    writer: MetaWriter,
}

/// Writes to commit together: all of them or none (see [`AdapterStore::batch`]).
#[must_use = "a batch does nothing until it is committed"]
#[derive(Debug)]
pub struct AdapterBatch {
    store: AdapterStore,
    ops: Vec<MetaOp>,
}

impl AdapterStore {
    pub(crate) fn new(namespace: &str, meta: Arc<MetaStore>, writer: MetaWriter) -> Result<Self> {
        if namespace.is_empty() || namespace.contains('\u{0}') {
            return Err(Error::InvalidArgument(format!(
                "adapter store namespace {namespace:?} must be non-empty and contain no NUL"
            )));
        }
        Ok(Self {
            prefix: Arc::from(format!("{namespace}\u{0}")),
            meta,
            writer,
        })
    }

    fn full(&self, key: &str) -> String {
        format!("{}{key}", self.prefix)
    }

    /// The committed value of `key`.
    pub fn get(&self, key: &str) -> Result<Option<Vec<u8>>> {
        Ok(self
            .meta
            .get_raw(MetaTable::AdapterState, &self.full(key))?)
    }

    /// Every committed entry whose key starts with `prefix` (keys without the
    /// namespace), in byte order of the keys.
    pub fn scan_prefix(&self, prefix: &str) -> Result<Vec<(String, Vec<u8>)>> {
        let skip = self.prefix.len();
        Ok(self
            .meta
            .list_prefix_raw(MetaTable::AdapterState, &self.full(prefix))?
            .into_iter()
            .map(|(k, v)| (k[skip..].to_string(), v))
            .collect())
    }

    /// Sets `key` to `value`; returns once durable.
    pub async fn put(&self, key: &str, value: impl Into<Vec<u8>>) -> Result<()> {
        let mut b = self.batch();
        b.put(key, value);
        b.commit().await
    }

    /// Removes `key` (absent is fine); returns once durable.
    pub async fn delete(&self, key: &str) -> Result<()> {
        let mut b = self.batch();
        b.delete(key);
        b.commit().await
    }

    /// Removes every key that starts with `prefix`; returns once durable.
    pub async fn delete_prefix(&self, prefix: &str) -> Result<()> {
        let mut b = self.batch();
        b.delete_prefix(prefix);
        b.commit().await
    }

    /// An empty batch of writes.
    pub fn batch(&self) -> AdapterBatch {
        AdapterBatch {
            store: self.clone(),
            ops: Vec::new(),
        }
    }
}

impl AdapterBatch {
    pub fn put(&mut self, key: &str, value: impl Into<Vec<u8>>) -> &mut Self {
        self.ops.push(MetaOp::put_raw(
            MetaTable::AdapterState,
            self.store.full(key),
            value.into(),
        ));
        self
    }

    pub fn delete(&mut self, key: &str) -> &mut Self {
        self.ops.push(MetaOp::delete(
            MetaTable::AdapterState,
            self.store.full(key),
        ));
        self
    }

    /// Removes every key starting with `prefix`, at this point of the batch (a put
    /// after it in the same batch stays).
    pub fn delete_prefix(&mut self, prefix: &str) -> &mut Self {
        self.ops.push(MetaOp::delete_prefix(
            MetaTable::AdapterState,
            self.store.full(prefix),
        ));
        self
    }

    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }

    /// Commits the batch atomically; returns once it is durable (fsynced). Batches
    /// committed concurrently share one fsync.
    pub async fn commit(self) -> Result<()> {
        if self.ops.is_empty() {
            return Ok(());
        }
        self.store.writer.write(self.ops).await
    }
}
