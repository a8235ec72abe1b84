//! One client connection's state, beside what all connections share ([`crate::shared`]).

use std::net::SocketAddr;

use crate::sasl::SaslState;

/// One client connection's state.
#[derive(Debug)]
pub struct Session {
    pub peer: SocketAddr,
    /// From the latest request header; group members are described with it.
    pub client_id: String,
    pub sasl: SaslState,
    /// Came in on the TLS listener (Metadata then advertises that listener).
    pub tls: bool,
    /// How long a resource alarm held back the produce request being dispatched, in
    /// milliseconds (reported to old clients as its throttle time).
    pub held_ms: i32,
}

impl Session {
    pub fn new(peer: SocketAddr) -> Self {
        Self {
            peer,
            client_id: String::new(),
            sasl: SaslState::Idle,
            tls: false,
            held_ms: 0,
        }
    }

    /// How Kafka's tools print a member's host.
    pub fn client_host(&self) -> String {
        format!("/{}", self.peer.ip())
    }
}
