//! What crosses from the engine to a consumer and back: deliveries, settlements and
//! the credit that bounds how much a consumer may have in flight.

use std::sync::Arc;

use trident_core::{Arrival, Message, QueueName};

use crate::queue::QueueRef;

/// Identifies one delivery within one queue. Unique for the queue's lifetime, so a
/// settlement can never hit the wrong message even after requeues.
pub type DeliveryId = u64;

/// A message handed to a consumer (or to `basic.get`).
#[derive(Debug, Clone)]
pub struct Delivery {
    /// The queue it came from; settle through it.
    pub queue: QueueRef,
    /// The consumer tag it was delivered to (empty for `get`).
    pub consumer_tag: Arc<str>,
    pub id: DeliveryId,
    pub message: Arc<Message>,
    /// Set when the message was delivered before (requeued, or recovered after a crash
    /// while it was unacknowledged).
    pub redelivered: bool,
    /// Where the message stands in the queue's store, when it is stored there
    /// (persistent message in a durable queue, or paged out): the same number for the
    /// same message across redeliveries and restarts, so an adapter can key its own
    /// per-message state (a packet id) on it. `None` for messages held only in memory.
    pub position: Option<u64>,
    /// How the message came into the queue: the arguments of the bindings of this
    /// queue it matched (several when overlapping bindings matched it; an adapter
    /// combines them, e.g. the highest granted QoS), or that it was replayed from kept
    /// state. Kept in the queue's store with the message, so it is the same after a
    /// restart. Plain (empty) for messages routed through bindings without arguments.
    pub arrival: Arrival,
    /// For `get`: how many messages remained ready after this one.
    pub remaining: u64,
}

impl Delivery {
    pub fn queue_name(&self) -> &QueueName {
        self.queue.name()
    }
}

/// How a consumer settles a delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Done with it: remove from the queue.
    Ack,
    /// Put it back (at the head) for redelivery with the redelivered flag.
    Requeue,
    /// Refuse it: dead-letter it if the queue has a dead-letter exchange, else drop it.
    Reject,
}

/// What the engine tells a consumer's connection.
#[derive(Debug)]
pub enum ConsumerEvent {
    Deliver(Delivery),
    /// The engine cancelled the consumer (queue deleted). AMQP sends `basic.cancel`.
    Cancelled {
        consumer_tag: Arc<str>,
    },
}

/// Where deliveries go. Unbounded on purpose: what bounds it is the consumer's credit,
/// which the adapter grants as it writes to the socket or as acks arrive. This lets a
/// queue push without ever blocking on one slow consumer.
pub type ConsumerSink = tokio::sync::mpsc::UnboundedSender<ConsumerEvent>;

/// How to attach a consumer to a queue.
#[derive(Debug, Clone)]
pub struct ConsumerOptions {
    pub tag: Arc<str>,
    /// Deliveries count as settled the moment they are sent (AMQP no-ack, MQTT QoS 0).
    pub no_ack: bool,
    /// No other consumer may attach while this one exists.
    pub exclusive: bool,
    pub owner: trident_core::ConnectionId,
    /// How many deliveries the queue may push before the adapter grants more.
    /// `u32::MAX` means unlimited (AMQP prefetch 0 with manual acks).
    pub initial_credit: u32,
}
