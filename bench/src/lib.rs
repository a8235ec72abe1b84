//! `trident bench`: the classic queue-vs-log comparisons as one command, against Trident
//! and, with `--target`, against other brokers, with a table on stdout and, with
//! `--out DIR`, JSON, SVG charts and an HTML/Markdown report (docs/bench.md).
//!
//! Layers: [`stamp`], [`histogram`], [`tally`] measure (no I/O); [`flow`] and
//! [`clients`] run producers and receivers with real protocol clients; [`sink`] holds
//! the discard servers; [`scenarios`] combine flows into rows; [`report`] writes them.

pub mod args;
pub mod clients;
pub mod flow;
pub mod histogram;
pub mod progress;
pub mod report;
pub mod row;
pub mod scenarios;
pub mod sink;
pub mod stamp;
pub mod tally;

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::process::ExitCode;

use clap::Parser;

use args::{BenchArgs, Scenario};
use report::ScenarioReport;
use row::Row;
use scenarios::Ctx;

/// Runs `trident bench ARGS...` (the arguments after `bench`).
pub fn main(args: Vec<OsString>) -> ExitCode {
    let argv = std::iter::once(OsString::from("trident bench")).chain(args.iter().cloned());
    let parsed = match BenchArgs::try_parse_from(argv) {
        Ok(a) => a,
        Err(e) => {
            use clap::error::ErrorKind;
            if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) {
                let _ = e.print();
                return ExitCode::SUCCESS;
            }
            // One line naming the option; clap's usage hints follow on later lines.
            let text = e.to_string();
            eprintln!("{}", text.lines().next().unwrap_or("error: bad arguments"));
            return ExitCode::from(2);
        }
    };
    let command = command_line(&args);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("trident-bench")
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: starting the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(&parsed, &command)) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => {
            eprintln!("error: no row ran (every one was skipped or failed; see the notes)");
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// The command that regenerates a report, as a shell would take it.
fn command_line(args: &[OsString]) -> String {
    let mut s = String::from("trident bench");
    for a in args {
        let a = a.to_string_lossy();
        let plain = !a.is_empty()
            && a.chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_=/:.,@%+".contains(c));
        s.push(' ');
        if plain {
            s.push_str(&a);
        } else {
            s.push('\'');
            s.push_str(&a.replace('\'', "'\\''"));
            s.push('\'');
        }
    }
    s
}

pub fn versions() -> BTreeMap<String, String> {
    let mut v = BTreeMap::new();
    v.insert("trident".into(), env!("CARGO_PKG_VERSION").into());
    v.insert("lapin".into(), env!("BENCH_LAPIN_VERSION").into());
    v.insert("rumqttc".into(), env!("BENCH_RUMQTTC_VERSION").into());
    v.insert(
        "rdkafka".into(),
        format!(
            "{} (librdkafka {})",
            env!("BENCH_RDKAFKA_VERSION"),
            rdkafka::util::get_rdkafka_version().1
        ),
    );
    v
}

pub fn about(s: Scenario) -> &'static str {
    match s {
        Scenario::Sink => scenarios::sink::ABOUT,
        Scenario::Batching => scenarios::batching::ABOUT,
        Scenario::Fanout => scenarios::fanout::ABOUT,
        Scenario::P2pPubsub => scenarios::p2p_pubsub::ABOUT,
        Scenario::PushPull => scenarios::push_pull::ABOUT,
        Scenario::Backlog => scenarios::backlog::ABOUT,
        Scenario::Guarantees => scenarios::guarantees::ABOUT,
        Scenario::Groups => scenarios::groups::ABOUT,
        Scenario::Cross => scenarios::cross::ABOUT,
        Scenario::All => "Every scenario, then one report.",
    }
}

async fn run_one(ctx: &Ctx) -> Vec<Row> {
    match ctx.scenario {
        Scenario::Sink => scenarios::sink::run(ctx).await,
        Scenario::Batching => scenarios::batching::run(ctx).await,
        Scenario::Fanout => scenarios::fanout::run(ctx).await,
        Scenario::P2pPubsub => scenarios::p2p_pubsub::run(ctx).await,
        Scenario::PushPull => scenarios::push_pull::run(ctx).await,
        Scenario::Backlog => scenarios::backlog::run(ctx).await,
        Scenario::Guarantees => scenarios::guarantees::run(ctx).await,
        Scenario::Groups => scenarios::groups::run(ctx).await,
        Scenario::Cross => scenarios::cross::run(ctx).await,
        Scenario::All => Vec::new(),
    }
}

/// Runs the scenario(s), prints and writes the results; true when at least one row ran.
async fn run(a: &BenchArgs, command: &str) -> anyhow::Result<bool> {
    let ctx = Ctx::new(
        a.scenario,
        a.targets(),
        a.size,
        a.budget(),
        a.connections,
        a.quick,
    )
    .with_backlogs(a.backlogs());
    let list: Vec<Scenario> = match a.scenario {
        Scenario::All => Scenario::SET.to_vec(),
        s => vec![s],
    };
    let machine = report::machine::Machine::this();
    let mut reports = Vec::new();
    let mut any_ran = false;
    for s in list {
        let c = ctx.for_scenario(s);
        println!("== {}: {}", s.name(), about(s));
        let rows = run_one(&c).await;
        print!("{}", report::table::render(&rows));
        println!();
        any_ran |= rows.iter().any(|r| r.ran);
        let r = ScenarioReport {
            scenario: s.name().into(),
            about: about(s).into(),
            machine: machine.clone(),
            versions: versions(),
            command: command.to_string(),
            rows,
        };
        if let Some(dir) = &a.out {
            report::json::write(dir, &r)?;
        }
        reports.push(r);
    }
    if let (Scenario::All, Some(dir)) = (a.scenario, &a.out) {
        report::html::write(dir, &reports, command)?;
    }
    Ok(any_ran)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_line_quotes_what_a_shell_would_split() {
        let args: Vec<OsString> = ["sink", "--out", "my dir", "--target", "t=mqtt://h:1"]
            .iter()
            .map(OsString::from)
            .collect();
        assert_eq!(
            command_line(&args),
            "trident bench sink --out 'my dir' --target t=mqtt://h:1"
        );
    }

    #[test]
    fn versions_name_the_clients() {
        let v = versions();
        for k in ["trident", "lapin", "rumqttc", "rdkafka"] {
            assert!(
                v.get(k).is_some_and(|s| !s.contains("unknown")),
                "{k}: {v:?}"
            );
        }
    }
}
