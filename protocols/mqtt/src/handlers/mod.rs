//! One file per packet family: a packet in, replies out, through the engine's API
//! only. Each is an `impl Session` block; the policy parts (CONNECT's rules) are plain
//! functions, tested without sockets.

mod acks;
pub(crate) mod connect;
mod disconnect;
mod publish;
mod subscribe;
mod unsubscribe;
mod will;
