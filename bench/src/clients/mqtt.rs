//! MQTT 3.1.1 flows with rumqttc.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use rumqttc::{AsyncClient, Event, EventLoop, MqttOptions, Outgoing, Packet, QoS};

use super::Run;
use crate::args::HostPort;
use crate::flow::{Finish, Layout, Quota, Receiver, summarize, unique_name};
use crate::row::Measured;
use crate::stamp;

#[derive(Debug, Clone, Copy)]
pub struct Flow {
    pub qos: u8,
    /// Unacknowledged QoS 1/2 publishes per publisher.
    pub inflight: u16,
    pub layout: Layout,
}

pub fn qos(q: u8) -> QoS {
    match q {
        0 => QoS::AtMostOnce,
        1 => QoS::AtLeastOnce,
        _ => QoS::ExactlyOnce,
    }
}

/// Connects and waits for a successful CONNACK.
pub async fn connect(addr: &HostPort, id: &str, inflight: u16) -> Result<(AsyncClient, EventLoop)> {
    connect_with(addr, options(addr, id, inflight), inflight).await
}

/// The options every bench client starts from.
pub fn options(addr: &HostPort, id: &str, inflight: u16) -> MqttOptions {
    let mut o = MqttOptions::new(id, addr.host.clone(), addr.port);
    o.set_inflight(inflight.max(1))
        .set_keep_alive(Duration::from_secs(60))
        .set_max_packet_size(16 << 20, 16 << 20);
    o
}

/// Connects with `o` and waits for a successful CONNACK; `queue` is the depth of the
/// client's request queue (at least 10).
pub async fn connect_with(
    addr: &HostPort,
    o: MqttOptions,
    queue: u16,
) -> Result<(AsyncClient, EventLoop)> {
    let (client, mut el) = AsyncClient::new(o, usize::from(queue.max(10)));
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let ev = tokio::time::timeout_at(deadline, el.poll())
            .await
            .map_err(|_| anyhow!("no CONNACK from mqtt://{addr} within 10 s"))?
            .with_context(|| format!("connecting to mqtt://{addr}"))?;
        if let Event::Incoming(Packet::ConnAck(ca)) = ev {
            if ca.code != rumqttc::ConnectReturnCode::Success {
                bail!("mqtt://{addr} refused the connection: {:?}", ca.code);
            }
            return Ok((client, el));
        }
    }
}

pub async fn run(addr: &HostPort, flow: Flow, run: &Run) -> Result<Measured> {
    let base = unique_name("mqtt").replace('-', "/");
    let (publish_topic, filter) = match flow.layout {
        // A wildcard subscription per subscriber, as fan-out over MQTT is usually done.
        Layout::Fanout(_) => (format!("{base}/x"), format!("{base}/#")),
        // One consumer needs no group: a plain subscription works on brokers without
        // shared subscriptions (RabbitMQ 3.10).
        Layout::Competing(1) => (base.clone(), base.clone()),
        // A shared subscription: the broker hands each message to one of the group.
        Layout::Competing(_) => (base.clone(), format!("$share/bench/{base}")),
        Layout::SendOnly => (base.clone(), String::new()),
    };
    let finish = Finish::new(run.quick);
    let mut receivers = Vec::new();
    for i in 0..flow.layout.receivers() {
        let id = format!("{}-sub-{i}", std::process::id());
        let (client, mut el) = connect(addr, &id, 100).await?;
        client.subscribe(&filter, qos(flow.qos)).await?;
        // Wait for the SUBACK so that nothing published is missed.
        loop {
            let ev = tokio::time::timeout(Duration::from_secs(10), el.poll())
                .await
                .map_err(|_| anyhow!("no SUBACK within 10 s"))??;
            if let Event::Incoming(Packet::SubAck(_)) = ev {
                break;
            }
        }
        let r = Receiver::new(flow.layout, finish.clone(), run.progress.clone());
        receivers.push(tokio::spawn(receive(client, el, r)));
    }

    let started = Instant::now();
    let mut producers = Vec::new();
    for i in 0..run.producers {
        let id = format!("{}-pub-{i}", std::process::id());
        let (client, el) = connect(addr, &id, flow.inflight).await?;
        let quota = Quota::split(run.budget, i, run.producers, started);
        let topic = publish_topic.clone();
        let size = run.size;
        let send_only = (flow.layout == Layout::SendOnly).then(|| run.progress.clone());
        producers.push(tokio::spawn(publish(
            client, el, topic, i as u32, quota, size, flow.qos, send_only,
        )));
    }
    let mut sent = Vec::new();
    for (i, p) in producers.into_iter().enumerate() {
        let n = p.await.context("producer task")??;
        sent.push((i as u32, n));
    }
    finish.produced(sent.iter().map(|s| s.1).sum());
    let mut done = Vec::new();
    for r in receivers {
        done.push(r.await.context("subscriber task")??);
    }
    Ok(summarize(flow.layout, &sent, done, started, run.size))
}

/// Publishes the quota, then waits until the broker acknowledged all of it (PUBACK,
/// PUBCOMP) or, at QoS 0, until all of it was written.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn publish(
    client: AsyncClient,
    mut el: EventLoop,
    topic: String,
    producer: u32,
    quota: Quota,
    size: usize,
    q: u8,
    send_only: Option<Arc<crate::progress::Progress>>,
) -> Result<u64> {
    let target = Arc::new(AtomicU64::new(u64::MAX));
    let t2 = target.clone();
    let driver = tokio::spawn(async move {
        let mut completed = 0u64;
        loop {
            if completed >= t2.load(Ordering::Acquire) {
                return Ok::<_, anyhow::Error>(el);
            }
            let ev = match tokio::time::timeout(Duration::from_millis(100), el.poll()).await {
                Err(_) => continue,
                Ok(ev) => ev.context("publisher connection")?,
            };
            let done = match ev {
                Event::Outgoing(Outgoing::Publish(_)) if q == 0 => true,
                Event::Incoming(Packet::PubAck(_) | Packet::PubComp(_)) => true,
                _ => false,
            };
            if done {
                completed += 1;
                if let Some(p) = &send_only {
                    p.add(1);
                }
            }
        }
    });
    let template = stamp::filler(size);
    let mut seq = 0u64;
    while quota.more(seq) {
        let mut body = template.clone();
        stamp::write(&mut body, producer, seq);
        client.publish(&topic, qos(q), false, body).await?;
        seq += 1;
    }
    target.store(seq, Ordering::Release);
    match tokio::time::timeout(Duration::from_secs(60), driver).await {
        Ok(Ok(Ok(_el))) => {}
        Ok(Ok(Err(e))) => return Err(e),
        Ok(Err(e)) => bail!("publisher task: {e}"),
        Err(_) => bail!("the broker did not acknowledge every publish within 60 s"),
    }
    let _ = client.try_disconnect();
    Ok(seq)
}

pub(crate) async fn receive(
    client: AsyncClient,
    mut el: EventLoop,
    mut r: Receiver,
) -> Result<Receiver> {
    while !r.done() {
        match tokio::time::timeout(Duration::from_millis(100), el.poll()).await {
            Err(_) => r.waiting(),
            Ok(Err(e)) => return Err(e).context("subscriber connection"),
            Ok(Ok(Event::Incoming(Packet::Publish(p)))) => r.on_message(&p.payload),
            Ok(Ok(_)) => {}
        }
    }
    let _ = client.try_disconnect();
    Ok(r)
}
