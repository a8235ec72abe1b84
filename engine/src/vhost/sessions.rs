//! What lets a client's state outlive one connection: handing an exclusive queue to
//! the connection that resumes it, and changing a queue's idle expiry after declare.

use trident_core::{ConnectionId, Error, QueueDef, QueueName, Result};
use trident_storage::MetaTable;

use super::{Vhost, key2};

impl Vhost {
    /// Makes `to` the owner of the exclusive queue `name`, which `from` owns now. From
    /// then on closing `from` no longer deletes the queue (its unacknowledged deliveries
    /// are requeued as for any queue it used), and closing `to` does. Fails with a
    /// locked error when `from` is not the owner, not found when the queue is gone (for
    /// example because `from` already closed), and a precondition error for a queue that
    /// is not exclusive. Consumers of `from` stay attached until it cancels or closes.
    pub async fn transfer_queue_owner(
        &self,
        name: &QueueName,
        from: ConnectionId,
        to: ConnectionId,
    ) -> Result<()> {
        // Under the topology lock so that it does not interleave with a delete.
        let _g = self.inner.topology.lock().await;
        let q =
            self.snapshot().queues.get(name).cloned().ok_or_else(|| {
                Error::not_found("queue", name.as_str(), self.inner.name.as_str())
            })?;
        q.transfer_owner(from, to, self.inner.name.as_str())?;
        let mut touched = self.inner.touched.lock().unwrap_or_else(|p| p.into_inner());
        // `from` keeps its entry (its deliveries must still be requeued when it closes);
        // `to` now holds the queue too, so that its close deletes it.
        touched.entry(to).or_default().insert(name.clone(), q);
        Ok(())
    }

    /// Changes the idle expiry (`x-expires`) of queue `name`: `None` turns it off. The
    /// queue's own task applies it at once (the idle clock restarts); for a durable
    /// queue the stored definition is rewritten before this returns, so the new expiry
    /// holds after a restart. [`crate::QueueRef::def`] keeps showing the declared
    /// arguments until then, and a later declare is compared with those.
    pub async fn set_queue_expires(
        &self,
        name: &QueueName,
        expires_ms: Option<u64>,
        conn: ConnectionId,
    ) -> Result<()> {
        if expires_ms == Some(0) {
            return Err(Error::PreconditionFailed(
                "x-expires must be greater than zero".into(),
            ));
        }
        let _g = self.inner.topology.lock().await;
        let q = self.queue_for(name, conn)?;
        if q.def().durable && q.owner().is_none() {
            let key = key2(self.inner.name.as_str(), name.as_str());
            let mut def: QueueDef = q.def().clone();
            def.args.expires_ms = expires_ms;
            self.meta().put(MetaTable::Queues, &key, &def)?;
        }
        q.set_expires(expires_ms).await
    }
}
