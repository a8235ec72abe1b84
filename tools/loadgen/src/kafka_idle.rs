//! Idle Kafka connections for memory measurement: opens N connections, sends one
//! ApiVersions (v0, hand-written: no per-connection client threads, unlike librdkafka)
//! on each, holds them open, and reads the broker's RSS from /proc before, while they
//! are open, and after they are closed. Connections are spread over several 127.0.0.x
//! source addresses so that more than the ephemeral port range can be opened.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use clap::Args;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};
use tokio::sync::Semaphore;

use crate::idle_open::rss_kib;
use crate::meter::{self, round3};

#[derive(Debug, Args, Clone)]
pub struct KafkaIdleArgs {
    #[arg(long, default_value = "127.0.0.1:9092")]
    pub addr: String,
    /// Connections to open.
    #[arg(long, default_value_t = 10_000)]
    pub connections: usize,
    /// Source addresses 127.0.0.1 ..= 127.0.0.N, used round-robin.
    #[arg(long, default_value_t = 1)]
    pub sources: u8,
    /// ApiVersions exchanges in progress at once.
    #[arg(long, default_value_t = 200)]
    pub concurrency: usize,
    /// Seconds to wait after the last connection opened (and after closing them)
    /// before reading the RSS.
    #[arg(long, default_value_t = 5.0)]
    pub settle: f64,
    /// Seconds to keep the connections open after measuring.
    #[arg(long, default_value_t = 0.0)]
    pub hold: f64,
    /// Broker process id: its VmRSS is read before, while open and after close.
    #[arg(long)]
    pub broker_pid: Option<u32>,
    #[arg(long, default_value = "")]
    pub label: String,
}

/// ApiVersions v0 request: size, api key 18, version 0, correlation id, client id.
fn api_versions_request() -> Vec<u8> {
    let client = b"trident-load";
    let mut body = Vec::with_capacity(12 + client.len());
    body.extend_from_slice(&18i16.to_be_bytes());
    body.extend_from_slice(&0i16.to_be_bytes());
    body.extend_from_slice(&1i32.to_be_bytes());
    body.extend_from_slice(&(client.len() as i16).to_be_bytes());
    body.extend_from_slice(client);
    let mut f = Vec::with_capacity(4 + body.len());
    f.extend_from_slice(&(body.len() as i32).to_be_bytes());
    f.extend_from_slice(&body);
    f
}

async fn open(target: SocketAddr, source: Ipv4Addr) -> Result<TcpStream> {
    let sock = TcpSocket::new_v4()?;
    sock.bind(SocketAddr::from((source, 0)))
        .with_context(|| format!("bind {source}"))?;
    let mut s = sock.connect(target).await.context("connect")?;
    s.set_nodelay(true)?;
    s.write_all(&api_versions_request()).await?;
    let mut len = [0u8; 4];
    s.read_exact(&mut len)
        .await
        .context("reading response size")?;
    let size = i32::from_be_bytes(len);
    if !(6..=1 << 20).contains(&size) {
        bail!("ApiVersions response of {size} bytes");
    }
    let mut body = vec![0u8; size as usize];
    s.read_exact(&mut body).await.context("reading response")?;
    // correlation id (4) then error code (2)
    let error = i16::from_be_bytes([body[4], body[5]]);
    if error != 0 {
        bail!("ApiVersions error code {error}");
    }
    Ok(s)
}

/// Keeps a connection open until the peer closes it or the task is aborted.
async fn idle(mut s: TcpStream) {
    let mut buf = [0u8; 64];
    while let Ok(n) = s.read(&mut buf).await {
        if n == 0 {
            return;
        }
    }
}

pub async fn run(a: KafkaIdleArgs) -> Result<()> {
    let target: SocketAddr = tokio::net::lookup_host(&a.addr)
        .await?
        .next()
        .context("address resolves to nothing")?;
    let rss0 = a.broker_pid.map(rss_kib).transpose()?;
    let sem = Arc::new(Semaphore::new(a.concurrency.max(1)));
    let started = Instant::now();
    let mut handles = Vec::with_capacity(a.connections);
    for i in 0..a.connections {
        let permit = sem.clone().acquire_owned().await?;
        let source = Ipv4Addr::new(127, 0, 0, 1 + (i % usize::from(a.sources.max(1))) as u8);
        handles.push(tokio::spawn(async move {
            let r = tokio::time::timeout(Duration::from_secs(30), open(target, source)).await;
            drop(permit);
            match r {
                Ok(Ok(s)) => Ok(s),
                Ok(Err(e)) => Err(format!("{e:#}")),
                Err(_) => Err("ApiVersions timed out".to_string()),
            }
        }));
    }
    let crate::idle_open::Opened {
        streams,
        failures,
        first_error,
    } = crate::idle_open::collect(handles).await;
    let open_secs = started.elapsed().as_secs_f64();
    let opened = streams.len();
    let idlers: Vec<_> = streams.into_iter().map(|s| tokio::spawn(idle(s))).collect();
    // What the broker holds with them open, and what it gives back once they are gone.
    let crate::idle_open::HoldAndClose {
        alive,
        rss_open: rss1,
        rss_closed: rss2,
    } = crate::idle_open::hold_and_close(idlers, a.broker_pid, a.settle, a.hold).await?;
    let per_conn = crate::idle_open::per_connection_bytes(rss0, rss1, opened);
    let v = json!({
        "scenario": "kafka-idle",
        "label": a.label,
        "addr": a.addr,
        "requested": a.connections,
        "sources": a.sources,
        "opened": opened,
        "alive_after_settle": alive,
        "failed": failures,
        "first_error": first_error,
        "open_s": round3(open_secs),
        "broker_pid": a.broker_pid,
        "rss_before_kib": rss0,
        "rss_open_kib": rss1,
        "rss_after_close_kib": rss2,
        "per_connection_bytes": per_conn,
    });
    let kib = |r: Option<u64>| r.map_or("?".into(), |r| r.to_string());
    let human = format!(
        "kafka-idle {}: {opened}/{} open ({alive} alive after {:.0}s) in {open_secs:.1}s; broker RSS {} -> {} KiB open, {} KiB after close; {} bytes per connection",
        crate::meter::broker_name(&a.label, &a.addr),
        a.connections,
        a.settle,
        kib(rss0),
        kib(rss1),
        kib(rss2),
        per_conn.map_or("?".into(), |r| format!("{r:.0}")),
    );
    meter::report(&v, &human);
    Ok(())
}
