//! Why a topology change or a publish was refused. Messages follow RabbitMQ's wording
//! where clients or operators are used to it.

use trident_core::{Error, ExchangeName, VhostName};

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RoutingError {
    #[error("no exchange '{name}' in vhost '{vhost}'")]
    ExchangeNotFound {
        vhost: VhostName,
        name: ExchangeName,
    },

    /// A redeclaration that differs from the existing exchange.
    #[error(
        "inequivalent arg '{field}' for exchange '{name}' in vhost '{vhost}': \
         received {received} but current is {current}"
    )]
    Inequivalent {
        vhost: VhostName,
        name: ExchangeName,
        field: &'static str,
        received: String,
        current: String,
    },

    /// `if-unused` deletion of an exchange that is the source of bindings.
    #[error("exchange '{name}' in vhost '{vhost}' in use")]
    InUse {
        vhost: VhostName,
        name: ExchangeName,
    },

    #[error("cannot publish to internal exchange '{name}' in vhost '{vhost}'")]
    InternalExchange {
        vhost: VhostName,
        name: ExchangeName,
    },

    /// Binding to or from the default exchange, or deleting it.
    #[error("operation not permitted on the default exchange")]
    DefaultExchange,

    #[error("deletion of system exchange '{name}' in vhost '{vhost}' not allowed")]
    SystemExchange {
        vhost: VhostName,
        name: ExchangeName,
    },

    /// Binding arguments the exchange type cannot use (a bad `x-match`).
    #[error("invalid binding arguments for exchange '{name}' in vhost '{vhost}': {reason}")]
    InvalidBindingArguments {
        vhost: VhostName,
        name: ExchangeName,
        reason: String,
    },

    /// A binding key the exchange type cannot hold (a topic key with too many words).
    #[error("invalid binding key for exchange '{name}' in vhost '{vhost}': {reason}")]
    InvalidBindingKey {
        vhost: VhostName,
        name: ExchangeName,
        reason: String,
    },

    /// An exchange definition the table cannot hold (a default exchange that is not a
    /// plain direct exchange).
    #[error("invalid definition of exchange '{name}' in vhost '{vhost}': {reason}")]
    InvalidDefinition {
        vhost: VhostName,
        name: ExchangeName,
        reason: String,
    },
}

impl From<RoutingError> for Error {
    fn from(e: RoutingError) -> Self {
        match e {
            RoutingError::ExchangeNotFound { vhost, name } => {
                Error::not_found("exchange", name.as_str(), vhost.as_str())
            }
            RoutingError::Inequivalent { .. } | RoutingError::InUse { .. } => {
                Error::PreconditionFailed(e.to_string())
            }
            RoutingError::InternalExchange { .. }
            | RoutingError::DefaultExchange
            | RoutingError::SystemExchange { .. } => Error::AccessRefused(e.to_string()),
            RoutingError::InvalidBindingArguments { .. }
            | RoutingError::InvalidBindingKey { .. }
            | RoutingError::InvalidDefinition { .. } => Error::InvalidArgument(e.to_string()),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use trident_core::ErrorKind;

    #[test]
    fn kinds() {
        let vhost = VhostName::default_vhost();
        let name = ExchangeName::new("x").unwrap();
        let kind = |e: RoutingError| Error::from(e).kind();
        assert_eq!(
            kind(RoutingError::ExchangeNotFound {
                vhost: vhost.clone(),
                name: name.clone()
            }),
            ErrorKind::NotFound
        );
        assert_eq!(
            kind(RoutingError::InUse {
                vhost: vhost.clone(),
                name: name.clone()
            }),
            ErrorKind::PreconditionFailed
        );
        assert_eq!(
            kind(RoutingError::InternalExchange {
                vhost: vhost.clone(),
                name: name.clone()
            }),
            ErrorKind::AccessRefused
        );
        assert_eq!(
            kind(RoutingError::DefaultExchange),
            ErrorKind::AccessRefused
        );
        assert_eq!(
            kind(RoutingError::InvalidBindingArguments {
                vhost,
                name,
                reason: "r".into()
            }),
            ErrorKind::InvalidArgument
        );
    }

    #[test]
    fn not_found_message_names_the_vhost() {
        let e: Error = RoutingError::ExchangeNotFound {
            vhost: VhostName::new("v1").unwrap(),
            name: ExchangeName::new("logs").unwrap(),
        }
        .into();
        assert_eq!(e.to_string(), "no exchange 'logs' in vhost 'v1'");
    }
}
