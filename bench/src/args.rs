//! The command line of `trident bench` and the targets it names.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, ValueEnum};

use crate::stamp::STAMP_LEN;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Scenario {
    /// The bench's own ceiling against discard servers it starts itself.
    Sink,
    /// One message per send vs batches, with and without confirms/acks.
    Batching,
    /// One publisher, many subscribers.
    Fanout,
    /// Competing consumers vs every subscriber getting every message.
    #[value(name = "p2p-pubsub")]
    P2pPubsub,
    /// Push (consume with prefetch) vs pull (basic.get, Kafka fetch variants).
    #[value(name = "push-pull")]
    PushPull,
    /// Throughput and p99 while a queue and a log hold a backlog (--backlog).
    Backlog,
    /// At-most/at-least/exactly-once with the consumer killed and restarted mid-run.
    Guarantees,
    /// N consumers on P partitions, rebalance time, replay by rewinding.
    Groups,
    /// The same flow within one protocol and across protocols (IN->OUT).
    Cross,
    /// Every scenario above, then report.html and report.md.
    All,
}

impl Scenario {
    pub fn name(self) -> &'static str {
        match self {
            Scenario::Sink => "sink",
            Scenario::Batching => "batching",
            Scenario::Fanout => "fanout",
            Scenario::P2pPubsub => "p2p-pubsub",
            Scenario::PushPull => "push-pull",
            Scenario::Backlog => "backlog",
            Scenario::Guarantees => "guarantees",
            Scenario::Groups => "groups",
            Scenario::Cross => "cross",
            Scenario::All => "all",
        }
    }

    /// What `all` runs, in order.
    pub const SET: [Scenario; 9] = [
        Scenario::Sink,
        Scenario::Batching,
        Scenario::PushPull,
        Scenario::Backlog,
        Scenario::Guarantees,
        Scenario::Groups,
        Scenario::Fanout,
        Scenario::P2pPubsub,
        Scenario::Cross,
    ];
}

#[derive(Debug, Parser)]
#[command(
    name = "trident bench",
    about = "Queue-vs-log comparisons on one engine and against peers (docs/bench.md)"
)]
pub struct BenchArgs {
    /// What to measure.
    #[arg(value_enum)]
    pub scenario: Scenario,
    /// A broker and its endpoints, NAME=URL[,URL...] with amqp://user:pass@host:port/vhost,
    /// mqtt://host:port, kafka://host:port; bare `trident` means the local defaults of
    /// all three (repeatable; default `trident`).
    #[arg(long = "target", value_name = "NAME=URL[,URL...]", value_parser = parse_target)]
    pub targets: Vec<Target>,
    /// Payload size in bytes (at least 20: the stamp).
    #[arg(long, value_name = "BYTES", default_value_t = 128, value_parser = parse_size)]
    pub size: usize,
    /// Messages each variant publishes (all publishers together).
    #[arg(long, value_name = "N", conflicts_with = "duration", value_parser = parse_count)]
    pub count: Option<u64>,
    /// Seconds each variant publishes for, instead of --count.
    #[arg(long, value_name = "S", value_parser = parse_duration)]
    pub duration: Option<f64>,
    /// Publisher connections per variant.
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = parse_connections)]
    pub connections: usize,
    /// Backlogs for `backlog`, a comma-separated list of message counts with an optional
    /// k or M suffix (default 0,1M,10M; with --quick 0,1k).
    #[arg(long, value_name = "N[,N...]", value_parser = parse_backlog)]
    pub backlog: Option<Backlogs>,
    /// Tiny counts and fewer variants: finishes in seconds (tests, smoke runs).
    #[arg(long)]
    pub quick: bool,
    /// Write SCENARIO.json and SCENARIO.svg (and report.html/report.md for `all`) here.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
}

/// How much each variant publishes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Budget {
    Count(u64),
    For(Duration),
}

/// The backlog sizes of `backlog`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Backlogs(pub Vec<u64>);

impl BenchArgs {
    pub fn backlogs(&self) -> Vec<u64> {
        match (&self.backlog, self.quick) {
            (Some(b), _) => b.0.clone(),
            (None, true) => vec![0, 1000],
            (None, false) => vec![0, 1_000_000, 10_000_000],
        }
    }

    pub fn budget(&self) -> Budget {
        match (self.count, self.duration) {
            (Some(n), _) => Budget::Count(n),
            (None, Some(s)) => Budget::For(Duration::from_secs_f64(s)),
            (None, None) if self.quick => Budget::Count(300),
            (None, None) => Budget::Count(50_000),
        }
    }

    pub fn targets(&self) -> Vec<Target> {
        if self.targets.is_empty() {
            vec![Target::local_trident()]
        } else {
            self.targets.clone()
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Amqp {
    /// The URI handed to lapin (vhost percent-encoded).
    pub uri: String,
    /// host:port, for notes.
    pub addr: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostPort {
    pub host: String,
    pub port: u16,
}

impl std::fmt::Display for HostPort {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.host, self.port)
    }
}

/// One broker with the endpoints the bench may use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub name: String,
    pub amqp: Option<Amqp>,
    pub mqtt: Option<HostPort>,
    pub kafka: Option<HostPort>,
}

impl Target {
    pub fn local_trident() -> Target {
        let urls =
            "amqp://guest:guest@127.0.0.1:5672/,mqtt://127.0.0.1:1883,kafka://127.0.0.1:9092";
        parse_target(&format!("trident={urls}")).unwrap_or_else(|_| Target {
            name: "trident".into(),
            amqp: None,
            mqtt: None,
            kafka: None,
        })
    }
}

pub fn parse_target(s: &str) -> Result<Target, String> {
    let Some((name, urls)) = s.split_once('=') else {
        if s == "trident" {
            return Ok(Target::local_trident());
        }
        return Err(format!(
            "{s:?}: expected NAME=URL[,URL...] (or bare `trident`)"
        ));
    };
    if name.is_empty() {
        return Err("the target needs a name before '='".into());
    }
    let mut t = Target {
        name: name.to_string(),
        amqp: None,
        mqtt: None,
        kafka: None,
    };
    for url in urls.split(',').filter(|u| !u.is_empty()) {
        let (scheme, rest) = url
            .split_once("://")
            .ok_or_else(|| format!("{url:?}: expected SCHEME://..."))?;
        match scheme {
            "amqp" => t.amqp = Some(parse_amqp(rest)?),
            "mqtt" => t.mqtt = Some(parse_host_port(rest.trim_end_matches('/'))?),
            "kafka" => t.kafka = Some(parse_host_port(rest.trim_end_matches('/'))?),
            other => {
                return Err(format!(
                    "{url:?}: unknown scheme {other:?} (amqp, mqtt, kafka)"
                ));
            }
        }
    }
    if t.amqp.is_none() && t.mqtt.is_none() && t.kafka.is_none() {
        return Err(format!("{name}: no amqp://, mqtt:// or kafka:// URL"));
    }
    Ok(t)
}

fn parse_amqp(rest: &str) -> Result<Amqp, String> {
    let (auth, hostpath) = match rest.rsplit_once('@') {
        Some((a, h)) => (a, h),
        None => ("guest:guest", rest),
    };
    let (user, pass) = auth.split_once(':').unwrap_or((auth, ""));
    let (hp, vhost) = match hostpath.split_once('/') {
        Some((hp, "")) => (hp, "/".to_string()),
        Some((hp, v)) => (hp, v.replace("%2f", "/").replace("%2F", "/")),
        None => (hostpath, "/".to_string()),
    };
    let addr = parse_host_port(hp)?;
    let vhost = vhost.replace('/', "%2f");
    Ok(Amqp {
        uri: format!("amqp://{user}:{pass}@{addr}/{vhost}"),
        addr: addr.to_string(),
    })
}

fn parse_host_port(s: &str) -> Result<HostPort, String> {
    let (host, port) = s
        .rsplit_once(':')
        .ok_or_else(|| format!("{s:?}: expected host:port"))?;
    let port = port
        .parse()
        .map_err(|_| format!("{s:?}: the port must be a number 1-65535"))?;
    if host.is_empty() {
        return Err(format!("{s:?}: no host"));
    }
    Ok(HostPort {
        host: host.to_string(),
        port,
    })
}

fn parse_size(s: &str) -> Result<usize, String> {
    let n: usize = s.parse().map_err(|_| format!("{s:?} is not a number"))?;
    if n < STAMP_LEN {
        return Err(format!("at least {STAMP_LEN} bytes (the latency stamp)"));
    }
    if n > 16 << 20 {
        return Err("at most 16 MiB".into());
    }
    Ok(n)
}

fn parse_count(s: &str) -> Result<u64, String> {
    match s.parse::<u64>() {
        Ok(0) | Err(_) => Err(format!("{s:?}: expected a whole number above 0")),
        Ok(n) => Ok(n),
    }
}

pub fn parse_backlog(s: &str) -> Result<Backlogs, String> {
    let mut v = Vec::new();
    for part in s.split(',') {
        let p = part.trim();
        let (digits, mult) = match p.strip_suffix(['k', 'K']) {
            Some(d) => (d, 1_000),
            None => match p.strip_suffix('M') {
                Some(d) => (d, 1_000_000),
                None => (p, 1),
            },
        };
        let n: u64 = digits
            .parse()
            .map_err(|_| format!("{p:?}: expected a count such as 0, 5000, 100k or 1M"))?;
        v.push(
            n.checked_mul(mult)
                .ok_or_else(|| format!("{p:?}: too large"))?,
        );
    }
    Ok(Backlogs(v))
}

fn parse_connections(s: &str) -> Result<usize, String> {
    match s.parse::<usize>() {
        Ok(n) if (1..=10_000).contains(&n) => Ok(n),
        _ => Err(format!("{s:?}: expected 1 to 10000")),
    }
}

fn parse_duration(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(x) if x > 0.0 && x.is_finite() && x <= 86_400.0 => Ok(x),
        _ => Err(format!("{s:?}: expected seconds above 0")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bare_trident_is_the_local_defaults() {
        let t = parse_target("trident").expect("parses");
        assert_eq!(
            t.amqp.map(|a| a.uri),
            Some("amqp://guest:guest@127.0.0.1:5672/%2f".to_string())
        );
        assert_eq!(t.mqtt.map(|m| m.to_string()), Some("127.0.0.1:1883".into()));
        assert_eq!(
            t.kafka.map(|m| m.to_string()),
            Some("127.0.0.1:9092".into())
        );
    }

    #[test]
    fn named_target_with_some_protocols() {
        let t = parse_target("rabbitmq=amqp://u:p@127.0.0.1:35672/,mqtt://127.0.0.1:32883")
            .expect("parses");
        assert_eq!(t.name, "rabbitmq");
        assert_eq!(
            t.amqp.map(|a| a.uri),
            Some("amqp://u:p@127.0.0.1:35672/%2f".to_string())
        );
        assert!(t.kafka.is_none());
        let v = parse_target("x=amqp://h:1/dev").expect("parses");
        assert_eq!(
            v.amqp.map(|a| a.uri),
            Some("amqp://guest:guest@h:1/dev".into())
        );
    }

    #[test]
    fn bad_targets_say_why() {
        assert!(parse_target("rabbit").is_err());
        assert!(parse_target("x=http://h:1").is_err());
        assert!(parse_target("x=mqtt://h").is_err());
        assert!(parse_target("x=mqtt://h:99999").is_err());
        assert!(parse_target("=mqtt://h:1").is_err());
    }

    #[test]
    fn backlog_list() {
        assert_eq!(
            parse_backlog("0,1M,10M,5k,7").map(|b| b.0),
            Ok(vec![0, 1_000_000, 10_000_000, 5000, 7])
        );
        assert!(parse_backlog("lots").is_err());
        assert!(parse_backlog("1,,2").is_err());
    }

    #[test]
    fn options_parse_and_refuse() {
        let a = BenchArgs::try_parse_from(["b", "sink", "--quick", "--size", "64"]).expect("ok");
        assert_eq!(a.scenario, Scenario::Sink);
        assert_eq!(a.budget(), Budget::Count(300));
        assert_eq!(a.targets(), vec![Target::local_trident()]);
        for bad in [
            vec!["b", "sink", "--size", "10"],
            vec!["b", "sink", "--count", "0"],
            vec!["b", "sink", "--count", "5", "--duration", "1"],
            vec!["b", "sink", "--connections", "0"],
            vec!["b", "nosuch"],
            vec!["b", "sink", "--bogus"],
        ] {
            assert!(BenchArgs::try_parse_from(&bad).is_err(), "{bad:?}");
        }
    }
}
