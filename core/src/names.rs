//! Validated names. Validation happens once, at the edge, so that the engine can trust
//! every name it is handed.

use std::fmt;
use std::sync::Arc;

/// Why a name was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    #[error("{kind} name is longer than {max} bytes ({len})")]
    TooLong {
        kind: &'static str,
        max: usize,
        len: usize,
    },
    #[error("{kind} name must not be empty")]
    Empty { kind: &'static str },
    #[error("{kind} name {name:?} contains a character that is not allowed ({reason})")]
    BadChar {
        kind: &'static str,
        name: String,
        reason: &'static str,
    },
}

/// AMQP short strings cap exchange and queue names at 255 bytes.
const AMQP_NAME_MAX: usize = 255;
/// Kafka refuses topic names longer than 249 characters (file name limits).
const TOPIC_NAME_MAX: usize = 249;

macro_rules! name_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(Arc<str>);

        impl $name {
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({:?})", stringify!($name), &*self.0)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl std::borrow::Borrow<str> for $name {
            fn borrow(&self) -> &str {
                &self.0
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
                s.serialize_str(&self.0)
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                $name::new(&s).map_err(serde::de::Error::custom)
            }
        }
    };
}

name_type!(
    /// A virtual host: an isolated namespace of exchanges, queues and topics.
    VhostName
);
name_type!(
    /// An exchange name. The empty name is the default exchange.
    ExchangeName
);
name_type!(
    /// A queue name. Never empty once declared (the engine names anonymous queues).
    QueueName
);
name_type!(
    /// A partitioned log's name, restricted to what Kafka accepts so that every topic is
    /// reachable from Kafka clients and maps onto a directory name safely.
    TopicName
);

fn check_amqp(kind: &'static str, s: &str) -> Result<(), NameError> {
    if s.len() > AMQP_NAME_MAX {
        return Err(NameError::TooLong {
            kind,
            max: AMQP_NAME_MAX,
            len: s.len(),
        });
    }
    // Control characters make names unprintable in logs and the management API, and
    // RabbitMQ users never rely on them.
    if s.chars().any(char::is_control) {
        return Err(NameError::BadChar {
            kind,
            name: s.escape_default().to_string(),
            reason: "control characters",
        });
    }
    Ok(())
}

impl VhostName {
    pub fn new(s: &str) -> Result<Self, NameError> {
        check_amqp("vhost", s)?;
        if s.is_empty() {
            return Err(NameError::Empty { kind: "vhost" });
        }
        Ok(Self(s.into()))
    }

    /// The vhost every installation has: `/`.
    pub fn default_vhost() -> Self {
        Self("/".into())
    }
}

impl ExchangeName {
    pub fn new(s: &str) -> Result<Self, NameError> {
        check_amqp("exchange", s)?;
        Ok(Self(s.into()))
    }

    /// The nameless default exchange, which routes by queue name.
    pub fn default_exchange() -> Self {
        Self("".into())
    }

    pub fn is_default(&self) -> bool {
        self.0.is_empty()
    }

    /// Names starting with `amq.` are reserved for the broker's predeclared exchanges.
    pub fn is_reserved(&self) -> bool {
        self.0.starts_with("amq.")
    }
}

impl QueueName {
    pub fn new(s: &str) -> Result<Self, NameError> {
        check_amqp("queue", s)?;
        if s.is_empty() {
            return Err(NameError::Empty { kind: "queue" });
        }
        Ok(Self(s.into()))
    }
}

impl TopicName {
    pub fn new(s: &str) -> Result<Self, NameError> {
        if s.is_empty() {
            return Err(NameError::Empty { kind: "topic" });
        }
        if s.len() > TOPIC_NAME_MAX {
            return Err(NameError::TooLong {
                kind: "topic",
                max: TOPIC_NAME_MAX,
                len: s.len(),
            });
        }
        if s == "." || s == ".." {
            return Err(NameError::BadChar {
                kind: "topic",
                name: s.to_string(),
                reason: "'.' and '..' are not topic names",
            });
        }
        if !s
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
        {
            return Err(NameError::BadChar {
                kind: "topic",
                name: s.escape_default().to_string(),
                reason: "only ASCII letters, digits, '.', '_' and '-'",
            });
        }
        Ok(Self(s.into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queue_names() {
        assert!(QueueName::new("orders").is_ok());
        assert!(QueueName::new("").is_err());
        assert!(QueueName::new(&"x".repeat(256)).is_err());
        assert!(QueueName::new("a\u{0}b").is_err());
        assert!(QueueName::new("ünïcode.ok").is_ok());
    }

    #[test]
    fn topic_names() {
        assert!(TopicName::new("events-2024.v1_x").is_ok());
        assert!(TopicName::new("a/b").is_err());
        assert!(TopicName::new("..").is_err());
        assert!(TopicName::new(&"t".repeat(250)).is_err());
    }

    #[test]
    fn exchange_names() {
        assert!(ExchangeName::new("").is_ok_and(|e| e.is_default()));
        assert!(ExchangeName::new("amq.direct").is_ok_and(|e| e.is_reserved()));
    }
}
