//! Crash tests with a real process and SIGKILL.
//!
//! The test binary re-executes itself with an environment variable set, which turns the
//! `crash_child` test into a writer that appends, syncs, and prints what it has synced.
//! The parent kills it with SIGKILL at different points mid-stream, reopens the store
//! and checks that everything acknowledged (printed) is there, in order and intact.
//! (SIGKILL keeps the page cache, so this proves the process-crash half of the
//! contract and the recovery code; power loss additionally relies on the fsyncs.)

#![allow(clippy::unwrap_used)]

mod common;

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use common::*;
use trident_core::{FieldValue, Message};
use trident_storage::{QueueStore, QueueStoreConfig, SegmentLog};

const CHILD_ENV: &str = "TRIDENT_CRASH_CHILD";
const DIR_ENV: &str = "TRIDENT_CRASH_DIR";
const MAX_LEN: usize = 2000;
const GROUP: u64 = 50;

#[test]
fn crash_child() {
    let Ok(mode) = std::env::var(CHILD_ENV) else {
        return; // a normal test run: nothing to do
    };
    let dir = PathBuf::from(std::env::var(DIR_ENV).unwrap());
    match mode.as_str() {
        "log" => log_child(&dir),
        "queue" => queue_child(&dir),
        other => panic!("unknown mode {other}"),
    }
}

fn say(line: String) {
    let mut out = std::io::stdout().lock();
    writeln!(out, "{line}").unwrap();
    out.flush().unwrap();
}

fn log_child(dir: &Path) {
    let mut log = SegmentLog::open(dir, small_config(64 * 1024)).unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        let k = 1 + log.next_offset() % 7;
        append_generated(&mut log, k as usize, MAX_LEN);
        log.sync().unwrap();
        say(format!("SYNCED {}", log.next_offset()));
    }
}

fn qmsg(seq: u64) -> Message {
    let mut m = Message::new(Bytes::from(vec![
        (seq % 251) as u8;
        10 + (seq * 13 % 190) as usize
    ]));
    m.timestamp_ms = seq as i64;
    m.routing_key = format!("k{seq}");
    m.headers.insert("seq", FieldValue::U64(seq));
    m
}

/// Removal frontiers after group `g` (`None` = before the first group): seqs not
/// divisible by 3 are removed below the first, multiples of 3 below the second (they
/// lag, so the low-water mark moves in steps and segments get reclaimed).
fn frontiers(g: Option<u64>) -> (u64, u64) {
    match g {
        None => (0, 0),
        Some(g) => {
            let x = (g + 1) * GROUP;
            (x.saturating_sub(20), x.saturating_sub(200))
        }
    }
}

fn removed_by(seq: u64, g: Option<u64>) -> bool {
    let (a, b) = frontiers(g);
    if seq.is_multiple_of(3) {
        seq < b
    } else {
        seq < a
    }
}

fn queue_child(dir: &Path) {
    let cfg = QueueStoreConfig {
        segment_bytes: 16 * 1024,
        ..QueueStoreConfig::default()
    };
    let (mut q, rec) = QueueStore::open(dir, cfg).unwrap();
    assert_eq!(
        rec.next_seq, 0,
        "the queue child starts from an empty store"
    );
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut g = 0u64;
    while Instant::now() < deadline {
        for seq in g * GROUP..(g + 1) * GROUP {
            assert_eq!(q.append(&qmsg(seq)).unwrap(), seq);
        }
        let (pa, pb) = frontiers(g.checked_sub(1));
        let (a, b) = frontiers(Some(g));
        for s in pa..a {
            if !s.is_multiple_of(3) {
                q.ack(s).unwrap();
            }
        }
        for s in pb..b {
            if s.is_multiple_of(3) {
                q.ack(s).unwrap();
            }
        }
        q.sync().unwrap();
        say(format!("SYNCED {g}"));
        g += 1;
    }
}

/// Runs a child in `mode`, waits for `lines` acknowledgements plus `extra`, SIGKILLs
/// it, and returns the last acknowledged value.
fn run_and_kill(mode: &str, dir: &Path, lines: usize, extra: Duration) -> Option<u64> {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["crash_child", "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, mode)
        .env(DIR_ENV, dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    let reader = std::thread::spawn(move || {
        let mut last = None;
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if let Some(v) = line.strip_prefix("SYNCED ") {
                let v: u64 = v.trim().parse().unwrap();
                last = Some(v);
                let _ = tx.send(v);
            }
        }
        last
    });
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut seen = 0;
    while seen < lines {
        match rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
            Ok(_) => seen += 1,
            Err(e) => panic!("child produced only {seen} lines: {e}"),
        }
    }
    std::thread::sleep(extra);
    child.kill().unwrap(); // SIGKILL
    let status = child.wait().unwrap();
    assert!(!status.success(), "child was supposed to be killed");
    reader.join().unwrap()
}

const KILLS: [(usize, u64); 5] = [(1, 0), (7, 1), (40, 3), (120, 0), (300, 5)];

#[test]
fn log_survives_sigkill() {
    let dir = tempfile::tempdir().unwrap();
    let mut prev_synced = 0;
    for (round, &(lines, extra_ms)) in KILLS.iter().enumerate() {
        // Each round resumes appending to what the previous crash left behind.
        let synced =
            run_and_kill("log", dir.path(), lines, Duration::from_millis(extra_ms)).unwrap();
        assert!(synced > prev_synced, "round {round}: no progress");
        let log = SegmentLog::open(dir.path(), small_config(64 * 1024)).unwrap();
        assert!(
            log.next_offset() >= synced,
            "round {round}: lost acknowledged data"
        );
        let mut cur = 0;
        while cur < log.next_offset() {
            let batches = log.read(cur, 256 * 1024).unwrap();
            assert!(!batches.is_empty());
            for b in batches {
                assert_eq!(b.base_offset, cur, "round {round}: gap or reorder");
                check_batch(&b, MAX_LEN);
                cur = b.next_offset();
            }
        }
        assert_eq!(cur, log.next_offset());
        eprintln!(
            "log round {round}: acknowledged {synced}, recovered {}",
            log.next_offset()
        );
        prev_synced = log.next_offset();
    }
}

#[test]
fn queue_store_survives_sigkill() {
    for (round, &(lines, extra_ms)) in KILLS.iter().enumerate() {
        let dir = tempfile::tempdir().unwrap();
        let last = run_and_kill("queue", dir.path(), lines, Duration::from_millis(extra_ms));
        let (mut q, rec) = QueueStore::open(dir.path(), QueueStoreConfig::default()).unwrap();
        let mut got = Vec::new();
        let mut from = 0;
        loop {
            let page = q.read(from, 500, 1 << 20).unwrap();
            if page.is_empty() {
                break;
            }
            for (seq, m) in page {
                let mut want = qmsg(seq);
                want.timestamp_ms = seq as i64;
                assert_eq!(m, want, "round {round}: message {seq} damaged");
                got.push(seq);
                from = seq + 1;
            }
        }
        assert!(
            got.windows(2).all(|w| w[0] < w[1]),
            "round {round}: out of order"
        );
        assert_eq!(rec.messages, got.len() as u64);
        assert_eq!(
            rec.bytes,
            got.iter().map(|&s| qmsg(s).body.len() as u64).sum::<u64>()
        );
        let g = last.expect("at least one sync was acknowledged");
        let synced_end = (g + 1) * GROUP;
        let got_set: std::collections::BTreeSet<u64> = got.iter().copied().collect();
        // The child may have appended (and removed) up to one more group after the
        // last acknowledgement.
        assert!(
            got.iter().all(|&s| s < synced_end + GROUP),
            "round {round}: phantom message"
        );
        for seq in 0..synced_end {
            if removed_by(seq, Some(g)) {
                assert!(
                    !got_set.contains(&seq),
                    "round {round}: removed message {seq} came back"
                );
            } else if !removed_by(seq, Some(g + 1)) {
                assert!(
                    got_set.contains(&seq),
                    "round {round}: acknowledged message {seq} lost"
                );
            }
        }
        eprintln!(
            "queue round {round}: acknowledged group {g}, recovered {} messages, next seq {}",
            got.len(),
            q.next_seq()
        );
        // Still usable after recovery.
        let next = q.next_seq();
        assert_eq!(q.append(&qmsg(next)).unwrap(), next);
        q.sync().unwrap();
    }
}
