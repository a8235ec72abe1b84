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
    assert!(
        metrics
            .lines()
            .any(|l| l == "trident_retained_messages{vhost=\"/\"} 0"),
        "{metrics}"
    );
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

/// A full queue is visible on /metrics: an AMQP publisher (lapin, confirm mode) fills a
/// `reject-publish` queue and a `drop-head` queue; the refusals are nacked, and both
/// kinds of loss are counted per queue and engine-wide.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn overflow_drops_and_refusals_are_counted_on_metrics() {
    use lapin::options::{BasicPublishOptions, ConfirmSelectOptions, QueueDeclareOptions};
    use lapin::types::{AMQPValue, FieldTable, ShortString};
    use lapin::{BasicProperties, Connection, ConnectionProperties};

    let b = Broker::start();
    let conn = Connection::connect(
        &format!("amqp://guest:guest@{}/%2f", b.amqp),
        ConnectionProperties::default(),
    )
    .await
    .expect("connect");
    let ch = conn.create_channel().await.expect("channel");
    ch.confirm_select(ConfirmSelectOptions::default())
        .await
        .expect("confirm mode");
    for (queue, overflow) in [("strict", "reject-publish"), ("newest", "drop-head")] {
        let mut args = FieldTable::default();
        args.insert(ShortString::from("x-max-length"), AMQPValue::LongInt(2));
        args.insert(
            ShortString::from("x-overflow"),
            AMQPValue::LongString(overflow.into()),
        );
        ch.queue_declare(queue, QueueDeclareOptions::default(), args)
            .await
            .expect("declare");
    }
    let mut nacks = 0;
    for queue in ["strict", "newest"] {
        for i in 0..5 {
            let confirm = ch
                .basic_publish(
                    "",
                    queue,
                    BasicPublishOptions::default(),
                    format!("m{i}").as_bytes(),
                    BasicProperties::default(),
                )
                .await
                .expect("publish")
                .await
                .expect("confirmation");
            if confirm.is_nack() {
                nacks += 1;
            }
        }
    }
    assert_eq!(nacks, 3, "only reject-publish refuses, and it nacks");
    let metrics = b.metrics();
    for line in [
        "trident_messages_dropped_total{reason=\"overflow_drop_head\"} 3",
        "trident_messages_dropped_total{reason=\"overflow_reject_publish\"} 3",
        "trident_queue_messages_dropped_total{vhost=\"/\",queue=\"strict\",reason=\"overflow_reject_publish\"} 3",
        "trident_queue_messages_dropped_total{vhost=\"/\",queue=\"newest\",reason=\"overflow_drop_head\"} 3",
        "trident_queue_messages_dropped_total{vhost=\"/\",queue=\"newest\",reason=\"overflow_reject_publish\"} 0",
    ] {
        assert!(
            metrics.lines().any(|l| l == line),
            "missing {line:?} in\n{metrics}"
        );
    }
}
