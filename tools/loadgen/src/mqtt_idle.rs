//! Idle MQTT connections for memory measurement: N connections that send CONNECT, read
//! the CONNACK and then stay idle, spread over several 127.0.0.x source addresses so that
//! more than one ephemeral port range is available. The broker's RSS is read from /proc
//! before opening and after settling. A hand-written CONNECT keeps the client side to one
//! small task per connection (a full client with its event loop would cost more here than
//! the broker does).

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
use crate::mqtt_link::Protocol;

#[derive(Debug, Args, Clone)]
pub struct MqttIdleArgs {
    #[arg(long, default_value = "127.0.0.1:1883")]
    pub addr: String,
    /// MQTT version of the CONNECT: 311 or 5.
    #[arg(long, value_enum, default_value = "311")]
    pub protocol: Protocol,
    /// Connections to open.
    #[arg(long, default_value_t = 10_000)]
    pub connections: usize,
    /// Source addresses 127.0.0.1 .. 127.0.0.N, used round robin.
    #[arg(long, default_value_t = 4)]
    pub sources: u8,
    /// CONNECTs in progress at once.
    #[arg(long, default_value_t = 200)]
    pub concurrency: usize,
    /// Keep alive (seconds) in the CONNECT; 0 = none. With one, each connection sends
    /// PINGREQ at half the interval.
    #[arg(long, default_value_t = 0)]
    pub keep_alive: u16,
    /// Seconds to wait after the last connection opened before reading the RSS.
    #[arg(long, default_value_t = 5.0)]
    pub settle: f64,
    /// Seconds to keep the connections open after measuring.
    #[arg(long, default_value_t = 0.0)]
    pub hold: f64,
    /// Broker process id: its VmRSS is read before opening and after settling.
    #[arg(long)]
    pub broker_pid: Option<u32>,
    #[arg(long, default_value = "")]
    pub label: String,
}

fn connect_packet(proto: Protocol, client_id: &str, keep_alive: u16) -> Vec<u8> {
    let mut body = Vec::with_capacity(32 + client_id.len());
    body.extend_from_slice(&4u16.to_be_bytes());
    body.extend_from_slice(b"MQTT");
    body.push(match proto {
        Protocol::V311 => 4,
        Protocol::V5 => 5,
    });
    body.push(0x02); // clean session / clean start: nothing outlives the measurement
    body.extend_from_slice(&keep_alive.to_be_bytes());
    if proto == Protocol::V5 {
        body.push(0); // no properties
    }
    body.extend_from_slice(&(client_id.len() as u16).to_be_bytes());
    body.extend_from_slice(client_id.as_bytes());
    let mut p = vec![0x10];
    let mut n = body.len();
    loop {
        let b = (n % 128) as u8;
        n /= 128;
        p.push(if n > 0 { b | 0x80 } else { b });
        if n == 0 {
            break;
        }
    }
    p.extend_from_slice(&body);
    p
}

async fn open(a: &MqttIdleArgs, target: SocketAddr, i: usize) -> Result<TcpStream> {
    let source = Ipv4Addr::new(127, 0, 0, (i % usize::from(a.sources.max(1))) as u8 + 1);
    let sock = TcpSocket::new_v4()?;
    sock.bind(SocketAddr::from((source, 0)))
        .with_context(|| format!("bind {source}"))?;
    let mut s = sock.connect(target).await.context("connect")?;
    s.set_nodelay(true)?;
    let id = format!("idle-{}-{i}", std::process::id());
    s.write_all(&connect_packet(a.protocol, &id, a.keep_alive))
        .await?;
    // CONNACK: 0x20, remaining length, flags, reason code (then v5 properties).
    let mut head = [0u8; 4];
    s.read_exact(&mut head).await.context("reading CONNACK")?;
    if head[0] != 0x20 {
        bail!("expected CONNACK, got packet type {}", head[0] >> 4);
    }
    if head[3] != 0 {
        bail!("CONNACK refused with 0x{:02X}", head[3]);
    }
    let rest = usize::from(head[1]).saturating_sub(2);
    let mut props = vec![0u8; rest];
    s.read_exact(&mut props).await.context("reading CONNACK")?;
    Ok(s)
}

/// Keeps a connection open: discards whatever arrives, pings if keep alive is on.
async fn idle(mut s: TcpStream, keep_alive: u16) {
    let mut buf = [0u8; 256];
    let period = Duration::from_secs(u64::from(keep_alive.max(2) / 2));
    let mut ping = tokio::time::interval(period);
    ping.tick().await;
    loop {
        tokio::select! {
            r = s.read(&mut buf) => match r {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            },
            _ = ping.tick(), if keep_alive > 0 => {
                if s.write_all(&[0xC0, 0]).await.is_err() {
                    return;
                }
            }
        }
    }
}

pub async fn run(a: MqttIdleArgs) -> Result<()> {
    let target: SocketAddr = a.addr.parse().context("--addr must be ip:port")?;
    let rss0 = a.broker_pid.map(rss_kib).transpose()?;
    let sem = Arc::new(Semaphore::new(a.concurrency.max(1)));
    let started = Instant::now();
    let mut handles = Vec::with_capacity(a.connections);
    for i in 0..a.connections {
        let permit = sem.clone().acquire_owned().await?;
        let a2 = a.clone();
        handles.push(tokio::spawn(async move {
            let r = tokio::time::timeout(Duration::from_secs(30), open(&a2, target, i)).await;
            drop(permit);
            match r {
                Ok(Ok(s)) => Ok(s),
                Ok(Err(e)) => Err(format!("{e:#}")),
                Err(_) => Err("CONNECT timed out".to_string()),
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
    let idlers: Vec<_> = streams
        .into_iter()
        .map(|s| tokio::spawn(idle(s, a.keep_alive)))
        .collect();
    // What the broker holds with them open, and what it gives back once they are gone.
    let crate::idle_open::HoldAndClose {
        alive,
        rss_open: rss1,
        rss_closed: rss2,
    } = crate::idle_open::hold_and_close(idlers, a.broker_pid, a.settle, a.hold).await?;
    let per_conn = crate::idle_open::per_connection_bytes(rss0, rss1, opened);
    let v = json!({
        "scenario": "mqtt-idle",
        "label": a.label,
        "addr": a.addr,
        "protocol": match a.protocol { Protocol::V311 => "3.1.1", Protocol::V5 => "5.0" },
        "requested": a.connections,
        "sources": a.sources,
        "keep_alive": a.keep_alive,
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
        "mqtt-idle {}: {opened}/{} open from {} sources ({alive} alive after {:.0}s) in {open_secs:.1}s; broker RSS {} -> {} KiB, {} KiB after close; {} bytes per connection",
        meter::broker_name(&a.label, &a.addr),
        a.connections,
        a.sources,
        a.settle,
        rss0.map_or("?".into(), |r| r.to_string()),
        rss1.map_or("?".into(), |r| r.to_string()),
        rss2.map_or("?".into(), |r| r.to_string()),
        per_conn.map_or("?".into(), |r| format!("{r:.0}")),
    );
    meter::report(&v, &human);
    Ok(())
}
