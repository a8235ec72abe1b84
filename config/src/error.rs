/// Why the configuration was refused. Each message names the setting.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {message}")]
    File { path: String, message: String },
    #[error("invalid value {value:?} for setting '{key}' (from {origin}): {reason}")]
    BadValue {
        key: String,
        value: String,
        origin: crate::Source,
        reason: String,
    },
    #[error("unknown setting '{0}'")]
    UnknownKey(String),
    #[error("invalid configuration: {0}")]
    Invalid(String),
}
