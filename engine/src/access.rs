//! The engine's operator surface for identity and tenancy: logins checked the same way
//! for every protocol, vhost deletion, and the registry of open connections.

use std::net::IpAddr;
use std::sync::Arc;

use trident_core::{Error, QueueName, Result, VhostName};
use trident_storage::{MetaOp, MetaTable};

use crate::auth::User;
use crate::connections::{ConnectionHandle, ConnectionInfo};
use crate::engine::Engine;

impl Engine {
    /// Checks a login from `peer`: the password, then the loopback-only rule (RabbitMQ's
    /// rule for `guest`). Every adapter calls this, so a user created once logs in over
    /// any protocol. The error never says whether the user exists.
    pub fn authenticate(&self, user: &str, password: &str, peer: IpAddr) -> Result<Arc<User>> {
        let u = self.users().authenticate(user, password)?;
        if u.loopback_only && !peer.to_canonical().is_loopback() {
            return Err(Error::AccessRefused(format!(
                "user '{user}' can only connect via localhost"
            )));
        }
        Ok(u)
    }

    /// Whether a user found by another mechanism (SCRAM) may log in from `peer`.
    pub fn may_connect_from(&self, user: &User, peer: IpAddr) -> bool {
        !user.loopback_only || peer.to_canonical().is_loopback()
    }

    /// Deletes a vhost with everything in it: queues (and their stored messages),
    /// exchanges, bindings, and every user's permissions there. Connections to it are
    /// asked to close. The default vhost may be deleted too, as in RabbitMQ.
    pub async fn delete_vhost(&self, name: &str) -> Result<()> {
        let vhost = self
            .write_vhosts()
            .remove(name)
            .ok_or_else(|| Error::NotFound {
                kind: "vhost",
                name: name.to_string(),
                vhost: name.to_string(),
            })?;
        self.inner_connections()
            .close_vhost(name, &format!("vhost '{name}' was deleted"));
        let queues: Vec<QueueName> = vhost.queues().iter().map(|q| q.name().clone()).collect();
        for q in queues {
            if let Err(e) = vhost.delete_queue(&q, false, false, None).await {
                tracing::warn!(vhost = name, queue = %q, error = %e, "deleting queue of a deleted vhost");
            }
        }
        let meta = self.meta();
        let prefix = format!("{name}\u{0}");
        let mut ops = vec![MetaOp::delete(MetaTable::Vhosts, name)];
        for table in [MetaTable::Exchanges, MetaTable::Bindings, MetaTable::Queues] {
            for (key, _) in meta.list_prefix_raw(table, &prefix)? {
                ops.push(MetaOp::delete(table, key));
            }
        }
        meta.write_batch(ops)?;
        self.users().forget_vhost(name)?;
        tracing::info!(vhost = name, "deleted vhost");
        Ok(())
    }

    /// Whether a vhost exists.
    pub fn has_vhost(&self, name: &str) -> bool {
        self.read_vhosts().contains_key(name)
    }

    /// Validates and creates a vhost (idempotent), returning whether it is new.
    pub async fn create_vhost(&self, name: &str) -> Result<bool> {
        let vname = VhostName::new(name)?;
        if self.has_vhost(name) {
            return Ok(false);
        }
        self.add_vhost(vname).await?;
        tracing::info!(vhost = name, "created vhost");
        Ok(true)
    }

    // ------------------------------------------------------------ connections

    /// Registers an open connection for operators to see and close. Keep the handle
    /// for the connection's life.
    pub fn register_connection(&self, info: ConnectionInfo) -> ConnectionHandle {
        self.inner_connections().register(info)
    }

    /// Open connections, in the order they were opened.
    pub fn connections(&self) -> Vec<ConnectionInfo> {
        self.inner_connections().list()
    }

    pub fn connection(&self, id: u64) -> Option<ConnectionInfo> {
        self.inner_connections().get(id)
    }

    /// Registers an adapter's view of consumer-group membership.
    pub fn register_group_membership(&self, source: Arc<dyn crate::GroupMembership>) {
        self.inner.membership.add(source);
    }

    /// Groups with live membership, from every registered source, by name.
    pub fn group_memberships(&self) -> Vec<crate::GroupSummary> {
        self.inner.membership.groups()
    }

    /// Asks a connection to close (the adapter tells its client `reason`, e.g. AMQP
    /// 320 CONNECTION_FORCED). Returns false when no such connection is open.
    pub fn close_connection(&self, id: u64, reason: &str) -> bool {
        self.inner_connections().close(id, reason)
    }
}
