//! Resource alarms with a real client: a broker with a 1-byte memory watermark blocks
//! publishers (connection.blocked to pika, MQTT publishers not read), keeps consumers going, and shows the alarm
//! in /metrics and /api/overview (tests/python_alarms under pytest).

mod support;

use std::process::Command;

use support::{Broker, repo_root, venv};

#[test]
fn a_tiny_memory_watermark_blocks_publishers() {
    let broker = Broker::start_with(&[
        ("alarms.memory_high_watermark_bytes", "1"),
        ("alarms.check_interval_ms", "50"),
    ]);
    let python = venv();
    let out = Command::new(&python)
        .args([
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "tests/python_alarms",
        ])
        .current_dir(repo_root())
        .env("TRIDENT_AMQP", broker.amqp.to_string())
        .env("TRIDENT_HTTP", broker.http.to_string())
        .env("TRIDENT_MQTT", broker.mqtt.to_string())
        .output()
        .expect("run pytest");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    println!("{stdout}\n{stderr}");
    assert!(out.status.success(), "pytest failed:\n{stdout}\n{stderr}");
    assert!(stdout.contains("passed"), "pytest ran no test:\n{stdout}");
}
