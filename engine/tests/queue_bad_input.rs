//! A durable queue whose queue index and ack journal were damaged while the broker was
//! down: the engine opens, every confirmed message that was not acknowledged comes back
//! in order (with the redelivered flag if it had been delivered), an acknowledged one
//! comes back only if the journal record of its ack was destroyed, and the counts are
//! right (the index was rebuilt from the queue's segment).

#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::mpsc;
use trident_core::{ConnectionId, DeliveryMode, ExchangeName, Message, QueueDef, QueueName};
use trident_engine::{
    ConsumerEvent, ConsumerOptions, Delivery, Engine, EngineConfig, Outcome, PublishOptions, Vhost,
};

const C1: ConnectionId = ConnectionId(1);
/// Enough 256 KiB messages to fill more than one 64 MiB queue segment, so that the
/// first segment is sealed and has a queue index file.
const MESSAGES: u64 = 300;
const BODY: usize = 256 * 1024;
/// Delivered before the restart; the odd ones among them acknowledged.
const DELIVERED: u64 = 40;

fn body(i: u64) -> Bytes {
    let mut b = vec![(i % 251) as u8; BODY];
    b[..8].copy_from_slice(&i.to_le_bytes());
    Bytes::from(b)
}

fn index_of(m: &Message) -> u64 {
    u64::from_le_bytes(m.body[..8].try_into().unwrap())
}

async fn open(dir: &Path) -> (Engine, Vhost) {
    let engine = Engine::open(EngineConfig::new(dir)).await.unwrap();
    let vhost = engine.vhost("/").unwrap();
    (engine, vhost)
}

async fn consume(v: &Vhost, credit: u32) -> mpsc::UnboundedReceiver<ConsumerEvent> {
    let (tx, rx) = mpsc::unbounded_channel();
    v.consume(
        &QueueName::new("q").unwrap(),
        ConsumerOptions {
            tag: Arc::from("c"),
            no_ack: false,
            exclusive: false,
            owner: C1,
            initial_credit: credit,
        },
        tx,
    )
    .await
    .unwrap();
    rx
}

async fn next(rx: &mut mpsc::UnboundedReceiver<ConsumerEvent>) -> Delivery {
    match tokio::time::timeout(Duration::from_secs(10), rx.recv()).await {
        Ok(Some(ConsumerEvent::Deliver(d))) => d,
        other => panic!("expected a delivery, got {other:?}"),
    }
}

fn queue_dir(data: &Path) -> PathBuf {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(data.join("queues"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(dirs.len(), 1, "one durable queue");
    dirs.pop().unwrap()
}

/// Flips bytes in the middle of every queue index file.
fn damage_index(q: &Path) -> usize {
    let mut n = 0;
    for e in std::fs::read_dir(q.join("index")).unwrap() {
        let p = e.unwrap().path();
        let mut data = std::fs::read(&p).unwrap();
        let mid = data.len() / 2;
        for b in &mut data[mid..mid + 16] {
            *b ^= 0x5a;
        }
        std::fs::write(&p, &data).unwrap();
        n += 1;
    }
    n
}

/// Corrupts the middle removal record of the journal (record layout in
/// storage/README.md: kind at byte 0, first seq at bytes 4..12); returns its seq.
fn damage_one_removal(q: &Path) -> u64 {
    let path = q.join("acks");
    let mut data = std::fs::read(&path).unwrap();
    assert_eq!(data.len() % 24, 0);
    let removals: Vec<usize> = (0..data.len() / 24)
        .map(|i| i * 24)
        .filter(|&at| data[at] == 1)
        .collect();
    assert!(removals.len() > 2, "one record per separate ack");
    let at = removals[removals.len() / 2];
    let seq = u64::from_le_bytes(data[at + 4..at + 12].try_into().unwrap());
    data[at + 14] ^= 0x01;
    std::fs::write(&path, &data).unwrap();
    seq
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn damaged_index_and_journal_lose_nothing_confirmed_or_acknowledged() {
    let dir = tempfile::tempdir().unwrap();
    {
        let (engine, v) = open(dir.path()).await;
        let mut def = QueueDef::new(QueueName::new("q").unwrap());
        def.durable = true;
        v.declare_queue(def, C1).await.unwrap();
        let mut confirms = Vec::new();
        for i in 0..MESSAGES {
            let mut m = Message::new(body(i));
            m.routing_key = "q".into();
            m.delivery_mode = DeliveryMode::Persistent;
            let p = v
                .publish(
                    m,
                    &ExchangeName::default_exchange(),
                    PublishOptions {
                        confirm: true,
                        mandatory: false,
                    },
                )
                .await
                .unwrap();
            confirms.push(p.confirm.unwrap());
        }
        for c in confirms {
            c.wait().await.unwrap();
        }
        let mut rx = consume(&v, DELIVERED as u32).await;
        for _ in 0..DELIVERED {
            let d = next(&mut rx).await;
            if index_of(&d.message) % 2 == 1 {
                // One settlement each, written before the next: one journal record each.
                d.queue
                    .settle_written(vec![d.id], Outcome::Ack)
                    .await
                    .unwrap()
                    .wait()
                    .await;
            }
        }
        engine.shutdown().await;
    }
    let q = queue_dir(dir.path());
    assert!(
        damage_index(&q) >= 1,
        "the first segment was sealed and indexed"
    );
    let lost_ack = damage_one_removal(&q);
    assert!(lost_ack < DELIVERED && lost_ack % 2 == 1);

    let (_engine, v) = open(dir.path()).await;
    let expect: Vec<u64> = (0..MESSAGES)
        .filter(|&i| i >= DELIVERED || i % 2 == 0 || i == lost_ack)
        .collect();
    let stats = v.queue(&QueueName::new("q").unwrap()).unwrap().stats();
    assert_eq!(stats.ready, expect.len() as u64);
    assert_eq!(stats.ready_bytes, expect.len() as u64 * BODY as u64);
    let mut rx = consume(&v, MESSAGES as u32).await;
    for &i in &expect {
        let d = next(&mut rx).await;
        assert_eq!(index_of(&d.message), i, "in order, none missing");
        assert_eq!(d.message.body, body(i), "intact");
        assert_eq!(d.redelivered, i < DELIVERED, "redelivered flag of {i}");
    }
}
