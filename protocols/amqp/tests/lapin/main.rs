//! End-to-end tests with a real client (lapin) over TCP against the in-process broker,
//! one module per theme. One test binary: one link, one process.

#![allow(clippy::unwrap_used)]

#[path = "../common/mod.rs"]
mod common;

mod helpers;

mod access;
mod consuming;
mod errors;
mod flow;
mod publishing;
mod queue_features;
mod requeue;
mod routing;
mod rpc;
mod unbind;
mod update_secret;

/// What every theme uses.
mod prelude {
    pub(crate) use crate::common::{SHORT, Server, WAIT, code, next};
    pub(crate) use crate::helpers::*;
    pub(crate) use lapin::options::*;
    pub(crate) use lapin::types::{AMQPValue, FieldTable, LongString, ShortString};
    pub(crate) use lapin::{
        BasicProperties, Channel, Connection, ConnectionProperties, ExchangeKind,
    };
}
