//! The state of one AMQP channel: content assembly, delivery tags and what is still
//! unacknowledged, consumers and their credit, and the publishing mode (plain,
//! confirms, or transactional).

use std::collections::HashMap;
use std::sync::Arc;

use tokio::sync::mpsc;
use trident_core::{ExchangeName, Message, QueueName};
use trident_engine::{Confirm, DeliveryId, Outcome, QueueRef};

use crate::content::Assembler;
use crate::credit::{ChannelCredit, ConsumerCredit};
use crate::unacked::Unacked;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChannelState {
    Open,
    /// We sent `channel.close` and wait for `close-ok`; everything else is dropped
    /// (spec §2.2.4 "closing a channel").
    Closing,
}

/// A delivery the client has not settled yet.
#[derive(Debug)]
pub struct Pending {
    pub queue: QueueRef,
    pub id: DeliveryId,
    /// The engine tag of the consumer it went to (`None` for `basic.get`), so that
    /// settling it can return credit to that consumer.
    pub consumer: Option<Arc<str>>,
}

#[derive(Debug)]
pub struct Consumer {
    /// The tag the client knows.
    pub client_tag: String,
    /// The tag the engine knows: unique across connections, because the engine keys a
    /// queue's consumers by tag and two clients may well pick the same one.
    pub engine_tag: Arc<str>,
    pub queue: QueueRef,
    pub no_ack: bool,
    pub credit: ConsumerCredit,
    /// No-ack consumers: deliveries encoded but not yet written to the socket. Credit
    /// for them is granted back once the write completes, which keeps a slow reader
    /// from buffering a whole queue in our output buffer.
    pub unflushed: u32,
}

/// Publishing mode (`confirm.select` and `tx.select` are mutually exclusive).
#[derive(Debug, Default)]
pub enum Mode {
    #[default]
    Plain,
    Confirm(ConfirmState),
    Tx(TxState),
}

#[derive(Debug)]
pub struct ConfirmState {
    /// Sequence number of the next publish (the first is 1).
    pub next_seq: u64,
    /// Feeds the channel's confirm waiter task, which awaits confirmations in order
    /// and reports them back; the connection turns runs of them into multiple-acks.
    pub waiter: mpsc::UnboundedSender<(u64, Confirm)>,
    /// Highest sequence number acknowledged (or nacked) to the client so far.
    pub acked_upto: u64,
    /// Highest sequence number confirmed by the engine and not yet reported: reported
    /// as one multiple-ack once the current batch of confirmations is handled.
    pub pending_upto: u64,
}

/// A publish held back until `tx.commit`.
#[derive(Debug)]
pub struct TxPublish {
    pub exchange: ExchangeName,
    pub message: Message,
    pub mandatory: bool,
}

#[derive(Debug, Default)]
pub struct TxState {
    pub publishes: Vec<TxPublish>,
    /// Settlements held back until commit: the delivery tag (to restore it on
    /// rollback), what it was, and how the client settled it.
    pub settles: Vec<(u64, Pending, Outcome)>,
}

#[derive(Debug)]
pub struct Channel {
    pub id: u16,
    /// Distinguishes this opening of the channel number from earlier ones, so that late
    /// confirmations of a closed channel never reach its successor.
    pub incarnation: u64,
    pub state: ChannelState,
    pub assembler: Assembler,
    /// The last delivery tag handed out (tags start at 1).
    pub last_tag: u64,
    pub unacked: Unacked<Pending>,
    /// By engine tag.
    pub consumers: HashMap<Arc<str>, Consumer>,
    pub credit: ChannelCredit,
    /// `basic.qos` with `global=false`: the prefetch of consumers started from now on.
    pub consumer_prefetch: u32,
    pub mode: Mode,
    /// The queue most recently declared on this channel: an empty queue name in later
    /// methods refers to it (spec §1.7.2.1 "queue name").
    pub last_queue: Option<QueueName>,
    /// Direct reply-to: the hidden queue behind `amq.rabbitmq.reply-to` for this
    /// channel, while its reply consumer exists.
    pub reply_queue: Option<QueueName>,
    /// The exchange of the previous publish and whether the user may write to it: saves
    /// a name allocation and a permission lookup on every publish of a steady stream.
    pub last_exchange: Option<(String, ExchangeName)>,
    /// The queue behind the routing key of the previous default-exchange publish, for
    /// publisher flow control, with a countdown to the next lookup (a queue deleted
    /// and declared again must not be watched through a stale handle for long).
    pub flow_target: Option<(String, Option<QueueRef>, u32)>,
}

impl Channel {
    pub fn new(id: u16, incarnation: u64) -> Self {
        Self {
            id,
            incarnation,
            state: ChannelState::Open,
            assembler: Assembler::default(),
            last_tag: 0,
            unacked: Unacked::default(),
            consumers: HashMap::new(),
            credit: ChannelCredit::default(),
            consumer_prefetch: 0,
            mode: Mode::Plain,
            last_queue: None,
            reply_queue: None,
            last_exchange: None,
            flow_target: None,
        }
    }

    pub fn next_tag(&mut self) -> u64 {
        self.last_tag += 1;
        self.last_tag
    }

    pub fn consumer_by_client_tag(&self, tag: &str) -> Option<&Consumer> {
        self.consumers.values().find(|c| c.client_tag == tag)
    }
}
