//! Outgoing QoS 2 PUBLISHes of a persistent session under `durability = fsync` wait
//! until their packet id is recorded in the adapter store (`session_store::sent`): a
//! resend after a crash then reuses the id with DUP=1, so the client's own duplicate
//! detection holds ([MQTT-4.3.3]). Without the wait a crash within the record's commit
//! resent the message with a new id, and the client delivered it twice.
//!
//! The records of a batch of deliveries go in one adapter-store commit (shared with
//! other connections' by the metadata group commit); at most one commit per connection
//! is in flight, and what arrives meanwhile waits for the next. Every packet behind a
//! held one waits too (QoS 0 and 1 included), so that nothing overtakes (order per
//! topic). A held packet gets no new topic alias (its naming is decided before the
//! aliases of the packets ahead of it are learned).

use std::collections::VecDeque;
use std::sync::Arc;

use tokio::task::JoinHandle;
use trident_engine::{AdapterBatch, DeliveryId, QueueRef};

use crate::codec::{PacketId, Publish};
use crate::topic_alias::Naming;

/// A PUBLISH ready to go out once the commit it waits for is done.
pub(crate) struct Outgoing {
    pub publish: Publish,
    pub naming: Naming,
    pub topic: String,
    /// For QoS 1/2: its packet id and the delivery to drop should it not fit the
    /// client's maximum packet size.
    pub flight: Option<(PacketId, QueueRef, DeliveryId, Arc<str>)>,
}

#[derive(Default)]
pub(crate) struct HeldOut {
    /// Packets in order, each with the commit generation it waits for.
    queue: VecDeque<(u64, Outgoing)>,
    /// Records not yet committed (generation `open`).
    batch: Option<AdapterBatch>,
    open: u64,
    /// Generations below this are committed.
    done: u64,
    /// The commit in flight and its generation.
    pub writing: Option<(JoinHandle<trident_core::Result<()>>, u64)>,
}

impl HeldOut {
    pub fn is_holding(&self) -> bool {
        !self.queue.is_empty()
    }

    /// Adds a record to the next commit; returns the generation that commits it.
    pub fn record(
        &mut self,
        store: &trident_engine::AdapterStore,
        key: &str,
        value: String,
    ) -> u64 {
        self.batch
            .get_or_insert_with(|| store.batch())
            .put(key, value);
        self.open + 1
    }

    /// Holds `out` until generation `generation` is committed.
    pub fn hold(&mut self, generation: u64, out: Outgoing) {
        self.queue.push_back((generation, out));
    }

    /// The generation a packet without a record of its own waits for: that of the
    /// packet ahead of it.
    pub fn last_generation(&self) -> u64 {
        self.queue.back().map_or(0, |(g, _)| *g)
    }

    /// Starts the commit of what was recorded, unless one is in flight.
    pub fn start_commit(&mut self) {
        if self.writing.is_some() {
            return;
        }
        if let Some(batch) = self.batch.take() {
            self.open += 1;
            self.writing = Some((tokio::spawn(batch.commit()), self.open));
        }
    }

    /// The commit in flight finished: what may go out now, in order.
    pub fn committed(&mut self, generation: u64) -> Vec<Outgoing> {
        self.writing = None;
        self.done = self.done.max(generation + 1);
        let mut ready = Vec::new();
        while let Some((g, _)) = self.queue.front()
            && *g < self.done
        {
            if let Some((_, out)) = self.queue.pop_front() {
                ready.push(out);
            }
        }
        self.start_commit();
        ready
    }
}
