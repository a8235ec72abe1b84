//! Group commit for small, frequent metadata writes (adapters' durable state, retained
//! messages).
//!
//! Every metadata commit is fsynced (see `MetaStore`). Topology changes are rare and
//! commit one by one; adapter state is written per client action (a QoS 2 packet id,
//! a session record), so thousands of clients would queue up behind one fsync each.
//! Writers hand their operations to one thread instead, which takes every batch
//! already waiting, commits them in one transaction (one fsync) and answers them all.
//! Each batch stays atomic: it is part of one larger atomic commit.

use std::sync::Arc;
use std::sync::mpsc;
use std::thread::JoinHandle;

use tokio::sync::oneshot;
use trident_core::{Error, ErrorKind, Result};
use trident_storage::{MetaOp, MetaStore};

use crate::metrics::Metrics;

/// At most this many batches share one commit, so that a single huge commit does not
/// hold every writer waiting.
const MAX_GROUP: usize = 1024;

struct Job {
    ops: Vec<MetaOp>,
    done: oneshot::Sender<Result<()>>,
}

/// A handle to the writer thread. Cheap to clone; the thread ends (after committing
/// what it was given) once the last handle is gone.
#[derive(Debug, Clone)]
pub(crate) struct MetaWriter {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    tx: Option<mpsc::Sender<Job>>,
    thread: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for Job {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Job").field("ops", &self.ops.len()).finish()
    }
}

impl MetaWriter {
    pub(crate) fn start(meta: Arc<MetaStore>, metrics: Arc<Metrics>) -> Result<Self> {
        let (tx, rx) = mpsc::channel::<Job>();
        let thread = std::thread::Builder::new()
            .name("trident-meta-writer".into())
            .spawn(move || run(&meta, &metrics, &rx))?;
        Ok(Self {
            inner: Arc::new(Inner {
                tx: Some(tx),
                thread: Some(thread),
            }),
        })
    }

    /// Commits `ops` atomically; resolves once they are durable.
    pub(crate) async fn write(&self, ops: Vec<MetaOp>) -> Result<()> {
        self.submit(ops)?
            .await
            .map_err(|_| Error::Unavailable("the metadata writer stopped".into()))?
    }

    /// Queues `ops` for the next commit and returns what will report it. Calls made
    /// one after another commit in that order, whether or not the caller waits between
    /// them (a caller that must order its in-memory state with the store submits under
    /// its own lock and waits outside it).
    pub(crate) fn submit(&self, ops: Vec<MetaOp>) -> Result<oneshot::Receiver<Result<()>>> {
        let (done, rx) = oneshot::channel();
        let tx = self
            .inner
            .tx
            .as_ref()
            .ok_or_else(|| Error::Unavailable("the metadata writer stopped".into()))?;
        tx.send(Job { ops, done })
            .map_err(|_| Error::Unavailable("the metadata writer stopped".into()))?;
        Ok(rx)
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        // Closing the channel lets the thread finish what it holds and stop; waiting for
        // it means that once the engine is dropped its metadata file is closed and can be
        // opened again (a restart within one process, as tests do).
        drop(self.tx.take());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn run(meta: &MetaStore, metrics: &Metrics, rx: &mpsc::Receiver<Job>) {
    while let Ok(first) = rx.recv() {
        let mut jobs = vec![first];
        while jobs.len() < MAX_GROUP {
            match rx.try_recv() {
                Ok(job) => jobs.push(job),
                Err(_) => break,
            }
        }
        let ops: Vec<MetaOp> = jobs.iter_mut().flat_map(|j| j.ops.drain(..)).collect();
        match meta.write_batch(ops).map_err(Error::from) {
            Ok(()) => {
                Metrics::add(&metrics.meta_commits, 1);
                Metrics::add(&metrics.meta_writes, jobs.len() as u64);
                for j in jobs {
                    let _ = j.done.send(Ok(()));
                }
            }
            Err(e) => {
                tracing::error!(error = %e, batches = jobs.len(), "metadata commit failed");
                for j in jobs {
                    let _ = j.done.send(Err(copy_error(&e)));
                }
            }
        }
    }
}

/// One failed commit answers every batch in it; the error type is not `Clone`, and only
/// its kind and message matter to the callers.
fn copy_error(e: &Error) -> Error {
    match e {
        Error::ResourceExhausted(m) => Error::ResourceExhausted(m.clone()),
        Error::Storage(m) => Error::Storage(m.clone()),
        other if other.kind() == ErrorKind::ResourceExhausted => {
            Error::ResourceExhausted(other.to_string())
        }
        other => Error::Storage(other.to_string()),
    }
}
