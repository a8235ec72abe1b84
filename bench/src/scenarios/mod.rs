//! The scenarios, one file each, and what they share: running one variant against one
//! target's endpoint, with its progress line, a time limit, and a row whatever happens.

pub mod backlog;
pub mod batching;
pub mod cross;
pub mod fanout;
pub mod groups;
pub mod guarantees;
pub mod p2p_pubsub;
pub mod push_pull;
pub mod sink;

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use crate::args::{Budget, HostPort, Scenario, Target};
use crate::clients::{self, Run};
use crate::flow::Layout;
use crate::progress;
use crate::row::Row;

/// Everything a scenario needs from the command line.
#[derive(Debug)]
pub struct Ctx {
    pub scenario: Scenario,
    pub targets: Vec<Target>,
    pub size: usize,
    pub budget: Budget,
    pub connections: usize,
    pub quick: bool,
    /// `backlog`'s sizes.
    pub backlogs: Vec<u64>,
    reachable: Mutex<HashMap<String, Result<(), String>>>,
}

impl Ctx {
    pub fn new(
        scenario: Scenario,
        targets: Vec<Target>,
        size: usize,
        budget: Budget,
        connections: usize,
        quick: bool,
    ) -> Ctx {
        Ctx {
            scenario,
            targets,
            size,
            budget,
            connections,
            quick,
            backlogs: Vec::new(),
            reachable: Mutex::new(HashMap::new()),
        }
    }

    pub fn with_backlogs(mut self, b: Vec<u64>) -> Ctx {
        self.backlogs = b;
        self
    }

    /// The same run for another scenario (`all`).
    pub fn for_scenario(&self, scenario: Scenario) -> Ctx {
        let reachable = self.reachable.lock().map(|r| r.clone()).unwrap_or_default();
        Ctx {
            scenario,
            targets: self.targets.clone(),
            size: self.size,
            budget: self.budget,
            connections: self.connections,
            quick: self.quick,
            backlogs: self.backlogs.clone(),
            reachable: Mutex::new(reachable),
        }
    }

    /// The budget scaled down by `k` (fan-out to k subscribers delivers k times as much).
    fn budget_over(&self, k: usize) -> Budget {
        match self.budget {
            Budget::Count(n) => Budget::Count((n / k.max(1) as u64).max(100.min(n))),
            b => b,
        }
    }

    /// Whether a TCP connection to `addr` opens (checked once per endpoint), so that an
    /// unreachable target costs one short wait, not one client timeout per variant.
    async fn reachable(&self, addr: &str) -> Result<(), String> {
        if let Ok(r) = self.reachable.lock()
            && let Some(v) = r.get(addr)
        {
            return v.clone();
        }
        let v = match tokio::time::timeout(
            Duration::from_secs(3),
            tokio::net::TcpStream::connect(addr),
        )
        .await
        {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) => Err(format!("unreachable: {addr}: {e}")),
            Err(_) => Err(format!("unreachable: {addr}: no answer within 3 s")),
        };
        if let Ok(mut r) = self.reachable.lock() {
            r.insert(addr.to_string(), v.clone());
        }
        v
    }
}

/// One variant's flow, per protocol.
#[derive(Debug, Clone)]
pub enum Flow {
    Amqp(clients::amqp::Flow),
    Mqtt(clients::mqtt::Flow),
    Kafka(clients::kafka::Flow),
}

impl Flow {
    fn protocol(&self) -> &'static str {
        match self {
            Flow::Amqp(_) => "amqp",
            Flow::Mqtt(_) => "mqtt",
            Flow::Kafka(_) => "kafka",
        }
    }

    fn layout(&self) -> Layout {
        match self {
            Flow::Amqp(f) => f.layout,
            Flow::Mqtt(f) => f.layout,
            Flow::Kafka(f) => f.layout,
        }
    }
}

/// Where a flow runs: a target's endpoint, by protocol.
#[derive(Debug, Clone)]
pub enum Endpoint {
    Amqp(String, String),
    Mqtt(HostPort),
    Kafka(HostPort),
}

fn endpoint(t: &Target, protocol: &str) -> Option<Endpoint> {
    match protocol {
        "amqp" => t
            .amqp
            .as_ref()
            .map(|a| Endpoint::Amqp(a.uri.clone(), a.addr.clone())),
        "mqtt" => t.mqtt.clone().map(Endpoint::Mqtt),
        _ => t.kafka.clone().map(Endpoint::Kafka),
    }
}

/// Runs `flow` against `target` and makes its row (skipped, failed or measured).
pub async fn variant(ctx: &Ctx, target: &Target, variant: &str, flow: Flow, budget: Budget) -> Row {
    let protocol = flow.protocol();
    let Some(ep) = endpoint(target, protocol) else {
        return Row::skipped(
            &target.name,
            protocol,
            variant,
            format!("skipped: the target has no {protocol}:// URL"),
        );
    };
    let addr = match &ep {
        Endpoint::Amqp(_, a) => a.clone(),
        Endpoint::Mqtt(a) | Endpoint::Kafka(a) => a.to_string(),
    };
    if let Err(why) = ctx.reachable(&addr).await {
        return Row::skipped(&target.name, protocol, variant, why);
    }
    let (m, dur) = match budget {
        Budget::Count(n) => (n, None),
        Budget::For(d) => (0, Some(d)),
    };
    let expected = match flow.layout() {
        Layout::Fanout(k) => Some(m * k as u64),
        _ => Some(m),
    }
    .filter(|_| dur.is_none());
    let line = progress::start(
        format!(
            "{} {} {protocol} {variant}",
            ctx.scenario.name(),
            target.name
        ),
        expected,
        dur,
    );
    let run = Run {
        size: ctx.size,
        budget,
        producers: ctx.connections,
        quick: ctx.quick,
        progress: line.progress(),
    };
    // Whatever happens, the run ends: a broker that stops answering is a failed row.
    let limit = match budget {
        Budget::For(d) => d + Duration::from_secs(120),
        Budget::Count(_) => Duration::from_secs(if ctx.quick { 120 } else { 900 }),
    };
    let fut = async {
        match (&flow, &ep) {
            (Flow::Amqp(f), Endpoint::Amqp(uri, _)) => clients::amqp::run(uri, *f, &run).await,
            (Flow::Mqtt(f), Endpoint::Mqtt(a)) => clients::mqtt::run(a, *f, &run).await,
            (Flow::Kafka(f), Endpoint::Kafka(a)) => clients::kafka::run(a, f.clone(), &run).await,
            _ => Err(anyhow::anyhow!("flow and endpoint disagree")),
        }
    };
    let result = tokio::time::timeout(limit, fut).await;
    drop(line);
    match result {
        Ok(Ok(m)) => Row::measured(&target.name, protocol, variant, m),
        Ok(Err(e)) => Row::failed(&target.name, protocol, variant, &e),
        Err(_) => Row::skipped(
            &target.name,
            protocol,
            variant,
            format!("failed: no result within {} s", limit.as_secs()),
        ),
    }
}

/// Runs a scenario's own measurement against `target`, which must have a reachable
/// endpoint for every protocol in `needs`; `label` fills the protocol column (`IN->OUT`
/// for `cross`), `expected` the progress line's ETA. The run gets the progress counter.
pub async fn custom<F, Fut>(
    ctx: &Ctx,
    target: &Target,
    label: &str,
    variant: &str,
    needs: &[&str],
    expected: Option<u64>,
    f: F,
) -> Row
where
    F: FnOnce(Run) -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<crate::row::Measured>>,
{
    for &p in needs {
        let Some(ep) = endpoint(target, p) else {
            return Row::skipped(
                &target.name,
                label,
                variant,
                format!("skipped: the target has no {p}:// URL"),
            );
        };
        let addr = match &ep {
            Endpoint::Amqp(_, a) => a.clone(),
            Endpoint::Mqtt(a) | Endpoint::Kafka(a) => a.to_string(),
        };
        if let Err(why) = ctx.reachable(&addr).await {
            return Row::skipped(&target.name, label, variant, why);
        }
    }
    let line = progress::start(
        format!("{} {} {label} {variant}", ctx.scenario.name(), target.name),
        expected,
        None,
    );
    let run = Run {
        size: ctx.size,
        budget: ctx.budget,
        producers: ctx.connections,
        quick: ctx.quick,
        progress: line.progress(),
    };
    let limit = Duration::from_secs(if ctx.quick { 120 } else { 900 });
    let result = tokio::time::timeout(limit, f(run)).await;
    drop(line);
    match result {
        Ok(Ok(m)) => Row::measured(&target.name, label, variant, m),
        Ok(Err(e)) => Row::failed(&target.name, label, variant, &e),
        Err(_) => Row::skipped(
            &target.name,
            label,
            variant,
            format!("failed: no result within {} s", limit.as_secs()),
        ),
    }
}

/// The count a scenario that needs one uses (`guarantees`, `groups` replay): `--count`,
/// or for a timed run the default.
pub fn count_of(b: Budget, quick: bool) -> u64 {
    match b {
        Budget::Count(n) => n,
        Budget::For(_) if quick => 300,
        Budget::For(_) => 50_000,
    }
}
