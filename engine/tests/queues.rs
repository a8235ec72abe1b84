//! Engine queues through the public API, without any protocol: the behaviour every
//! adapter relies on.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::mpsc;
use trident_core::{
    Binding, BindingDestination, ConnectionId, DeliveryMode, ErrorKind, ExchangeDef, ExchangeKind,
    ExchangeName, Message, Overflow, QueueArgs, QueueDef, QueueName,
};
use trident_engine::{
    ConsumerEvent, ConsumerOptions, Delivery, Engine, EngineConfig, Outcome, PublishOptions, Vhost,
};

const C1: ConnectionId = ConnectionId(1);
const C2: ConnectionId = ConnectionId(2);

fn qn(s: &str) -> QueueName {
    QueueName::new(s).expect("queue name")
}

fn xn(s: &str) -> ExchangeName {
    ExchangeName::new(s).expect("exchange name")
}

fn msg(body: &str, key: &str) -> Message {
    let mut m = Message::new(Bytes::from(body.to_string()));
    m.routing_key = key.to_string();
    m
}

fn persistent(body: &str, key: &str) -> Message {
    let mut m = msg(body, key);
    m.delivery_mode = DeliveryMode::Persistent;
    m
}

async fn open(dir: &std::path::Path) -> (Engine, Vhost) {
    open_with(dir, |_| {}).await
}

async fn open_with(
    dir: &std::path::Path,
    tweak: impl FnOnce(&mut EngineConfig),
) -> (Engine, Vhost) {
    let mut cfg = EngineConfig::new(dir);
    tweak(&mut cfg);
    let engine = Engine::open(cfg).await.expect("engine opens");
    let vhost = engine.vhost("/").expect("default vhost");
    (engine, vhost)
}

async fn declare(v: &Vhost, def: QueueDef) {
    v.declare_queue(def, C1).await.expect("declare queue");
}

async fn publish(v: &Vhost, m: Message) -> usize {
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
    if let Some(c) = p.confirm {
        c.wait().await.expect("confirmed");
    }
    p.routed
}

async fn next(rx: &mut mpsc::UnboundedReceiver<ConsumerEvent>) -> Delivery {
    match tokio::time::timeout(Duration::from_secs(5), rx.recv()).await {
        Ok(Some(ConsumerEvent::Deliver(d))) => d,
        other => panic!("expected a delivery, got {other:?}"),
    }
}

async fn consume(
    v: &Vhost,
    q: &str,
    tag: &str,
    credit: u32,
) -> mpsc::UnboundedReceiver<ConsumerEvent> {
    let (tx, rx) = mpsc::unbounded_channel();
    v.consume(
        &qn(q),
        ConsumerOptions {
            tag: Arc::from(tag),
            no_ack: false,
            exclusive: false,
            owner: C1,
            initial_credit: credit,
        },
        tx,
    )
    .await
    .expect("consume");
    rx
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifo_ack_requeue_and_redelivered_flag() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (_e, v) = open(dir.path()).await;
    declare(&v, QueueDef::new(qn("work"))).await;
    for i in 0..3 {
        assert_eq!(publish(&v, msg(&format!("m{i}"), "work")).await, 1);
    }
    let mut rx = consume(&v, "work", "c", 10).await;
    let a = next(&mut rx).await;
    let b = next(&mut rx).await;
    let c = next(&mut rx).await;
    assert_eq!(
        (
            &a.message.body[..],
            &b.message.body[..],
            &c.message.body[..]
        ),
        (&b"m0"[..], &b"m1"[..], &b"m2"[..])
    );
    assert!(!a.redelivered);
    a.queue.settle(vec![a.id], Outcome::Ack).await.expect("ack");
    b.queue
        .settle(vec![c.id, b.id], Outcome::Requeue)
        .await
        .expect("requeue");
    let b2 = next(&mut rx).await;
    let c2 = next(&mut rx).await;
    assert_eq!(
        &b2.message.body[..],
        b"m1",
        "requeued messages keep their order"
    );
    assert_eq!(&c2.message.body[..], b"m2");
    assert!(b2.redelivered && c2.redelivered);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credit_bounds_deliveries_and_competing_consumers_share() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (_e, v) = open(dir.path()).await;
    declare(&v, QueueDef::new(qn("q"))).await;
    for i in 0..10 {
        publish(&v, msg(&i.to_string(), "q")).await;
    }
    let mut one = consume(&v, "q", "one", 2).await;
    let mut two = consume(&v, "q", "two", 2).await;
    let mut got = vec![
        next(&mut one).await,
        next(&mut one).await,
        next(&mut two).await,
        next(&mut two).await,
    ];
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(one.try_recv().is_err(), "no credit, no delivery");
    let q = v.queue(&qn("q")).expect("queue");
    assert_eq!(q.stats().unacked, 4);
    assert_eq!(q.stats().ready, 6);
    let d = got.remove(0);
    d.queue.settle(vec![d.id], Outcome::Ack).await.expect("ack");
    d.queue.grant(Arc::from("one"), 1).await.expect("grant");
    let _ = next(&mut one).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ttl_and_reject_dead_letter_with_x_death() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (_e, v) = open(dir.path()).await;
    v.declare_exchange(ExchangeDef::new(xn("dlx"), ExchangeKind::Fanout))
        .await
        .expect("dlx");
    declare(&v, QueueDef::new(qn("dead"))).await;
    v.bind(
        Binding::new(
            xn("dlx"),
            BindingDestination::Queue(qn("dead")),
            String::new(),
            Default::default(),
        ),
        C1,
    )
    .await
    .expect("bind");
    let mut def = QueueDef::new(qn("short"));
    def.args = QueueArgs {
        message_ttl_ms: Some(50),
        dead_letter_exchange: Some(xn("dlx")),
        ..QueueArgs::default()
    };
    declare(&v, def).await;
    publish(&v, msg("expires", "short")).await;
    let mut dead = consume(&v, "dead", "d", 10).await;
    let d = next(&mut dead).await;
    assert_eq!(&d.message.body[..], b"expires");
    assert_eq!(
        d.message.headers.get_str("x-first-death-reason"),
        Some("expired")
    );
    assert_eq!(
        d.message.headers.get_str("x-first-death-queue"),
        Some("short")
    );

    // A rejection without requeue dead-letters too.
    let mut def = QueueDef::new(qn("picky"));
    def.args.dead_letter_exchange = Some(xn("dlx"));
    declare(&v, def).await;
    publish(&v, msg("refused", "picky")).await;
    let mut rx = consume(&v, "picky", "p", 1).await;
    let r = next(&mut rx).await;
    r.queue
        .settle(vec![r.id], Outcome::Reject)
        .await
        .expect("reject");
    let d = next(&mut dead).await;
    assert_eq!(&d.message.body[..], b"refused");
    assert_eq!(
        d.message.headers.get_str("x-first-death-reason"),
        Some("rejected")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn max_length_drop_head_and_reject_publish() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (_e, v) = open(dir.path()).await;
    let mut def = QueueDef::new(qn("capped"));
    def.args.max_length = Some(2);
    declare(&v, def).await;
    for b in ["a", "b", "c"] {
        publish(&v, msg(b, "capped")).await;
    }
    let first = v
        .get(&qn("capped"), true, C1)
        .await
        .expect("get")
        .expect("a message");
    assert_eq!(
        &first.message.body[..],
        b"b",
        "drop-head removed the oldest"
    );

    let mut def = QueueDef::new(qn("strict"));
    def.args.max_length = Some(1);
    def.args.overflow = Overflow::RejectPublish;
    declare(&v, def).await;
    publish(&v, msg("x", "strict")).await;
    let p = v
        .publish(
            msg("y", "strict"),
            &ExchangeName::default_exchange(),
            PublishOptions {
                confirm: true,
                mandatory: false,
            },
        )
        .await
        .expect("publish");
    assert!(
        p.confirm.expect("confirm").wait().await.is_err(),
        "reject-publish nacks"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exclusive_queue_is_locked_to_its_connection_and_dies_with_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (engine, v) = open(dir.path()).await;
    let mut def = QueueDef::new(qn("mine"));
    def.exclusive = true;
    v.declare_queue(def.clone(), C1).await.expect("declare");
    let err = v
        .declare_queue(def, C2)
        .await
        .expect_err("other connection");
    assert_eq!(err.kind(), ErrorKind::ResourceLocked);
    assert_eq!(
        v.declare_queue_passive(&qn("mine"), C2)
            .expect_err("passive")
            .kind(),
        ErrorKind::ResourceLocked
    );
    engine.connection_closed(C1).await;
    assert!(v.queue(&qn("mine")).is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redeclare_with_other_arguments_is_a_precondition_failure() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (_e, v) = open(dir.path()).await;
    declare(&v, QueueDef::new(qn("q"))).await;
    let mut other = QueueDef::new(qn("q"));
    other.durable = true;
    assert_eq!(
        v.declare_queue(other, C1)
            .await
            .expect_err("inequivalent")
            .kind(),
        ErrorKind::PreconditionFailed
    );
    let err = v
        .publish(msg("x", "k"), &xn("nope"), PublishOptions::default())
        .await
        .expect_err("unknown exchange");
    assert_eq!(err.kind(), ErrorKind::NotFound);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn durable_topology_and_persistent_messages_survive_restart_acked_ones_do_not() {
    let dir = tempfile::tempdir().expect("tempdir");
    {
        let (engine, v) = open(dir.path()).await;
        let mut def = QueueDef::new(qn("keep"));
        def.durable = true;
        declare(&v, def).await;
        v.declare_exchange(ExchangeDef::new(xn("events"), ExchangeKind::Topic))
            .await
            .expect("exchange");
        v.bind(
            Binding::new(
                xn("events"),
                BindingDestination::Queue(qn("keep")),
                "order.#",
                Default::default(),
            ),
            C1,
        )
        .await
        .expect("bind");
        for i in 0..5 {
            let p = v
                .publish(
                    persistent(&format!("p{i}"), "order.created"),
                    &xn("events"),
                    PublishOptions {
                        confirm: true,
                        mandatory: false,
                    },
                )
                .await
                .expect("publish");
            p.confirm.expect("confirm").wait().await.expect("confirmed");
        }
        publish(&v, msg("transient", "keep")).await;
        let mut rx = consume(&v, "keep", "c", 2).await;
        let a = next(&mut rx).await;
        let b = next(&mut rx).await;
        a.queue
            .settle(vec![a.id, b.id], Outcome::Ack)
            .await
            .expect("ack");
        engine.shutdown().await;
    }
    let (_engine, v) = open(dir.path()).await;
    let q = v.queue(&qn("keep")).expect("durable queue recovered");
    let mut rx = consume(&v, "keep", "c", 100).await;
    let mut bodies = Vec::new();
    for _ in 0..3 {
        bodies.push(String::from_utf8_lossy(&next(&mut rx).await.message.body).to_string());
    }
    assert_eq!(
        bodies,
        vec!["p2", "p3", "p4"],
        "acked messages stay gone; the rest in order"
    );
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(
        rx.try_recv().is_err(),
        "the transient message did not survive"
    );
    assert_eq!(q.stats().unacked, 3);
    let routed = publish(&v, persistent("again", "order.x")).await;
    assert_eq!(
        routed, 0,
        "published to the default exchange with key order.x: no such queue"
    );
    let p = v
        .publish(
            persistent("via binding", "order.y"),
            &xn("events"),
            PublishOptions::default(),
        )
        .await
        .expect("publish");
    assert_eq!(p.routed, 1, "the binding was recovered");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deep_backlog_pages_to_disk_and_comes_back_in_order() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (_e, v) = open_with(dir.path(), |c| {
        c.queue_memory_messages = 100;
        c.queue_memory_bytes = 1 << 20;
    })
    .await;
    declare(&v, QueueDef::new(qn("deep"))).await;
    let n = 5_000;
    for i in 0..n {
        let p = v
            .publish(
                msg(&format!("{i:06}"), "deep"),
                &ExchangeName::default_exchange(),
                PublishOptions::default(),
            )
            .await
            .expect("publish");
        assert_eq!(p.routed, 1);
    }
    let q = v.queue(&qn("deep")).expect("queue");
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(q.stats().ready, n);
    let mut rx = consume(&v, "deep", "c", u32::MAX).await;
    for i in 0..n {
        let d = next(&mut rx).await;
        assert_eq!(&d.message.body[..], format!("{i:06}").as_bytes());
        d.queue.settle(vec![d.id], Outcome::Ack).await.expect("ack");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_messages_and_invalid_names_are_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (_e, v) = open_with(dir.path(), |c| c.max_message_bytes = 1024).await;
    declare(&v, QueueDef::new(qn("small"))).await;
    let err = v
        .publish(
            msg(&"x".repeat(2048), "small"),
            &ExchangeName::default_exchange(),
            PublishOptions::default(),
        )
        .await
        .expect_err("too large");
    assert_eq!(err.kind(), ErrorKind::InvalidArgument);
    assert!(err.to_string().contains("exceeds the maximum"), "{err}");
    assert!(QueueName::new(&"q".repeat(256)).is_err());
    assert!(QueueName::new("").is_err());
    let err = v
        .declare_exchange(ExchangeDef::new(xn("amq.custom"), ExchangeKind::Direct))
        .await
        .expect_err("reserved prefix");
    assert_eq!(err.kind(), ErrorKind::AccessRefused);
    let err = v
        .bind(
            Binding::new(
                xn("nope"),
                BindingDestination::Queue(qn("small")),
                String::new(),
                Default::default(),
            ),
            C1,
        )
        .await
        .expect_err("unknown source");
    assert_eq!(err.kind(), ErrorKind::NotFound);
}
