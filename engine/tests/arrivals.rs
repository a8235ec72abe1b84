//! Matched bindings reach the consumer: every delivery carries the arguments of the
//! bindings of its queue that the message matched, in memory, after paging and after a
//! restart. (An adapter derives per-subscription options from them, e.g. MQTT's granted
//! QoS as the maximum over overlapping subscriptions.)

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::mpsc;
use trident_core::{
    Binding, BindingDestination, ConnectionId, DeliveryMode, ExchangeName, FieldTable, FieldValue,
    Message, NO_LOCAL_ORIGIN_ARG, QueueDef, QueueName, TopicPattern,
};
use trident_engine::{
    ConsumerEvent, ConsumerOptions, Delivery, Engine, EngineConfig, PublishOptions, Vhost,
};

const C1: ConnectionId = ConnectionId(1);

fn qn(s: &str) -> QueueName {
    QueueName::new(s).expect("queue name")
}

fn topic_exchange() -> ExchangeName {
    ExchangeName::new("amq.topic").expect("exchange name")
}

fn args(qos: i64) -> FieldTable {
    let mut t = FieldTable::new();
    t.insert("qos", FieldValue::I64(qos));
    t
}

fn filter(f: &str) -> TopicPattern {
    TopicPattern::from_filter(f, '/', "+", "#").expect("filter")
}

async fn open(dir: &std::path::Path, tweak: impl FnOnce(&mut EngineConfig)) -> (Engine, Vhost) {
    let mut cfg = EngineConfig::new(dir);
    tweak(&mut cfg);
    let engine = Engine::open(cfg).await.expect("engine opens");
    let vhost = engine.vhost("/").expect("default vhost");
    (engine, vhost)
}

async fn bind(v: &Vhost, queue: &str, f: &str, table: FieldTable) {
    v.bind(
        Binding::with_pattern(
            topic_exchange(),
            BindingDestination::Queue(qn(queue)),
            filter(f),
            table,
        ),
        C1,
    )
    .await
    .expect("bind");
}

async fn publish(v: &Vhost, body: &str, key: &str, origin: Option<&str>) -> usize {
    let mut m = Message::new(Bytes::from(body.to_string()));
    m.routing_key = key.to_string();
    m.delivery_mode = DeliveryMode::Persistent;
    m.origin = origin.map(Arc::from);
    let p = v
        .publish(
            m,
            &topic_exchange(),
            PublishOptions {
                confirm: true,
                mandatory: false,
            },
        )
        .await
        .expect("publish");
    p.confirm.expect("confirm").wait().await.expect("confirmed");
    p.routed
}

async fn consume(v: &Vhost, queue: &str) -> mpsc::UnboundedReceiver<ConsumerEvent> {
    let (tx, rx) = mpsc::unbounded_channel();
    v.consume(
        &qn(queue),
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
    .expect("consume");
    rx
}

async fn next(rx: &mut mpsc::UnboundedReceiver<ConsumerEvent>) -> Delivery {
    match tokio::time::timeout(Duration::from_secs(10), rx.recv()).await {
        Ok(Some(ConsumerEvent::Deliver(d))) => d,
        other => panic!("expected a delivery, got {other:?}"),
    }
}

/// The `qos` values of a delivery's matched bindings, sorted.
fn qos_of(d: &Delivery) -> Vec<i64> {
    let mut v: Vec<i64> = d
        .arrival
        .matched
        .iter()
        .filter_map(|t| t.get_i64("qos"))
        .collect();
    v.sort_unstable();
    v
}

fn body(d: &Delivery) -> String {
    String::from_utf8_lossy(&d.message.body).into_owned()
}

async fn durable_queue(v: &Vhost, name: &str) {
    let mut def = QueueDef::new(qn(name));
    def.durable = true;
    v.declare_queue(def, C1).await.expect("declare");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn overlapping_bindings_all_reach_the_delivery_and_survive_a_restart() {
    let dir = tempfile::tempdir().expect("tempdir");
    {
        let (engine, v) = open(dir.path(), |_| {}).await;
        durable_queue(&v, "session").await;
        bind(&v, "session", "a/+", args(1)).await;
        bind(&v, "session", "a/#", args(2)).await;
        bind(&v, "session", "b/c", args(0)).await;
        // Routed once to the queue, with both matching bindings.
        assert_eq!(publish(&v, "both", "a.x", None).await, 1);
        assert_eq!(publish(&v, "one", "a.x.y", None).await, 1);
        assert_eq!(publish(&v, "zero", "b.c", None).await, 1);

        let mut rx = consume(&v, "session").await;
        let d = next(&mut rx).await;
        assert_eq!((body(&d), qos_of(&d)), ("both".into(), vec![1, 2]));
        assert!(!d.arrival.replayed);
        let d = next(&mut rx).await;
        assert_eq!((body(&d), qos_of(&d)), ("one".into(), vec![2]));
        let d = next(&mut rx).await;
        assert_eq!((body(&d), qos_of(&d)), ("zero".into(), vec![0]));
        // Unacknowledged at shutdown: all three come back after the restart.
        engine.shutdown().await;
    }
    let (_engine, v) = open(dir.path(), |_| {}).await;
    let mut rx = consume(&v, "session").await;
    let got: Vec<(String, Vec<i64>, bool)> = [
        next(&mut rx).await,
        next(&mut rx).await,
        next(&mut rx).await,
    ]
    .iter()
    .map(|d| (body(d), qos_of(d), d.redelivered))
    .collect();
    assert_eq!(
        got,
        vec![
            ("both".into(), vec![1, 2], true),
            ("one".into(), vec![2], true),
            ("zero".into(), vec![0], true),
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn arrivals_survive_paging_under_a_deep_backlog() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (_engine, v) = open(dir.path(), |c| {
        c.queue_memory_messages = 10;
    })
    .await;
    // A transient queue pages too (to its temporary store).
    v.declare_queue(QueueDef::new(qn("deep")), C1)
        .await
        .expect("declare");
    bind(&v, "deep", "t/+", args(1)).await;
    bind(&v, "deep", "t/odd", args(2)).await;
    let n = 200;
    for i in 0..n {
        let key = if i % 2 == 1 { "t.odd" } else { "t.even" };
        assert_eq!(publish(&v, &format!("{i}"), key, None).await, 1);
    }
    let mut rx = consume(&v, "deep").await;
    for i in 0..n {
        let d = next(&mut rx).await;
        assert_eq!(body(&d), i.to_string(), "in order");
        let want = if i % 2 == 1 { vec![1, 2] } else { vec![1] };
        assert_eq!(qos_of(&d), want, "message {i}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_bindings_give_plain_arrivals_and_no_local_bindings_are_not_listed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (_engine, v) = open(dir.path(), |_| {}).await;
    v.declare_queue(QueueDef::new(qn("q")), C1)
        .await
        .expect("declare");
    bind(&v, "q", "plain/#", FieldTable::new()).await;
    let mut no_local = args(1);
    no_local.insert(NO_LOCAL_ORIGIN_ARG, FieldValue::from("me"));
    bind(&v, "q", "x/#", no_local).await;
    bind(&v, "q", "x/y", args(2)).await;

    assert_eq!(publish(&v, "plain", "plain.a", None).await, 1);
    // From "me": the no-local binding skips it, the other still matches.
    assert_eq!(publish(&v, "mine", "x.y", Some("me")).await, 1);
    assert_eq!(publish(&v, "theirs", "x.y", Some("you")).await, 1);
    // Only the no-local binding would match, and it skips: not routed at all.
    assert_eq!(publish(&v, "dropped", "x.z", Some("me")).await, 0);

    let mut rx = consume(&v, "q").await;
    let d = next(&mut rx).await;
    assert_eq!(body(&d), "plain");
    assert!(
        d.arrival.is_plain(),
        "bindings without arguments report none"
    );
    let d = next(&mut rx).await;
    assert_eq!((body(&d), qos_of(&d)), ("mine".into(), vec![2]));
    let d = next(&mut rx).await;
    assert_eq!((body(&d), qos_of(&d)), ("theirs".into(), vec![1, 2]));
}
