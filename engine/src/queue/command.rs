//! Messages to a queue's owner task.

use std::sync::Arc;

use tokio::sync::oneshot;
use trident_core::{Arrival, ConnectionId, Message, PublisherSeq, Result};

use crate::delivery::{ConsumerOptions, ConsumerSink, Delivery, DeliveryId, Outcome};
use crate::publish::ConfirmTicket;

#[derive(Debug)]
pub(crate) enum QueueCommand {
    Publish {
        message: Arc<Message>,
        /// The bindings of this queue it matched (or how it was put in directly).
        arrival: Arrival,
        ticket: Option<ConfirmTicket>,
        /// The publish's idempotency key: a queue that stored this key already
        /// confirms it without storing it again.
        key: Option<PublisherSeq>,
    },
    Consume {
        opts: ConsumerOptions,
        sink: ConsumerSink,
        reply: oneshot::Sender<Result<()>>,
    },
    Cancel {
        tag: Arc<str>,
        reply: Option<oneshot::Sender<()>>,
    },
    Credit {
        tag: Arc<str>,
        credit: u32,
    },
    Settle {
        ids: Vec<DeliveryId>,
        outcome: Outcome,
        /// Completed once the settlement is applied and its journal record handed to the
        /// OS (a removal that survives `kill -9`).
        written: Option<oneshot::Sender<()>>,
    },
    /// Completes `reply` once at most `limit` messages are ready, or nobody consumes
    /// (publisher flow control waits on it instead of polling the counters).
    WhenShort {
        limit: u64,
        reply: oneshot::Sender<()>,
    },
    Get {
        no_ack: bool,
        owner: ConnectionId,
        reply: oneshot::Sender<Result<Option<Delivery>>>,
    },
    Purge {
        reply: oneshot::Sender<Result<u64>>,
    },
    /// Stop the task and remove its storage. Checks `if_unused`/`if_empty` first.
    Delete {
        if_unused: bool,
        if_empty: bool,
        reply: oneshot::Sender<Result<u64>>,
    },
    /// Replace the idle expiry (`x-expires`).
    SetExpires {
        expires_ms: Option<u64>,
        reply: oneshot::Sender<()>,
    },
    ConnectionClosed {
        conn: ConnectionId,
    },
    /// Stop the task, keeping storage (engine shutdown).
    Shutdown {
        reply: oneshot::Sender<()>,
    },
}
