//! The engine's error type. Each variant carries a readable message for the client and
//! maps to an [`ErrorKind`] that protocol adapters translate into their own reply codes
//! (AMQP 404/405/406/403, Kafka error codes, MQTT reason codes).

use crate::names::NameError;

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Protocol-neutral error categories.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// A named entity does not exist (AMQP 404).
    NotFound,
    /// Another connection owns the entity (AMQP 405).
    ResourceLocked,
    /// The request conflicts with the entity's state or definition (AMQP 406).
    PreconditionFailed,
    /// The caller lacks permission (AMQP 403).
    AccessRefused,
    /// The request is malformed or names something invalid (AMQP 406 or 530, by context).
    InvalidArgument,
    /// The broker cannot take more right now (full disk, memory alarm).
    ResourceExhausted,
    /// Storage failed; the operation was not acknowledged.
    Storage,
    /// The engine is shutting down or the entity's owner task went away.
    Unavailable,
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("no {kind} '{name}' in vhost '{vhost}'")]
    NotFound {
        kind: &'static str,
        name: String,
        vhost: String,
    },
    #[error("cannot obtain exclusive access to locked {kind} '{name}' in vhost '{vhost}'")]
    ResourceLocked {
        kind: &'static str,
        name: String,
        vhost: String,
    },
    #[error("{0}")]
    PreconditionFailed(String),
    #[error("access refused: {0}")]
    AccessRefused(String),
    #[error(transparent)]
    InvalidName(#[from] NameError),
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    #[error("message of {size} bytes exceeds the maximum of {max}")]
    MessageTooLarge { size: usize, max: usize },
    #[error("binding would create a loop through exchange '{0}'")]
    BindingLoop(String),
    #[error("resource exhausted: {0}")]
    ResourceExhausted(String),
    #[error("storage error: {0}")]
    Storage(String),
    #[error("unavailable: {0}")]
    Unavailable(String),
}

impl Error {
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::NotFound { .. } => ErrorKind::NotFound,
            Error::ResourceLocked { .. } => ErrorKind::ResourceLocked,
            Error::PreconditionFailed(_) | Error::BindingLoop(_) => ErrorKind::PreconditionFailed,
            Error::AccessRefused(_) => ErrorKind::AccessRefused,
            Error::InvalidName(_) | Error::InvalidArgument(_) | Error::MessageTooLarge { .. } => {
                ErrorKind::InvalidArgument
            }
            Error::ResourceExhausted(_) => ErrorKind::ResourceExhausted,
            Error::Storage(_) => ErrorKind::Storage,
            Error::Unavailable(_) => ErrorKind::Unavailable,
        }
    }

    pub fn not_found(
        kind: &'static str,
        name: impl Into<String>,
        vhost: impl Into<String>,
    ) -> Self {
        Error::NotFound {
            kind,
            name: name.into(),
            vhost: vhost.into(),
        }
    }

    pub fn locked(kind: &'static str, name: impl Into<String>, vhost: impl Into<String>) -> Self {
        Error::ResourceLocked {
            kind,
            name: name.into(),
            vhost: vhost.into(),
        }
    }
}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Self {
        if e.kind() == std::io::ErrorKind::StorageFull {
            Error::ResourceExhausted(format!("disk full: {e}"))
        } else {
            Error::Storage(e.to_string())
        }
    }
}
