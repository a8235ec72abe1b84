//! The sans-io AMQP 0-9-1 codec: bytes in, frames and methods out; methods and content
//! in, bytes out. No I/O and no engine types beyond the core message model.

pub mod client_methods;
pub mod frame;
pub mod ids;
pub mod properties;
pub mod server_methods;
pub mod table;
pub mod wire;

pub use client_methods::{ClientMethod, MethodError, decode_method};
pub use frame::{
    Decoded, Frame, FrameError, FrameHead, FrameType, Peeked, decode_frame, peek_frame,
};
pub use properties::{ContentHeader, decode_content_header, put_content_header};
pub use server_methods::{ServerMethod, put_body, put_method};
pub use wire::DecodeError;
