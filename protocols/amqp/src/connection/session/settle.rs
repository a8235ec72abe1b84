//! Settling deliveries: basic.ack, basic.nack, basic.reject, basic.recover.

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
        let c = self.open_channel(ch)?;
        let mut taken = Vec::new();
        c.unacked
            .take(tag, multiple, &mut taken)
            .map_err(|UnknownTag(t)| {
                AmqpError::precondition(format!("unknown delivery tag {t}"))
            })?;
        if let Mode::Tx(tx) = &mut c.mode {
            // Applied (and credit returned) at commit; a rollback puts them back.
            tx.settles
                .extend(taken.into_iter().map(|(t, p)| (t, p, outcome)));
            return Ok(());
        }
        let pendings: Vec<Pending> = taken.into_iter().map(|(_, p)| p).collect();
        self.apply_settles(ch, pendings, outcome);
        Ok(())
    }

    /// Hands settlements to the engine (batched) and returns the consumers' credit.
    pub(super) fn apply_settles(&mut self, ch: u16, pendings: Vec<Pending>, outcome: Outcome) {
        self.release_credit(ch, &pendings);
        for p in pendings {
            self.settle_later(&p.queue, p.id, outcome);
        }
    }

    fn release_credit(&mut self, ch: u16, pendings: &[Pending]) {
        let Some(c) = self.channel_mut(ch) else {
            return;
        };
        let mut touched: Vec<Arc<str>> = Vec::new();
        for p in pendings {
            let Some(tag) = &p.consumer else { continue };
            if let Some(consumer) = c.consumers.get_mut(tag) {
                c.credit.settled(&mut consumer.credit);
                if !touched.iter().any(|t| Arc::ptr_eq(t, tag)) {
                    touched.push(tag.clone());
                }
            }
        }
        if touched.is_empty() {
            return;
        }
        let mut grants = Vec::new();
        for tag in &touched {
            if let Some(consumer) = c.consumers.get_mut(tag) {
                let n = c.credit.top_up(&mut consumer.credit);
                grants.push((consumer.queue.clone(), consumer.engine_tag.clone(), n));
            }
        }
        if c.credit.limit > 0 {
            // A channel-wide limit: room freed by one consumer may go to the others.
            for consumer in c.consumers.values_mut().filter(|k| !k.no_ack) {
                let n = c.credit.top_up(&mut consumer.credit);
                grants.push((consumer.queue.clone(), consumer.engine_tag.clone(), n));
            }
        }
        for (q, tag, n) in grants {
            self.grant_later(&q, &tag, n);
        }
    }

    /// basic.recover: everything unacknowledged on the channel goes back to its queue
    /// for redelivery (RabbitMQ supports only `requeue=true`).
    pub(super) fn recover(&mut self, ch: u16, requeue: bool) -> AmqpResult<()> {
        if !requeue {
            return Err(AmqpError::not_implemented("requeue=false"));
        }
        let c = self.open_channel(ch)?;
        let pendings: Vec<Pending> = c.unacked.take_all().into_iter().map(|(_, p)| p).collect();
        self.apply_settles(ch, pendings, Outcome::Requeue);
        Ok(())
    }
}
