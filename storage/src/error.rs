//! The storage crate's error type.

use std::io;
use std::path::{Path, PathBuf};

use trident_core::Offset;

use crate::message_codec::CodecError;

pub type Result<T, E = StorageError> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("I/O error on {}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    /// Data that passed no integrity check where recovery cannot simply cut it off
    /// (a closed segment, a checkpoint file). Torn tails of files being written are not
    /// errors: recovery truncates them.
    #[error("corrupt data in {} at byte {position}: {reason}", path.display())]
    Corrupt {
        path: PathBuf,
        position: u64,
        reason: String,
    },
    #[error("offset {offset} is out of range: the log holds [{start}, {end})")]
    OffsetOutOfRange {
        offset: Offset,
        start: Offset,
        end: Offset,
    },
    #[error("batch of {size} bytes exceeds the maximum of {max}")]
    BatchTooLarge { size: usize, max: usize },
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    #[error("{} is locked by another process or handle", path.display())]
    Locked { path: PathBuf },
    /// A write or fsync failed earlier. After a failed fsync the kernel may have dropped
    /// the dirty pages, so nothing written since the last good sync can be trusted:
    /// the only safe way on is to reopen, which re-validates the files.
    #[error("{} is unusable after an earlier write or sync failure; reopen it", path.display())]
    Poisoned { path: PathBuf },
    #[error("cannot decode stored message: {0}")]
    Codec(#[from] CodecError),
    #[error("metadata store: {0}")]
    Meta(#[from] redb::Error),
    #[error("metadata value for key '{key}': {source}")]
    Serde {
        key: String,
        #[source]
        source: serde_json::Error,
    },
}

impl StorageError {
    pub(crate) fn io(path: impl AsRef<Path>, source: io::Error) -> Self {
        StorageError::Io {
            path: path.as_ref().to_path_buf(),
            source,
        }
    }

    pub(crate) fn corrupt(
        path: impl AsRef<Path>,
        position: u64,
        reason: impl Into<String>,
    ) -> Self {
        StorageError::Corrupt {
            path: path.as_ref().to_path_buf(),
            position,
            reason: reason.into(),
        }
    }

    /// Whether the failure is the disk (or quota) being full: the broker should stop
    /// accepting writes rather than treat the store as broken.
    pub fn is_storage_full(&self) -> bool {
        match self {
            StorageError::Io { source, .. } => is_full(source),
            StorageError::Meta(redb::Error::Io(e)) => is_full(e),
            _ => false,
        }
    }
}

fn is_full(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::StorageFull | io::ErrorKind::QuotaExceeded
    )
}

impl From<StorageError> for trident_core::Error {
    fn from(e: StorageError) -> Self {
        if e.is_storage_full() {
            return trident_core::Error::ResourceExhausted(format!("disk full: {e}"));
        }
        match e {
            // The caller sent something too big: that is the client's fault, not a
            // storage failure, and protocols answer it differently (Kafka
            // MESSAGE_TOO_LARGE, AMQP 406).
            StorageError::BatchTooLarge { size, max } => {
                trident_core::Error::MessageTooLarge { size, max }
            }
            other => trident_core::Error::Storage(other.to_string()),
        }
    }
}
