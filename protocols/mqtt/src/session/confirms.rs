//! Publish confirmations. A QoS 1/2 PUBLISH is acknowledged only once every queue it
//! was routed to holds it as durably as `durability` promises (under `fsync`, after
//! the fsync). The confirmations are awaited in order by one small task per
//! connection, started on the first QoS 1/2 publish, so that the session loop never
//! waits on one, and acknowledgements go out in the order the publishes came.

use tokio::sync::mpsc;
use trident_engine::{Confirm, Nack};

use crate::codec::{PacketId, QoS};

/// The acknowledgement a confirmation completes.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PendingAck {
    pub packet_id: PacketId,
    pub qos: QoS,
    /// Routed to no queue (a v5 client hears 0x10 No matching subscribers).
    pub unrouted: bool,
}

pub(crate) struct Confirmer {
    tx: mpsc::UnboundedSender<(Confirm, PendingAck)>,
    pub rx: mpsc::UnboundedReceiver<(PendingAck, Result<(), Nack>)>,
}

impl Confirmer {
    pub fn start() -> Self {
        let (tx, mut inbox) = mpsc::unbounded_channel::<(Confirm, PendingAck)>();
        let (done, rx) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            while let Some((confirm, ack)) = inbox.recv().await {
                let result = confirm.wait().await;
                if done.send((ack, result)).is_err() {
                    return;
                }
            }
        });
        Self { tx, rx }
    }

    pub fn wait(&self, confirm: Confirm, ack: PendingAck) {
        // The task ends only when this sender is dropped, so the send cannot fail
        // while we hold it; if it did, the client would simply get no acknowledgement
        // and resend.
        let _ = self.tx.send((confirm, ack));
    }
}
