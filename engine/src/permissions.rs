//! RabbitMQ's access model: per user and vhost three regular expressions (configure,
//! write, read) over resource names, and per user, vhost and exchange two more (write,
//! read) over routing keys ("topic permissions").
//!
//! Patterns are validated when they are set, so a stored pattern always compiles; an
//! invalid one is refused with a reason instead of silently granting nothing.

use serde::{Deserialize, Serialize};
use trident_core::{Error, Result};

/// The three RabbitMQ permission kinds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Declare and delete exchanges and queues (and Kafka topics).
    Configure,
    /// Publish to an exchange, bind to a queue or exchange as destination; produce.
    Write,
    /// Consume from a queue, bind from an exchange as source; fetch.
    Read,
}

impl Access {
    pub fn as_str(self) -> &'static str {
        match self {
            Access::Configure => "configure",
            Access::Write => "write",
            Access::Read => "read",
        }
    }
}

/// Regular expressions over resource names, per access kind (RabbitMQ's model).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Permission {
    pub configure: String,
    pub write: String,
    pub read: String,
}

impl Permission {
    pub fn all() -> Self {
        Self {
            configure: ".*".into(),
            write: ".*".into(),
            read: ".*".into(),
        }
    }

    /// Refuses patterns that do not compile, naming the offending one.
    pub fn validate(&self) -> Result<()> {
        for (kind, p) in [
            ("configure", &self.configure),
            ("write", &self.write),
            ("read", &self.read),
        ] {
            validate_pattern(kind, p)?;
        }
        Ok(())
    }

    pub fn pattern(&self, access: Access) -> &str {
        match access {
            Access::Configure => &self.configure,
            Access::Write => &self.write,
            Access::Read => &self.read,
        }
    }
}

/// Write/read patterns over the routing keys (topics) published to or consumed from
/// one exchange of one vhost (RabbitMQ's topic permissions; MQTT topics travel as
/// routing keys of `amq.topic`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TopicPermission {
    pub vhost: String,
    pub exchange: String,
    pub write: String,
    pub read: String,
}

impl TopicPermission {
    pub fn validate(&self) -> Result<()> {
        validate_pattern("write", &self.write)?;
        validate_pattern("read", &self.read)
    }
}

fn validate_pattern(kind: &str, pattern: &str) -> Result<()> {
    regex::Regex::new(pattern)
        .map(|_| ())
        .map_err(|e| Error::InvalidArgument(format!("invalid {kind} pattern {pattern:?}: {e}")))
}

/// Whether `name` matches `pattern`, RabbitMQ style: the pattern is searched for
/// anywhere in the name (RabbitMQ uses unanchored `re:run`; `^...$` in a pattern
/// anchors it), and an empty pattern grants nothing.
pub(crate) fn matches(pattern: &str, name: &str) -> bool {
    if pattern.is_empty() {
        return false;
    }
    compiled(pattern).is_some_and(|re| re.is_match(name))
}

/// Compiled patterns, shared: a Kafka produce checks its topic on every request, and
/// compiling a regex costs far more than matching one. Patterns are few (a handful per
/// user); the cache is dropped wholesale if it ever grows past a bound.
fn compiled(pattern: &str) -> Option<regex::Regex> {
    use std::collections::HashMap;
    use std::sync::{Mutex, OnceLock};
    const MAX: usize = 1024;
    static CACHE: OnceLock<Mutex<HashMap<String, regex::Regex>>> = OnceLock::new();
    let cache = CACHE.get_or_init(|| Mutex::new(HashMap::new()));
    let mut map = cache.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(re) = map.get(pattern) {
        return Some(re.clone());
    }
    let re = regex::Regex::new(pattern).ok()?;
    if map.len() >= MAX {
        map.clear();
    }
    map.insert(pattern.to_string(), re.clone());
    Some(re)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_patterns_are_refused_with_the_pattern_named() {
        let p = Permission {
            configure: "(".into(),
            write: ".*".into(),
            read: ".*".into(),
        };
        let e = p
            .validate()
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(e.contains("configure") && e.contains("\"(\""), "{e}");
        assert!(Permission::all().validate().is_ok());
    }

    #[test]
    fn matching_is_unanchored_like_rabbitmq_and_empty_grants_nothing() {
        assert!(matches("^amq\\.gen", "amq.gen-1"));
        assert!(matches("orders", "my-orders-queue"));
        assert!(!matches("^orders$", "my-orders"));
        assert!(!matches("", "anything"));
    }
}
