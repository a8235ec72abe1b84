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
    /// Set for deliveries read from a topic's log by a stream consumer
    /// ([`crate::Vhost::consume_stream`]): where the record stands, so that the
    /// consumer can resume from there. `None` for queue deliveries.
    pub log: Option<LogPosition>,
}

/// Where a record delivered to a stream consumer stands in its topic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogPosition {
    pub partition: u32,
    pub offset: u64,
    /// How many partitions the topic has (an adapter may name the partition only when
    /// there is more than one).
    pub partitions: u32,
}

/// Where a stream consumer starts reading each partition it reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamStart {
    /// The oldest record still kept.
    First,
    /// The last batch written (it may hold several records), then what follows.
    Last,
    /// Only what is appended after the consumer starts.
    Next,
    /// This offset, clamped to what the partition keeps.
    Offset(u64),
    /// The first record whose batch has a timestamp at or after this (ms since the
    /// epoch); the end of the partition when there is none.
    Timestamp(i64),
}

/// How a stream consumer reads a topic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamReadOptions {
    pub start: StreamStart,
    /// Read one partition only; `None` reads all of them, interleaved.
    pub partition: Option<u32>,
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
