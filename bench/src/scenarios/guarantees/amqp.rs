//! AMQP: at-most-once is auto-ack (what the client had buffered when killed is gone),
//! at-least-once is manual acks every 50 after processing (the unacked ones come back),
//! exactly-once adds publisher confirms and a dedup store of message ids.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;
use lapin::options::{
    BasicAckOptions, BasicConsumeOptions, BasicPublishOptions, BasicQosOptions,
    ConfirmSelectOptions, QueueDeclareOptions, QueueDeleteOptions,
};
use lapin::types::FieldTable;
use lapin::{BasicProperties, Connection};

use super::{Mode, kill_point, measured, restart_note};
use crate::clients::Run;
use crate::clients::amqp::connect;
use crate::flow::{Finish, Layout, Receiver, unique_name};
use crate::row::Measured;
use crate::stamp;

const ACK_EVERY: u64 = 50;

pub async fn run(uri: &str, mode: Mode, n: u64, run: &Run) -> Result<Measured> {
    let setup = connect(uri, "trident-bench guarantees setup").await?;
    let sch = setup.create_channel().await?;
    let queue = unique_name("guarantees");
    sch.queue_declare(
        &queue,
        QueueDeclareOptions::default(),
        FieldTable::default(),
    )
    .await
    .context("queue.declare")?;
    let finish = Finish::new(run.quick);
    let mut r = Receiver::new(Layout::Fanout(1), finish.clone(), run.progress.clone());

    let started = Instant::now();
    let producer = tokio::spawn(publish(
        uri.to_string(),
        queue.clone(),
        n,
        run.size,
        mode != Mode::AtMostOnce,
        finish.clone(),
    ));
    let mut seen: HashSet<String> = HashSet::new();
    let mut dropped = 0u64;
    let mut killed_at = None;
    for life in 0..2 {
        let conn = connect(uri, &format!("trident-bench guarantees consumer {life}")).await?;
        let ch = conn.create_channel().await?;
        ch.basic_qos(100, BasicQosOptions::default()).await?;
        if life > 0 {
            r.restarted();
        }
        let no_ack = mode == Mode::AtMostOnce;
        let mut consumer = ch
            .basic_consume(
                &queue,
                "bench",
                BasicConsumeOptions {
                    no_ack,
                    ..Default::default()
                },
                FieldTable::default(),
            )
            .await
            .context("basic.consume")?;
        let (mut pending, mut last_tag) = (0u64, 0u64);
        let killed = loop {
            if r.done() {
                break false;
            }
            if life == 0 && r.tally.received() >= kill_point(n) {
                break true;
            }
            match tokio::time::timeout(Duration::from_millis(100), consumer.next()).await {
                Err(_) => {
                    r.waiting();
                    if pending > 0 {
                        ch.basic_ack(last_tag, BasicAckOptions { multiple: true })
                            .await?;
                        pending = 0;
                    }
                }
                Ok(None) => break false,
                Ok(Some(d)) => {
                    let d = d.context("delivery")?;
                    let first = mode != Mode::ExactlyOnce || {
                        let id = d
                            .properties
                            .message_id()
                            .as_ref()
                            .map(|s| s.as_str().to_string())
                            .unwrap_or_default();
                        seen.insert(id)
                    };
                    if first {
                        r.on_message(&d.data); // "processing"
                    } else {
                        dropped += 1;
                    }
                    if !no_ack {
                        pending += 1;
                        last_tag = d.delivery_tag;
                        if pending >= ACK_EVERY {
                            ch.basic_ack(last_tag, BasicAckOptions { multiple: true })
                                .await?;
                            pending = 0;
                        }
                    }
                }
            }
        };
        if killed {
            // The kill: the connection goes without acking what was processed since the
            // last ack; the broker requeues those, and auto-acked ones buffered in the
            // client are gone.
            killed_at = Some(r.tally.received());
            let _ = conn.close(320, "killed").await;
            continue;
        }
        if pending > 0 {
            let _ = ch
                .basic_ack(last_tag, BasicAckOptions { multiple: true })
                .await;
        }
        let _ = conn.close(200, "done").await;
        break;
    }
    let (pconn, sent) = producer.await.context("producer task")??;
    let _ = sch
        .queue_delete(&queue, QueueDeleteOptions::default())
        .await;
    let _ = pconn.close(200, "done").await;
    let _ = setup.close(200, "done").await;
    let mut note = restart_note(killed_at, n);
    if mode == Mode::ExactlyOnce {
        note.push_str(&format!(
            "; {dropped} redeliveries dropped by message-id dedup"
        ));
    }
    Ok(measured(sent, r, started, run.size, note))
}

/// Publishes `n` messages with message ids `0-SEQ`, with confirms (100 outstanding) when
/// `confirms`; tells `finish` when done.
async fn publish(
    uri: String,
    queue: String,
    n: u64,
    size: usize,
    confirms: bool,
    finish: std::sync::Arc<Finish>,
) -> Result<(Connection, u64)> {
    let conn = connect(&uri, "trident-bench guarantees producer").await?;
    let ch = conn.create_channel().await?;
    if confirms {
        ch.confirm_select(ConfirmSelectOptions::default())
            .await
            .context("confirm.select")?;
    }
    let mut body = stamp::filler(size);
    let mut pending = FuturesUnordered::new();
    for seq in 0..n {
        stamp::write(&mut body, 0, seq);
        let props = BasicProperties::default().with_message_id(format!("0-{seq}").into());
        let c = ch
            .basic_publish("", &queue, BasicPublishOptions::default(), &body, props)
            .await
            .context("basic.publish")?;
        pending.push(c);
        if pending.len() >= 100 {
            while let Some(x) = pending.next().await {
                x.context("confirm")?;
            }
        }
    }
    while let Some(x) = pending.next().await {
        x.context("confirm")?;
    }
    finish.produced(n);
    Ok((conn, n))
}
