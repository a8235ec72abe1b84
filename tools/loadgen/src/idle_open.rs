//! What the idle-connection modes (AMQP, Kafka, MQTT) share: collecting the connections
//! that opened, and why the others did not, from the tasks that opened them.

use anyhow::{Context, Result};
use tokio::task::JoinHandle;

use crate::meter::round3;

/// The connections that opened, how many did not, and the first reason why.
pub struct Opened<S> {
    pub streams: Vec<S>,
    pub failures: usize,
    pub first_error: Option<String>,
}

/// Waits for every opening task; a task that failed or panicked counts as a failure.
pub async fn collect<S>(handles: Vec<JoinHandle<Result<S, String>>>) -> Opened<S> {
    let mut out = Opened {
        streams: Vec::with_capacity(handles.len()),
        failures: 0,
        first_error: None,
    };
    for h in handles {
        let failed = match h.await {
            Ok(Ok(s)) => {
                out.streams.push(s);
                continue;
            }
            Ok(Err(e)) => e,
            Err(e) => e.to_string(),
        };
        out.failures += 1;
        out.first_error.get_or_insert(failed);
    }
    out
}

/// VmRSS of a process in KiB.
pub fn rss_kib(pid: u32) -> Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .with_context(|| format!("reading /proc/{pid}/status"))?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .context("no VmRSS line")
}

/// The broker's RSS growth per opened connection, in bytes, when both readings exist.
pub fn per_connection_bytes(
    before_kib: Option<u64>,
    open_kib: Option<u64>,
    opened: usize,
) -> Option<f64> {
    match (before_kib, open_kib) {
        (Some(r0), Some(r1)) if opened > 0 => {
            Some(round3((r1 as f64 - r0 as f64) * 1024.0 / opened as f64))
        }
        _ => None,
    }
}

/// What the three idle modes measure once their connections are open: how many are still
/// alive and the broker's RSS after `settle` seconds, then (after `hold` seconds and
/// closing them all) the RSS `settle` seconds after the close: what it gives back.
pub struct HoldAndClose {
    pub alive: usize,
    pub rss_open: Option<u64>,
    pub rss_closed: Option<u64>,
}

pub async fn hold_and_close(
    idlers: Vec<JoinHandle<()>>,
    broker_pid: Option<u32>,
    settle: f64,
    hold: f64,
) -> Result<HoldAndClose> {
    tokio::time::sleep(crate::meter::secs(settle)).await;
    let alive = idlers.iter().filter(|h| !h.is_finished()).count();
    let rss_open = broker_pid.map(rss_kib).transpose()?;
    tokio::time::sleep(crate::meter::secs(hold)).await;
    for h in &idlers {
        h.abort();
    }
    for h in idlers {
        let _ = h.await;
    }
    tokio::time::sleep(crate::meter::secs(settle)).await;
    let rss_closed = broker_pid.map(rss_kib).transpose()?;
    Ok(HoldAndClose {
        alive,
        rss_open,
        rss_closed,
    })
}
