//! An open connection: its state, split by concern.
//!
//! One task runs the whole connection (`event_loop`). It waits on the socket (both
//! directions at once, so a client that writes without reading cannot deadlock us), on
//! deliveries from the engine, on publisher confirmations, on the heartbeat timer and on
//! the broker's alarm and shutdown signals. Bytes in become frames (`input`), frames go
//! to their channel and method handler (`dispatch`, then one file per AMQP class),
//! and output of all kinds accumulates in one buffer (`output`) that goes out in as few
//! writes as the socket allows.
//!
//! The parts of the state, each with one concern:
//! - `phase`: opening is over; are we closing, finished, and how the socket is let go;
//! - `liveness`: heartbeats both ways;
//! - `gate`: what holds a publisher back (resource alarm, flow control);
//! - `channels`: the channel table and the consumer index;
//! - `engine_ops`: settlements and credit batched on their way to queues, and the
//!   channels deliveries and confirmations come back on.

mod channels;
mod confirms;
mod consume;
mod deliveries;
mod dispatch;
mod engine_ops;
mod event_loop;
mod exchange;
mod gate;
mod input;
mod liveness;
mod output;
mod permissions;
mod phase;
mod publish;
mod queue;
mod settle;

use std::sync::Arc;

use trident_core::ConnectionId;
use trident_engine::{QueueRef, User, Vhost};

use super::Shared;
use super::handshake::{ClientCaps, Negotiated};
use channels::Channels;
use engine_ops::EngineOps;
use gate::PublisherGate;
use liveness::Liveness;
use output::Output;
use permissions::Permissions;
use phase::Phase;

/// Deliveries taken from the engine per loop turn before the socket gets a chance.
const EVENT_BATCH: usize = 256;

pub(crate) struct Session {
    shared: Arc<Shared>,
    id: ConnectionId,
    user: Arc<User>,
    vhost: Vhost,
    perms: Permissions,
    frame_max: u32,
    channel_max: u16,
    caps: ClientCaps,
    /// Largest body the engine accepts; checked against content headers.
    max_body: u64,
    out: Output,
    channels: Channels,
    engine: EngineOps,
    phase: Phase,
    liveness: Liveness,
    gate: PublisherGate,
}

/// Whether two handles name the same queue incarnation. Names alone are not enough:
/// a queue deleted and declared again restarts its delivery ids.
fn same_queue(a: &QueueRef, b: &QueueRef) -> bool {
    std::ptr::eq(a.def(), b.def())
}

impl Session {
    pub fn new(shared: Arc<Shared>, id: ConnectionId, n: Negotiated) -> Self {
        let max_body = shared.engine.config().max_message_bytes as u64;
        let gate = PublisherGate::new(shared.alarm.clone());
        let phase = Phase::new(shared.shutdown.clone());
        let perms = Permissions::new(n.user.clone(), n.vhost.name().to_string());
        let out = Output::new(shared.config.output_high_water);
        Self {
            shared,
            id,
            user: n.user,
            vhost: n.vhost,
            perms,
            frame_max: n.frame_max,
            channel_max: n.channel_max,
            caps: n.caps,
            max_body,
            out,
            channels: Channels::default(),
            engine: EngineOps::default(),
            phase,
            liveness: Liveness::new(n.heartbeat),
            gate,
        }
    }

    pub fn touched_engine(&self) -> bool {
        self.engine.touched
    }

    /// Whether the loop reads more input now.
    fn may_read(&self) -> bool {
        // Once we are closing, only close-ok matters: nothing holds reading back then.
        let held = !self.phase.is_closing() && self.gate.holds_publisher();
        !(self.phase.finished || self.phase.input_pending || held || self.out.is_full())
    }
}
