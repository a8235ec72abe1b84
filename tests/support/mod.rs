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
    /// Listen on every interface (0.0.0.0) instead of 127.0.0.1.
    all_interfaces: bool,
}

pub fn free_port() -> SocketAddr {
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
        Self::start_fresh(settings, false)
    }

    /// Like [`start_with`](Self::start_with), listening on every interface so that a
    /// client can come from a non-loopback address (the addresses kept here stay
    /// 127.0.0.1 with the same ports).
    pub fn start_on_all_interfaces(settings: &[(&str, &str)]) -> Broker {
        Self::start_fresh(settings, true)
    }

    /// A first start on fresh ports. A port `free_port` picked can be taken before the
    /// broker binds it (another test's client socket, when many run at once); the broker
    /// then exits naming the listener, and a start on new ports is tried, at most 3 times.
    fn start_fresh(settings: &[(&str, &str)], all_interfaces: bool) -> Broker {
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
            all_interfaces,
        };
        for attempt in 1.. {
            b.launch();
            match b.try_ready(Duration::from_secs(30)) {
                Ok(()) => break,
                Err(why) if attempt < 3 && why.starts_with("trident exited") => {
                    (b.amqp, b.kafka, b.mqtt, b.http) =
                        (free_port(), free_port(), free_port(), free_port());
                }
                Err(why) => panic!("{why}"),
            }
        }
        b
    }

    /// Runs `trident <args>` against this broker's management API as `user`/`pass`;
    /// returns the exit code, stdout and stderr.
    pub fn admin(&self, user: &str, pass: &str, args: &[&str]) -> (i32, String, String) {
        let out = Command::new(binary())
            .args(args)
            .env("TRIDENT_ADMIN_URL", format!("http://{}", self.http))
            .env("TRIDENT_ADMIN_USER", user)
            .env("TRIDENT_ADMIN_PASS", pass)
            .stdin(Stdio::null())
            .output()
            .expect("run the trident binary");
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    pub fn data_dir(&self) -> &Path {
        self.dir.path()
    }

    fn launch(&mut self) {
        let listen = |a: SocketAddr| {
            if self.all_interfaces {
                format!("0.0.0.0:{}", a.port())
            } else {
                a.to_string()
            }
        };
        let mut cmd = Command::new(binary());
        cmd.arg("serve")
            .arg("--data-dir")
            .arg(self.dir.path().join("data"))
            .arg("--amqp-listen")
            .arg(listen(self.amqp))
            .arg("--kafka-listen")
            .arg(listen(self.kafka))
            .arg("--mqtt-listen")
            .arg(listen(self.mqtt))
            .arg("--http-listen")
            .arg(listen(self.http))
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
    }

    fn spawn(&mut self) {
        self.launch();
        self.wait_ready(Duration::from_secs(30));
    }

    /// Polls `/healthz` until it answers 200.
    pub fn wait_ready(&mut self, timeout: Duration) {
        if let Err(why) = self.try_ready(timeout) {
            panic!("{why}");
        }
    }

    fn try_ready(&mut self, timeout: Duration) -> Result<(), String> {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if let Some(child) = self.child.as_mut()
                && let Ok(Some(status)) = child.try_wait()
            {
                self.child = None;
                return Err(format!("trident exited during start: {status}"));
            }
            if http_get(self.http, "/healthz").is_some_and(|(code, _)| code == 200) {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Err(format!("trident did not become ready within {timeout:?}"))
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

/// This machine's own address on its outbound interface (not loopback), if it has one:
/// connecting to it from here is a login from a non-loopback peer. A UDP "connect"
/// sends nothing; it only picks the route.
pub fn non_loopback_ip() -> Option<std::net::IpAddr> {
    let s = std::net::UdpSocket::bind("0.0.0.0:0").ok()?;
    s.connect("198.51.100.1:9").ok()?;
    let ip = s.local_addr().ok()?.ip();
    (!ip.is_loopback() && !ip.is_unspecified()).then_some(ip)
}

/// One HTTP/1.1 request with optional basic auth and body; the status and body.
pub fn http_request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    auth: Option<(&str, &str)>,
    body: Option<&str>,
) -> Option<(u16, String)> {
    use base64::Engine as _;
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(2)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(30))).ok()?;
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n");
    if let Some((u, p)) = auth {
        let token = base64::engine::general_purpose::STANDARD.encode(format!("{u}:{p}"));
        head.push_str(&format!("Authorization: Basic {token}\r\n"));
    }
    let body = body.unwrap_or("");
    head.push_str(&format!(
        "Content-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    ));
    s.write_all(head.as_bytes()).ok()?;
    s.write_all(body.as_bytes()).ok()?;
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).ok()?;
    let text = String::from_utf8_lossy(&buf).into_owned();
    let code = text.split_whitespace().nth(1)?.parse().ok()?;
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    Some((code, body))
}

/// The repository root (the broker crate's parent).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("broker crate has a parent")
        .to_path_buf()
}

/// Creates (or reuses) the venv with the pinned requirements; returns its python.
pub fn venv() -> PathBuf {
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
