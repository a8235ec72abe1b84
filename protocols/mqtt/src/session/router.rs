//! Publishes that must wait before they are routed: an incoming QoS 2 PUBLISH of a
//! persistent session is routed only once its packet id and idempotency key are
//! recorded in the adapter store (`session_store::record`), so that whatever a crash
//! interrupts, the client's resend finds the key and the queues drop a second copy.
//!
//! The session loop does not wait for that write: the publish goes to this task, which
//! takes them in order, waits for each record (they are all under way, so one metadata
//! commit covers many) and routes it, then hands its confirmation to the confirmer. While
//! anything is in here, the session sends every later publish (any QoS) this way too, so
//! that none overtakes another (order per topic, [MQTT-4.6.0-6]).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::sync::mpsc;
use trident_core::{ExchangeName, Message, PublisherSeq};
use trident_engine::{PublishOptions, Vhost};

use super::confirms::{Job, PendingAck, StoreWrite};
use crate::codec::ReasonCode;
use crate::error::engine_code;

pub(crate) struct Route {
    /// The record to wait for (none for a resend of a recorded id).
    pub write: Option<StoreWrite>,
    pub message: Message,
    /// Where it goes when not the session's exchange (a `$queue/` publish).
    pub exchange: Option<ExchangeName>,
    pub key: Option<PublisherSeq>,
    /// What to acknowledge (QoS 1/2); none for QoS 0.
    pub ack: Option<PendingAck>,
}

pub(crate) struct Router {
    tx: mpsc::UnboundedSender<Route>,
    /// Routes sent and not yet handed to the confirmer.
    pending: Arc<AtomicUsize>,
}

impl Router {
    pub fn start(vhost: Vhost, exchange: ExchangeName, jobs: mpsc::UnboundedSender<Job>) -> Self {
        let (tx, mut inbox) = mpsc::unbounded_channel::<Route>();
        let pending = Arc::new(AtomicUsize::new(0));
        let left = pending.clone();
        tokio::spawn(async move {
            while let Some(r) = inbox.recv().await {
                let job = route(&vhost, &exchange, r).await;
                if let Some(job) = job {
                    // The connection is gone when this fails: the routing is done all
                    // the same, and its next connection resends what it did not hear.
                    let _ = jobs.send(job);
                }
                left.fetch_sub(1, Ordering::AcqRel);
            }
        });
        Self { tx, pending }
    }

    /// Whether routes are waiting (a later publish must then queue behind them).
    pub fn busy(&self) -> bool {
        self.pending.load(Ordering::Acquire) > 0
    }

    pub fn send(&self, r: Route) {
        self.pending.fetch_add(1, Ordering::AcqRel);
        if self.tx.send(r).is_err() {
            // Cannot happen while we hold the sender; the client would resend.
            self.pending.fetch_sub(1, Ordering::AcqRel);
        }
    }
}

async fn route(vhost: &Vhost, exchange: &ExchangeName, r: Route) -> Option<Job> {
    if let Some(w) = r.write {
        let written = match w.await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(e.to_string()),
            Err(e) => Err(e.to_string()),
        };
        if let Err(e) = written {
            tracing::warn!(error = %e, "MQTT QoS 2 packet id not recorded; publish refused");
            let text = format!("mqtt session state not recorded: {e}");
            return r
                .ack
                .map(|a| Job::Refused(a, ReasonCode::ImplementationSpecificError, text));
        }
    }
    let opts = PublishOptions {
        mandatory: false,
        confirm: r.ack.is_some(),
    };
    let exchange = r.exchange.as_ref().unwrap_or(exchange);
    let published = vhost.publish_keyed(r.message, exchange, opts, r.key).await;
    let mut ack = r.ack?;
    match published {
        Ok(p) => {
            ack.unrouted = p.routed == 0;
            let c = p.confirm?;
            Some(Job::Confirm(c, ack, None))
        }
        Err(e) => Some(Job::Refused(ack, engine_code(&e), e.to_string())),
    }
}
