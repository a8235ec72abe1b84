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
pub use keys::{CLIENT_ENV, KEYS, Key, env_var_name};
pub use settings::{
    AlarmSettings, AmqpSettings, AuthSettings, Config, DurabilitySetting, HttpSettings,
    KafkaSettings, LimitSettings, MqttSettings, TlsSettings, TopicSettings,
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
        // Unknown TRIDENT_* variables are skipped here and reported by
        // [`unknown_env_warnings`]: the environment is not the operator's alone
        // (Kubernetes injects TRIDENT_PORT=tcp://... into every pod of a Service named
        // `trident`), so refusing to start on them would crash-loop ordinary deployments.
        // Unknown keys in a file or a flag are the operator's own words and stay errors.
        if let Some(key) = KEYS.iter().find(|k| env_var_name(k.name) == *name) {
            key.set(&mut table, value, Source::Env(name.clone()))?;
        }
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

/// One warning per `TRIDENT_*` variable that names no setting, with the nearest
/// setting's variable when one is close (a likely typo). [`load`] ignores them; the
/// binary logs these once logging is set up.
pub fn unknown_env_warnings(env: impl IntoIterator<Item = (String, String)>) -> Vec<String> {
    let mut out: Vec<String> = env
        .into_iter()
        .filter(|(k, _)| k.starts_with("TRIDENT_"))
        .filter(|(k, _)| !KEYS.iter().any(|key| env_var_name(key.name) == *k))
        .filter(|(k, _)| !CLIENT_ENV.contains(&k.as_str()))
        .map(|(name, _)| match nearest_env_var(&name) {
            Some(near) => format!(
                "ignoring environment variable {name}: no such setting (did you mean {near}?)"
            ),
            None => format!("ignoring environment variable {name}: no such setting"),
        })
        .collect();
    out.sort();
    out
}

/// The setting variable within a third of `name`'s length in edits (not counting the
/// shared `TRIDENT_` prefix, so `TRIDENT_PORT` suggests nothing), if any.
fn nearest_env_var(name: &str) -> Option<String> {
    let own = name.strip_prefix("TRIDENT_").unwrap_or(name);
    let limit = (own.len() / 3).max(1);
    KEYS.iter()
        .map(|k| env_var_name(k.name))
        .map(|v| {
            let theirs = v.strip_prefix("TRIDENT_").unwrap_or(&v);
            (edit_distance(own, theirs), v.clone())
        })
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, v)| v)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut row = Vec::with_capacity(b.len() + 1);
        row.push(i + 1);
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            let best = (prev[j] + cost).min(prev[j + 1] + 1).min(row[j] + 1);
            row.push(best);
        }
        prev = row;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests;
