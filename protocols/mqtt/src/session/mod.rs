//! An open connection: its state, split by concern.
//!
//! One task runs the whole connection (`event_loop`). It waits on the socket (both
//! directions at once, so a client that writes without reading cannot deadlock us), on
//! deliveries from the engine, on publish confirmations, on the keep-alive deadline,
//! on a takeover and on the broker's shutdown. Bytes in become packets (`input`),
//! packets go to their handler (`dispatch`, then `handlers/`), and everything to send
//! accumulates in one buffer (`output`) that goes out in as few writes as the socket
//! allows. `end` lets the session go: will, session expiry, the engine, the registry.

mod confirms;
mod deliveries;
mod dispatch;
mod end;
mod event_loop;
mod held_out;
mod input;
mod liveness;
mod output;
mod router;

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use tokio::sync::{mpsc, oneshot, watch};
use trident_core::ConnectionId;
use trident_engine::{ConsumerEvent, Delivery, DeliveryId, Outcome, QueueRef};

use crate::codec::{Decoder, ProtocolVersion, Will};
use crate::connection::Shared;
use crate::error::MqttError;
use crate::packet_ids::PacketIds;
use crate::subscriptions::Subscription;
use crate::topic_alias::OutAliases;

pub(crate) use confirms::{Confirmer, Done, PendingAck, StoreWrite};
pub(crate) use liveness::Liveness;
pub(crate) use output::Output;
pub(crate) use router::{Route, Router};

/// Deliveries taken from the engine per loop turn before the socket gets a chance.
const EVENT_BATCH: usize = 256;

/// How a session ended, which decides the will and what the client is told.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum End {
    /// DISCONNECT from the client; `will` for v5's 0x04 Disconnect with Will Message.
    Disconnected { will: bool },
    /// The socket closed or failed without a DISCONNECT.
    Closed,
    /// We refused something the client sent.
    Error(MqttError),
    /// Another connection took the client id ([MQTT-3.1.4-3]).
    TakenOver,
    /// Nothing arrived for 1.5 times the keep alive ([MQTT-3.1.2-22]).
    KeepAlive,
    /// The broker is shutting down.
    Shutdown,
}

impl End {
    /// Whether the will is published ([MQTT-3.1.2-8]: on any close but a normal
    /// DISCONNECT). A broker shutdown publishes none: nothing would deliver it.
    pub fn publishes_will(&self) -> bool {
        !matches!(self, End::Disconnected { will: false } | End::Shutdown)
    }
}

/// One outgoing QoS 1/2 message until the client has acknowledged it.
#[derive(Debug)]
pub(crate) enum OutFlight {
    /// QoS 1, waiting for PUBACK.
    Ack(Held),
    /// QoS 2, waiting for PUBREC.
    Rec(Held),
    /// QoS 2, PUBREL sent, waiting for PUBCOMP (the engine delivery is settled).
    Comp {
        credit: Option<(QueueRef, Arc<str>)>,
        position: Option<u64>,
    },
}

/// An engine delivery we hold for the client.
#[derive(Debug)]
pub(crate) struct Held {
    pub queue: QueueRef,
    pub delivery: DeliveryId,
    pub tag: Arc<str>,
    pub position: Option<u64>,
}

/// A shared subscription: its own queue, consumed by this connection among others.
#[derive(Debug)]
pub(crate) struct SharedSub {
    /// The whole `$share/group/filter`.
    pub full: String,
    pub sub: Subscription,
    pub queue: QueueRef,
    pub tag: Arc<str>,
}

/// What the client told us about itself (v5 CONNECT properties; defaults in 3.x).
#[derive(Debug, Clone, Copy)]
pub(crate) struct PeerLimits {
    /// QoS 1/2 messages it takes in flight at once (capped by `mqtt.max_inflight`).
    pub receive_maximum: u16,
    pub max_packet_size: Option<u32>,
    /// Reason strings and user properties only when it wants them ([MQTT-3.1.2-29]).
    pub problem_information: bool,
}

/// What comes back from the engine: deliveries and publish confirmations, and the
/// settlements and credit waiting to go to queues at the end of the loop turn.
#[derive(Default)]
pub(crate) struct EngineLinks {
    pub events_tx: Option<mpsc::UnboundedSender<ConsumerEvent>>,
    pub events_rx: Option<mpsc::UnboundedReceiver<ConsumerEvent>>,
    pub confirms: Option<Box<Confirmer>>,
    pub settles: Vec<(QueueRef, DeliveryId, Outcome)>,
    pub grants: Vec<(QueueRef, Arc<str>, u32)>,
    /// Whether this connection consumed or declared anything (then the engine must be
    /// told when it closes).
    pub touched: bool,
}

/// Incoming QoS 1/2 state.
#[derive(Debug, Default)]
pub(crate) struct Inbound {
    /// Publishes routed whose confirmation is not back yet.
    pub awaiting: usize,
    /// QoS 2 packet ids routed and not yet released (see `registry::Kept`).
    pub pending_release: HashMap<u16, crate::registry::Qos2In>,
}

pub(crate) struct Session {
    pub shared: Arc<Shared>,
    pub id: ConnectionId,
    pub client_id: Arc<str>,
    pub version: ProtocolVersion,
    pub decoder: Decoder,
    /// Session expiry in seconds: 0 ends the session with the connection, u32::MAX
    /// never (3.x persistent sessions).
    pub expiry: u32,
    /// The session's queue is durable (the session outlives the connection, or it
    /// resumed one that did).
    pub durable: bool,
    pub queue: Option<QueueRef>,
    pub tag: Arc<str>,
    pub subs: Vec<Subscription>,
    pub shared_subs: Vec<SharedSub>,
    pub peer: PeerLimits,
    pub out: Output,
    pub liveness: Liveness,
    pub outbound: PacketIds<OutFlight>,
    /// Deliveries waiting for a free slot in the client's receive window.
    pub waiting: VecDeque<Delivery>,
    /// QoS 0 deliveries written since the output last drained: their credit goes back
    /// once it has.
    pub unflushed: Vec<(QueueRef, Arc<str>)>,
    /// Outgoing QoS 2 packet ids by store position, from an earlier connection.
    pub unreceived: HashMap<u64, u16>,
    /// Store positions of outgoing QoS 2 messages the client has PUBREC'd: one that
    /// comes again (its settlement was lost with a connection or a crash) is settled,
    /// not sent.
    pub released: HashMap<u64, u16>,
    pub inbound: Inbound,
    /// Topic aliases the client set (client to server).
    pub aliases: HashMap<u16, String>,
    /// Topic aliases we set (server to client), when the client allows them.
    pub aliases_out: Option<Box<OutAliases>>,
    pub will: Option<Box<Will>>,
    pub engine: EngineLinks,
    pub kicked: Option<oneshot::Receiver<()>>,
    pub done: Option<oneshot::Sender<()>>,
    pub end: Option<End>,
    /// Packets are waiting in the read buffer while input is paused (output full, or
    /// too many publishes unconfirmed): the loop takes them up once it may, without
    /// waiting for the socket (the client may be waiting for our answers first).
    pub input_pending: bool,
    pub shutdown: watch::Receiver<bool>,
    pub shutdown_live: bool,
    /// The engine's resource alarm (`Some(reason)` while memory or disk is short).
    /// While it is raised, a connection that has published is not read, as RabbitMQ
    /// blocks publishing connections: publishers slow down, nothing is refused or lost.
    pub alarm: watch::Receiver<Option<String>>,
    pub alarm_live: bool,
    /// This connection has sent a PUBLISH: it is held back while an alarm is raised
    /// (subscribers that only consume keep being read, so they keep draining).
    pub published: bool,
    /// Outgoing packets waiting for their QoS 2 records (see `held_out`); boxed, as
    /// only persistent sessions under `durability = fsync` use it.
    pub held_out: Option<Box<held_out::HeldOut>>,
}

impl Session {
    /// Ends the session (the first reason wins).
    pub fn finish(&mut self, end: End) {
        if self.end.is_none() {
            self.end = Some(end);
        }
    }

    pub fn finished(&self) -> bool {
        self.end.is_some()
    }

    /// Queues a settlement for the end of this loop turn.
    pub fn settle_later(&mut self, queue: &QueueRef, id: DeliveryId, outcome: Outcome) {
        self.engine.settles.push((queue.clone(), id, outcome));
    }

    pub fn grant_later(&mut self, queue: &QueueRef, tag: &Arc<str>, n: u32) {
        if let Some(last) = self.engine.grants.last_mut()
            && Arc::ptr_eq(&last.1, tag)
            && std::ptr::eq(last.0.def(), queue.def())
        {
            last.2 += n;
            return;
        }
        self.engine.grants.push((queue.clone(), tag.clone(), n));
    }

    /// Sends the settlements and credit of this turn to their queues. Both go through
    /// the queues' unbounded urgent channels, so this never waits on a busy queue.
    pub async fn flush_engine_ops(&mut self) {
        let settles = std::mem::take(&mut self.engine.settles);
        let mut batch: Vec<(QueueRef, Outcome, Vec<DeliveryId>)> = Vec::new();
        for (q, id, outcome) in settles {
            match batch.last_mut() {
                Some((bq, bo, ids)) if std::ptr::eq(bq.def(), q.def()) && *bo == outcome => {
                    ids.push(id);
                }
                _ => batch.push((q, outcome, vec![id])),
            }
        }
        for (q, outcome, ids) in batch {
            let _ = q.settle(ids, outcome).await;
        }
        for (q, tag, n) in std::mem::take(&mut self.engine.grants) {
            let _ = q.grant(tag, n).await;
        }
    }

    pub fn has_engine_ops(&self) -> bool {
        !self.engine.settles.is_empty() || !self.engine.grants.is_empty()
    }

    /// The adapter store, for a session whose state outlives the connection.
    pub fn durable_store(&self) -> Option<&trident_engine::AdapterStore> {
        self.shared.store.as_ref().filter(|_| self.expiry > 0)
    }

    /// A publisher waits while a resource alarm is raised.
    pub fn held_back(&self) -> bool {
        self.published && self.alarm.borrow().is_some()
    }

    /// The window of outgoing QoS 1/2 messages.
    pub fn window(&self) -> usize {
        usize::from(self.peer.receive_maximum.max(1))
    }
}
