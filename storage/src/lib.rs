//! Trident's storage: partition logs ([`SegmentLog`]), the disk side of durable queues
//! ([`QueueStore`]) and the metadata store ([`MetaStore`]).
//!
//! Everything here is synchronous `std::fs` I/O. The engine owns one handle per
//! partition or queue inside that entity's task and decides where blocking calls run.
//! Each type documents its durability contract; the common rule is that writes reach
//! the OS immediately (surviving a process crash) and survive power loss once the
//! type's `sync` (or, for [`MetaStore`], the call itself) has returned.

mod entry;
mod error;
mod fsutil;
mod index;
mod journal;
mod log;
pub mod message_codec;
mod meta;
mod queue_index;
mod queue_store;
mod segment;
mod seq_set;

pub use error::{Result, StorageError};
pub use log::{BatchPrefix, LogConfig, SegmentLog};
pub use message_codec::{
    CodecError, decode_arrival, decode_message, encode_arrival, encode_message,
};
pub use meta::{MetaOp, MetaStore, MetaTable};
pub use queue_store::{QueueStore, QueueStoreConfig, Recovered, StoredMessage};
