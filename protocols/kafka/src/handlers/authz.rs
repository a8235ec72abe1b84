//! Topic authorization for connections that authenticated with SASL: produce needs
//! write permission on the topic, fetch needs read (the engine's `User::may_log`, i.e.
//! the user's permissions in vhost `/` matched against the topic name).
//!
//! A connection that never authenticated is served as before (Kafka with no
//! authorizer); set `kafka.sasl_required` to refuse those.

use std::sync::Arc;

use trident_engine::{Access, User};

use crate::sasl::SaslState;
use crate::session::Session;
use crate::shared::Shared;

/// Who is asking, looked up once per request.
#[derive(Debug, Clone)]
pub enum Authz {
    /// No SASL on this connection: no authorizer applies.
    Anonymous,
    User(Arc<User>),
    /// Authenticated as a user who has since been deleted: nothing is allowed.
    Nobody,
}

impl Authz {
    pub fn of(b: &Shared, session: &Session) -> Self {
        match &session.sasl {
            SaslState::Authenticated(name) => match b.engine.users().get(name) {
                Some(u) => Authz::User(u),
                None => Authz::Nobody,
            },
            _ => Authz::Anonymous,
        }
    }

    pub fn may(&self, access: Access, topic: &str) -> bool {
        match self {
            Authz::Anonymous => true,
            Authz::User(u) => u.may_log(access, topic),
            Authz::Nobody => false,
        }
    }
}
