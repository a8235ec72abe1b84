//! Runs the Python client suites (pika, paho-mqtt, confluent-kafka, kafka-python; one
//! folder of tests/python each: amqp, kafka, mqtt, cross, dashboard) under pytest
//! against a real broker process. The virtualenv is created on first use inside
//! cargo's target directory, so `cargo test --workspace` needs nothing installed
//! beyond python3 with venv and pip.

mod support;

use std::process::Command;

use support::{Broker, repo_root, venv};

#[test]
fn python_client_suites() {
    let python = venv();
    // Retention runs often enough for the stream retention test to see it.
    let broker = Broker::start_with(&[("topics.retention_check_ms", "200")]);
    // TRIDENT_PYTHON_SUITES="cross mqtt" runs only those folders of tests/python (for
    // working on one suite); unset, every suite runs.
    let suites: Vec<String> = match std::env::var("TRIDENT_PYTHON_SUITES") {
        Ok(s) if !s.trim().is_empty() => s
            .split_whitespace()
            .map(|d| format!("tests/python/{d}"))
            .collect(),
        _ => vec!["tests/python".to_string()],
    };
    let out = Command::new(&python)
        .args(["-m", "pytest", "-q", "-x", "-p", "no:cacheprovider"])
        .args(&suites)
        .current_dir(repo_root())
        .env("TRIDENT_AMQP", broker.amqp.to_string())
        .env("TRIDENT_KAFKA", broker.kafka.to_string())
        .env("TRIDENT_MQTT", broker.mqtt.to_string())
        .env("TRIDENT_HTTP", broker.http.to_string())
        .output()
        .expect("run pytest");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    println!("{stdout}\n{stderr}");
    assert!(out.status.success(), "pytest failed:\n{stdout}\n{stderr}");
    assert!(stdout.contains("passed"), "pytest ran no test:\n{stdout}");
}
