//! The admin CLI asks for a password at a terminal without echoing it. The terminal is
//! a real pseudo-terminal made by util-linux `script`; the test types the password only
//! once the terminal's echo is off (read with `stty`), so what it sees on the terminal
//! is exactly what the CLI let through.

mod support;

use std::io::{Read, Write};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use support::Broker;

const SECRET: &str = "typed-at-a-tty-Secret-81";
const WAIT: Duration = Duration::from_secs(30);

/// Polls `f` until it returns `Some` or the deadline passes (a deadline against
/// hanging, not a measurement).
fn wait_for<T>(what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + WAIT;
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < deadline, "gave up waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn passwd_at_a_terminal_reads_the_password_with_echo_off() {
    let broker = Broker::start();
    // `tty` first, so the test knows which terminal to inspect.
    let command = format!(
        "tty; exec {} users passwd guest",
        support::binary().display()
    );
    let mut child = Command::new("script")
        .args(["-qec", &command, "/dev/null"])
        .env("TRIDENT_ADMIN_URL", format!("http://{}", broker.http))
        .env("TRIDENT_ADMIN_USER", "guest")
        .env("TRIDENT_ADMIN_PASS", "guest")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run util-linux script");
    let mut stdout = child.stdout.take().expect("stdout");
    let screen = Arc::new(Mutex::new(Vec::new()));
    let reader = {
        let screen = screen.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = stdout.read(&mut buf) {
                if n == 0 {
                    break;
                }
                screen.lock().expect("screen").extend_from_slice(&buf[..n]);
            }
        })
    };
    let seen = || String::from_utf8_lossy(&screen.lock().expect("screen")).into_owned();

    let tty = wait_for("the prompt", || {
        let s = seen();
        let tty = s.lines().next()?.trim().to_string();
        (tty.starts_with("/dev/") && s.contains("Password for 'guest': ")).then_some(tty)
    });
    wait_for("echo off on the terminal", || {
        let out = Command::new("stty")
            .args(["-a", "-F", &tty])
            .output()
            .ok()?;
        let flags = String::from_utf8_lossy(&out.stdout).into_owned();
        flags
            .split_whitespace()
            .any(|flag| flag == "-echo")
            .then_some(())
    });
    let mut stdin = child.stdin.take().expect("stdin");
    stdin
        .write_all(format!("{SECRET}\n").as_bytes())
        .expect("type the password");
    let status = wait_for("the CLI to finish", || child.try_wait().ok().flatten());
    drop(stdin);
    reader.join().expect("reader");
    let screen = seen();
    assert!(status.success(), "{screen}");
    assert!(
        !screen.contains(SECRET),
        "the password was echoed: {screen:?}"
    );

    // The typed password is the one the broker now holds.
    let (code, _, err) = broker.admin("guest", SECRET, &["users", "list"]);
    assert_eq!(code, 0, "{err}");
    let (code, _, _) = broker.admin("guest", "guest", &["users", "list"]);
    assert_eq!(code, 77, "the old password no longer logs in");
}
