//! Idempotent publishes (`Vhost::publish_keyed`): each queue a keyed publish reaches
//! stores it once, however often it is sent, across a restart for a durable queue and
//! after the original was consumed; a key a queue refused (full) is stored when it comes
//! again; fanout dedups per queue.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::mpsc;
use trident_core::{
    BindingDestination, ConnectionId, DeliveryMode, ExchangeName, Message, Overflow, PublisherSeq,
    QueueDef, QueueName,
};
use trident_engine::{
    ConsumerEvent, ConsumerOptions, Delivery, Engine, EngineConfig, Nack, Outcome, PublishOptions,
    Vhost,
};

const C1: ConnectionId = ConnectionId(1);

fn qn(s: &str) -> QueueName {
    QueueName::new(s).unwrap()
}

fn persistent(body: &str, queue: &str) -> Message {
    let mut m = Message::new(Bytes::from(body.to_string()));
    m.routing_key = queue.to_string();
    m.delivery_mode = DeliveryMode::Persistent;
    m
}

async fn open(dir: &std::path::Path, tweak: impl FnOnce(&mut EngineConfig)) -> (Engine, Vhost) {
    let mut cfg = EngineConfig::new(dir);
    tweak(&mut cfg);
    let engine = Engine::open(cfg).await.unwrap();
    let vhost = engine.vhost("/").unwrap();
    (engine, vhost)
}

async fn durable(v: &Vhost, name: &str) {
    let mut def = QueueDef::new(qn(name));
    def.durable = true;
    v.declare_queue(def, C1).await.unwrap();
}

/// Publishes to the default exchange with `key`; the confirmation's result.
async fn send(v: &Vhost, m: Message, key: u64) -> Result<(), Nack> {
    let p = v
        .publish_keyed(
            m,
            &ExchangeName::default_exchange(),
            PublishOptions {
                confirm: true,
                mandatory: false,
            },
            Some(PublisherSeq::new(42, key)),
        )
        .await
        .unwrap();
    p.confirm.unwrap().wait().await
}

fn ready(v: &Vhost, q: &str) -> u64 {
    v.queue(&qn(q)).unwrap().stats().ready
}

async fn consume(v: &Vhost, q: &str) -> mpsc::UnboundedReceiver<ConsumerEvent> {
    let (tx, rx) = mpsc::unbounded_channel();
    v.consume(
        &qn(q),
        ConsumerOptions {
            tag: Arc::from("c"),
            no_ack: false,
            exclusive: false,
            owner: C1,
            initial_credit: 100,
        },
        tx,
    )
    .await
    .unwrap();
    rx
}

async fn next(rx: &mut mpsc::UnboundedReceiver<ConsumerEvent>) -> Delivery {
    match tokio::time::timeout(Duration::from_secs(5), rx.recv()).await {
        Ok(Some(ConsumerEvent::Deliver(d))) => d,
        other => panic!("expected a delivery, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resend_is_stored_once_even_after_consume_and_restart() {
    let dir = tempfile::tempdir().unwrap();
    {
        let (engine, v) = open(dir.path(), |_| {}).await;
        durable(&v, "q").await;
        send(&v, persistent("one", "q"), 1).await.unwrap();
        send(&v, persistent("one again", "q"), 1).await.unwrap();
        assert_eq!(ready(&v, "q"), 1);
        // Consumed and acknowledged before the crash: the window must outlive it.
        let mut rx = consume(&v, "q").await;
        let d = next(&mut rx).await;
        assert_eq!(&d.message.body[..], b"one");
        d.queue
            .settle_written(vec![d.id], Outcome::Ack)
            .await
            .unwrap()
            .wait()
            .await;
        engine.shutdown().await;
    }
    let (engine, v) = open(dir.path(), |_| {}).await;
    send(&v, persistent("one after restart", "q"), 1)
        .await
        .unwrap();
    send(&v, persistent("two", "q"), 2).await.unwrap();
    let mut rx = consume(&v, "q").await;
    let d = next(&mut rx).await;
    assert_eq!(
        &d.message.body[..],
        b"two",
        "the resend of 1 was not stored"
    );
    assert_eq!(
        ready(&v, "q") + v.queue(&qn("q")).unwrap().stats().unacked,
        1
    );
    engine.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_key_is_stored_when_it_comes_again() {
    let dir = tempfile::tempdir().unwrap();
    let (engine, v) = open(dir.path(), |_| {}).await;
    let mut def = QueueDef::new(qn("small"));
    def.durable = true;
    def.args.max_length = Some(1);
    def.args.overflow = Overflow::RejectPublish;
    v.declare_queue(def, C1).await.unwrap();
    send(&v, persistent("a", "small"), 1).await.unwrap();
    assert!(matches!(
        send(&v, persistent("b", "small"), 2).await,
        Err(Nack::QueueFull(_))
    ));
    let mut rx = consume(&v, "small").await;
    let d = next(&mut rx).await;
    d.queue.settle(vec![d.id], Outcome::Ack).await.unwrap();
    send(&v, persistent("b", "small"), 2).await.unwrap();
    let d = next(&mut rx).await;
    assert_eq!(&d.message.body[..], b"b");
    engine.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transient_and_paged_queues_dedup_too() {
    let dir = tempfile::tempdir().unwrap();
    let (engine, v) = open(dir.path(), |c| c.queue_memory_messages = 10).await;
    // Transient: in memory.
    v.declare_queue(QueueDef::new(qn("t")), C1).await.unwrap();
    // Durable and paging (most of these go to disk in batches).
    durable(&v, "paged").await;
    for round in 0..2 {
        for k in 0..100 {
            send(&v, persistent(&format!("{k}.{round}"), "t"), k)
                .await
                .unwrap();
            send(&v, persistent(&format!("{k}.{round}"), "paged"), 1000 + k)
                .await
                .unwrap();
        }
    }
    assert_eq!(ready(&v, "t"), 100);
    assert_eq!(ready(&v, "paged"), 100);
    let mut rx = consume(&v, "paged").await;
    for k in 0..100 {
        let d = next(&mut rx).await;
        assert_eq!(d.message.body, Bytes::from(format!("{k}.0")));
    }
    engine.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_queue_of_a_fanout_dedups_on_its_own() {
    let dir = tempfile::tempdir().unwrap();
    let (engine, v) = open(dir.path(), |_| {}).await;
    durable(&v, "first").await;
    let fanout = ExchangeName::new("amq.fanout").unwrap();
    v.bind(
        trident_core::Binding::new(
            fanout.clone(),
            BindingDestination::Queue(qn("first")),
            "",
            Default::default(),
        ),
        C1,
    )
    .await
    .unwrap();
    let publish = |v: Vhost, body: &'static str| async move {
        let mut m = persistent(body, "");
        m.routing_key.clear();
        let p = v
            .publish_keyed(
                m,
                &ExchangeName::new("amq.fanout").unwrap(),
                PublishOptions {
                    confirm: true,
                    mandatory: false,
                },
                Some(PublisherSeq::new(9, 1)),
            )
            .await
            .unwrap();
        p.confirm.unwrap().wait().await.unwrap();
    };
    publish(v.clone(), "x").await;
    // A queue bound after the original was routed takes the resend; the first does not.
    durable(&v, "second").await;
    v.bind(
        trident_core::Binding::new(
            fanout,
            BindingDestination::Queue(qn("second")),
            "",
            Default::default(),
        ),
        C1,
    )
    .await
    .unwrap();
    publish(v.clone(), "x").await;
    assert_eq!((ready(&v, "first"), ready(&v, "second")), (1, 1));
    engine.shutdown().await;
}
