//! Which connection holds which client id, and what a session leaves behind between
//! its connections: the table behind session takeover ([MQTT-3.1.4-3]), the QoS 2
//! state that must outlive a connection, and delayed wills a reconnect cancels.
//!
//! Queued messages and subscriptions live in the engine (the session's queue and its
//! bindings); what is here is the little protocol state the engine has no word for.
//! It is kept in memory: it survives reconnects, not a broker restart.

use std::collections::HashMap;
use std::sync::Mutex;

use tokio::sync::oneshot;
use trident_core::{ConnectionId, PublisherSeq};

/// An incoming QoS 2 packet id routed and not yet released.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Qos2In {
    /// Routed by this connection, which knows the outcome: a resent PUBLISH is
    /// acknowledged, not routed again. The key (persistent sessions) for the next
    /// connection.
    Routed(Option<PublisherSeq>),
    /// Routed by an earlier connection or broker run with this key, which may have
    /// ended before every queue stored it: a resent PUBLISH is routed again with the
    /// same key (queues that have it drop it).
    Unsure(PublisherSeq),
}

impl Qos2In {
    /// What a later connection makes of it.
    pub fn handed_over(self) -> Self {
        match self {
            Qos2In::Routed(Some(k)) | Qos2In::Unsure(k) => Qos2In::Unsure(k),
            Qos2In::Routed(None) => Qos2In::Routed(None),
        }
    }
}

/// The QoS 2 state of a session while no connection holds it.
#[derive(Debug, Default)]
pub struct Kept {
    /// Incoming QoS 2 packet ids routed and not yet released by PUBREL: a PUBLISH
    /// resent with one of these is acknowledged again, not routed again.
    pub pending_release: HashMap<u16, Qos2In>,
    /// Outgoing QoS 2 messages the client has acknowledged with PUBREC, with their
    /// store position: we owe them a PUBREL on reconnect, and the message (should its
    /// settlement not have reached the queue) is not sent again.
    pub pubrel: Vec<(u16, Option<u64>)>,
    /// Outgoing QoS 2 messages not yet acknowledged with PUBREC, by their position in
    /// the queue's store: resent with the same packet id and DUP, so that the client's
    /// own duplicate detection works ([MQTT-4.3.3]).
    pub unreceived: HashMap<u64, u16>,
    /// When the session expires (v5 session expiry); `None` never.
    pub expires_at: Option<std::time::Instant>,
}

impl Kept {
    pub fn is_empty(&self) -> bool {
        self.pending_release.is_empty() && self.pubrel.is_empty() && self.unreceived.is_empty()
    }
}

#[derive(Debug)]
struct Live {
    conn: ConnectionId,
    /// Tells the connection to close (session taken over).
    kick: Option<oneshot::Sender<()>>,
    /// Completes (sent or dropped) once the connection has handed its session back. A
    /// oneshot, not a watch: it costs a fifth of the memory, and every idle connection
    /// holds one.
    done: oneshot::Receiver<()>,
}

#[derive(Debug, Default)]
struct Entry {
    live: Option<Live>,
    /// Boxed: every connected client id has an entry, in a map whose buckets are all
    /// entry-sized (up to twice the entries), and only offline persistent sessions
    /// have kept state. Inline it made each idle connection cost about 350 bytes of
    /// map instead of about 100.
    kept: Option<Box<Kept>>,
    /// Dropping it cancels the delayed will of the last connection.
    will_cancel: Option<oneshot::Sender<()>>,
    /// The session outlives its connection (kept state is worth keeping).
    persistent: bool,
}

/// What [`Registry::claim`] hands the new holder of a client id.
#[derive(Debug)]
pub struct Claim {
    /// Resolves when the connection we took the id from has let go of its session.
    pub previous: Option<oneshot::Receiver<()>>,
    /// Fires when a later connection takes the id from us.
    pub kicked: oneshot::Receiver<()>,
    /// Set to true once our session state is handed back.
    pub done: oneshot::Sender<()>,
}

#[derive(Debug, Default)]
pub struct Registry {
    entries: Mutex<HashMap<String, Entry>>,
}

impl Registry {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Entry>> {
        self.entries.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Makes `conn` the holder of `client_id`: the previous holder (if any) is told to
    /// close, and a delayed will of the session is cancelled.
    pub fn claim(&self, client_id: &str, conn: ConnectionId) -> Claim {
        let (kick_tx, kicked) = oneshot::channel();
        let (done, done_rx) = oneshot::channel();
        let mut entries = self.lock();
        let e = entries.entry(client_id.to_owned()).or_default();
        e.will_cancel = None;
        let previous = e.live.take().map(|mut old| {
            if let Some(k) = old.kick.take() {
                let _ = k.send(());
            }
            old.done
        });
        e.live = Some(Live {
            conn,
            kick: Some(kick_tx),
            done: done_rx,
        });
        Claim {
            previous,
            kicked,
            done,
        }
    }

    /// The state the session's last connection left (taken: the caller now holds it).
    pub fn take_kept(&self, client_id: &str) -> Option<Kept> {
        let now = std::time::Instant::now();
        self.lock()
            .get_mut(client_id)
            .and_then(|e| e.kept.take())
            .map(|k| *k)
            .filter(|k| k.expires_at.is_none_or(|t| t > now))
    }

    /// Whether a session for `client_id` has state here (for session present).
    pub fn has_session(&self, client_id: &str) -> bool {
        self.lock()
            .get(client_id)
            .is_some_and(|e| e.persistent && e.kept.is_some())
    }

    /// Forgets what the session left (clean start).
    pub fn discard(&self, client_id: &str) {
        if let Some(e) = self.lock().get_mut(client_id) {
            e.kept = None;
            e.persistent = false;
        }
    }

    /// `conn` lets go of `client_id`. A persistent session leaves `kept` for its next
    /// connection; `will_cancel` is the handle of a delayed will that a reconnect
    /// cancels.
    pub fn release(
        &self,
        client_id: &str,
        conn: ConnectionId,
        kept: Option<Kept>,
        will_cancel: Option<oneshot::Sender<()>>,
    ) {
        let mut entries = self.lock();
        let Some(e) = entries.get_mut(client_id) else {
            return;
        };
        let still_ours = e.live.as_ref().is_some_and(|l| l.conn == conn);
        if still_ours {
            e.live = None;
            e.will_cancel = will_cancel;
        }
        // Taken over or not, the next connection resumes what we leave.
        e.persistent = kept.is_some();
        e.kept = kept.map(Box::new);
        if e.live.is_none() && e.kept.is_none() && e.will_cancel.is_none() {
            entries.remove(client_id);
        }
    }

    /// How many client ids are connected now.
    pub fn connected(&self) -> usize {
        self.lock().values().filter(|e| e.live.is_some()).count()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn a_second_claim_kicks_the_first_and_waits_for_its_state() {
        let r = Registry::default();
        let mut first = r.claim("dev", ConnectionId(1));
        assert!(first.previous.is_none());
        let second = r.claim("dev", ConnectionId(2));
        assert!(
            first.kicked.try_recv().is_ok(),
            "the first holder is told to go"
        );
        let mut previous = second.previous.unwrap();
        assert!(previous.try_recv().is_err(), "not done yet");
        let mut kept = Kept::default();
        kept.pending_release.insert(7, Qos2In::Routed(None));
        r.release("dev", ConnectionId(1), Some(kept), None);
        first.done.send(()).unwrap();
        assert!(previous.try_recv().is_ok());
        assert_eq!(r.connected(), 1, "the second still holds the id");
        let kept = r.take_kept("dev").unwrap();
        assert!(kept.pending_release.contains_key(&7));
    }

    /// Every connected client id has an entry; the map's buckets (up to twice the
    /// entries) are entry-sized, so this is part of each idle connection's cost.
    #[test]
    fn an_entry_stays_small() {
        let size = std::mem::size_of::<(String, Entry)>();
        assert!(size <= 96, "registry entry is {size} bytes");
    }

    #[test]
    fn a_clean_session_leaves_nothing() {
        let r = Registry::default();
        let _c = r.claim("x", ConnectionId(1));
        r.release("x", ConnectionId(1), None, None);
        assert!(!r.has_session("x"));
        assert_eq!(r.connected(), 0);
        assert!(r.lock().is_empty());
    }

    #[test]
    fn a_reconnect_cancels_the_delayed_will() {
        let r = Registry::default();
        let _c = r.claim("w", ConnectionId(1));
        let (tx, mut rx) = oneshot::channel::<()>();
        r.release("w", ConnectionId(1), None, Some(tx));
        assert!(rx.try_recv().is_err(), "still pending");
        let _d = r.claim("w", ConnectionId(2));
        assert!(matches!(
            rx.try_recv(),
            Err(oneshot::error::TryRecvError::Closed)
        ));
    }
}
