//! A virtual host: exchanges, bindings and queues, and the publish path through them.
//!
//! The routing table and the queue registry live together in one immutable snapshot.
//! A publish loads the snapshot (an atomic pointer read), routes, and hands the message
//! to each queue's bounded channel: no lock is taken on the way. Topology changes are
//! rare; they are serialised by a mutex, build a new snapshot and swap it in.

mod publish;
mod rebind;
mod retained;
mod sessions;

use std::collections::HashMap;
use std::sync::{Arc, Weak};

use arc_swap::ArcSwap;
use trident_core::{
    Binding, BindingDestination, ConnectionId, Error, ExchangeDef, ExchangeName, QueueDef,
    QueueName, Result, VhostName,
};
use trident_routing::{Effects, RoutingError, RoutingTable};
use trident_storage::{MetaOp, MetaStore, MetaTable};

use crate::config::EngineConfig;
use crate::delivery::{ConsumerOptions, ConsumerSink, Delivery};
use crate::fs_names::{dir_name, stable_hash};
use crate::meta_writer::MetaWriter;
use crate::metrics::Metrics;
use crate::queue::{QueueCommand, QueueRef, spawn_queue};
use retained::RetainedIndex;

/// A handle to one vhost. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Vhost {
    inner: Arc<VhostInner>,
}

/// What a vhost needs from the engine. Not the engine itself: the engine owns its
/// vhosts, and a back-reference would be a cycle that keeps everything alive.
#[derive(Debug, Clone)]
pub(crate) struct VhostDeps {
    pub config: Arc<EngineConfig>,
    pub meta: Arc<MetaStore>,
    pub meta_writer: MetaWriter,
    pub metrics: Arc<Metrics>,
    /// The engine's topics: a binding destination that names no queue may name one.
    pub topics: crate::topic::stream::TopicMap,
}

#[derive(Debug)]
pub(crate) struct VhostInner {
    name: VhostName,
    engine: VhostDeps,
    snapshot: ArcSwap<Snapshot>,
    topology: tokio::sync::Mutex<()>,
    /// The queues each connection holds state in (consumers, unacknowledged deliveries,
    /// exclusive ownership), so that a closing connection notifies only those and not
    /// every queue of the vhost. Touched on consume, get and exclusive declare, never
    /// on the publish path.
    touched: std::sync::Mutex<HashMap<ConnectionId, HashMap<QueueName, QueueRef>>>,
    /// Retained messages (see `retained`). Not on the publish path: an adapter calls
    /// `retain` for the publishes that ask for it and looks them up on subscribe.
    retained: std::sync::Mutex<RetainedIndex>,
}

#[derive(Debug, Clone)]
struct Snapshot {
    routing: RoutingTable,
    queues: HashMap<QueueName, QueueRef>,
}

/// The answer to a queue declaration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueDeclared {
    pub name: QueueName,
    pub message_count: u64,
    pub consumer_count: u32,
}

/// A vhost handle that does not keep the vhost alive: queue tasks hold one so they can
/// dead-letter and delete themselves without a reference cycle.
#[derive(Debug, Clone)]
pub(crate) struct WeakVhost(Weak<VhostInner>);

impl WeakVhost {
    pub(crate) fn upgrade(&self) -> Option<Vhost> {
        self.0.upgrade().map(|inner| Vhost { inner })
    }
}

fn key2(vhost: &str, name: &str) -> String {
    format!("{vhost}\u{0}{name}")
}

fn binding_key(vhost: &str, b: &Binding) -> String {
    let (kind, dest) = match &b.destination {
        BindingDestination::Queue(q) => ("q", q.as_str()),
        BindingDestination::Exchange(e) => ("e", e.as_str()),
    };
    // The routing table normalises arguments (sorted by name); so does the key, so
    // that a binding stored as declared is found again when it is removed.
    let mut sorted = b.arguments.0.clone();
    sorted.sort_by(|x, y| x.0.cmp(&y.0));
    let args = serde_json::to_string(&sorted).unwrap_or_default();
    // A word pattern prints like an AMQP key; its key says which of the two it is.
    // AMQP-syntax bindings keep the key they were always stored under.
    let hash = match &b.pattern {
        None => stable_hash(&[&args]),
        Some(p) => stable_hash(&[&args, "pattern", &p.to_string()]),
    };
    let routing_key = b
        .pattern
        .as_ref()
        .map_or_else(|| b.routing_key.clone(), ToString::to_string);
    format!(
        "{vhost}\u{0}{}\u{0}{kind}\u{0}{dest}\u{0}{routing_key}\u{0}{hash:016x}",
        b.source,
    )
}

impl Vhost {
    /// Builds a vhost from what the metadata store holds for it.
    pub(crate) async fn recover(engine: VhostDeps, name: VhostName) -> Result<Vhost> {
        let meta = engine.meta.clone();
        let prefix = format!("{name}\u{0}");
        let mut routing = RoutingTable::with_defaults(name.clone());
        for (key, def) in meta.list_prefix::<ExchangeDef>(MetaTable::Exchanges, &prefix)? {
            if let Err(e) = routing.declare_exchange(def) {
                tracing::warn!(vhost = %name, key, error = %e, "dropping stored exchange");
            }
        }
        let retained =
            RetainedIndex::load(&meta, name.as_str(), |x| routing.exchange(x).is_some())?;
        let inner = Arc::new(VhostInner {
            name: name.clone(),
            engine: engine.clone(),
            snapshot: ArcSwap::from_pointee(Snapshot {
                routing,
                queues: HashMap::new(),
            }),
            topology: tokio::sync::Mutex::new(()),
            touched: std::sync::Mutex::new(HashMap::new()),
            retained: std::sync::Mutex::new(retained),
        });
        let vhost = Vhost { inner };
        let mut queues = HashMap::new();
        for (_, def) in meta.list_prefix::<QueueDef>(MetaTable::Queues, &prefix)? {
            let q = vhost.start_queue(def.clone(), None)?;
            queues.insert(def.name.clone(), q);
        }
        let mut routing = vhost.snapshot().routing.clone();
        for (key, binding) in meta.list_prefix::<Binding>(MetaTable::Bindings, &prefix)? {
            if let Err(e) = routing.bind(binding) {
                tracing::warn!(vhost = %name, key, error = %e, "dropping stored binding");
            }
        }
        vhost
            .inner
            .snapshot
            .store(Arc::new(Snapshot { routing, queues }));
        Ok(vhost)
    }

    pub fn name(&self) -> &VhostName {
        &self.inner.name
    }

    pub(crate) fn downgrade(&self) -> WeakVhost {
        WeakVhost(Arc::downgrade(&self.inner))
    }

    fn snapshot(&self) -> Arc<Snapshot> {
        self.inner.snapshot.load_full()
    }

    fn store(&self, snap: Snapshot) {
        self.inner.snapshot.store(Arc::new(snap));
    }

    /// The engine's topics (stream destinations and stream queues).
    pub(crate) fn topics(&self) -> &crate::topic::stream::TopicMap {
        &self.inner.engine.topics
    }

    fn meta(&self) -> &trident_storage::MetaStore {
        &self.inner.engine.meta
    }

    fn start_queue(&self, def: QueueDef, owner: Option<ConnectionId>) -> Result<QueueRef> {
        let cfg = &self.inner.engine.config;
        let dir = if def.durable && owner.is_none() {
            cfg.data_dir
                .join("queues")
                .join(dir_name(&[self.inner.name.as_str(), def.name.as_str()]))
        } else {
            // Unique per incarnation: a transient queue redeclared after deletion must
            // not find its predecessor's pages.
            let unique = self.inner.engine.metrics.next_unique();
            cfg.data_dir.join("tmp").join(format!(
                "{}-{unique}",
                dir_name(&[self.inner.name.as_str(), def.name.as_str()])
            ))
        };
        spawn_queue(
            def,
            owner,
            dir,
            cfg,
            self.downgrade(),
            self.inner.engine.metrics.clone(),
        )
    }

    // ------------------------------------------------------------- exchanges

    pub fn exchange(&self, name: &ExchangeName) -> Option<ExchangeDef> {
        self.snapshot().routing.exchange(name).cloned()
    }

    pub fn exchanges(&self) -> Vec<ExchangeDef> {
        self.snapshot().routing.exchanges().cloned().collect()
    }

    pub fn bindings(&self) -> Vec<Binding> {
        self.snapshot().routing.bindings()
    }

    /// Declares an exchange; idempotent when equivalent, 406 when not.
    pub async fn declare_exchange(&self, def: ExchangeDef) -> Result<()> {
        let _g = self.inner.topology.lock().await;
        let snap = self.snapshot();
        if let Some(existing) = snap.routing.exchange(&def.name) {
            if existing.equivalent(&def) {
                return Ok(());
            }
            return Err(Error::PreconditionFailed(format!(
                "inequivalent arg for exchange '{}' in vhost '{}'",
                def.name, self.inner.name
            )));
        }
        if def.name.is_reserved() {
            return Err(Error::AccessRefused(format!(
                "exchange name '{}' contains reserved prefix 'amq.*'",
                def.name
            )));
        }
        let mut routing = snap.routing.clone();
        let _ = routing.declare_exchange(def.clone()).map_err(Error::from)?;
        if def.durable {
            self.meta().put(
                MetaTable::Exchanges,
                &key2(self.inner.name.as_str(), def.name.as_str()),
                &def,
            )?;
        }
        self.store(Snapshot {
            routing,
            queues: snap.queues.clone(),
        });
        Ok(())
    }

    pub async fn delete_exchange(&self, name: &ExchangeName, if_unused: bool) -> Result<()> {
        let _g = self.inner.topology.lock().await;
        if name.is_default() || name.is_reserved() {
            return Err(Error::AccessRefused(format!(
                "operation not permitted on the exchange '{name}'"
            )));
        }
        let snap = self.snapshot();
        if snap.routing.exchange(name).is_none() {
            return Err(Error::not_found(
                "exchange",
                name.as_str(),
                self.inner.name.as_str(),
            ));
        }
        let mut routing = snap.routing.clone();
        let effects = routing
            .delete_exchange(name, if_unused)
            .map_err(Error::from)?;
        self.persist_removals(&effects)?;
        self.store(Snapshot {
            routing,
            queues: snap.queues.clone(),
        });
        Ok(())
    }

    /// Removes the stored copies of the bindings and exchanges a change took away.
    fn persist_removals(&self, effects: &Effects) -> Result<()> {
        self.persist_removals_with(effects, Vec::new())
    }

    /// [`Self::persist_removals`], committed together with `more` operations.
    fn persist_removals_with(&self, effects: &Effects, more: Vec<MetaOp>) -> Result<()> {
        let vhost = self.inner.name.as_str();
        let mut ops: Vec<MetaOp> = effects
            .removed_bindings
            .iter()
            .map(|b| MetaOp::delete(MetaTable::Bindings, binding_key(vhost, b)))
            .collect();
        ops.extend(
            effects
                .deleted_exchanges
                .iter()
                .map(|x| MetaOp::delete(MetaTable::Exchanges, key2(vhost, x.as_str()))),
        );
        // A deleted exchange's retained messages go with it (one declared later under
        // the same name starts empty).
        ops.extend(effects.deleted_exchanges.iter().map(|x| {
            MetaOp::delete_prefix(
                MetaTable::Retained,
                retained::exchange_prefix(vhost, x.as_str()),
            )
        }));
        ops.extend(more);
        if !ops.is_empty() {
            self.meta().write_batch(ops)?;
        }
        if !effects.deleted_exchanges.is_empty() {
            let mut index = self
                .inner
                .retained
                .lock()
                .unwrap_or_else(|p| p.into_inner());
            for x in &effects.deleted_exchanges {
                index.forget_exchange(x);
            }
        }
        Ok(())
    }

    // ------------------------------------------------------------- bindings

    fn destination_durable(&self, snap: &Snapshot, dest: &BindingDestination) -> Result<bool> {
        match dest {
            // A topic is a durable destination (a log).
            BindingDestination::Queue(q)
                if !snap.queues.contains_key(q) && self.stream(q).is_some() =>
            {
                Ok(true)
            }
            BindingDestination::Queue(q) => snap
                .queues
                .get(q)
                .map(|q| q.def().durable && q.owner().is_none())
                .ok_or_else(|| Error::not_found("queue", q.as_str(), self.inner.name.as_str())),
            BindingDestination::Exchange(e) => {
                snap.routing.exchange(e).map(|e| e.durable).ok_or_else(|| {
                    Error::not_found("exchange", e.as_str(), self.inner.name.as_str())
                })
            }
        }
    }

    /// Whether `name` names a topic that bindings may deliver to (when no queue has
    /// that name): AMQP `queue.bind` accepts it as a stream destination.
    pub fn has_stream(&self, name: &QueueName) -> bool {
        self.stream(name).is_some()
    }

    /// The topic a binding destination names when no queue has that name.
    fn stream(&self, name: &QueueName) -> Option<Arc<crate::topic::Topic>> {
        self.inner.engine.topics.load().get(name.as_str()).cloned()
    }

    pub async fn bind(&self, mut binding: Binding, conn: ConnectionId) -> Result<()> {
        binding.normalise_key();
        let _g = self.inner.topology.lock().await;
        let snap = self.snapshot();
        if let BindingDestination::Queue(q) = &binding.destination
            && let Some(q) = snap.queues.get(q)
        {
            q.check_owner(conn, self.inner.name.as_str())?;
        }
        let dest_durable = self.destination_durable(&snap, &binding.destination)?;
        let mut routing = snap.routing.clone();
        let _ = routing.bind(binding.clone()).map_err(Error::from)?;
        let src_durable = routing.exchange(&binding.source).is_some_and(|e| e.durable);
        if src_durable && dest_durable {
            self.meta().put(
                MetaTable::Bindings,
                &binding_key(self.inner.name.as_str(), &binding),
                &binding,
            )?;
        }
        self.store(Snapshot {
            routing,
            queues: snap.queues.clone(),
        });
        Ok(())
    }

    pub async fn unbind(&self, binding: &Binding, conn: ConnectionId) -> Result<()> {
        let _g = self.inner.topology.lock().await;
        let snap = self.snapshot();
        if let BindingDestination::Queue(q) = &binding.destination {
            match snap.queues.get(q) {
                Some(q) => q.check_owner(conn, self.inner.name.as_str())?,
                // Removing a binding to a queue that is gone succeeds, as in RabbitMQ:
                // clients unbind during cleanup, after auto-delete took the queue.
                None => return Ok(()),
            }
        }
        let mut routing = snap.routing.clone();
        let effects = match routing.unbind(binding) {
            Ok(effects) => effects,
            // Likewise a binding whose source or destination exchange is gone.
            Err(RoutingError::ExchangeNotFound { .. }) => return Ok(()),
            Err(e) => return Err(e.into()),
        };
        if !effects.changed {
            return Ok(());
        }
        self.persist_removals(&effects)?;
        self.store(Snapshot {
            routing,
            queues: snap.queues.clone(),
        });
        Ok(())
    }

    // ------------------------------------------------------------- queues

    pub fn queue(&self, name: &QueueName) -> Option<QueueRef> {
        self.snapshot().queues.get(name).cloned()
    }

    pub fn queues(&self) -> Vec<QueueRef> {
        self.snapshot().queues.values().cloned().collect()
    }

    fn declared(q: &QueueRef) -> QueueDeclared {
        let s = q.stats();
        QueueDeclared {
            name: q.name().clone(),
            message_count: s.ready,
            consumer_count: s.consumers,
        }
    }

    /// A queue that must exist and that `conn` may use (passive declare).
    pub fn queue_for(&self, name: &QueueName, conn: ConnectionId) -> Result<QueueRef> {
        let q = self
            .queue(name)
            .ok_or_else(|| Error::not_found("queue", name.as_str(), self.inner.name.as_str()))?;
        q.check_owner(conn, self.inner.name.as_str())?;
        Ok(q)
    }

    pub fn declare_queue_passive(
        &self,
        name: &QueueName,
        conn: ConnectionId,
    ) -> Result<QueueDeclared> {
        if self.queue(name).is_none()
            && let Some(d) = self.declare_stream_passive(name)
        {
            return Ok(d);
        }
        Ok(Self::declared(&self.queue_for(name, conn)?))
    }

    /// Declares a queue; idempotent when equivalent, 406 when not, 405 when another
    /// connection owns it.
    pub async fn declare_queue(&self, def: QueueDef, conn: ConnectionId) -> Result<QueueDeclared> {
        let _g = self.inner.topology.lock().await;
        let snap = self.snapshot();
        if let Some(existing) = snap.queues.get(&def.name) {
            existing.check_owner(conn, self.inner.name.as_str())?;
            if !existing.def().equivalent(&def) {
                return Err(Error::PreconditionFailed(format!(
                    "inequivalent arg for queue '{}' in vhost '{}'",
                    def.name, self.inner.name
                )));
            }
            return Ok(Self::declared(existing));
        }
        if self.stream_queue(&def.name).is_some() {
            return Err(Error::PreconditionFailed(format!(
                "inequivalent arg 'x-queue-type' for queue '{}' in vhost '{}': \
                 it is a stream",
                def.name, self.inner.name
            )));
        }
        let owner = def.exclusive.then_some(conn);
        if def.durable && owner.is_none() {
            self.meta().put(
                MetaTable::Queues,
                &key2(self.inner.name.as_str(), def.name.as_str()),
                &def,
            )?;
        }
        let q = self.start_queue(def.clone(), owner)?;
        if let Some(conn) = owner {
            self.touch(conn, &q);
        }
        let mut queues = snap.queues.clone();
        queues.insert(def.name.clone(), q.clone());
        self.store(Snapshot {
            routing: snap.routing.clone(),
            queues,
        });
        Ok(Self::declared(&q))
    }

    /// Deletes a queue and returns how many messages it held. `conn` is `None` for
    /// deletions the engine makes itself (auto-delete, expiry, owner gone).
    pub async fn delete_queue(
        &self,
        name: &QueueName,
        if_unused: bool,
        if_empty: bool,
        conn: Option<ConnectionId>,
    ) -> Result<u64> {
        let _g = self.inner.topology.lock().await;
        let snap = self.snapshot();
        let q =
            snap.queues.get(name).cloned().ok_or_else(|| {
                Error::not_found("queue", name.as_str(), self.inner.name.as_str())
            })?;
        if let Some(conn) = conn {
            q.check_owner(conn, self.inner.name.as_str())?;
        }
        let (tx, rx) = tokio::sync::oneshot::channel();
        // The task may already be gone (it crashed or stopped): deleting is still right.
        let count = match q
            .send(QueueCommand::Delete {
                if_unused,
                if_empty,
                reply: tx,
            })
            .await
        {
            Ok(()) => rx.await.unwrap_or(Ok(0))?,
            Err(_) => 0,
        };
        let mut routing = snap.routing.clone();
        let effects = routing.remove_queue(name);
        self.persist_removals(&effects)?;
        self.meta().delete(
            MetaTable::Queues,
            &key2(self.inner.name.as_str(), name.as_str()),
        )?;
        let mut queues = snap.queues.clone();
        queues.remove(name);
        self.store(Snapshot { routing, queues });
        Ok(count)
    }

    /// A topic was deleted: bindings that named it as their destination go with it
    /// (as a deleted queue's do), unless a queue of this vhost has the name.
    pub(crate) async fn forget_stream(&self, name: &str) -> Result<()> {
        let Ok(name) = QueueName::new(name) else {
            return Ok(());
        };
        let _g = self.inner.topology.lock().await;
        let snap = self.snapshot();
        if snap.queues.contains_key(&name) {
            return Ok(());
        }
        let mut routing = snap.routing.clone();
        let effects = routing.remove_queue(&name);
        if effects.removed_bindings.is_empty() {
            return Ok(());
        }
        self.persist_removals(&effects)?;
        self.store(Snapshot {
            routing,
            queues: snap.queues.clone(),
        });
        Ok(())
    }

    pub async fn purge_queue(&self, name: &QueueName, conn: ConnectionId) -> Result<u64> {
        let q = self.queue_for(name, conn)?;
        let (tx, rx) = tokio::sync::oneshot::channel();
        q.send(QueueCommand::Purge { reply: tx }).await?;
        rx.await
            .map_err(|_| Error::Unavailable(format!("queue '{name}' is gone")))?
    }

    pub async fn consume(
        &self,
        queue: &QueueName,
        opts: ConsumerOptions,
        sink: ConsumerSink,
    ) -> Result<QueueRef> {
        let q = self.queue_for(queue, opts.owner)?;
        let conn = opts.owner;
        q.consume(opts, sink).await?;
        self.touch(conn, &q);
        Ok(q)
    }

    /// Takes one message (AMQP basic.get).
    pub async fn get(
        &self,
        queue: &QueueName,
        no_ack: bool,
        conn: ConnectionId,
    ) -> Result<Option<Delivery>> {
        let q = self.queue_for(queue, conn)?;
        if !no_ack {
            self.touch(conn, &q);
        }
        let (tx, rx) = tokio::sync::oneshot::channel();
        q.send(QueueCommand::Get {
            no_ack,
            owner: conn,
            reply: tx,
        })
        .await?;
        rx.await
            .map_err(|_| Error::Unavailable(format!("queue '{queue}' is gone")))?
    }

    /// Remembers that `conn` holds state in `q`.
    fn touch(&self, conn: ConnectionId, q: &QueueRef) {
        let mut touched = self.inner.touched.lock().unwrap_or_else(|p| p.into_inner());
        touched
            .entry(conn)
            .or_default()
            .insert(q.name().clone(), q.clone());
    }

    pub(crate) async fn connection_closed(&self, conn: ConnectionId) {
        let queues = {
            let mut touched = self.inner.touched.lock().unwrap_or_else(|p| p.into_inner());
            touched.remove(&conn).unwrap_or_default()
        };
        for q in queues.into_values() {
            if q.owner() == Some(conn) {
                if let Err(e) = self.delete_queue(q.name(), false, false, None).await {
                    tracing::debug!(queue = %q.name(), error = %e, "exclusive queue already gone");
                }
            } else {
                // A queue deleted since is simply gone; nothing to requeue.
                let _ = q.connection_closed(conn).await;
            }
        }
    }

    pub(crate) async fn shutdown(&self) {
        for q in self.queues() {
            let (tx, rx) = tokio::sync::oneshot::channel();
            if q.send(QueueCommand::Shutdown { reply: tx }).await.is_ok() {
                let _ = rx.await;
            }
        }
    }
}
