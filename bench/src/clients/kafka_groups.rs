//! Consumer-group measurements beyond a plain flow (`groups`): how long the group takes
//! to hand a leaving member's partitions to the others, and replay by rewinding.

use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use rdkafka::Offset;
use rdkafka::TopicPartitionList;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;

use super::Run;
use super::kafka::{Flow, create_topic, delete_topic, produce};
use crate::args::HostPort;
use crate::flow::{Layout, Quota, unique_name};
use crate::histogram::Histogram;
use crate::row::Measured;
use crate::stamp;
use crate::tally::Tally;

fn group_member(bootstrap: &str, group: &str) -> Result<BaseConsumer> {
    ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", group)
        .set("enable.auto.commit", "false")
        .set("auto.offset.reset", "earliest")
        .create()
        .context("consumer")
}

fn owned(c: &BaseConsumer) -> usize {
    c.assignment().map(|a| a.count()).unwrap_or(0)
}

/// Polls both members until their assignments cover `partitions` (or `limit` passes).
fn settle(members: &[&BaseConsumer], partitions: usize, limit: Duration) -> Result<()> {
    let deadline = Instant::now() + limit;
    loop {
        for m in members {
            if let Some(Err(e)) = m.poll(Duration::from_millis(50)) {
                bail!("consume: {e}");
            }
        }
        if members.iter().map(|m| owned(m)).sum::<usize>() == partitions
            && members.iter().all(|m| owned(m) > 0)
        {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!("the group did not assign all {partitions} partitions within {limit:?}");
        }
    }
}

/// Two members share `partitions`; one leaves (LeaveGroup on close); the time until the
/// other owns them all. Blocking: run on a blocking thread.
pub fn rebalance(addr: &HostPort, partitions: i32, quick: bool) -> Result<Measured> {
    let bootstrap = addr.to_string();
    let topic = unique_name("rebalance");
    create_topic(&bootstrap, &topic, partitions)?;
    let group = unique_name("group");
    let stay = group_member(&bootstrap, &group)?;
    let leave = group_member(&bootstrap, &group)?;
    stay.subscribe(&[&topic]).context("subscribe")?;
    leave.subscribe(&[&topic]).context("subscribe")?;
    let limit = Duration::from_secs(if quick { 30 } else { 60 });
    let result = (|| {
        settle(&[&stay, &leave], partitions as usize, limit)?;
        let left = Instant::now();
        drop(leave);
        settle(&[&stay], partitions as usize, limit)?;
        Ok::<_, anyhow::Error>(left.elapsed())
    })();
    delete_topic(&bootstrap, &topic);
    let took = result?;
    let mut latency = Histogram::new();
    latency.record(u64::try_from(took.as_nanos()).unwrap_or(u64::MAX));
    Ok(Measured {
        elapsed: took,
        latency: Some(latency),
        note: format!(
            "one of 2 members left; the other owned all {partitions} partitions {:.0} ms later (the latency columns)",
            took.as_secs_f64() * 1e3
        ),
        ..Measured::default()
    })
}

/// Appends `n` records, reads them once as a group member that commits, then rewinds
/// the same consumer to offset 0 and reads them all again: the replay's rate, and
/// whether it got every record back. Blocking.
pub fn replay(addr: &HostPort, run: &Run, n: u64) -> Result<Measured> {
    let bootstrap = addr.to_string();
    let topic = unique_name("replay");
    create_topic(&bootstrap, &topic, 1)?;
    let flow = Flow::new(Layout::Competing(1), 1);
    let result = (|| {
        let (sent, errors) = produce(
            &bootstrap,
            &topic,
            &flow,
            0,
            Quota::Count(n),
            run.size,
            None,
        )?;
        if let Some(e) = errors {
            bail!("{e}");
        }
        let c = group_member(&bootstrap, &unique_name("group"))?;
        let mut tpl = TopicPartitionList::new();
        tpl.add_partition_offset(&topic, 0, Offset::Beginning)?;
        c.assign(&tpl).context("assign")?;
        let idle = Duration::from_secs(if run.quick { 3 } else { 10 });
        read(&c, sent, idle, None)?;
        c.commit_consumer_state(rdkafka::consumer::CommitMode::Sync)
            .context("commit")?;
        // Rewind: the committed position stays where it is; the reader seeks back.
        let mut back = TopicPartitionList::new();
        back.add_partition_offset(&topic, 0, Offset::Beginning)?;
        c.assign(&back).context("assign at offset 0")?;
        let started = Instant::now();
        let (tally, bytes, last) = read(&c, sent, idle, Some(run))?;
        let elapsed = last.map_or_else(|| started.elapsed(), |l| l.duration_since(started));
        Ok(Measured {
            sent,
            received: tally.received(),
            lost: tally.lost(&[(0, sent)]),
            duplicated: tally.duplicated(),
            counted: tally.received(),
            bytes,
            elapsed,
            latency: None,
            note: "second read after rewinding to offset 0; no latency (the records are old)"
                .into(),
        })
    })();
    delete_topic(&bootstrap, &topic);
    result
}

/// Reads until `n` distinct records arrived or nothing came for `idle`.
fn read(
    c: &BaseConsumer,
    n: u64,
    idle: Duration,
    run: Option<&Run>,
) -> Result<(Tally, u64, Option<Instant>)> {
    let mut tally = Tally::new();
    let mut bytes = 0u64;
    let mut last = None;
    let mut quiet = Instant::now();
    while tally.unique() < n && quiet.elapsed() < idle {
        match c.poll(Duration::from_millis(100)) {
            None => {}
            Some(Err(e)) => bail!("consume: {e}"),
            Some(Ok(m)) => {
                let payload = m.payload().unwrap_or_default();
                match stamp::read(payload) {
                    Some(s) => {
                        tally.record(s.producer, s.seq);
                    }
                    None => tally.record_foreign(),
                }
                bytes += payload.len() as u64;
                let now = Instant::now();
                last = Some(now);
                quiet = now;
                if let Some(r) = run {
                    r.progress.add(1);
                }
            }
        }
    }
    Ok((tally, bytes, last))
}
