//! The log's record format, shared by every reader and writer of a log: the record
//! batch v2 layout (KIP-98) with its header, CRC and compression, the varints it is
//! built from, and the one mapping between a [`trident_core::Message`] and a record.
//!
//! Sans-io: nothing here touches a socket, a file or the engine. The engine stores
//! batches in this format; the Kafka adapter hands them to clients unchanged; stream
//! queues and forwarding tasks read and write records through [`record`] and
//! [`message`].

mod b64;
pub mod batch;
pub mod compression;
pub mod crossing;
pub mod message;
pub mod record;
pub mod varint;

pub use batch::{BatchError, BatchHeader, Compression, ProducerSeq};
pub use message::{from_record, to_record};
pub use record::{NewRecord, Record, RecordError};
