//! The sans-io codec: framing, headers, primitive types, messages of every served API,
//! and the record batch header. Nothing here touches a socket or the engine.

pub mod api;
pub mod compression;
pub mod frame;
pub mod header;
pub mod reader;
pub mod record_batch;
pub mod wire;
pub mod writer;

pub use reader::{DecodeError, DecodeResult, Reader};
pub use wire::{RecordSet, Wire};
pub use writer::{Frame, Writer};
