//! The sans-io codec: framing, headers, primitive types, messages of every served API,
//! and the record batch header (from `trident-records`). Nothing here touches a socket or the engine.

pub mod api;
pub mod frame;
pub mod header;
pub mod reader;
/// The record batch header and the test batch builder, from the records crate (the log
/// format is the engine's, not the adapter's). Re-exported under the codec's old name.
pub mod record_batch {
    pub use trident_records::batch::*;
    pub use trident_records::record::{TestRecord, build, first_record_at_or_after};
}
pub mod wire;
pub mod writer;

pub use reader::{DecodeError, DecodeResult, Reader};
pub use wire::{RecordSet, Wire};
pub use writer::{Frame, Writer};
