//! Settling deliveries: basic.ack, basic.nack, basic.reject, basic.recover.
//!
//! This runs once per acknowledgement a client sends, so it allocates nothing in the
//! steady state: settled entries pass through a scratch vector the session keeps, and
//! settlements and credit are appended to the batches flushed after the current burst.

use std::sync::Arc;

use trident_engine::Outcome;

use super::Session;
use crate::channel::{Mode, Pending};
use crate::error::{AmqpError, AmqpResult};
use crate::unacked::UnknownTag;

impl Session {
    pub(super) fn settle(
        &mut self,
        ch: u16,
        tag: u64,
        multiple: bool,
        outcome: Outcome,
    ) -> AmqpResult<()> {
        let mut taken = std::mem::take(&mut self.engine.scratch);
        taken.clear();
        let result = self.take_and_settle(ch, tag, multiple, outcome, &mut taken);
        self.engine.scratch = taken;
        result
    }

    fn take_and_settle(
        &mut self,
        ch: u16,
        tag: u64,
        multiple: bool,
        outcome: Outcome,
        taken: &mut Vec<(u64, Pending)>,
    ) -> AmqpResult<()> {
        let c = self.open_channel(ch)?;
        c.unacked
            .take(tag, multiple, taken)
            .map_err(|UnknownTag(t)| {
                AmqpError::precondition(format!("unknown delivery tag {t}"))
            })?;
        if let Mode::Tx(tx) = &mut c.mode {
            // Applied (and credit returned) at commit; a rollback puts them back.
            tx.settles
                .extend(taken.drain(..).map(|(t, p)| (t, p, outcome)));
            return Ok(());
        }
        self.apply_settles(ch, taken, outcome);
        Ok(())
    }

    /// Hands settlements to the engine (batched) and returns the consumers' credit.
    /// Drains `taken`.
    pub(super) fn apply_settles(
        &mut self,
        ch: u16,
        taken: &mut Vec<(u64, Pending)>,
        outcome: Outcome,
    ) {
        let Session {
            channels, engine, ..
        } = self;
        if let Some(c) = channels.get_mut(ch) {
            for (_, p) in taken.iter() {
                if let Some(tag) = &p.consumer
                    && let Some(consumer) = c.consumers.get_mut(tag)
                {
                    c.credit.settled(&mut consumer.credit);
                }
            }
            // Top up each consumer that got something back (runs of the same consumer
            // are the norm; a repeat top-up is harmless and returns nothing).
            let mut previous: Option<&Arc<str>> = None;
            for (_, p) in taken.iter() {
                let Some(tag) = &p.consumer else { continue };
                if previous.is_some_and(|t| Arc::ptr_eq(t, tag)) {
                    continue;
                }
                previous = Some(tag);
                if let Some(consumer) = c.consumers.get_mut(tag) {
                    let n = c.credit.top_up(&mut consumer.credit);
                    engine.push_grant(&consumer.queue, &consumer.engine_tag, n);
                }
            }
            if c.credit.limit > 0 && !taken.is_empty() {
                // A channel-wide limit: room freed by one consumer may go to the others.
                for consumer in c.consumers.values_mut().filter(|k| !k.no_ack) {
                    let n = c.credit.top_up(&mut consumer.credit);
                    engine.push_grant(&consumer.queue, &consumer.engine_tag, n);
                }
            }
        }
        for (_, p) in taken.drain(..) {
            engine.push_settle(&p.queue, p.id, outcome);
        }
    }

    /// basic.recover: everything unacknowledged on the channel goes back to its queue
    /// for redelivery (RabbitMQ supports only `requeue=true`).
    pub(super) fn recover(&mut self, ch: u16, requeue: bool) -> AmqpResult<()> {
        if !requeue {
            return Err(AmqpError::not_implemented("requeue=false"));
        }
        let mut taken = self.open_channel(ch)?.unacked.take_all();
        self.apply_settles(ch, &mut taken, Outcome::Requeue);
        Ok(())
    }
}
