//! Runs the Python client suites (pika, confluent-kafka, kafka-python) under pytest
//! against a real broker process. The virtualenv is created on first use inside
//! cargo's target directory, so `cargo test --workspace` needs nothing installed
//! beyond python3 with venv and pip.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

use support::Broker;

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("broker crate has a parent")
        .to_path_buf()
}

/// Creates (or reuses) the venv with the pinned requirements; returns its python.
fn venv() -> PathBuf {
    let root = repo_root();
    let requirements = root.join("tests/python/requirements.txt");
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("pyenv");
    let python = dir.join("bin/python");
    let stamp = dir.join(".requirements");
    let wanted =
        std::fs::read_to_string(&requirements).expect("read tests/python/requirements.txt");
    if python.exists() && std::fs::read_to_string(&stamp).is_ok_and(|s| s == wanted) {
        return python;
    }
    let status = Command::new("python3")
        .args(["-m", "venv"])
        .arg(&dir)
        .status()
        .expect("python3 is needed for the Python client tests");
    assert!(status.success(), "python3 -m venv failed");
    let status = Command::new(&python)
        .args([
            "-m",
            "pip",
            "install",
            "-q",
            "--disable-pip-version-check",
            "-r",
        ])
        .arg(&requirements)
        .status()
        .expect("run pip");
    assert!(
        status.success(),
        "pip install -r tests/python/requirements.txt failed"
    );
    std::fs::write(&stamp, wanted).expect("write venv stamp");
    python
}

#[test]
fn python_client_suites() {
    let python = venv();
    let broker = Broker::start();
    let out = Command::new(&python)
        .args([
            "-m",
            "pytest",
            "-q",
            "-x",
            "-p",
            "no:cacheprovider",
            "tests/python",
        ])
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
