//! SASL for Kafka clients (KIP-43 handshake, KIP-152 SaslAuthenticate framing):
//! PLAIN and SCRAM-SHA-256/512 against the engine's users, the same accounts AMQP uses.

pub mod plain;
pub mod scram;

use trident_engine::auth::ScramMechanism;

/// Mechanism names offered in SaslHandshake, in the order clients should prefer.
pub const MECHANISMS: &[&str] = &["SCRAM-SHA-512", "SCRAM-SHA-256", "PLAIN"];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mechanism {
    Plain,
    Scram(ScramMechanism),
}

impl Mechanism {
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "PLAIN" => Some(Self::Plain),
            "SCRAM-SHA-256" => Some(Self::Scram(ScramMechanism::Sha256)),
            "SCRAM-SHA-512" => Some(Self::Scram(ScramMechanism::Sha512)),
            _ => None,
        }
    }
}

/// Where a connection is in its SASL exchange.
#[derive(Debug, Default)]
pub enum SaslState {
    /// No handshake yet.
    #[default]
    Idle,
    /// A mechanism was chosen; its first SaslAuthenticate is next.
    Handshaked(Mechanism),
    /// SCRAM sent server-first and waits for client-final.
    ScramFinal(Box<scram::ScramServer>),
    Authenticated(String),
}

impl SaslState {
    pub fn is_authenticated(&self) -> bool {
        matches!(self, SaslState::Authenticated(_))
    }
}

/// Why authentication failed. The message goes back to the client, so it never says
/// whether the user exists.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct AuthError(pub String);

impl AuthError {
    pub fn invalid_credentials() -> Self {
        AuthError("Authentication failed: invalid credentials".into())
    }
}
