//! Retained messages kept by the engine (set, replace, clear, matched in reverse against
//! a filter with the `$` rule, durable), and a message enqueued straight into one queue
//! with its arrival.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::mpsc;
use trident_core::{
    Arrival, ConnectionId, ErrorKind, ExchangeDef, ExchangeKind, ExchangeName, FieldTable,
    FieldValue, MatchedBindings, Message, MqttProperties, Overflow, QueueDef, QueueName,
    TopicPattern, to_routing_key,
};
use trident_engine::{
    ConsumerEvent, ConsumerOptions, Delivery, Engine, EngineConfig, Nack, PublishOptions, Vhost,
};

const C1: ConnectionId = ConnectionId(1);

fn xn(s: &str) -> ExchangeName {
    ExchangeName::new(s).expect("exchange name")
}

fn qn(s: &str) -> QueueName {
    QueueName::new(s).expect("queue name")
}

fn filter(f: &str) -> TopicPattern {
    TopicPattern::from_filter(f, '/', "+", "#").expect("filter")
}

fn msg(body: &str) -> Message {
    Message::new(Bytes::from(body.to_string()))
}

async fn open(dir: &std::path::Path) -> (Engine, Vhost) {
    let engine = Engine::open(EngineConfig::new(dir))
        .await
        .expect("engine opens");
    let vhost = engine.vhost("/").expect("default vhost");
    (engine, vhost)
}

/// Retains `body` under the MQTT-style topic `topic`.
async fn retain(v: &Vhost, topic: &str, body: Option<&str>) {
    v.retain(&xn("amq.topic"), &to_routing_key(topic, '/'), body.map(msg))
        .await
        .expect("retain");
}

/// The topics (MQTT form) and bodies retained on amq.topic that `f` matches.
fn matching(v: &Vhost, f: &str) -> Vec<(String, String)> {
    v.retained_matching(&xn("amq.topic"), &filter(f))
        .into_iter()
        .map(|(k, m)| {
            (
                to_routing_key(&k, '/'),
                String::from_utf8_lossy(&m.body).into_owned(),
            )
        })
        .collect()
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn set_replace_clear_and_reverse_matching_with_the_dollar_rule() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (_e, v) = open(dir.path()).await;
    retain(&v, "home/kitchen/temp", Some("20")).await;
    retain(&v, "home/kitchen/temp", Some("21")).await; // replaces
    retain(&v, "home/hall/temp", Some("18")).await;
    retain(&v, "home/hall.v2/temp", Some("dot")).await; // a `.` inside a level
    retain(&v, "home", Some("root")).await;
    retain(&v, "homework/x", Some("other")).await;
    retain(&v, "$SYS/broker/uptime", Some("42")).await;
    retain(&v, "gone", Some("x")).await;
    retain(&v, "gone", None).await; // cleared by None
    retain(&v, "gone2", Some("x")).await;
    retain(&v, "gone2", Some("")).await; // cleared by an empty body

    assert_eq!(
        matching(&v, "home/+/temp"),
        pairs(&[
            ("home/hall/temp", "18"),
            ("home/hall.v2/temp", "dot"),
            ("home/kitchen/temp", "21"),
        ])
    );
    assert_eq!(
        matching(&v, "home/#"),
        pairs(&[
            ("home", "root"),
            ("home/hall/temp", "18"),
            ("home/hall.v2/temp", "dot"),
            ("home/kitchen/temp", "21"),
        ]),
        "`#` matches its parent level too, and `homework` is not under `home`"
    );
    assert_eq!(
        matching(&v, "home/hall.v2/temp"),
        pairs(&[("home/hall.v2/temp", "dot")])
    );
    let all: Vec<String> = matching(&v, "#").into_iter().map(|(t, _)| t).collect();
    assert_eq!(all.len(), 5, "{all:?}");
    assert!(
        !all.iter().any(|t| t.starts_with('$')),
        "leading wildcards skip $ topics"
    );
    assert!(matching(&v, "+/broker/uptime").is_empty());
    assert_eq!(
        matching(&v, "$SYS/#"),
        pairs(&[("$SYS/broker/uptime", "42")])
    );
    assert!(matching(&v, "gone").is_empty());
    assert!(matching(&v, "gone2").is_empty());
    // Per exchange.
    v.declare_exchange(ExchangeDef::new(xn("other"), ExchangeKind::Topic))
        .await
        .expect("exchange");
    assert!(v.retained_matching(&xn("other"), &filter("#")).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retained_messages_survive_a_restart_and_go_with_their_exchange() {
    let dir = tempfile::tempdir().expect("tempdir");
    {
        let (engine, v) = open(dir.path()).await;
        v.declare_exchange(ExchangeDef::new(xn("mqtt.x"), ExchangeKind::Topic))
            .await
            .expect("exchange");
        let mut m = msg("kept");
        m.headers.insert("h", FieldValue::I64(7));
        v.retain(&xn("mqtt.x"), "a.b", Some(m))
            .await
            .expect("retain");
        v.retain(&xn("mqtt.x"), "a.c", Some(msg("dropped")))
            .await
            .expect("retain");
        v.retain(&xn("mqtt.x"), "a.c", None).await.expect("clear");
        retain(&v, "t", Some("on amq.topic")).await;
        // Returned means durable: no shutdown.
        drop(engine);
    }
    {
        let (engine, v) = open(dir.path()).await;
        let got = v.retained_matching(&xn("mqtt.x"), &filter("a/#"));
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].0, "a.b");
        assert_eq!(got[0].1.body, Bytes::from("kept"));
        assert_eq!(got[0].1.headers.get_i64("h"), Some(7));
        assert_eq!(got[0].1.routing_key, "a.b");
        assert_eq!(v.retained_count(), 2);
        v.delete_exchange(&xn("mqtt.x"), false)
            .await
            .expect("delete exchange");
        assert_eq!(v.retained_count(), 1);
        drop(engine);
    }
    let (_engine, v) = open(dir.path()).await;
    v.declare_exchange(ExchangeDef::new(xn("mqtt.x"), ExchangeKind::Topic))
        .await
        .expect("exchange");
    assert!(
        v.retained_matching(&xn("mqtt.x"), &filter("#")).is_empty(),
        "a re-declared exchange starts without the old one's retained messages"
    );
    assert_eq!(matching(&v, "t"), pairs(&[("t", "on amq.topic")]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_retained_message_is_not_returned() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (_e, v) = open(dir.path()).await;
    let mut m = msg("short-lived");
    m.mqtt = Some(Box::new(MqttProperties {
        message_expiry_secs: Some(1),
        ..MqttProperties::default()
    }));
    // Accepted two seconds ago with a one-second lifetime.
    m.timestamp_ms -= 2_000;
    v.retain(&xn("amq.topic"), "s", Some(m))
        .await
        .expect("retain");
    let mut fresh = msg("long-lived");
    fresh.mqtt = Some(Box::new(MqttProperties {
        message_expiry_secs: Some(3600),
        ..MqttProperties::default()
    }));
    v.retain(&xn("amq.topic"), "l", Some(fresh))
        .await
        .expect("retain");
    assert_eq!(matching(&v, "+"), pairs(&[("l", "long-lived")]));
    assert_eq!(v.retained_count(), 1, "the expired one is forgotten");
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

const CONFIRM: PublishOptions = PublishOptions {
    mandatory: false,
    confirm: true,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn enqueue_puts_a_message_into_one_queue_with_its_arrival() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (_e, v) = open(dir.path()).await;
    v.declare_queue(QueueDef::new(qn("one")), C1)
        .await
        .expect("declare");
    v.declare_queue(QueueDef::new(qn("two")), C1)
        .await
        .expect("declare");
    let mut sub = FieldTable::new();
    sub.insert("qos", FieldValue::I64(1));
    let arrival = Arrival {
        matched: MatchedBindings::from_tables([Arc::new(sub)]),
        replayed: true,
    };
    let p = v
        .enqueue(&qn("one"), msg("retained"), arrival, CONFIRM)
        .await
        .expect("enqueue");
    assert_eq!(p.routed, 1);
    p.confirm.expect("confirm").wait().await.expect("confirmed");
    let mut rx = consume(&v, "one").await;
    let d = next(&mut rx).await;
    assert_eq!(d.message.body, Bytes::from("retained"));
    assert!(d.arrival.replayed);
    assert_eq!(
        d.arrival
            .matched
            .iter()
            .map(|t| t.get_i64("qos"))
            .collect::<Vec<_>>(),
        [Some(1)]
    );
    assert_eq!(
        v.queue(&qn("two")).expect("queue").stats().ready,
        0,
        "only the named queue got it"
    );
    let err = v
        .enqueue(&qn("nope"), msg("x"), Arrival::default(), CONFIRM)
        .await
        .expect_err("unknown queue");
    assert_eq!(err.kind(), ErrorKind::NotFound);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn enqueue_respects_the_queue_length_limit() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (_e, v) = open(dir.path()).await;
    let mut def = QueueDef::new(qn("full"));
    def.args.max_length = Some(1);
    def.args.overflow = Overflow::RejectPublish;
    v.declare_queue(def, C1).await.expect("declare");
    let first = v
        .enqueue(&qn("full"), msg("a"), Arrival::default(), CONFIRM)
        .await
        .expect("enqueue");
    first.confirm.expect("confirm").wait().await.expect("fits");
    let second = v
        .enqueue(&qn("full"), msg("b"), Arrival::default(), CONFIRM)
        .await
        .expect("enqueue");
    assert_eq!(
        second.confirm.expect("confirm").wait().await,
        Err(Nack::QueueFull("full".into()))
    );
}
