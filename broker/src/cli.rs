//! Command line: `trident` alone serves with embedded defaults; `trident serve` takes
//! flags that override the environment and the config file.

use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use trident_config::Config;

#[derive(Debug, Parser)]
#[command(
    name = "trident",
    version,
    about = "AMQP 0-9-1, MQTT and Kafka over one engine"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    /// How admin commands reach the broker (ignored by `serve`).
    #[command(flatten)]
    pub admin: crate::admin::args::Connection,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the broker (the default).
    Serve(ServeArgs),
    /// Queue-vs-log benchmarks against Trident or other brokers (docs/bench.md);
    /// `trident bench --help` lists the scenarios and options.
    #[command(disable_help_flag = true)]
    Bench {
        #[arg(trailing_var_arg = true, allow_hyphen_values = true, num_args = 0..)]
        args: Vec<std::ffi::OsString>,
    },
    #[command(flatten)]
    Admin(crate::admin::args::AdminCommand),
}

#[derive(Debug, Default, Args)]
pub struct ServeArgs {
    /// TOML configuration file.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Directory for all persistent state.
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<String>,
    #[arg(long, value_name = "ADDR")]
    pub amqp_listen: Option<String>,
    #[arg(long, value_name = "ADDR")]
    pub mqtt_listen: Option<String>,
    #[arg(long, value_name = "ADDR")]
    pub kafka_listen: Option<String>,
    #[arg(long, value_name = "ADDR")]
    pub http_listen: Option<String>,
    /// Host Kafka clients are told to connect to.
    #[arg(long, value_name = "HOST")]
    pub kafka_advertised_host: Option<String>,
    /// fsync | interval | never.
    #[arg(long, value_name = "MODE")]
    pub durability: Option<String>,
    /// Any other setting, as KEY=VALUE with the dotted key (repeatable), e.g.
    /// `--set topics.default_partitions=3`.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub set: Vec<String>,
}

impl ServeArgs {
    pub fn load_config(&self) -> anyhow::Result<Config> {
        let mut flags: Vec<(&str, String)> = Vec::new();
        let pairs = [
            ("data_dir", &self.data_dir),
            ("amqp.listen", &self.amqp_listen),
            ("mqtt.listen", &self.mqtt_listen),
            ("kafka.listen", &self.kafka_listen),
            ("http.listen", &self.http_listen),
            ("kafka.advertised_host", &self.kafka_advertised_host),
            ("durability", &self.durability),
        ];
        for (key, value) in pairs {
            if let Some(v) = value {
                flags.push((key, v.clone()));
            }
        }
        for kv in &self.set {
            let (k, v) = kv
                .split_once('=')
                .with_context(|| format!("--set expects KEY=VALUE, got {kv:?}"))?;
            let key = trident_config::KEYS
                .iter()
                .find(|key| key.name == k)
                .with_context(|| format!("--set {k}: unknown setting"))?;
            flags.push((key.name, v.to_string()));
        }
        trident_config::load(self.config.as_deref(), std::env::vars(), &flags).map_err(Into::into)
    }
}
