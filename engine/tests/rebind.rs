//! Replacing a binding by another in one step: publishes racing the replacement are
//! routed along exactly one of the two (MQTT's re-SUBSCRIBE with new options must not
//! interrupt the flow of messages), and the replacement is what survives a restart.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::mpsc;
use trident_core::{
    Binding, BindingDestination, ConnectionId, ExchangeName, FieldTable, FieldValue, Message,
    QueueDef, QueueName, TopicPattern,
};
use trident_engine::{ConsumerEvent, ConsumerOptions, Engine, EngineConfig, PublishOptions, Vhost};

const C1: ConnectionId = ConnectionId(1);

fn qn(s: &str) -> QueueName {
    QueueName::new(s).expect("queue name")
}

fn amq_topic() -> ExchangeName {
    ExchangeName::new("amq.topic").expect("exchange name")
}

fn sub(queue: &str, filter: &str, qos: i64) -> Binding {
    let mut t = FieldTable::new();
    t.insert("qos", FieldValue::I64(qos));
    Binding::with_pattern(
        amq_topic(),
        BindingDestination::Queue(qn(queue)),
        TopicPattern::from_filter(filter, '/', "+", "#").expect("filter"),
        t,
    )
}

async fn open(dir: &std::path::Path) -> (Engine, Vhost) {
    let engine = Engine::open(EngineConfig::new(dir))
        .await
        .expect("engine opens");
    let vhost = engine.vhost("/").expect("default vhost");
    (engine, vhost)
}

fn qos_args(b: &Binding) -> Option<i64> {
    b.arguments.get_i64("qos")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publishes_racing_a_replacement_take_exactly_one_of_the_bindings() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (_e, v) = open(dir.path()).await;
    v.declare_queue(QueueDef::new(qn("s")), C1)
        .await
        .expect("declare");
    v.bind(sub("s", "a/+", 1), C1).await.expect("bind");

    let n = 2000;
    let publisher = {
        let v = v.clone();
        tokio::spawn(async move {
            let mut unrouted = 0;
            for i in 0..n {
                let mut m = Message::new(Bytes::from(format!("{i}")));
                m.routing_key = "a.x".into();
                let p = v
                    .publish(m, &amq_topic(), PublishOptions::default())
                    .await
                    .expect("publish");
                if p.routed != 1 {
                    unrouted += 1;
                }
                if i % 16 == 0 {
                    tokio::task::yield_now().await;
                }
            }
            unrouted
        })
    };
    let mut qos = 1;
    let mut replacements = 0;
    loop {
        let next = 3 - qos;
        v.replace_binding(&sub("s", "a/+", qos), sub("s", "a/+", next), C1)
            .await
            .expect("replace");
        qos = next;
        replacements += 1;
        if publisher.is_finished() {
            break;
        }
    }
    println!("{replacements} replacements while {n} messages were published");
    assert_eq!(
        publisher.await.expect("publisher"),
        0,
        "never routed nowhere"
    );

    let (tx, mut rx) = mpsc::unbounded_channel();
    v.consume(
        &qn("s"),
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
    for i in 0..n {
        match tokio::time::timeout(Duration::from_secs(10), rx.recv()).await {
            Ok(Some(ConsumerEvent::Deliver(d))) => {
                assert_eq!(d.message.body, Bytes::from(format!("{i}")));
                assert_eq!(
                    d.arrival.matched.len(),
                    1,
                    "message {i} matched exactly one of the two bindings"
                );
            }
            other => panic!("expected a delivery, got {other:?}"),
        }
    }
    let bindings: Vec<Option<i64>> = v
        .bindings()
        .iter()
        .filter(|b| b.destination == BindingDestination::Queue(qn("s")))
        .map(qos_args)
        .collect();
    assert_eq!(
        bindings,
        [Some(qos)],
        "one binding left: the last replacement"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_replacement_is_what_a_restart_finds_and_a_missing_old_one_is_a_bind() {
    let dir = tempfile::tempdir().expect("tempdir");
    {
        let (engine, v) = open(dir.path()).await;
        let mut def = QueueDef::new(qn("d"));
        def.durable = true;
        v.declare_queue(def, C1).await.expect("declare");
        v.bind(sub("d", "t/#", 0), C1).await.expect("bind");
        v.replace_binding(&sub("d", "t/#", 0), sub("d", "t/#", 2), C1)
            .await
            .expect("replace");
        // Nothing to replace: binds.
        v.replace_binding(&sub("d", "u", 1), sub("d", "u", 1), C1)
            .await
            .expect("bind via replace");
        v.replace_binding(&sub("d", "w", 0), sub("d", "w", 1), C1)
            .await
            .expect("bind via replace");
        engine.shutdown().await;
    }
    let (_engine, v) = open(dir.path()).await;
    let mut found: Vec<(String, Option<i64>)> = v
        .bindings()
        .iter()
        .filter(|b| b.destination == BindingDestination::Queue(qn("d")))
        .map(|b| (b.routing_key.clone(), qos_args(b)))
        .collect();
    found.sort();
    assert_eq!(
        found,
        vec![
            ("t.#".to_string(), Some(2)),
            ("u".to_string(), Some(1)),
            ("w".to_string(), Some(1)),
        ]
    );
}
