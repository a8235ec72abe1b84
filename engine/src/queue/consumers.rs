//! The consumers of one queue: who may receive how much (credit), served round robin.

use std::sync::Arc;

use trident_core::{ConnectionId, Error, QueueName, Result};

use crate::delivery::{ConsumerEvent, ConsumerOptions, ConsumerSink};

pub(super) struct Consumer {
    pub tag: Arc<str>,
    pub owner: ConnectionId,
    pub sink: ConsumerSink,
    /// Deliveries it may still receive; `u32::MAX` is unlimited.
    pub credit: u32,
    pub no_ack: bool,
    exclusive: bool,
}

impl Consumer {
    pub fn take_credit(&mut self) {
        if self.credit != u32::MAX {
            self.credit -= 1;
        }
    }
}

#[derive(Default)]
pub(super) struct Consumers {
    list: Vec<Consumer>,
    /// Where the round robin looks first next time.
    next: usize,
    /// Auto-delete applies only to a queue that has had a consumer.
    ever_consumed: bool,
}

impl Consumers {
    pub fn len(&self) -> usize {
        self.list.len()
    }

    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    pub fn ever_consumed(&self) -> bool {
        self.ever_consumed
    }

    /// Attaches a consumer, refusing a second one next to an exclusive one and a tag
    /// already in use.
    pub fn add(
        &mut self,
        opts: ConsumerOptions,
        sink: ConsumerSink,
        queue: &QueueName,
        vhost: impl FnOnce() -> String,
    ) -> Result<()> {
        if self.list.iter().any(|c| c.exclusive) || (opts.exclusive && !self.list.is_empty()) {
            return Err(Error::ResourceLocked {
                kind: "queue (exclusive consumer)",
                name: queue.to_string(),
                vhost: vhost(),
            });
        }
        if self.list.iter().any(|c| c.tag == opts.tag) {
            return Err(Error::PreconditionFailed(format!(
                "consumer tag '{}' already in use on queue '{queue}'",
                opts.tag
            )));
        }
        self.list.push(Consumer {
            tag: opts.tag,
            owner: opts.owner,
            sink,
            credit: opts.initial_credit,
            no_ack: opts.no_ack,
            exclusive: opts.exclusive,
        });
        self.ever_consumed = true;
        Ok(())
    }

    pub fn grant(&mut self, tag: &str, credit: u32) {
        if let Some(c) = self.list.iter_mut().find(|c| &*c.tag == tag) {
            c.credit = c.credit.saturating_add(credit);
        }
    }

    /// Detaches a consumer; returns whether it existed.
    pub fn cancel(&mut self, tag: &str) -> bool {
        let before = self.list.len();
        self.list.retain(|c| &*c.tag != tag);
        self.list.len() != before
    }

    /// Detaches every consumer of a connection; returns whether there was one.
    pub fn remove_owner(&mut self, conn: ConnectionId) -> bool {
        let before = self.list.len();
        self.list.retain(|c| c.owner != conn);
        self.list.len() != before
    }

    /// Whether any consumer may receive a delivery now.
    pub fn any_credit(&self) -> bool {
        self.list.iter().any(|c| c.credit > 0)
    }

    /// The next consumer with credit, round robin.
    pub fn next_with_credit(&mut self) -> Option<usize> {
        let n = self.list.len();
        let ci = (0..n)
            .map(|i| (self.next + i) % n)
            .find(|&i| self.list[i].credit > 0)?;
        self.next = (ci + 1) % n;
        Some(ci)
    }

    pub fn get_mut(&mut self, i: usize) -> &mut Consumer {
        &mut self.list[i]
    }

    /// The queue is deleted: every consumer is told.
    pub fn cancel_all(&mut self) {
        for c in self.list.drain(..) {
            let _ = c.sink.send(ConsumerEvent::Cancelled {
                consumer_tag: c.tag,
            });
        }
    }
}
