//! Replacing one binding by another in a single topology change.
//!
//! A client that changes a subscription's options (MQTT: SUBSCRIBE again to the same
//! filter with another QoS) must not miss messages published meanwhile ([MQTT-3.8.4-3]:
//! the flow of publications must not be interrupted). Unbinding and then binding
//! leaves a moment with neither binding; binding first and unbinding after leaves one
//! with both (a message then carries both argument tables). Here both changes go into
//! one new snapshot, so every message is routed with exactly one of the two.

use trident_core::{Binding, BindingDestination, ConnectionId, Error, Result};
use trident_routing::RoutingError;
use trident_storage::{MetaOp, MetaTable};

use super::{Snapshot, Vhost, binding_key};

impl Vhost {
    /// Replaces the binding `old` by `new` atomically: a publish routed at any moment
    /// sees one or the other, never neither or both. `old` need not exist (then this is
    /// a bind). Both must lead to the same kind of destination the caller may use (the
    /// owner check of [`Vhost::bind`] applies to both). Persisted in one commit when
    /// the bindings are durable.
    pub async fn replace_binding(
        &self,
        old: &Binding,
        mut new: Binding,
        conn: ConnectionId,
    ) -> Result<()> {
        new.normalise_key();
        let _g = self.inner.topology.lock().await;
        let snap = self.snapshot();
        for dest in [&old.destination, &new.destination] {
            if let BindingDestination::Queue(q) = dest
                && let Some(q) = snap.queues.get(q)
            {
                q.check_owner(conn, self.inner.name.as_str())?;
            }
        }
        let dest_durable = self.destination_durable(&snap, &new.destination)?;
        let mut routing = snap.routing.clone();
        // The new one first: if `old` was the last binding of an auto-delete exchange,
        // removing it first would delete the exchange the new one needs.
        let _ = routing.bind(new.clone()).map_err(Error::from)?;
        let removed = if old.same_as(&new) {
            None
        } else {
            match routing.unbind(old) {
                Ok(effects) => Some(effects),
                Err(RoutingError::ExchangeNotFound { .. }) => None,
                Err(e) => return Err(e.into()),
            }
        };
        let vhost = self.inner.name.as_str();
        let src_durable = routing.exchange(&new.source).is_some_and(|e| e.durable);
        let mut put = Vec::new();
        if src_durable && dest_durable {
            put.push(MetaOp::put(
                MetaTable::Bindings,
                binding_key(vhost, &new),
                &new,
            )?);
        }
        // One commit for the removal and the addition: a crash keeps either both
        // bindings as they were or the replacement.
        self.persist_removals_with(&removed.unwrap_or_default(), put)?;
        self.store(Snapshot {
            routing,
            queues: snap.queues.clone(),
        });
        Ok(())
    }
}
