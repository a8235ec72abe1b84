//! The engine handle: owns the vhosts, the topics, the metadata store, group offsets
//! and users, and recovers all of them at start.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use arc_swap::ArcSwap;
use trident_core::{ConnectionId, Error, QueueName, Result, TopicConfig, TopicName, VhostName};
use trident_storage::{LogConfig, MetaStore, MetaTable};

use crate::adapter_store::AdapterStore;
use crate::auth::UserStore;
use crate::config::EngineConfig;
use crate::connections::ConnectionRegistry;
use crate::counters::Counters;
use crate::meta_writer::MetaWriter;
use crate::metrics::Metrics;
use crate::offsets::GroupOffsets;
use crate::queue::QueueStats;
use crate::topic::forward::Forwarders;
use crate::topic::{PartitionRef, Topic, spawn_partition};
use crate::vhost::{Vhost, VhostDeps};

/// The engine. Cheap to clone; every clone is the same engine.
#[derive(Debug, Clone)]
pub struct Engine {
    pub(crate) inner: Arc<EngineInner>,
}

#[derive(Debug)]
pub(crate) struct EngineInner {
    pub(crate) config: Arc<EngineConfig>,
    pub(crate) meta: Arc<MetaStore>,
    /// Group commits for adapter state and retained messages.
    meta_writer: MetaWriter,
    vhosts: RwLock<HashMap<VhostName, Vhost>>,
    /// Read on every produce and fetch; replaced wholesale on the rare topic change so
    /// that those paths never take a lock.
    /// Shared with the vhosts, which resolve bindings to topics against it.
    topics: crate::topic::stream::TopicMap,
    /// Serialises topic creation and deletion.
    topic_lock: tokio::sync::Mutex<()>,
    /// Tailing tasks of topics that forward into an exchange (`topic::forward`).
    forwarders: Forwarders,
    offsets: GroupOffsets,
    users: UserStore,
    counters: Counters,
    pub(crate) connections: Arc<ConnectionRegistry>,
    pub(crate) membership: crate::membership::MembershipSources,
    pub(crate) metrics: Arc<Metrics>,
    alarms: Arc<crate::alarms::ResourceAlarms>,
    next_connection: AtomicU64,
}

/// One queue, for listings.
#[derive(Debug, Clone)]
pub struct QueueInfo {
    pub vhost: VhostName,
    pub name: QueueName,
    pub durable: bool,
    /// Whether it has a length limit (`x-max-length` or `x-max-length-bytes`), and so
    /// can drop or refuse messages when full.
    pub length_limited: bool,
    pub stats: QueueStats,
}

/// One partition, for listings.
#[derive(Debug, Clone)]
pub struct PartitionStats {
    pub topic: TopicName,
    pub partition: u32,
    pub log_start_offset: u64,
    pub high_watermark: u64,
    pub size_bytes: u64,
}

#[derive(Debug, Clone, Default)]
pub struct EngineStats {
    pub queues: Vec<QueueInfo>,
    pub partitions: Vec<PartitionStats>,
}

impl Engine {
    /// Opens (or creates) the engine's state under `config.data_dir` and recovers every
    /// durable vhost, exchange, queue, binding, topic and committed offset.
    pub async fn open(config: EngineConfig) -> Result<Engine> {
        std::fs::create_dir_all(&config.data_dir)?;
        let meta = Arc::new(MetaStore::open(&config.data_dir.join("meta.redb"))?);
        // Transient queues page to disk under a deep backlog; what they wrote is
        // meaningless after a restart.
        let tmp = config.data_dir.join("tmp");
        if tmp.exists() {
            std::fs::remove_dir_all(&tmp)?;
        }
        let offsets = GroupOffsets::load(meta.clone())?;
        let users = UserStore::load(meta.clone(), &config.default_user)?;
        let metrics = Arc::new(Metrics::default());
        let meta_writer = MetaWriter::start(meta.clone(), metrics.clone())?;
        let inner = Arc::new(EngineInner {
            config: Arc::new(config),
            meta: meta.clone(),
            meta_writer,
            vhosts: RwLock::new(HashMap::new()),
            topics: Arc::new(ArcSwap::from_pointee(HashMap::new())),
            topic_lock: tokio::sync::Mutex::new(()),
            forwarders: Forwarders::default(),
            offsets,
            users,
            counters: Counters::new(meta.clone()),
            connections: Arc::new(ConnectionRegistry::default()),
            membership: crate::membership::MembershipSources::default(),
            metrics,
            alarms: Arc::default(),
            next_connection: AtomicU64::new(1),
        });
        let engine = Engine { inner };
        engine.recover_vhosts().await?;
        engine.recover_topics().await?;
        Ok(engine)
    }

    async fn recover_vhosts(&self) -> Result<()> {
        let mut names: Vec<VhostName> = self
            .inner
            .meta
            .list::<()>(MetaTable::Vhosts)?
            .into_iter()
            .filter_map(|(name, ())| VhostName::new(&name).ok())
            .collect();
        if names.is_empty() {
            let default = VhostName::default_vhost();
            self.inner
                .meta
                .put(MetaTable::Vhosts, default.as_str(), &())?;
            names.push(default);
        }
        for name in names {
            let vhost = Vhost::recover(self.vhost_deps(), name.clone()).await?;
            self.write_vhosts().insert(name, vhost);
        }
        Ok(())
    }

    async fn recover_topics(&self) -> Result<()> {
        let stored = self.inner.meta.list::<TopicConfig>(MetaTable::Topics)?;
        let mut map = HashMap::new();
        for (name, config) in stored {
            let Ok(name) = TopicName::new(&name) else {
                tracing::warn!(topic = %name, "skipping stored topic with an invalid name");
                continue;
            };
            let topic = self.open_topic(&name, config, 0).await?;
            map.insert(name, Arc::new(topic));
        }
        // Vhosts are recovered first, so forwarding can publish from the start.
        for topic in map.values() {
            self.inner.forwarders.restart(self, topic);
        }
        self.inner.topics.store(Arc::new(map));
        Ok(())
    }

    fn vhost_deps(&self) -> VhostDeps {
        VhostDeps {
            config: self.inner.config.clone(),
            meta: self.inner.meta.clone(),
            meta_writer: self.inner.meta_writer.clone(),
            metrics: self.inner.metrics.clone(),
            topics: self.inner.topics.clone(),
        }
    }

    pub(crate) fn write_vhosts(
        &self,
    ) -> std::sync::RwLockWriteGuard<'_, HashMap<VhostName, Vhost>> {
        // A poisoned lock means a panic while inserting into a HashMap, which leaves it
        // consistent; keep serving.
        self.inner.vhosts.write().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn read_vhosts(&self) -> std::sync::RwLockReadGuard<'_, HashMap<VhostName, Vhost>> {
        self.inner.vhosts.read().unwrap_or_else(|p| p.into_inner())
    }

    pub fn config(&self) -> &EngineConfig {
        &self.inner.config
    }

    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.inner.metrics
    }

    /// The memory and disk alarms (measured by the broker, obeyed by the adapters).
    pub fn alarms(&self) -> &Arc<crate::alarms::ResourceAlarms> {
        &self.inner.alarms
    }

    pub fn users(&self) -> &UserStore {
        &self.inner.users
    }

    pub(crate) fn meta(&self) -> &Arc<MetaStore> {
        &self.inner.meta
    }

    pub(crate) fn inner_connections(&self) -> &Arc<ConnectionRegistry> {
        &self.inner.connections
    }

    pub fn offsets(&self) -> &GroupOffsets {
        &self.inner.offsets
    }

    /// Durable key-value state of one adapter, under `namespace` (non-empty, no NUL);
    /// see [`AdapterStore`].
    pub fn adapter_store(&self, namespace: &str) -> Result<AdapterStore> {
        AdapterStore::new(
            namespace,
            self.inner.meta.clone(),
            self.inner.meta_writer.clone(),
        )
    }

    /// Reserves `count` consecutive values of the durable counter `name`: no value is
    /// ever returned twice, across restarts and crashes, whatever the clock does. The
    /// reservation is committed to the metadata store before it returns (one fsync), so
    /// callers take blocks and hand values out of them.
    pub fn reserve_ids(&self, name: &str, count: u64) -> Result<std::ops::Range<u64>> {
        self.inner.counters.reserve(name, count)
    }

    /// A fresh id for a new client connection.
    pub fn next_connection_id(&self) -> ConnectionId {
        ConnectionId(self.inner.next_connection.fetch_add(1, Ordering::Relaxed))
    }

    pub fn vhost(&self, name: &str) -> Result<Vhost> {
        self.read_vhosts()
            .get(name)
            .cloned()
            .ok_or_else(|| Error::not_found("vhost", name, name))
    }

    pub fn vhost_names(&self) -> Vec<VhostName> {
        self.read_vhosts().keys().cloned().collect()
    }

    /// Creates a vhost (idempotent).
    pub async fn add_vhost(&self, name: VhostName) -> Result<Vhost> {
        if let Ok(v) = self.vhost(name.as_str()) {
            return Ok(v);
        }
        self.inner.meta.put(MetaTable::Vhosts, name.as_str(), &())?;
        let vhost = Vhost::recover(self.vhost_deps(), name.clone()).await?;
        Ok(self.write_vhosts().entry(name).or_insert(vhost).clone())
    }

    /// Tells every vhost a connection is gone: its exclusive queues are deleted and
    /// whatever it held unacknowledged is requeued.
    pub async fn connection_closed(&self, conn: ConnectionId) {
        let vhosts: Vec<Vhost> = self.read_vhosts().values().cloned().collect();
        for vhost in vhosts {
            vhost.connection_closed(conn).await;
        }
    }

    // ----------------------------------------------------------------- topics

    pub fn topic(&self, name: &str) -> Option<Arc<Topic>> {
        self.inner.topics.load().get(name).cloned()
    }

    pub fn topics(&self) -> Vec<Arc<Topic>> {
        let mut v: Vec<_> = self.inner.topics.load().values().cloned().collect();
        v.sort_by(|a, b| a.name.cmp(&b.name));
        v
    }

    fn topic_dir(&self, name: &TopicName, partition: u32) -> PathBuf {
        self.inner
            .config
            .data_dir
            .join("topics")
            .join(format!("{name}-{partition}"))
    }

    fn log_config(config: &TopicConfig, max_batch: usize) -> LogConfig {
        LogConfig {
            segment_bytes: config.segment_bytes,
            segment_ms: config.segment_ms,
            retention_ms: config.retention_ms,
            retention_bytes: config.retention_bytes,
            index_interval_bytes: 4096,
            max_batch_bytes: u32::try_from(max_batch).unwrap_or(u32::MAX),
        }
    }

    /// Opens partitions `from..config.partitions` of a topic.
    async fn open_topic(&self, name: &TopicName, config: TopicConfig, from: u32) -> Result<Topic> {
        let mut partitions = Vec::with_capacity(config.partitions as usize);
        for index in from..config.partitions {
            partitions.push(self.open_partition(name, index, &config)?);
        }
        Ok(Topic::new(name.clone(), config, partitions))
    }

    fn open_partition(
        &self,
        name: &TopicName,
        index: u32,
        config: &TopicConfig,
    ) -> Result<PartitionRef> {
        let cfg = Self::log_config(config, self.inner.config.max_message_bytes);
        spawn_partition(
            name.clone(),
            index,
            self.topic_dir(name, index),
            cfg,
            &self.inner.config,
            self.inner.metrics.clone(),
        )
    }

    /// Creates a topic. Fails with `PreconditionFailed` if it exists.
    pub async fn create_topic(&self, name: TopicName, config: TopicConfig) -> Result<Arc<Topic>> {
        if config.partitions == 0 {
            return Err(Error::InvalidArgument(
                "a topic needs at least one partition".into(),
            ));
        }
        let _guard = self.inner.topic_lock.lock().await;
        if self.topic(name.as_str()).is_some() {
            return Err(Error::PreconditionFailed(format!(
                "topic '{name}' already exists"
            )));
        }
        self.inner
            .meta
            .put(MetaTable::Topics, name.as_str(), &config)?;
        let topic = Arc::new(self.open_topic(&name, config, 0).await?);
        self.swap_topics(|m| {
            m.insert(name.clone(), topic.clone());
        });
        self.inner.forwarders.restart(self, &topic);
        tracing::info!(topic = %name, partitions = topic.partitions.len(), "created topic");
        Ok(topic)
    }

    /// The named topic, created with the default settings if auto-creation is on.
    pub async fn topic_or_create(&self, name: &TopicName) -> Result<Option<Arc<Topic>>> {
        if let Some(t) = self.topic(name.as_str()) {
            return Ok(Some(t));
        }
        if !self.inner.config.auto_create_topics {
            return Ok(None);
        }
        match self
            .create_topic(name.clone(), self.inner.config.default_topic.clone())
            .await
        {
            Ok(t) => Ok(Some(t)),
            // Lost a race with another creator: theirs is as good as ours.
            Err(Error::PreconditionFailed(_)) => Ok(self.topic(name.as_str())),
            Err(e) => Err(e),
        }
    }

    pub async fn delete_topic(&self, name: &str) -> Result<()> {
        let _guard = self.inner.topic_lock.lock().await;
        let Some(topic) = self.topic(name) else {
            return Err(Error::not_found("topic", name, "-"));
        };
        self.inner.meta.delete(MetaTable::Topics, name)?;
        self.inner.forwarders.stop(name);
        self.swap_topics(|m| {
            m.remove(name);
        });
        for p in &topic.partitions {
            p.shutdown(true).await;
        }
        self.inner.offsets.forget_topic(name)?;
        let vhosts: Vec<Vhost> = self.read_vhosts().values().cloned().collect();
        for vhost in vhosts {
            vhost.forget_stream(name).await?;
        }
        tracing::info!(topic = %name, "deleted topic");
        Ok(())
    }

    /// Grows a topic to `total` partitions (Kafka never shrinks).
    pub async fn create_partitions(&self, name: &str, total: u32) -> Result<()> {
        let _guard = self.inner.topic_lock.lock().await;
        let Some(topic) = self.topic(name) else {
            return Err(Error::not_found("topic", name, "-"));
        };
        let current = topic.partitions.len() as u32;
        if total <= current {
            return Err(Error::InvalidArgument(format!(
                "topic '{name}' has {current} partitions; the new count must be larger, got {total}"
            )));
        }
        let mut config = topic.config.clone();
        config.partitions = total;
        let more = self
            .open_topic(&topic.name, config.clone(), current)
            .await?;
        self.inner.meta.put(MetaTable::Topics, name, &config)?;
        let mut partitions = topic.partitions.clone();
        partitions.extend(more.partitions);
        let grown = Arc::new(topic.rebuilt(config, partitions));
        self.swap_topics(|m| {
            m.insert(grown.name.clone(), grown.clone());
        });
        self.inner.forwarders.restart(self, &grown);
        Ok(())
    }

    /// Replaces a topic's retention and segment settings (the partition count is
    /// changed only by `create_partitions`).
    pub async fn alter_topic_config(&self, name: &str, mut config: TopicConfig) -> Result<()> {
        let _guard = self.inner.topic_lock.lock().await;
        let Some(topic) = self.topic(name) else {
            return Err(Error::not_found("topic", name, "-"));
        };
        config.partitions = topic.config.partitions;
        self.inner.meta.put(MetaTable::Topics, name, &config)?;
        let log_cfg = Self::log_config(&config, self.inner.config.max_message_bytes);
        for p in &topic.partitions {
            p.update_config(log_cfg.clone()).await?;
        }
        let updated = Arc::new(topic.rebuilt(config, topic.partitions.clone()));
        self.swap_topics(|m| {
            m.insert(updated.name.clone(), updated.clone());
        });
        // Only a forwarding change restarts the tailing tasks (a restart resumes from
        // the last committed position, but there is no reason to interrupt them).
        if updated.config.forward != topic.config.forward {
            self.inner.forwarders.restart(self, &updated);
        }
        Ok(())
    }

    fn swap_topics(&self, change: impl FnOnce(&mut HashMap<TopicName, Arc<Topic>>)) {
        let mut next = (**self.inner.topics.load()).clone();
        change(&mut next);
        self.inner.topics.store(Arc::new(next));
    }

    // ----------------------------------------------------------------- stats

    pub fn stats(&self) -> EngineStats {
        let mut stats = EngineStats::default();
        for (name, vhost) in self.read_vhosts().iter() {
            for q in vhost.queues() {
                stats.queues.push(QueueInfo {
                    vhost: name.clone(),
                    name: q.name().clone(),
                    durable: q.def().durable,
                    length_limited: q.def().args.max_length.is_some()
                        || q.def().args.max_length_bytes.is_some(),
                    stats: q.stats(),
                });
            }
        }
        for topic in self.topics() {
            for p in &topic.partitions {
                stats.partitions.push(PartitionStats {
                    topic: topic.name.clone(),
                    partition: p.index(),
                    log_start_offset: p.log_start_offset(),
                    high_watermark: p.high_watermark(),
                    size_bytes: p.size_bytes(),
                });
            }
        }
        stats
    }

    /// Flushes and stops every queue and partition task. Call once, at exit.
    pub async fn shutdown(&self) {
        self.inner.forwarders.stop_all();
        let vhosts: Vec<Vhost> = self.read_vhosts().values().cloned().collect();
        for vhost in vhosts {
            vhost.shutdown().await;
        }
        for topic in self.topics() {
            for p in &topic.partitions {
                p.shutdown(false).await;
            }
        }
    }
}
