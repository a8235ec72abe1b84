//! AMQP 0-9-1 flows with lapin.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;
use lapin::options::{
    BasicAckOptions, BasicConsumeOptions, BasicGetOptions, BasicPublishOptions, BasicQosOptions,
    ConfirmSelectOptions, ExchangeDeclareOptions, ExchangeDeleteOptions, QueueBindOptions,
    QueueDeclareOptions, QueueDeleteOptions,
};
use lapin::publisher_confirm::Confirmation;
use lapin::types::FieldTable;
use lapin::{BasicProperties, Channel, Connection, ConnectionProperties, ExchangeKind};

use super::Run;
use crate::flow::{Finish, Layout, Quota, Receiver, summarize, unique_name};
use crate::row::Measured;
use crate::stamp;

/// How the publishers publish and the consumers consume.
#[derive(Debug, Clone, Copy)]
pub struct Flow {
    /// None: no confirms (a window of 64 publishes in the client). Some(k): confirm
    /// mode, `k` publishes then wait for all their confirms (k = 1: one at a time).
    pub confirm_batch: Option<usize>,
    pub layout: Layout,
    pub prefetch: u16,
    pub no_ack: bool,
    /// Poll with basic.get instead of basic.consume (push-pull).
    pub basic_get: bool,
    /// Messages published into the queue before the measured run (backlog); they are
    /// consumed with the rest, counted as received, not timed.
    pub preload: u64,
}

impl Flow {
    /// No confirms, consume with `prefetch`, manual acks.
    pub fn new(layout: Layout, prefetch: u16) -> Flow {
        Flow {
            confirm_batch: None,
            layout,
            prefetch,
            no_ack: false,
            basic_get: false,
            preload: 0,
        }
    }
}

pub async fn connect(uri: &str, name: &str) -> Result<Connection> {
    let props = ConnectionProperties::default().with_connection_name(name.into());
    Connection::connect(uri, props)
        .await
        .with_context(|| format!("connecting to {}", redact(uri)))
}

/// The URI without its password, for notes.
fn redact(uri: &str) -> String {
    match (uri.find("://"), uri.rfind('@')) {
        (Some(s), Some(at)) if at > s => format!("amqp://{}", &uri[at + 1..]),
        _ => uri.to_string(),
    }
}

/// Subscribers per connection for fan-out (channels are cheaper than connections).
const PER_CONNECTION: usize = 100;

pub async fn run(uri: &str, flow: Flow, run: &Run) -> Result<Measured> {
    let setup = connect(uri, "trident-bench setup").await?;
    let sch = setup.create_channel().await?;
    let name = unique_name("amqp");
    let (exchange, routing_key) = match flow.layout {
        Layout::Fanout(_) => {
            sch.exchange_declare(
                &name,
                ExchangeKind::Fanout,
                ExchangeDeclareOptions {
                    auto_delete: true,
                    ..Default::default()
                },
                FieldTable::default(),
            )
            .await
            .context("exchange.declare")?;
            (name.clone(), String::new())
        }
        Layout::Competing(_) => {
            sch.queue_declare(&name, QueueDeclareOptions::default(), FieldTable::default())
                .await
                .context("queue.declare")?;
            (String::new(), name.clone())
        }
        Layout::SendOnly => (String::new(), name.clone()),
    };
    if flow.preload > 0 {
        // Confirmed in batches, so that the whole backlog is in the queue before the
        // measured run starts.
        sch.confirm_select(ConfirmSelectOptions::default())
            .await
            .context("confirm.select")?;
        let quota = Quota::Count(flow.preload);
        publish(
            &sch,
            &exchange,
            &routing_key,
            stamp::BACKLOG,
            quota,
            run.size,
            Some(1000),
            None,
        )
        .await
        .context("publishing the backlog")?;
    }

    let finish = Finish::new(run.quick);
    let mut conns = vec![setup];
    let mut receivers = Vec::new();
    let n = flow.layout.receivers();
    let mut ch_conn: Option<Connection> = None;
    for i in 0..n {
        if i % PER_CONNECTION == 0 {
            if let Some(c) = ch_conn.take() {
                conns.push(c);
            }
            ch_conn = Some(connect(uri, &format!("trident-bench consumer {i}")).await?);
        }
        let Some(conn) = ch_conn.as_ref() else {
            continue;
        };
        let ch = conn.create_channel().await?;
        if !flow.basic_get {
            ch.basic_qos(flow.prefetch, BasicQosOptions::default())
                .await?;
        }
        let queue = match flow.layout {
            Layout::Fanout(_) => {
                let q = ch
                    .queue_declare(
                        "",
                        QueueDeclareOptions {
                            exclusive: true,
                            auto_delete: true,
                            ..Default::default()
                        },
                        FieldTable::default(),
                    )
                    .await
                    .context("queue.declare")?;
                let q = q.name().as_str().to_string();
                ch.queue_bind(
                    &q,
                    &exchange,
                    "",
                    QueueBindOptions::default(),
                    FieldTable::default(),
                )
                .await
                .context("queue.bind")?;
                q
            }
            _ => name.clone(),
        };
        let r = Receiver::new(flow.layout, finish.clone(), run.progress.clone());
        if flow.basic_get {
            receivers.push(tokio::spawn(poll_get(ch, queue, r, flow.no_ack)));
            continue;
        }
        let consumer = ch
            .basic_consume(
                &queue,
                &format!("bench-{i}"),
                BasicConsumeOptions {
                    no_ack: flow.no_ack,
                    ..Default::default()
                },
                FieldTable::default(),
            )
            .await
            .context("basic.consume")?;
        let ack_every = ack_every(flow.prefetch);
        receivers.push(tokio::spawn(consume(
            ch,
            consumer,
            r,
            flow.no_ack,
            ack_every,
        )));
    }
    if let Some(c) = ch_conn.take() {
        conns.push(c);
    }

    let started = Instant::now();
    let mut producers = Vec::new();
    for i in 0..run.producers {
        let conn = connect(uri, &format!("trident-bench producer {i}")).await?;
        let ch = conn.create_channel().await?;
        if flow.confirm_batch.is_some() {
            ch.confirm_select(ConfirmSelectOptions::default())
                .await
                .context("confirm.select")?;
        }
        let quota = Quota::split(run.budget, i, run.producers, started);
        let (ex, rk) = (exchange.clone(), routing_key.clone());
        let size = run.size;
        let send_only = (flow.layout == Layout::SendOnly).then(|| run.progress.clone());
        producers.push(tokio::spawn(async move {
            let r = publish(
                &ch,
                &ex,
                &rk,
                i as u32,
                quota,
                size,
                flow.confirm_batch,
                send_only,
            )
            .await;
            (conn, r)
        }));
    }
    let mut sent = Vec::new();
    let mut first_error = None;
    for (i, p) in producers.into_iter().enumerate() {
        match p.await {
            Ok((conn, Ok(n))) => {
                sent.push((i as u32, n));
                conns.push(conn);
            }
            Ok((conn, Err(e))) => {
                first_error.get_or_insert(e);
                conns.push(conn);
            }
            Err(e) => {
                first_error.get_or_insert(anyhow::anyhow!("producer task: {e}"));
            }
        }
    }
    if let Some(e) = first_error {
        return Err(e);
    }
    let expected: u64 = sent.iter().map(|s| s.1).sum();
    finish.produced(expected + flow.preload);
    let mut done = Vec::new();
    for r in receivers {
        done.push(r.await.context("consumer task")??);
    }
    let m = summarize(flow.layout, &sent, done, started, run.size);

    if let Some(c) = conns.first()
        && let Ok(ch) = c.create_channel().await
    {
        match flow.layout {
            Layout::Fanout(_) => {
                let _ = ch
                    .exchange_delete(&exchange, ExchangeDeleteOptions::default())
                    .await;
            }
            Layout::Competing(_) => {
                let _ = ch.queue_delete(&name, QueueDeleteOptions::default()).await;
            }
            Layout::SendOnly => {}
        }
    }
    for c in conns {
        let _ = c.close(200, "bye").await;
    }
    Ok(m)
}

#[allow(clippy::too_many_arguments)]
pub(crate) async fn publish(
    ch: &Channel,
    exchange: &str,
    routing_key: &str,
    producer: u32,
    quota: Quota,
    size: usize,
    confirm_batch: Option<usize>,
    send_only: Option<Arc<crate::progress::Progress>>,
) -> Result<u64> {
    let template = stamp::filler(size);
    let mut inflight = FuturesUnordered::new();
    let mut seq = 0u64;
    let mut nacked = 0u64;
    // Without confirms, a sliding window keeps the socket busy; with them, a batch is
    // published and then all its confirms are awaited, which is what a client that
    // "confirms per batch" does.
    let (window, drain) = match confirm_batch {
        None => (64, false),
        Some(k) => (k.max(1), true),
    };
    loop {
        while inflight.len() < window && quota.more(seq) {
            let mut body = template.clone();
            stamp::write(&mut body, producer, seq);
            seq += 1;
            let ch = ch.clone();
            let (ex, rk) = (exchange.to_string(), routing_key.to_string());
            inflight.push(async move {
                let confirm = ch
                    .basic_publish(
                        &ex,
                        &rk,
                        BasicPublishOptions::default(),
                        &body,
                        BasicProperties::default(),
                    )
                    .await?;
                confirm.await
            });
        }
        if inflight.is_empty() {
            break;
        }
        let full = inflight.len();
        let wait = if drain { full } else { 1 };
        for _ in 0..wait {
            match inflight.next().await {
                Some(Ok(Confirmation::Ack(_) | Confirmation::NotRequested)) => {
                    if let Some(p) = &send_only {
                        p.add(1);
                    }
                }
                Some(Ok(Confirmation::Nack(_))) => nacked += 1,
                Some(Err(e)) => return Err(e).context("basic.publish"),
                None => break,
            }
        }
    }
    let _ = nacked;
    Ok(seq)
}

/// Polls the queue with basic.get, acking every 50 (multiple), sleeping a millisecond
/// when it is empty (a polling client that does not sleep only measures its own spin).
async fn poll_get(ch: Channel, queue: String, mut r: Receiver, no_ack: bool) -> Result<Receiver> {
    let mut unacked = 0u64;
    let mut last_tag = 0u64;
    while !r.done() {
        match ch
            .basic_get(&queue, BasicGetOptions { no_ack })
            .await
            .context("basic.get")?
        {
            None => {
                r.waiting();
                if unacked > 0 {
                    ch.basic_ack(last_tag, BasicAckOptions { multiple: true })
                        .await?;
                    unacked = 0;
                }
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
            Some(m) => {
                r.on_message(&m.delivery.data);
                if !no_ack {
                    unacked += 1;
                    last_tag = m.delivery.delivery_tag;
                    if unacked >= 50 {
                        ch.basic_ack(last_tag, BasicAckOptions { multiple: true })
                            .await?;
                        unacked = 0;
                    }
                }
            }
        }
    }
    if unacked > 0 {
        let _ = ch
            .basic_ack(last_tag, BasicAckOptions { multiple: true })
            .await;
    }
    Ok(r)
}

/// How many deliveries a consumer acks at once (multiple): at most 50, and at most half
/// the prefetch window, so that the broker never waits on the client's ack batch.
pub(crate) fn ack_every(prefetch: u16) -> u64 {
    u64::from(prefetch / 2).clamp(1, 50)
}

pub(crate) async fn consume(
    ch: Channel,
    mut consumer: lapin::Consumer,
    mut r: Receiver,
    no_ack: bool,
    ack_every: u64,
) -> Result<Receiver> {
    let mut unacked = 0u64;
    let mut last_tag = 0u64;
    while !r.done() {
        match tokio::time::timeout(Duration::from_millis(100), consumer.next()).await {
            Err(_) => {
                r.waiting();
                if unacked > 0 {
                    ch.basic_ack(last_tag, BasicAckOptions { multiple: true })
                        .await?;
                    unacked = 0;
                }
            }
            Ok(None) => break,
            Ok(Some(d)) => {
                let d = d.context("delivery")?;
                r.on_message(&d.data);
                if !no_ack {
                    unacked += 1;
                    last_tag = d.delivery_tag;
                    if unacked >= ack_every {
                        ch.basic_ack(last_tag, BasicAckOptions { multiple: true })
                            .await?;
                        unacked = 0;
                    }
                }
            }
        }
    }
    if unacked > 0 {
        let _ = ch
            .basic_ack(last_tag, BasicAckOptions { multiple: true })
            .await;
    }
    Ok(r)
}
