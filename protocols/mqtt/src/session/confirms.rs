//! Publish confirmations. A QoS 1/2 PUBLISH is acknowledged only once every queue it
//! was routed to holds it as durably as `durability` promises (under `fsync`, after
//! the fsync), and, for QoS 2 in a persistent session, once its packet id is recorded
//! in the adapter store (so that a resend after a restart is not routed again). A
//! PUBCOMP likewise waits until the release is recorded. The waits run in one small
//! task per connection, started on first use, so that the session loop never waits on
//! one, and the answers go out in the order the packets came.

use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use trident_engine::{Confirm, DeliveryId, Nack, Outcome, QueueRef};

use crate::codec::{PacketId, QoS, ReasonCode};

/// The acknowledgement a confirmation completes.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PendingAck {
    pub packet_id: PacketId,
    pub qos: QoS,
    /// Routed to no queue (a v5 client hears 0x10 No matching subscribers).
    pub unrouted: bool,
}

/// A write to the adapter store, already under way.
pub(crate) type StoreWrite = JoinHandle<trident_core::Result<()>>;

pub(crate) enum Job {
    Confirm(Confirm, PendingAck, Option<StoreWrite>),
    /// A publish that was not routed (see `router.rs`): refused in its turn.
    Refused(PendingAck, ReasonCode, String),
    Release(PacketId, StoreWrite),
    Received(PacketId, StoreWrite, QueueRef, DeliveryId),
}

/// What comes back to the session.
pub(crate) enum Done {
    Ack(PendingAck, Result<(), Nack>),
    /// Not routed: refuse it with this code (or close a 3.x connection).
    Refused(PendingAck, ReasonCode, String),
    /// The release of a QoS 2 id is recorded: send PUBCOMP.
    Released(PacketId),
    /// The PUBREC of an outgoing QoS 2 message is recorded and its delivery's ack
    /// written: send PUBREL.
    Received(PacketId),
}

pub(crate) struct Confirmer {
    tx: mpsc::UnboundedSender<Job>,
    pub rx: mpsc::UnboundedReceiver<Done>,
    /// Started on the first publish that must wait for its record before it is routed.
    pub router: Option<super::router::Router>,
}

async fn written(w: StoreWrite) -> Result<(), Nack> {
    match w.await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(Nack::Storage("mqtt session state".into(), e.to_string())),
        Err(e) => Err(Nack::Storage("mqtt session state".into(), e.to_string())),
    }
}

impl Confirmer {
    pub fn start() -> Self {
        let (tx, mut inbox) = mpsc::unbounded_channel::<Job>();
        let (done, rx) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            while let Some(job) = inbox.recv().await {
                let out = match job {
                    Job::Confirm(confirm, ack, write) => {
                        let mut result = confirm.wait().await;
                        if let Some(w) = write {
                            let w = written(w).await;
                            result = result.and(w);
                        }
                        Done::Ack(ack, result)
                    }
                    Job::Refused(ack, code, text) => Done::Refused(ack, code, text),
                    Job::Release(id, write) => {
                        // A failed delete leaves the id marked; a later PUBLISH with it
                        // is then acknowledged without routing, which the client sees
                        // as delivered. Logged: it means the metadata store failed.
                        if let Err(e) = written(write).await {
                            tracing::warn!(error = %e, "MQTT QoS 2 release not recorded");
                        }
                        Done::Released(id)
                    }
                    Job::Received(id, write, queue, delivery) => {
                        match written(write).await {
                            Ok(()) => {
                                // PUBREL waits until the queue has written the ack:
                                // the client's PUBCOMP deletes the PUBREC record, and
                                // a crash after that delete with the ack still unwritten
                                // brought the message back as a new PUBLISH (a new
                                // packet id, so the client delivered it twice; the
                                // soak's duplicates).
                                if let Ok(w) =
                                    queue.settle_written(vec![delivery], Outcome::Ack).await
                                {
                                    w.wait().await;
                                }
                            }
                            // Unsettled, the delivery comes back on the next
                            // connection: at least once rather than lost.
                            Err(e) => tracing::warn!(error = %e, "MQTT QoS 2 PUBREC not recorded"),
                        }
                        Done::Received(id)
                    }
                };
                if done.send(out).is_err() {
                    return;
                }
            }
        });
        Self {
            tx,
            rx,
            router: None,
        }
    }

    /// Where the router hands its confirmations, so that they keep their turn.
    pub fn jobs(&self) -> mpsc::UnboundedSender<Job> {
        self.tx.clone()
    }

    pub fn wait(&self, confirm: Confirm, ack: PendingAck, write: Option<StoreWrite>) {
        // The task ends only when this sender is dropped, so the send cannot fail
        // while we hold it; if it did, the client would simply get no acknowledgement
        // and resend.
        let _ = self.tx.send(Job::Confirm(confirm, ack, write));
    }

    pub fn release(&self, id: PacketId, write: StoreWrite) {
        let _ = self.tx.send(Job::Release(id, write));
    }

    pub fn received(&self, id: PacketId, write: StoreWrite, queue: QueueRef, delivery: DeliveryId) {
        let _ = self.tx.send(Job::Received(id, write, queue, delivery));
    }
}
