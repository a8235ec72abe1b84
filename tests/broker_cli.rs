//! The binary itself: readiness, metrics, clean shutdown on SIGTERM, and start-up
//! errors that name the offending setting.

mod support;

use std::process::Command;

use support::{Broker, binary, http_get};

#[test]
fn serves_healthz_and_metrics_and_stops_on_sigterm() {
    let mut b = Broker::start();
    let (code, body) = http_get(b.http, "/healthz").expect("healthz answers");
    assert_eq!(code, 200);
    assert_eq!(body.trim(), "ok");
    let metrics = b.metrics();
    assert!(
        metrics.contains("# TYPE trident_messages_published_total counter"),
        "{metrics}"
    );
    assert!(metrics.contains("trident_connections "), "{metrics}");
    b.stop();
}

#[test]
fn invalid_settings_fail_at_start_naming_the_setting() {
    let out = Command::new(binary())
        .args(["serve", "--amqp-listen", "nonsense"])
        .env_remove("RUST_LOG")
        .output()
        .expect("run trident");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("amqp.listen"), "stderr: {err}");

    let out = Command::new(binary())
        .args(["serve"])
        .env("TRIDENT_TOPICS_DEFAULT_PARTITIONS", "zero")
        .output()
        .expect("run trident");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("TRIDENT_TOPICS_DEFAULT_PARTITIONS"),
        "stderr: {err}"
    );
}

#[test]
fn a_taken_port_is_reported() {
    let b = Broker::start();
    let dir = tempfile::tempdir().expect("tempdir");
    let out = Command::new(binary())
        .arg("serve")
        .arg("--data-dir")
        .arg(dir.path())
        .args([
            "--amqp-listen",
            &b.amqp.to_string(),
            "--kafka-listen",
            "127.0.0.1:0",
        ])
        .args([
            "--http-listen",
            "127.0.0.1:0",
            "--mqtt-listen",
            "127.0.0.1:0",
        ])
        .output()
        .expect("run trident");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("amqp.listen"), "stderr: {err}");
}
