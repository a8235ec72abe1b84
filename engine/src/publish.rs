//! Publishing: options, outcome, and the confirmation that completes once every queue
//! that received the message holds it as durably as promised.

use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use tokio::sync::oneshot;

#[derive(Debug, Clone, Copy, Default)]
pub struct PublishOptions {
    /// The publisher wants to know whether the message reached at least one queue
    /// (AMQP `mandatory`). The engine reports `routed == 0`; the adapter returns it.
    pub mandatory: bool,
    /// The publisher wants a confirmation (AMQP confirm mode, MQTT QoS 1/2).
    pub confirm: bool,
}

/// The result of routing a publish.
#[derive(Debug)]
pub struct Published {
    /// How many queues the message was handed to.
    pub routed: usize,
    /// Present when `confirm` was asked for; resolves once every queue has taken it.
    pub confirm: Option<Confirm>,
}

/// Why a publish was not confirmed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Nack {
    #[error("queue '{0}' is full and rejects publishes")]
    QueueFull(String),
    #[error("queue '{0}' could not store the message: {1}")]
    Storage(String, String),
    #[error("queue '{0}' went away before the message was stored")]
    QueueGone(String),
}

/// A pending confirmation. Await [`Confirm::wait`].
#[derive(Debug)]
pub struct Confirm {
    rx: oneshot::Receiver<Result<(), Nack>>,
}

impl Confirm {
    /// Resolves when every queue has stored the message (or one refused it).
    pub async fn wait(self) -> Result<(), Nack> {
        self.rx
            .await
            .unwrap_or_else(|_| Err(Nack::QueueGone("unknown".into())))
    }

    /// A confirmation that is already complete (message routed nowhere, or only to
    /// queues that need no durability).
    pub(crate) fn ready(result: Result<(), Nack>) -> Self {
        let (tx, rx) = oneshot::channel();
        let _ = tx.send(result);
        Self { rx }
    }
}

/// The queues' side of a confirmation: each queue that received the message calls
/// `complete` once; the first nack or the last ack resolves the publisher's future.
#[derive(Debug, Clone)]
pub struct ConfirmTicket(Arc<TicketInner>);

#[derive(Debug)]
struct TicketInner {
    remaining: AtomicUsize,
    done: AtomicBool,
    tx: Mutex<Option<oneshot::Sender<Result<(), Nack>>>>,
}

impl ConfirmTicket {
    /// A ticket awaiting `parts` completions, and the future that observes it.
    pub(crate) fn new(parts: usize) -> (Self, Confirm) {
        let (tx, rx) = oneshot::channel();
        let inner = TicketInner {
            remaining: AtomicUsize::new(parts),
            done: AtomicBool::new(false),
            tx: Mutex::new(Some(tx)),
        };
        (Self(Arc::new(inner)), Confirm { rx })
    }

    pub(crate) fn complete(&self, result: Result<(), Nack>) {
        let last = self.0.remaining.fetch_sub(1, Ordering::AcqRel) == 1;
        if (result.is_err() || last) && !self.0.done.swap(true, Ordering::AcqRel) {
            // A poisoned lock only means another completer panicked; the sender is
            // still usable.
            let tx = match self.0.tx.lock() {
                Ok(mut g) => g.take(),
                Err(p) => p.into_inner().take(),
            };
            if let Some(tx) = tx {
                let _ = tx.send(result);
            }
        }
    }
}

impl Drop for TicketInner {
    fn drop(&mut self) {
        // A queue that dropped its ticket without completing (task died) must not leave
        // the publisher waiting forever.
        if !self.done.load(Ordering::Acquire) {
            let tx = match self.tx.get_mut() {
                Ok(g) => g.take(),
                Err(p) => p.into_inner().take(),
            };
            if let Some(tx) = tx {
                let _ = tx.send(Err(Nack::QueueGone("unknown".into())));
            }
        }
    }
}
