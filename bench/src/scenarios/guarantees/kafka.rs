//! Kafka: the consumer polls batches of up to 50 and commits its offset either before
//! processing them (at-most-once: a kill mid-batch loses the rest of it) or after
//! (at-least-once: a kill mid-batch re-reads what was processed); exactly-once adds the
//! idempotent producer and a dedup store of record keys. Transactions (a transactional
//! producer and read_committed) are not used: Trident does not serve them.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::message::Message;
use rdkafka::{Offset, TopicPartitionList};

use super::{Mode, kill_point, measured, restart_note};
use crate::args::HostPort;
use crate::clients::Run;
use crate::clients::kafka::{Flow, create_topic, delete_topic, produce};
use crate::flow::{Finish, Layout, Quota, Receiver, unique_name};
use crate::row::Measured;

const BATCH: usize = 50;

pub async fn run(addr: &HostPort, mode: Mode, n: u64, run: &Run) -> Result<Measured> {
    let bootstrap = addr.to_string();
    let topic = unique_name("guarantees");
    {
        let (b, t) = (bootstrap.clone(), topic.clone());
        tokio::task::spawn_blocking(move || create_topic(&b, &t, 1))
            .await
            .context("admin task")??;
    }
    let finish = Finish::new(run.quick);
    let r = Receiver::new(Layout::Fanout(1), finish.clone(), run.progress.clone());
    let started = Instant::now();
    let flow = Flow {
        acks: if mode == Mode::AtMostOnce { "0" } else { "all" },
        producer: if mode == Mode::ExactlyOnce {
            &[("enable.idempotence", "true")]
        } else {
            &[]
        },
        ..Flow::new(Layout::Fanout(1), 1)
    };
    let (b, t, size, f) = (bootstrap.clone(), topic.clone(), run.size, finish.clone());
    let producer = tokio::task::spawn_blocking(move || {
        let (sent, errors) = produce(&b, &t, &flow, 0, Quota::Count(n), size, None)?;
        f.produced(sent);
        Ok::<_, anyhow::Error>((sent, errors))
    });
    let (b, t) = (bootstrap.clone(), topic.clone());
    let consumer = tokio::task::spawn_blocking(move || consume(&b, &t, mode, n, r));
    let (sent, errors) = producer.await.context("producer task")??;
    let (r, killed_at, dropped) = consumer.await.context("consumer task")??;
    let (b, t) = (bootstrap.clone(), topic.clone());
    let _ = tokio::task::spawn_blocking(move || delete_topic(&b, &t)).await;
    let mut note = restart_note(killed_at, n);
    match mode {
        Mode::AtMostOnce => note.push_str("; acks=0, commit before processing"),
        Mode::AtLeastOnce => note.push_str("; acks=all, commit after processing"),
        Mode::ExactlyOnce => note.push_str(&format!(
            "; idempotent producer, {dropped} re-reads dropped by key dedup; no transactions (Trident does not serve them, so the bench uses them on no target)"
        )),
    }
    if let Some(e) = errors {
        note.push_str(&format!("; {e}"));
    }
    Ok(measured(sent, r, started, run.size, note))
}

/// The consumer's two lives; returns the receiver, where it was killed, and how many
/// re-reads the dedup store dropped. Blocking.
fn consume(
    bootstrap: &str,
    topic: &str,
    mode: Mode,
    n: u64,
    mut r: Receiver,
) -> Result<(Receiver, Option<u64>, u64)> {
    let group = unique_name("group");
    let mut seen: HashSet<Vec<u8>> = HashSet::new();
    let mut dropped = 0u64;
    let mut killed_at = None;
    for life in 0..2 {
        let c: BaseConsumer = ClientConfig::new()
            .set("bootstrap.servers", bootstrap)
            .set("group.id", &group)
            .set("enable.auto.commit", "false")
            .set("auto.offset.reset", "earliest")
            .set("fetch.queue.backoff.ms", "10")
            .create()
            .context("consumer")?;
        if life > 0 {
            r.restarted();
        }
        c.subscribe(&[topic]).context("subscribe")?;
        let mut killed = false;
        while !killed && !r.done() {
            let mut batch = Vec::new();
            while batch.len() < BATCH {
                match c.poll(Duration::from_millis(if batch.is_empty() {
                    100
                } else {
                    0
                })) {
                    None => break,
                    Some(Err(e)) => bail!("consume: {e}"),
                    Some(Ok(m)) => batch.push((
                        m.partition(),
                        m.offset(),
                        m.key().unwrap_or_default().to_vec(),
                        m.payload().unwrap_or_default().to_vec(),
                    )),
                }
            }
            let Some(&(partition, last, _, _)) = batch.last() else {
                r.waiting();
                continue;
            };
            let commit = |c: &BaseConsumer| -> Result<()> {
                let mut tpl = TopicPartitionList::new();
                tpl.add_partition_offset(topic, partition, Offset::Offset(last + 1))?;
                c.commit(&tpl, CommitMode::Sync).context("commit")
            };
            if mode == Mode::AtMostOnce {
                commit(&c)?;
            }
            for (_, _, key, payload) in &batch {
                if life == 0 && r.tally.received() >= kill_point(n) {
                    killed = true;
                    break;
                }
                if mode == Mode::ExactlyOnce && !seen.insert(key.clone()) {
                    dropped += 1;
                    continue;
                }
                r.on_message(payload); // "processing"
            }
            if !killed && mode != Mode::AtMostOnce {
                commit(&c)?;
            }
        }
        // Dropping the consumer closes it (it leaves the group) without committing
        // anything more: the next life starts from the last commit.
        drop(c);
        if killed {
            killed_at = Some(r.tally.received());
            continue;
        }
        break;
    }
    Ok((r, killed_at, dropped))
}
