//! Engine-wide counters, read by the broker's `/metrics` endpoint. Plain atomics: they
//! are bumped on hot paths and must cost no more than an uncontended add.

use std::sync::atomic::{AtomicU64, Ordering};

#[derive(Debug, Default)]
pub struct Metrics {
    pub messages_published: AtomicU64,
    pub bytes_published: AtomicU64,
    pub messages_unroutable: AtomicU64,
    pub messages_delivered: AtomicU64,
    pub messages_acked: AtomicU64,
    pub messages_dead_lettered: AtomicU64,
    pub messages_expired: AtomicU64,
    /// Dropped from a queue's head by its length limit (`x-overflow = drop-head`).
    pub messages_dropped_overflow: AtomicU64,
    /// Refused by a full queue (`x-overflow = reject-publish[-dlx]`).
    pub messages_rejected_overflow: AtomicU64,
    pub records_appended: AtomicU64,
    pub bytes_appended: AtomicU64,
    pub records_fetched: AtomicU64,
    /// Adapter-state and retained-message writes (batches) committed, and the commits
    /// (fsyncs) they took: their ratio is what group commit saves.
    pub meta_writes: AtomicU64,
    pub meta_commits: AtomicU64,
    pub connections_opened: AtomicU64,
    pub connections_closed: AtomicU64,
    unique: AtomicU64,
}

impl Metrics {
    pub(crate) fn record_publish(&self, bytes: usize) {
        self.messages_published.fetch_add(1, Ordering::Relaxed);
        self.bytes_published
            .fetch_add(bytes as u64, Ordering::Relaxed);
    }

    pub(crate) fn record_unroutable(&self) {
        self.messages_unroutable.fetch_add(1, Ordering::Relaxed);
    }

    /// A number never handed out before by this process (for temporary directories).
    pub(crate) fn next_unique(&self) -> u64 {
        self.unique.fetch_add(1, Ordering::Relaxed)
    }

    pub fn get(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }

    pub fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    /// Connections currently open (opened minus closed).
    pub fn connections_open(&self) -> u64 {
        Self::get(&self.connections_opened).saturating_sub(Self::get(&self.connections_closed))
    }
}
