//! A consumer with unlimited credit that does not acknowledge receives the whole backlog,
//! also the part paged to disk. The queue refills its in-memory head from the store as
//! long as a consumer can take more; it must not wait for a command (an ack, credit) to
//! do so, since such a consumer sends none. Found by tools/soak/amqp_soak.py, whose
//! final read-out of a recovered queue stopped after 57,344 of 92,539 messages.

#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::mpsc;
use trident_core::{ConnectionId, DeliveryMode, ExchangeName, Message, QueueDef, QueueName};
use trident_engine::{ConsumerEvent, ConsumerOptions, Engine, EngineConfig, PublishOptions, Vhost};

const C1: ConnectionId = ConnectionId(1);
/// More than a refill reaches (half the window plus a batch), so a stalled refill shows.
const MESSAGES: u64 = 70_000;

async fn open(dir: &std::path::Path) -> (Engine, Vhost) {
    // The default in-memory window (100,000 messages): the queue refills its head
    // from the store in batches up to half of it.
    let cfg = EngineConfig::new(dir);
    let engine = Engine::open(cfg).await.unwrap();
    let vhost = engine.vhost("/").unwrap();
    (engine, vhost)
}

async fn fill(v: &Vhost, durable: bool) {
    let mut def = QueueDef::new(QueueName::new("q").unwrap());
    def.durable = durable;
    v.declare_queue(def, C1).await.unwrap();
    let mut confirms = Vec::new();
    for i in 0..MESSAGES {
        let mut m = Message::new(Bytes::from(i.to_le_bytes().to_vec()));
        m.routing_key = "q".into();
        m.delivery_mode = DeliveryMode::Persistent;
        let opts = PublishOptions {
            confirm: true,
            mandatory: false,
        };
        let p = v
            .publish(m, &ExchangeName::default_exchange(), opts)
            .await
            .unwrap();
        confirms.push(p.confirm.unwrap());
    }
    for c in confirms {
        c.wait().await.unwrap();
    }
}

/// Consumes with unlimited credit and never settles; returns the bodies in order.
async fn read_all_unacked(v: &Vhost) -> Vec<u64> {
    let (tx, mut rx) = mpsc::unbounded_channel();
    v.consume(
        &QueueName::new("q").unwrap(),
        ConsumerOptions {
            tag: Arc::from("c"),
            no_ack: false,
            exclusive: false,
            owner: C1,
            initial_credit: u32::MAX,
        },
        tx,
    )
    .await
    .unwrap();
    let mut got = Vec::new();
    while got.len() < MESSAGES as usize {
        match tokio::time::timeout(Duration::from_secs(10), rx.recv()).await {
            Ok(Some(ConsumerEvent::Deliver(d))) => {
                got.push(u64::from_le_bytes(d.message.body[..8].try_into().unwrap()));
            }
            other => panic!("delivery {} of {MESSAGES}: got {other:?}", got.len()),
        }
    }
    got
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unacking_consumer_gets_the_paged_backlog() {
    let dir = tempfile::tempdir().unwrap();
    let (_engine, v) = open(dir.path()).await;
    fill(&v, false).await;
    assert_eq!(
        read_all_unacked(&v).await,
        (0..MESSAGES).collect::<Vec<_>>()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unacking_consumer_gets_a_recovered_backlog_twice() {
    let dir = tempfile::tempdir().unwrap();
    {
        let (engine, v) = open(dir.path()).await;
        fill(&v, true).await;
        engine.shutdown().await;
    }
    // After a restart every message is on disk, none in memory. The second time round
    // every message is already marked delivered, so delivering writes nothing and
    // nothing else (a sync timer) wakes the queue either.
    for _ in 0..2 {
        let (engine, v) = open(dir.path()).await;
        assert_eq!(
            read_all_unacked(&v).await,
            (0..MESSAGES).collect::<Vec<_>>()
        );
        engine.shutdown().await;
    }
}
