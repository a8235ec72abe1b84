//! `trident bench` through the real binary, on `--quick` counts, against a broker this
//! test starts: every scenario's table, JSON (the schema of issue 12) and SVG, the
//! `all` report, and bad input (an unreachable target, bad options). What is measured is
//! not checked (no timed assertions): only that rows ran and say what they should.

mod support;

use std::path::Path;
use std::process::{Command, Stdio};

use serde_json::Value;
use support::{Broker, binary};

fn urls(b: &Broker) -> String {
    format!(
        "trident=amqp://guest:guest@{}/,mqtt://{},kafka://{}",
        b.amqp, b.mqtt, b.kafka
    )
}

/// Runs `trident bench ARGS`; exit code, stdout, stderr.
fn bench(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(binary())
        .arg("bench")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run the trident binary");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

const ROW_KEYS: [&str; 13] = [
    "target",
    "protocol",
    "variant",
    "sent",
    "received",
    "lost",
    "duplicated",
    "msgs_per_s",
    "mb_per_s",
    "p50_ms",
    "p99_ms",
    "p999_ms",
    "note",
];

/// Checks DIR/SCENARIO.json against the schema and DIR/SCENARIO.svg; returns the rows.
fn check_outputs(dir: &Path, scenario: &str) -> Vec<Value> {
    let text = std::fs::read_to_string(dir.join(format!("{scenario}.json")))
        .unwrap_or_else(|e| panic!("{scenario}.json: {e}"));
    let v: Value = serde_json::from_str(&text).expect("valid JSON");
    assert_eq!(v["scenario"], scenario);
    let m = &v["machine"];
    assert!(m["cpus"].as_u64().is_some_and(|c| c > 0), "{m}");
    assert!(m["memory"].as_u64().is_some(), "{m}");
    assert!(m["os"].as_str().is_some_and(|s| !s.is_empty()), "{m}");
    let versions = v["versions"].as_object().expect("versions is an object");
    for k in ["trident", "lapin", "rumqttc", "rdkafka"] {
        assert!(versions.contains_key(k), "versions lack {k}");
    }
    let rows = v["rows"].as_array().expect("rows is an array").clone();
    assert!(!rows.is_empty(), "{scenario}: no rows");
    for r in &rows {
        let o = r.as_object().expect("a row is an object");
        for k in ROW_KEYS {
            assert!(o.contains_key(k), "{scenario}: row lacks {k}: {r}");
        }
        for k in ["target", "protocol", "variant", "note"] {
            assert!(r[k].is_string(), "{scenario}: {k} is not a string: {r}");
        }
        for k in ["sent", "received", "lost", "duplicated"] {
            assert!(r[k].is_u64(), "{scenario}: {k} is not a count: {r}");
        }
        for k in ["msgs_per_s", "mb_per_s", "p50_ms", "p99_ms", "p999_ms"] {
            assert!(
                r[k].is_null() || r[k].is_f64() || r[k].is_u64(),
                "{scenario}: {k} is neither a number nor null: {r}"
            );
        }
    }
    let svg = std::fs::read_to_string(dir.join(format!("{scenario}.svg")))
        .unwrap_or_else(|e| panic!("{scenario}.svg: {e}"));
    assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
    assert!(svg.contains("messages per second"), "the x axis has a unit");
    rows
}

/// Rows that ran carry a rate; rows that did not say why.
fn ran(rows: &[Value]) -> usize {
    rows.iter().filter(|r| !r["msgs_per_s"].is_null()).count()
}

#[test]
fn every_scenario_and_the_report_through_the_binary() {
    let b = Broker::start();
    let dir = tempfile::tempdir().expect("temp dir");
    let target = urls(&b);
    let (code, out, err) = bench(&[
        "all",
        "--quick",
        "--target",
        &target,
        "--out",
        dir.path().to_str().expect("utf-8 path"),
    ]);
    assert_eq!(code, 0, "stdout:\n{out}\nstderr:\n{err}");
    let scenarios = [
        "sink",
        "batching",
        "push-pull",
        "backlog",
        "guarantees",
        "groups",
        "fanout",
        "p2p-pubsub",
        "cross",
    ];
    for s in scenarios {
        // Each scenario's header line with its one-sentence demonstration, then the table.
        let head = format!("== {s}: ");
        let at = out
            .find(&head)
            .unwrap_or_else(|| panic!("no {head:?} in\n{out}"));
        let table = &out[at..];
        assert!(table.contains("target") && table.contains("msgs/s") && table.contains("p99"));
        let rows = check_outputs(dir.path(), s);
        assert!(ran(&rows) > 0, "{s}: no row ran: {rows:?}");
        // Against a healthy local broker nothing should fail outright.
        for r in &rows {
            let note = r["note"].as_str().unwrap_or_default();
            assert!(!note.starts_with("failed"), "{s}: {r}");
        }
    }
    let sink = check_outputs(dir.path(), "sink");
    for p in ["amqp", "mqtt", "kafka"] {
        assert!(
            sink.iter()
                .any(|r| r["protocol"] == p && !r["msgs_per_s"].is_null()),
            "the sink measured no {p} row"
        );
    }
    let guarantees = check_outputs(dir.path(), "guarantees");
    for v in ["at-most-once", "at-least-once", "exactly-once"] {
        for p in ["amqp", "mqtt", "kafka"] {
            assert!(
                guarantees
                    .iter()
                    .any(|r| r["variant"] == v && r["protocol"] == p),
                "guarantees lack {p} {v}"
            );
        }
    }
    let kafka_eo = guarantees
        .iter()
        .find(|r| r["variant"] == "exactly-once" && r["protocol"] == "kafka")
        .map(|r| r["note"].as_str().unwrap_or_default().to_string())
        .unwrap_or_default();
    assert!(kafka_eo.contains("transactions"), "{kafka_eo}");
    let cross = check_outputs(dir.path(), "cross");
    for p in ["amqp->amqp", "mqtt->kafka", "amqp->mqtt", "kafka->mqtt"] {
        assert!(
            cross.iter().any(|r| r["protocol"] == p),
            "cross has no {p} row"
        );
    }
    let html = std::fs::read_to_string(dir.path().join("report.html")).expect("report.html");
    assert!(html.contains("<svg") && html.contains("</html>"));
    assert!(html.contains("trident bench all --quick"), "the command");
    assert!(!html.contains("<script") && !html.contains("src="));
    for s in scenarios {
        assert!(
            html.contains(&format!("id=\"{s}\"")),
            "report.html lacks {s}"
        );
    }
    let md = std::fs::read_to_string(dir.path().join("report.md")).expect("report.md");
    for s in scenarios {
        assert!(
            md.contains(&format!("![{s}]({s}.svg)")),
            "report.md lacks {s}"
        );
    }
}

#[test]
fn an_unreachable_target_is_a_row_with_a_note() {
    let b = Broker::start();
    // A port nobody listens on: bind one, note it, let it go.
    let dead = support::free_port();
    let (code, out, err) = bench(&[
        "p2p-pubsub",
        "--quick",
        "--target",
        &urls(&b),
        "--target",
        &format!("dead=mqtt://{dead},amqp://guest:guest@{dead}/"),
    ]);
    assert_eq!(code, 0, "another row ran: stdout:\n{out}\nstderr:\n{err}");
    let dead_rows: Vec<&str> = out.lines().filter(|l| l.starts_with("dead ")).collect();
    assert!(!dead_rows.is_empty(), "{out}");
    for l in &dead_rows {
        assert!(
            l.contains("unreachable") || l.contains("no kafka:// URL"),
            "{l}"
        );
    }

    // Only the dead target: no row ran, a non-zero exit.
    let (code, out, err) = bench(&[
        "batching",
        "--quick",
        "--target",
        &format!("dead=mqtt://{dead}"),
    ]);
    assert_ne!(code, 0, "stdout:\n{out}\nstderr:\n{err}");
    assert!(err.contains("no row ran"), "{err}");
}

#[test]
fn bad_options_get_one_line_naming_the_option() {
    for (args, option) in [
        (vec!["sink", "--size", "5"], "--size"),
        (vec!["sink", "--count", "0"], "--count"),
        (vec!["sink", "--connections", "x"], "--connections"),
        (vec!["sink", "--target", "x=http://h:1"], "--target"),
        (vec!["backlog", "--backlog", "lots"], "--backlog"),
        (vec!["sink", "--bogus"], "--bogus"),
        (vec!["nosuch"], "nosuch"),
    ] {
        let (code, out, err) = bench(&args);
        assert_eq!(code, 2, "{args:?}: {out}{err}");
        assert_eq!(err.trim_end().lines().count(), 1, "{args:?}: {err}");
        assert!(err.contains(option), "{args:?}: {err}");
    }
}
