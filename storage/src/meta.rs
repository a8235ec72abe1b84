//! [`MetaStore`]: topology, users, vhosts, consumer-group offsets, in one redb file.

use std::path::Path;

use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::{Result, StorageError};

/// The kinds of records the metadata store keeps, one redb table each.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MetaTable {
    Vhosts,
    Users,
    Permissions,
    Exchanges,
    Queues,
    Bindings,
    Topics,
    GroupOffsets,
    Settings,
    /// Protocol adapters' own durable state, under namespaced keys; raw byte values.
    AdapterState,
    /// Messages kept per exchange and routing key; values are message-codec bytes.
    Retained,
}

impl MetaTable {
    pub const ALL: [MetaTable; 11] = [
        MetaTable::Vhosts,
        MetaTable::Users,
        MetaTable::Permissions,
        MetaTable::Exchanges,
        MetaTable::Queues,
        MetaTable::Bindings,
        MetaTable::Topics,
        MetaTable::GroupOffsets,
        MetaTable::Settings,
        MetaTable::AdapterState,
        MetaTable::Retained,
    ];

    /// The table's name in the file: part of the on-disk format, never change it.
    pub fn name(self) -> &'static str {
        match self {
            MetaTable::Vhosts => "vhosts",
            MetaTable::Users => "users",
            MetaTable::Permissions => "permissions",
            MetaTable::Exchanges => "exchanges",
            MetaTable::Queues => "queues",
            MetaTable::Bindings => "bindings",
            MetaTable::Topics => "topics",
            MetaTable::GroupOffsets => "group_offsets",
            MetaTable::Settings => "settings",
            MetaTable::AdapterState => "adapter_state",
            MetaTable::Retained => "retained",
        }
    }

    fn def(self) -> TableDefinition<'static, &'static str, &'static [u8]> {
        TableDefinition::new(self.name())
    }
}

/// One operation of an atomic [`MetaStore::write_batch`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MetaOp {
    Put {
        table: MetaTable,
        key: String,
        value: Vec<u8>,
    },
    Delete {
        table: MetaTable,
        key: String,
    },
    /// Removes every key of `table` that starts with `prefix`.
    DeletePrefix {
        table: MetaTable,
        prefix: String,
    },
}

impl MetaOp {
    /// A put of `value` serialized the way [`MetaStore::put`] does it.
    pub fn put<T: Serialize + ?Sized>(
        table: MetaTable,
        key: impl Into<String>,
        value: &T,
    ) -> Result<Self> {
        let key = key.into();
        let value = to_json(&key, value)?;
        Ok(MetaOp::Put { table, key, value })
    }

    /// A put of bytes as they are (for tables whose values are not JSON).
    pub fn put_raw(table: MetaTable, key: impl Into<String>, value: Vec<u8>) -> Self {
        MetaOp::Put {
            table,
            key: key.into(),
            value,
        }
    }

    pub fn delete(table: MetaTable, key: impl Into<String>) -> Self {
        MetaOp::Delete {
            table,
            key: key.into(),
        }
    }

    pub fn delete_prefix(table: MetaTable, prefix: impl Into<String>) -> Self {
        MetaOp::DeletePrefix {
            table,
            prefix: prefix.into(),
        }
    }
}

/// Key-value tables of metadata; values are JSON (metadata is small and not on a hot
/// path, and JSON keeps the file inspectable and tolerant of added fields).
///
/// # Durability contract
/// Every mutating call is one redb write transaction committed with
/// `Durability::Immediate`: when it returns, the change is fsynced and survives power
/// loss; a crash before that leaves the previous state. Commits are atomic (redb keeps
/// two checksummed commit slots and falls back to the last good one), so a
/// [`write_batch`](Self::write_batch) is applied entirely or not at all. Reads see the
/// last committed state. Write transactions are serialized by redb; calls may come from
/// any thread (`&self`).
#[derive(Debug)]
pub struct MetaStore {
    db: Database,
}

fn meta_err(e: impl Into<redb::Error>) -> StorageError {
    StorageError::Meta(e.into())
}

fn to_json<T: Serialize + ?Sized>(key: &str, v: &T) -> Result<Vec<u8>> {
    serde_json::to_vec(v).map_err(|source| StorageError::Serde {
        key: key.to_string(),
        source,
    })
}

fn from_json<T: DeserializeOwned>(key: &str, v: &[u8]) -> Result<T> {
    serde_json::from_slice(v).map_err(|source| StorageError::Serde {
        key: key.to_string(),
        source,
    })
}

impl MetaStore {
    /// Opens (or creates) the database file and makes sure every table exists.
    pub fn open(path: &Path) -> Result<Self> {
        if let Some(parent) = path.parent()
            && !parent.as_os_str().is_empty()
        {
            crate::fsutil::create_dir_durable(parent)?;
        }
        let existed = path.exists();
        let db = Database::create(path).map_err(meta_err)?;
        let txn = db.begin_write().map_err(meta_err)?;
        for t in MetaTable::ALL {
            txn.open_table(t.def()).map_err(meta_err)?;
        }
        txn.commit().map_err(meta_err)?;
        if !existed {
            // redb fsyncs the file, not the directory entry that names it.
            let parent = path
                .parent()
                .filter(|p| !p.as_os_str().is_empty())
                .unwrap_or(Path::new("."));
            crate::fsutil::sync_dir(parent)?;
        }
        Ok(MetaStore { db })
    }

    /// Inserts or replaces `key` in `table`. Durable when it returns.
    pub fn put<T: Serialize + ?Sized>(&self, table: MetaTable, key: &str, value: &T) -> Result<()> {
        self.write_batch(vec![MetaOp::Put {
            table,
            key: key.to_string(),
            value: to_json(key, value)?,
        }])
    }

    /// Removes `key`; returns whether it existed. Durable when it returns.
    pub fn delete(&self, table: MetaTable, key: &str) -> Result<bool> {
        let txn = self.db.begin_write().map_err(meta_err)?;
        let existed = {
            let mut t = txn.open_table(table.def()).map_err(meta_err)?;
            t.remove(key).map_err(meta_err)?.is_some()
        };
        txn.commit().map_err(meta_err)?;
        Ok(existed)
    }

    /// Applies all operations in one atomic, durable commit.
    pub fn write_batch(&self, ops: Vec<MetaOp>) -> Result<()> {
        if ops.is_empty() {
            return Ok(());
        }
        let txn = self.db.begin_write().map_err(meta_err)?;
        for op in &ops {
            match op {
                MetaOp::Put { table, key, value } => {
                    let mut t = txn.open_table(table.def()).map_err(meta_err)?;
                    t.insert(key.as_str(), value.as_slice()).map_err(meta_err)?;
                }
                MetaOp::Delete { table, key } => {
                    let mut t = txn.open_table(table.def()).map_err(meta_err)?;
                    t.remove(key.as_str()).map_err(meta_err)?;
                }
                MetaOp::DeletePrefix { table, prefix } => {
                    let mut t = txn.open_table(table.def()).map_err(meta_err)?;
                    // Keys first, then removals: the range borrows the table.
                    let mut keys = Vec::new();
                    for item in t.range::<&str>(prefix.as_str()..).map_err(meta_err)? {
                        let (k, _) = item.map_err(meta_err)?;
                        if !k.value().starts_with(prefix.as_str()) {
                            break;
                        }
                        keys.push(k.value().to_string());
                    }
                    for k in keys {
                        t.remove(k.as_str()).map_err(meta_err)?;
                    }
                }
            }
        }
        txn.commit().map_err(meta_err)
    }

    pub fn get<T: DeserializeOwned>(&self, table: MetaTable, key: &str) -> Result<Option<T>> {
        let txn = self.db.begin_read().map_err(meta_err)?;
        let t = txn.open_table(table.def()).map_err(meta_err)?;
        match t.get(key).map_err(meta_err)? {
            Some(v) => Ok(Some(from_json(key, v.value())?)),
            None => Ok(None),
        }
    }

    /// The raw bytes stored under `key` (tables whose values are not JSON).
    pub fn get_raw(&self, table: MetaTable, key: &str) -> Result<Option<Vec<u8>>> {
        let txn = self.db.begin_read().map_err(meta_err)?;
        let t = txn.open_table(table.def()).map_err(meta_err)?;
        Ok(t.get(key).map_err(meta_err)?.map(|v| v.value().to_vec()))
    }

    /// Raw entries whose key starts with `prefix`, in byte order of the keys.
    pub fn list_prefix_raw(
        &self,
        table: MetaTable,
        prefix: &str,
    ) -> Result<Vec<(String, Vec<u8>)>> {
        let txn = self.db.begin_read().map_err(meta_err)?;
        let t = txn.open_table(table.def()).map_err(meta_err)?;
        let mut out = Vec::new();
        for item in t.range::<&str>(prefix..).map_err(meta_err)? {
            let (k, v) = item.map_err(meta_err)?;
            let key = k.value();
            if !key.starts_with(prefix) {
                break;
            }
            out.push((key.to_string(), v.value().to_vec()));
        }
        Ok(out)
    }

    /// Every entry of `table`, in byte order of the keys.
    pub fn list<T: DeserializeOwned>(&self, table: MetaTable) -> Result<Vec<(String, T)>> {
        self.list_prefix(table, "")
    }

    /// Entries whose key starts with `prefix`, in byte order of the keys.
    pub fn list_prefix<T: DeserializeOwned>(
        &self,
        table: MetaTable,
        prefix: &str,
    ) -> Result<Vec<(String, T)>> {
        let txn = self.db.begin_read().map_err(meta_err)?;
        let t = txn.open_table(table.def()).map_err(meta_err)?;
        let mut out = Vec::new();
        for item in t.range::<&str>(prefix..).map_err(meta_err)? {
            let (k, v) = item.map_err(meta_err)?;
            let key = k.value();
            if !key.starts_with(prefix) {
                break;
            }
            out.push((key.to_string(), from_json(key, v.value())?));
        }
        Ok(out)
    }
}
