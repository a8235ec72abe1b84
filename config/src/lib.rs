//! Trident's settings.
//!
//! One source of truth, four layers: built-in defaults < TOML file < `TRIDENT_*`
//! environment variables < command-line flags. Every setting has a dotted key
//! (`amqp.listen`); its environment variable is `TRIDENT_` plus the key upper-cased
//! with dots as underscores (`TRIDENT_AMQP_LISTEN`). Invalid settings fail at start
//! with an error that names the setting and where it came from.

mod error;
mod keys;
mod settings;

pub use error::ConfigError;
pub use keys::{KEYS, Key, env_var_name};
pub use settings::{
    AmqpSettings, Config, DurabilitySetting, HttpSettings, KafkaSettings, LimitSettings,
    MqttSettings, TopicSettings,
};

use std::path::Path;

/// Where an override came from, for error messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    File(String),
    Env(String),
    Flag(String),
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Source::File(p) => write!(f, "config file {p}"),
            Source::Env(v) => write!(f, "environment variable {v}"),
            Source::Flag(n) => write!(f, "flag --{n}"),
        }
    }
}

/// Builds the configuration from a file (optional), an environment (pass
/// `std::env::vars()`), and flag overrides as `(key, value)` pairs.
pub fn load(
    file: Option<&Path>,
    env: impl IntoIterator<Item = (String, String)>,
    flags: &[(&str, String)],
) -> Result<Config, ConfigError> {
    let mut table = match file {
        Some(path) => {
            let text = std::fs::read_to_string(path).map_err(|e| ConfigError::File {
                path: path.display().to_string(),
                message: e.to_string(),
            })?;
            text.parse::<toml::Table>().map_err(|e| ConfigError::File {
                path: path.display().to_string(),
                message: e.to_string(),
            })?
        }
        None => toml::Table::new(),
    };
    let env: Vec<(String, String)> = env
        .into_iter()
        .filter(|(k, _)| k.starts_with("TRIDENT_"))
        .collect();
    for (name, value) in &env {
        let Some(key) = KEYS.iter().find(|k| env_var_name(k.name) == *name) else {
            // Unknown TRIDENT_* variables are most likely typos: say so instead of
            // silently ignoring a setting the operator believes is in force.
            return Err(ConfigError::UnknownEnv(name.clone()));
        };
        key.set(&mut table, value, Source::Env(name.clone()))?;
    }
    for (name, value) in flags {
        let key = KEYS
            .iter()
            .find(|k| k.name == *name)
            .ok_or_else(|| ConfigError::UnknownKey((*name).to_string()))?;
        key.set(
            &mut table,
            value,
            Source::Flag(name.replace(['.', '_'], "-")),
        )?;
    }
    let config: Config = table
        .try_into()
        .map_err(|e: toml::de::Error| ConfigError::Invalid(e.message().to_string()))?;
    config.validate()?;
    Ok(config)
}

#[cfg(test)]
mod tests;
