//! Starts the real `trident` binary for end-to-end tests: free ports on 127.0.0.1, a
//! temporary data directory, readiness from `/healthz`, and the ability to SIGKILL and
//! restart it on the same data (crash-safety tests).

#![allow(dead_code)] // each test file uses a different part of this module

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running broker process.
pub struct Broker {
    child: Option<Child>,
    dir: tempfile::TempDir,
    pub amqp: SocketAddr,
    pub kafka: SocketAddr,
    pub mqtt: SocketAddr,
    pub http: SocketAddr,
    extra: Vec<(String, String)>,
}

fn free_port() -> SocketAddr {
    // The OS picks a free port; the tiny window before the broker binds it is an
    // accepted race in tests.
    let l = TcpListener::bind("127.0.0.1:0").expect("bind an ephemeral port");
    l.local_addr().expect("local addr")
}

pub fn binary() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_trident"))
}

impl Broker {
    /// Starts a broker with default settings on fresh ports and a fresh data dir.
    pub fn start() -> Broker {
        Self::start_with(&[])
    }

    /// Starts a broker with extra `--set key=value` settings.
    pub fn start_with(settings: &[(&str, &str)]) -> Broker {
        let mut b = Broker {
            child: None,
            dir: tempfile::tempdir().expect("temp dir"),
            amqp: free_port(),
            kafka: free_port(),
            mqtt: free_port(),
            http: free_port(),
            extra: settings
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        };
        b.spawn();
        b
    }

    pub fn data_dir(&self) -> &Path {
        self.dir.path()
    }

    fn spawn(&mut self) {
        let mut cmd = Command::new(binary());
        cmd.arg("serve")
            .arg("--data-dir")
            .arg(self.dir.path().join("data"))
            .arg("--amqp-listen")
            .arg(self.amqp.to_string())
            .arg("--kafka-listen")
            .arg(self.kafka.to_string())
            .arg("--mqtt-listen")
            .arg(self.mqtt.to_string())
            .arg("--http-listen")
            .arg(self.http.to_string())
            .env_remove("RUST_LOG")
            .env(
                "TRIDENT_LOG",
                std::env::var("TRIDENT_TEST_LOG").unwrap_or_else(|_| "warn".into()),
            )
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit());
        for (k, v) in &self.extra {
            cmd.arg("--set").arg(format!("{k}={v}"));
        }
        self.child = Some(cmd.spawn().expect("spawn the trident binary"));
        self.wait_ready(Duration::from_secs(30));
    }

    /// Polls `/healthz` until it answers 200.
    pub fn wait_ready(&mut self, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if let Some(child) = self.child.as_mut()
                && let Ok(Some(status)) = child.try_wait()
            {
                panic!("trident exited during start: {status}");
            }
            if http_get(self.http, "/healthz").is_some_and(|(code, _)| code == 200) {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("trident did not become ready within {timeout:?}");
    }

    /// SIGKILL: no flush, no goodbye.
    pub fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// SIGTERM and wait for a clean exit.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let pid = child.id().to_string();
            let _ = Command::new("kill").arg("-TERM").arg(&pid).status();
            let deadline = Instant::now() + Duration::from_secs(20);
            loop {
                match child.try_wait() {
                    Ok(Some(status)) => {
                        assert!(
                            status.success(),
                            "trident exited with {status} after SIGTERM"
                        );
                        return;
                    }
                    Ok(None) if Instant::now() < deadline => {
                        std::thread::sleep(Duration::from_millis(50))
                    }
                    _ => {
                        let _ = child.kill();
                        panic!("trident did not stop within 20 s of SIGTERM");
                    }
                }
            }
        }
    }

    /// Starts again on the same ports and data directory.
    pub fn restart(&mut self) {
        self.kill9();
        self.spawn();
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    pub fn metrics(&self) -> String {
        http_get(self.http, "/metrics")
            .map(|(_, body)| body)
            .unwrap_or_default()
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// A minimal HTTP/1.0 GET, so tests need no HTTP client crate.
pub fn http_get(addr: SocketAddr, path: &str) -> Option<(u16, String)> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_millis(500)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: localhost\r\n\r\n").ok()?;
    let mut buf = String::new();
    s.read_to_string(&mut buf).ok()?;
    let code = buf.split_whitespace().nth(1)?.parse().ok()?;
    let body = buf
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    Some((code, body))
}
