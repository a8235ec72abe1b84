//! A full queue: its length limit with either overflow policy, and the counts of what it
//! dropped or refused (per queue and engine-wide), which `/metrics` exports.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::mpsc;
use trident_core::{
    Binding, BindingDestination, ConnectionId, DeliveryMode, ExchangeDef, ExchangeKind,
    ExchangeName, Message, Overflow, QueueDef, QueueName,
};
use trident_engine::{
    ConsumerEvent, ConsumerOptions, Engine, EngineConfig, Metrics, Nack, PublishOptions, Vhost,
};

const C1: ConnectionId = ConnectionId(1);

fn qn(s: &str) -> QueueName {
    QueueName::new(s).expect("queue name")
}

fn xn(s: &str) -> ExchangeName {
    ExchangeName::new(s).expect("exchange name")
}

async fn open(dir: &std::path::Path, tweak: impl FnOnce(&mut EngineConfig)) -> (Engine, Vhost) {
    let mut cfg = EngineConfig::new(dir);
    tweak(&mut cfg);
    let engine = Engine::open(cfg).await.expect("engine opens");
    let vhost = engine.vhost("/").expect("default vhost");
    (engine, vhost)
}

/// Publishes `body` to queue `queue` with a confirmation; returns its outcome.
async fn publish(v: &Vhost, queue: &str, body: &str) -> Result<(), Nack> {
    let mut m = Message::new(Bytes::from(body.to_string()));
    m.routing_key = queue.to_string();
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
        .expect("publish");
    assert_eq!(p.routed, 1);
    p.confirm.expect("confirm").wait().await
}

async fn capped(v: &Vhost, name: &str, max: u64, overflow: Overflow) {
    let mut def = QueueDef::new(qn(name));
    def.args.max_length = Some(max);
    def.args.overflow = overflow;
    v.declare_queue(def, C1).await.expect("declare");
}

async fn bodies(v: &Vhost, queue: &str, n: usize) -> Vec<String> {
    let (tx, mut rx) = mpsc::unbounded_channel();
    v.consume(
        &qn(queue),
        ConsumerOptions {
            tag: Arc::from("c"),
            no_ack: true,
            exclusive: false,
            owner: C1,
            initial_credit: u32::MAX,
        },
        tx,
    )
    .await
    .expect("consume");
    let mut out = Vec::new();
    while out.len() < n {
        match tokio::time::timeout(Duration::from_secs(10), rx.recv()).await {
            Ok(Some(ConsumerEvent::Deliver(d))) => {
                out.push(String::from_utf8_lossy(&d.message.body).into_owned());
            }
            other => panic!("expected a delivery, got {other:?}"),
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reject_publish_nacks_and_counts_every_refusal() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (engine, v) = open(dir.path(), |_| {}).await;
    capped(&v, "strict", 2, Overflow::RejectPublish).await;
    let mut outcomes = Vec::new();
    for i in 0..5 {
        outcomes.push(publish(&v, "strict", &format!("m{i}")).await);
    }
    let nack = Err(Nack::QueueFull("strict".into()));
    assert_eq!(
        outcomes,
        vec![Ok(()), Ok(()), nack.clone(), nack.clone(), nack]
    );
    let stats = v.queue(&qn("strict")).expect("queue").stats();
    assert_eq!((stats.ready, stats.rejected_overflow), (2, 3));
    assert_eq!(stats.dropped_overflow, 0);
    let m = engine.metrics();
    assert_eq!(Metrics::get(&m.messages_rejected_overflow), 3);
    assert_eq!(Metrics::get(&m.messages_dropped_overflow), 0);
    assert_eq!(
        bodies(&v, "strict", 2).await,
        ["m0", "m1"],
        "the first two kept"
    );
    // Room again once consumed.
    assert_eq!(publish(&v, "strict", "later").await, Ok(()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drop_head_counts_what_it_drops_also_from_a_paged_backlog() {
    let dir = tempfile::tempdir().expect("tempdir");
    // A small memory window, so most of the queue is paged out when its head drops.
    let (engine, v) = open(dir.path(), |c| c.queue_memory_messages = 10).await;
    capped(&v, "newest", 50, Overflow::DropHead).await;
    for i in 0..200 {
        assert_eq!(publish(&v, "newest", &format!("{i:03}")).await, Ok(()));
    }
    let stats = v.queue(&qn("newest")).expect("queue").stats();
    assert_eq!((stats.ready, stats.dropped_overflow), (50, 150));
    assert_eq!(
        Metrics::get(&engine.metrics().messages_dropped_overflow),
        150
    );
    let want: Vec<String> = (150..200).map(|i| format!("{i:03}")).collect();
    assert_eq!(
        bodies(&v, "newest", 50).await,
        want,
        "the newest 50, in order"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reject_publish_dlx_dead_letters_the_refused_message_and_counts_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (engine, v) = open(dir.path(), |_| {}).await;
    v.declare_exchange(ExchangeDef::new(xn("dlx"), ExchangeKind::Fanout))
        .await
        .expect("exchange");
    v.declare_queue(QueueDef::new(qn("dead")), C1)
        .await
        .expect("declare");
    v.bind(
        Binding::new(
            xn("dlx"),
            BindingDestination::Queue(qn("dead")),
            "",
            Default::default(),
        ),
        C1,
    )
    .await
    .expect("bind");
    let mut def = QueueDef::new(qn("full"));
    def.args.max_length = Some(1);
    def.args.overflow = Overflow::RejectPublishDlx;
    def.args.dead_letter_exchange = Some(xn("dlx"));
    v.declare_queue(def, C1).await.expect("declare");
    assert_eq!(publish(&v, "full", "kept").await, Ok(()));
    assert!(publish(&v, "full", "refused").await.is_err());
    assert_eq!(bodies(&v, "dead", 1).await, ["refused"]);
    let stats = v.queue(&qn("full")).expect("queue").stats();
    assert_eq!(stats.rejected_overflow, 1);
    assert_eq!(Metrics::get(&engine.metrics().messages_dead_lettered), 1);
}
