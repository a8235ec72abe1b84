//! SaslHandshake and SaslAuthenticate: moves the connection's [`SaslState`] along.

use bytes::Bytes;

use crate::error_code as ec;
use crate::messages::sasl::*;
use crate::sasl::{AuthError, MECHANISMS, Mechanism, SaslState, plain, scram};
use crate::session::Session;
use crate::shared::Shared;

pub fn handshake(session: &mut Session, req: SaslHandshakeRequest) -> SaslHandshakeResponse {
    let mechanisms = MECHANISMS.iter().map(|m| (*m).to_string()).collect();
    let error_code = match (&session.sasl, Mechanism::parse(&req.mechanism)) {
        (SaslState::Idle, Some(m)) => {
            session.sasl = SaslState::Handshaked(m);
            ec::NONE
        }
        (SaslState::Idle, None) => ec::UNSUPPORTED_SASL_MECHANISM,
        _ => ec::ILLEGAL_SASL_STATE,
    };
    SaslHandshakeResponse {
        error_code,
        mechanisms,
    }
}

/// Returns the response and whether the connection may continue.
pub fn authenticate(
    b: &Shared,
    session: &mut Session,
    req: SaslAuthenticateRequest,
) -> (SaslAuthenticateResponse, bool) {
    // to_canonical: a v4-mapped IPv6 peer (::ffff:127.0.0.1) is loopback too.
    let loopback = session.peer.ip().to_canonical().is_loopback();
    let users = b.engine.users();
    let state = std::mem::take(&mut session.sasl);
    let step: Result<(SaslState, Bytes), (i16, AuthError)> = match state {
        SaslState::Handshaked(Mechanism::Plain) => {
            plain::authenticate(users, &req.auth_bytes, loopback)
                .map(|user| (SaslState::Authenticated(user), Bytes::new()))
                .map_err(|e| (ec::SASL_AUTHENTICATION_FAILED, e))
        }
        SaslState::Handshaked(Mechanism::Scram(m)) => {
            scram::client_first(m, users, &req.auth_bytes, loopback)
                .map(|(server, reply)| {
                    (SaslState::ScramFinal(Box::new(server)), Bytes::from(reply))
                })
                .map_err(|e| (ec::SASL_AUTHENTICATION_FAILED, e))
        }
        SaslState::ScramFinal(server) => server
            .client_final(&req.auth_bytes)
            .map(|reply| {
                (
                    SaslState::Authenticated(server.user().to_string()),
                    Bytes::from(reply),
                )
            })
            .map_err(|e| (ec::SASL_AUTHENTICATION_FAILED, e)),
        SaslState::Idle | SaslState::Authenticated(_) => Err((
            ec::ILLEGAL_SASL_STATE,
            AuthError("SaslAuthenticate without a preceding SaslHandshake".into()),
        )),
    };
    match step {
        Ok((next, reply)) => {
            if let SaslState::Authenticated(user) = &next {
                tracing::debug!(user = %user, peer = %session.peer, "kafka client authenticated");
            }
            session.sasl = next;
            (
                SaslAuthenticateResponse {
                    error_code: ec::NONE,
                    error_message: None,
                    auth_bytes: reply,
                    session_lifetime_ms: 0,
                },
                true,
            )
        }
        Err((code, e)) => {
            tracing::info!(peer = %session.peer, error = %e, "kafka SASL authentication failed");
            (
                SaslAuthenticateResponse {
                    error_code: code,
                    error_message: Some(e.to_string()),
                    auth_bytes: Bytes::new(),
                    session_lifetime_ms: 0,
                },
                false,
            )
        }
    }
}
