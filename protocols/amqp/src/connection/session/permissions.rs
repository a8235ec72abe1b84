//! RabbitMQ's configure/write/read permission checks, cached per connection.
//!
//! `User::may` evaluates a regular expression; doing that on every publish would cost
//! more than routing. Like RabbitMQ's per-channel permission cache, answers are kept for
//! the life of the connection (permission changes apply to new connections).

use std::collections::HashMap;
use std::sync::Arc;

use trident_engine::User;
use trident_engine::auth::Access;

use crate::error::{AmqpError, AmqpResult};

/// Cached answers are dropped wholesale past this many, so a client cycling through
/// endless names cannot grow the cache.
const CACHE_MAX: usize = 256;

#[derive(Debug)]
pub(super) struct Permissions {
    user: Arc<User>,
    vhost: String,
    cache: HashMap<(u8, String), bool>,
}

fn access_code(a: Access) -> u8 {
    match a {
        Access::Configure => 0,
        Access::Write => 1,
        Access::Read => 2,
    }
}

impl Permissions {
    pub fn new(user: Arc<User>, vhost: String) -> Self {
        Self {
            user,
            vhost,
            cache: HashMap::new(),
        }
    }

    fn may(&mut self, access: Access, name: &str) -> bool {
        let key = (access_code(access), name.to_string());
        if let Some(&ok) = self.cache.get(&key) {
            return ok;
        }
        let ok = self.user.may(&self.vhost, access, name);
        if self.cache.len() >= CACHE_MAX {
            self.cache.clear();
        }
        self.cache.insert(key, ok);
        ok
    }

    /// Topic permissions (RabbitMQ's, per exchange): 403 unless the user may publish
    /// `routing_key` through `exchange`. Users without topic permissions (most) pay one
    /// emptiness check per publish; routing keys vary too much to cache.
    pub fn check_route(&self, exchange: &str, routing_key: &str) -> AmqpResult<()> {
        if self.user.topic_permissions.is_empty()
            || self
                .user
                .may_route(&self.vhost, exchange, Access::Write, routing_key)
        {
            return Ok(());
        }
        Err(AmqpError::access_refused(format!(
            "write access to topic '{routing_key}' in exchange '{exchange}' in vhost '{}' refused for user '{}'",
            self.vhost, self.user.name
        )))
    }

    /// 403 ACCESS_REFUSED unless permitted; `kind` is "queue" or "exchange".
    pub fn check(&mut self, access: Access, kind: &str, name: &str) -> AmqpResult<()> {
        if self.may(access, name) {
            return Ok(());
        }
        let what = match access {
            Access::Configure => "configure",
            Access::Write => "write",
            Access::Read => "read",
        };
        Err(AmqpError::access_refused(format!(
            "{what} access to {kind} '{name}' in vhost '{}' refused for user '{}'",
            self.vhost, self.user.name
        )))
    }
}
