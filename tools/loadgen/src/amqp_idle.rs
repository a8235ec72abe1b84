//! Idle AMQP connections for memory measurement: opens N connections with a minimal
//! hand-written 0-9-1 handshake (no per-connection client threads, unlike lapin), holds them
//! open, and reads the broker's RSS from /proc before and after.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use clap::Args;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::Semaphore;

use crate::idle_open::rss_kib;
use crate::meter::{self, round3};

#[derive(Debug, Args, Clone)]
pub struct IdleArgs {
    #[arg(long, default_value = "127.0.0.1:5672")]
    pub addr: String,
    #[arg(long, default_value = "guest")]
    pub user: String,
    #[arg(long, default_value = "guest")]
    pub pass: String,
    #[arg(long, default_value = "/")]
    pub vhost: String,
    /// Connections to open.
    #[arg(long, default_value_t = 10_000)]
    pub connections: usize,
    /// Handshakes in progress at once.
    #[arg(long, default_value_t = 200)]
    pub concurrency: usize,
    /// Seconds to wait after the last connection opened before reading the RSS.
    #[arg(long, default_value_t = 5.0)]
    pub settle: f64,
    /// Seconds to keep the connections open after measuring.
    #[arg(long, default_value_t = 0.0)]
    pub hold: f64,
    /// Broker process id: its VmRSS is read before opening and after settling.
    #[arg(long)]
    pub broker_pid: Option<u32>,
    /// Heartbeat (seconds) to ask for in tune-ok; 0 disables heartbeats.
    #[arg(long, default_value_t = 0)]
    pub heartbeat: u16,
    #[arg(long, default_value = "")]
    pub label: String,
}

const FRAME_METHOD: u8 = 1;
const FRAME_HEARTBEAT: u8 = 8;
const FRAME_END: u8 = 0xCE;

fn shortstr(out: &mut Vec<u8>, s: &str) {
    out.push(s.len().min(255) as u8);
    out.extend_from_slice(&s.as_bytes()[..s.len().min(255)]);
}

fn longstr(out: &mut Vec<u8>, s: &[u8]) {
    out.extend_from_slice(&(s.len() as u32).to_be_bytes());
    out.extend_from_slice(s);
}

fn method_frame(class: u16, method: u16, args: &[u8]) -> Vec<u8> {
    let mut f = Vec::with_capacity(12 + args.len());
    f.push(FRAME_METHOD);
    f.extend_from_slice(&0u16.to_be_bytes());
    f.extend_from_slice(&((4 + args.len()) as u32).to_be_bytes());
    f.extend_from_slice(&class.to_be_bytes());
    f.extend_from_slice(&method.to_be_bytes());
    f.extend_from_slice(args);
    f.push(FRAME_END);
    f
}

/// Reads frames until a connection-class method `want` arrives; returns its arguments.
async fn expect_method(s: &mut TcpStream, want: u16) -> Result<Vec<u8>> {
    loop {
        let mut h = [0u8; 7];
        s.read_exact(&mut h).await.context("reading frame header")?;
        let size = u32::from_be_bytes([h[3], h[4], h[5], h[6]]) as usize;
        if size > 1 << 20 {
            bail!("frame of {size} bytes during the handshake");
        }
        let mut p = vec![0u8; size + 1];
        s.read_exact(&mut p)
            .await
            .context("reading frame payload")?;
        if h[0] != FRAME_METHOD || size < 4 {
            continue;
        }
        let class = u16::from_be_bytes([p[0], p[1]]);
        let method = u16::from_be_bytes([p[2], p[3]]);
        if class == 10 && method == 50 {
            bail!(
                "connection.close from the broker: {}",
                String::from_utf8_lossy(&p[6..size])
            );
        }
        if class == 10 && method == want {
            return Ok(p[4..size].to_vec());
        }
    }
}

async fn open(a: &IdleArgs) -> Result<TcpStream> {
    let mut s = TcpStream::connect(&a.addr).await.context("connect")?;
    s.set_nodelay(true)?;
    s.write_all(b"AMQP\x00\x00\x09\x01").await?;
    expect_method(&mut s, 10)
        .await
        .context("connection.start")?;
    let mut args = Vec::new();
    args.extend_from_slice(&0u32.to_be_bytes()); // client-properties: empty table
    shortstr(&mut args, "PLAIN");
    let resp = format!("\0{}\0{}", a.user, a.pass);
    longstr(&mut args, resp.as_bytes());
    shortstr(&mut args, "en_US");
    s.write_all(&method_frame(10, 11, &args)).await?;
    let tune = expect_method(&mut s, 30).await.context("connection.tune")?;
    if tune.len() < 8 {
        bail!("short connection.tune");
    }
    let channel_max = u16::from_be_bytes([tune[0], tune[1]]);
    let frame_max = u32::from_be_bytes([tune[2], tune[3], tune[4], tune[5]]);
    let mut args = Vec::new();
    args.extend_from_slice(&channel_max.to_be_bytes());
    args.extend_from_slice(&frame_max.to_be_bytes());
    args.extend_from_slice(&a.heartbeat.to_be_bytes());
    s.write_all(&method_frame(10, 31, &args)).await?;
    let mut args = Vec::new();
    shortstr(&mut args, &a.vhost);
    shortstr(&mut args, "");
    args.push(0);
    s.write_all(&method_frame(10, 40, &args)).await?;
    expect_method(&mut s, 41)
        .await
        .context("connection.open-ok")?;
    Ok(s)
}

/// Keeps a connection open: discards whatever arrives and answers heartbeats.
async fn idle(mut s: TcpStream) {
    let mut buf = [0u8; 512];
    loop {
        match s.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => {
                if buf[..n].first() == Some(&FRAME_HEARTBEAT) {
                    let _ = s
                        .write_all(&[FRAME_HEARTBEAT, 0, 0, 0, 0, 0, 0, FRAME_END])
                        .await;
                }
            }
        }
    }
}

pub async fn run(a: IdleArgs) -> Result<()> {
    let rss0 = a.broker_pid.map(rss_kib).transpose()?;
    let sem = Arc::new(Semaphore::new(a.concurrency.max(1)));
    let started = Instant::now();
    let mut handles = Vec::with_capacity(a.connections);
    for _ in 0..a.connections {
        let permit = sem.clone().acquire_owned().await?;
        let a2 = a.clone();
        handles.push(tokio::spawn(async move {
            let r = tokio::time::timeout(Duration::from_secs(30), open(&a2)).await;
            drop(permit);
            match r {
                Ok(Ok(s)) => Ok(s),
                Ok(Err(e)) => Err(format!("{e:#}")),
                Err(_) => Err("handshake timed out".to_string()),
            }
        }));
    }
    let crate::idle_open::Opened {
        streams: open_streams,
        failures,
        first_error,
    } = crate::idle_open::collect(handles).await;
    let open_secs = started.elapsed().as_secs_f64();
    let opened = open_streams.len();
    let idlers: Vec<_> = open_streams
        .into_iter()
        .map(|s| tokio::spawn(idle(s)))
        .collect();
    // What the broker holds with them open, and what it gives back once they are gone.
    let crate::idle_open::HoldAndClose {
        alive,
        rss_open: rss1,
        rss_closed: rss2,
    } = crate::idle_open::hold_and_close(idlers, a.broker_pid, a.settle, a.hold).await?;
    let per_conn = crate::idle_open::per_connection_bytes(rss0, rss1, opened);
    let v = json!({
        "scenario": "amqp-idle",
        "label": a.label,
        "addr": a.addr,
        "requested": a.connections,
        "opened": opened,
        "alive_after_settle": alive,
        "failed": failures,
        "first_error": first_error,
        "open_s": round3(open_secs),
        "broker_pid": a.broker_pid,
        "rss_before_kib": rss0,
        "rss_after_kib": rss1,
        "rss_after_close_kib": rss2,
        "per_connection_bytes": per_conn,
    });
    let human = format!(
        "amqp-idle {}: {opened}/{} open ({alive} alive after {:.0}s) in {open_secs:.1}s; broker RSS {} -> {} KiB, {} KiB after close; {} bytes per connection",
        crate::meter::broker_name(&a.label, &a.addr),
        a.connections,
        a.settle,
        rss0.map_or("?".into(), |r| r.to_string()),
        rss1.map_or("?".into(), |r| r.to_string()),
        rss2.map_or("?".into(), |r| r.to_string()),
        per_conn.map_or("?".into(), |r| format!("{r:.0}")),
    );
    meter::report(&v, &human);
    Ok(())
}
