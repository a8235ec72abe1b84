//! The channel table: opening, closing and tearing down channels, and the index from
//! engine consumer tags back to channels.

use std::collections::HashMap;
use std::sync::Arc;

use trident_engine::Outcome;

use super::Session;
use crate::channel::{Channel, ChannelState, Mode};
use crate::codec::ServerMethod;
use crate::error::{AmqpError, AmqpResult};

#[derive(Default)]
pub(super) struct Channels {
    /// Indexed by channel number. Boxed: a client may open channel 2047 first, and the
    /// gaps should cost a pointer.
    table: Vec<Option<Box<Channel>>>,
    next_incarnation: u64,
    /// Engine consumer tag -> channel number.
    pub consumer_index: HashMap<Arc<str>, u16>,
    /// Makes engine consumer tags unique within the connection.
    pub next_consumer: u64,
}

impl Channels {
    pub fn get(&self, ch: u16) -> Option<&Channel> {
        self.table.get(usize::from(ch)).and_then(Option::as_deref)
    }

    pub fn get_mut(&mut self, ch: u16) -> Option<&mut Channel> {
        self.table
            .get_mut(usize::from(ch))
            .and_then(Option::as_deref_mut)
    }

    pub fn state(&self, ch: u16) -> Option<ChannelState> {
        self.get(ch).map(|c| c.state)
    }

    pub fn iter_mut(&mut self) -> impl Iterator<Item = &mut Channel> {
        self.table.iter_mut().flatten().map(|c| &mut **c)
    }

    fn open(&mut self, ch: u16) {
        let idx = usize::from(ch);
        if self.table.len() <= idx {
            self.table.resize_with(idx + 1, || None);
        }
        self.next_incarnation += 1;
        self.table[idx] = Some(Box::new(Channel::new(ch, self.next_incarnation)));
    }

    fn forget(&mut self, ch: u16) {
        if let Some(slot) = self.table.get_mut(usize::from(ch)) {
            *slot = None;
        }
        while matches!(self.table.last(), Some(None)) {
            self.table.pop();
        }
    }
}

impl Session {
    pub(super) fn channel_state(&self, ch: u16) -> Option<ChannelState> {
        self.channels.state(ch)
    }

    pub(super) fn channel_mut(&mut self, ch: u16) -> Option<&mut Channel> {
        self.channels.get_mut(ch)
    }

    /// The open channel `ch` (handlers are only called for open channels).
    pub(super) fn open_channel(&mut self, ch: u16) -> AmqpResult<&mut Channel> {
        match self.channels.get_mut(ch) {
            Some(c) if c.state == ChannelState::Open => Ok(c),
            _ => Err(AmqpError::channel_error(format!(
                "channel {ch} is not open"
            ))),
        }
    }

    pub(super) fn open_new_channel(&mut self, ch: u16) {
        self.channels.open(ch);
        self.send(ch, &ServerMethod::ChannelOpenOk);
    }

    pub(super) fn forget_channel(&mut self, ch: u16) {
        self.channels.forget(ch);
    }

    /// Closes a channel on an error of ours: `channel.close`, then we wait for
    /// close-ok while dropping whatever else arrives for it.
    pub(super) async fn close_channel_with(&mut self, ch: u16, e: AmqpError) {
        if self.channel_state(ch) != Some(ChannelState::Open) {
            return;
        }
        self.send(
            ch,
            &ServerMethod::ChannelClose {
                reply_code: e.code,
                reply_text: &e.reply_text(),
                class_id: e.class_id,
                method_id: e.method_id,
            },
        );
        if let Some(c) = self.channel_mut(ch) {
            c.state = ChannelState::Closing;
        }
        self.teardown_channel(ch).await;
    }

    /// Releases what a channel holds: its consumers are cancelled, unsettled
    /// deliveries go back to their queues, pending transactions are dropped.
    pub(super) async fn teardown_channel(&mut self, ch: u16) {
        let Some(c) = self.channel_mut(ch) else {
            return;
        };
        c.assembler.reset();
        let consumers: Vec<_> = c.consumers.drain().map(|(_, v)| v).collect();
        let mut pending: Vec<_> = c.unacked.take_all().into_iter().map(|(_, p)| p).collect();
        if let Mode::Tx(tx) = std::mem::take(&mut c.mode) {
            pending.extend(tx.settles.into_iter().map(|(_, p, _)| p));
        }
        c.reply_queue = None;
        c.credit = Default::default();
        for consumer in consumers {
            self.channels.consumer_index.remove(&consumer.engine_tag);
            // The queue may be gone already; then there is nothing to cancel.
            let _ = consumer.queue.cancel(consumer.engine_tag.clone()).await;
        }
        for p in pending {
            self.settle_later(&p.queue, p.id, Outcome::Requeue);
        }
        self.flush_engine_ops().await;
    }
}
