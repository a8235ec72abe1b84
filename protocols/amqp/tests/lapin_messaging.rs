//! End-to-end messaging with a real client (lapin) over TCP against the in-process
//! broker: exchange types, confirms, returns, prefetch, requeue, TTL, dead-lettering,
//! transactions, direct reply-to.

#![allow(clippy::unwrap_used)]

mod common;

use common::{SHORT, Server, WAIT, next};
use lapin::options::*;
use lapin::types::{AMQPValue, FieldTable, LongString, ShortString};
use lapin::{BasicProperties, Channel, ExchangeKind};

fn args(entries: &[(&str, AMQPValue)]) -> FieldTable {
    let mut t = FieldTable::default();
    for (k, v) in entries {
        t.insert(ShortString::from(*k), v.clone());
    }
    t
}

fn s(v: &str) -> AMQPValue {
    AMQPValue::LongString(LongString::from(v))
}

async fn queue(ch: &Channel, name: &str) {
    ch.queue_declare(name, QueueDeclareOptions::default(), FieldTable::default())
        .await
        .unwrap();
}

async fn publish(ch: &Channel, exchange: &str, key: &str, body: &[u8]) {
    ch.basic_publish(
        exchange,
        key,
        BasicPublishOptions::default(),
        body,
        BasicProperties::default(),
    )
    .await
    .unwrap();
}

/// Bodies currently in a queue, drained with basic.get.
async fn drain(ch: &Channel, q: &str) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    // Publishes are asynchronous: give the queue a moment to have them all.
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    while let Some(m) = ch
        .basic_get(q, BasicGetOptions { no_ack: true })
        .await
        .unwrap()
    {
        out.push(m.delivery.data.clone());
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn default_exchange_roundtrip_keeps_properties() {
    let server = Server::start().await;
    let conn = server.connect().await;
    let ch = conn.create_channel().await.unwrap();
    queue(&ch, "q1").await;
    let mut headers = FieldTable::default();
    headers.insert("k".into(), AMQPValue::LongLongInt(42));
    headers.insert("s".into(), s("v"));
    let props = BasicProperties::default()
        .with_content_type("text/plain".into())
        .with_correlation_id("c-1".into())
        .with_message_id("m-1".into())
        .with_delivery_mode(2)
        .with_priority(3)
        .with_timestamp(1_700_000_000)
        .with_app_id("tests".into())
        .with_headers(headers.clone());
    ch.basic_publish("", "q1", BasicPublishOptions::default(), b"hello", props)
        .await
        .unwrap();
    let mut consumer = ch
        .basic_consume(
            "q1",
            "c1",
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await
        .unwrap();
    let d = next(&mut consumer, WAIT).await.unwrap();
    assert_eq!(d.data, b"hello");
    assert_eq!(d.routing_key.as_str(), "q1");
    assert_eq!(d.exchange.as_str(), "");
    assert!(!d.redelivered);
    let p = &d.properties;
    assert_eq!(
        p.content_type().as_ref().map(|s| s.as_str()),
        Some("text/plain")
    );
    assert_eq!(p.correlation_id().as_ref().map(|s| s.as_str()), Some("c-1"));
    assert_eq!(p.message_id().as_ref().map(|s| s.as_str()), Some("m-1"));
    assert_eq!(*p.delivery_mode(), Some(2));
    assert_eq!(*p.priority(), Some(3));
    assert_eq!(*p.timestamp(), Some(1_700_000_000));
    assert_eq!(p.headers().as_ref(), Some(&headers));
    d.acker.ack(BasicAckOptions::default()).await.unwrap();
    conn.close(200, "bye").await.unwrap();
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_exchange_type_routes() {
    let server = Server::start().await;
    let conn = server.connect().await;
    let ch = conn.create_channel().await.unwrap();
    let opts = ExchangeDeclareOptions::default();
    ch.exchange_declare(
        "x.direct",
        ExchangeKind::Direct,
        opts,
        FieldTable::default(),
    )
    .await
    .unwrap();
    ch.exchange_declare(
        "x.fanout",
        ExchangeKind::Fanout,
        opts,
        FieldTable::default(),
    )
    .await
    .unwrap();
    ch.exchange_declare("x.topic", ExchangeKind::Topic, opts, FieldTable::default())
        .await
        .unwrap();
    ch.exchange_declare(
        "x.headers",
        ExchangeKind::Headers,
        opts,
        FieldTable::default(),
    )
    .await
    .unwrap();
    for q in ["qa", "qb", "qc"] {
        queue(&ch, q).await;
    }
    let bind = |q: &'static str, x: &'static str, k: &'static str, a: FieldTable| {
        let ch = ch.clone();
        async move {
            ch.queue_bind(q, x, k, QueueBindOptions::default(), a)
                .await
                .unwrap()
        }
    };
    bind("qa", "x.direct", "red", FieldTable::default()).await;
    bind("qb", "x.direct", "blue", FieldTable::default()).await;
    bind("qa", "x.fanout", "", FieldTable::default()).await;
    bind("qb", "x.fanout", "", FieldTable::default()).await;
    bind("qa", "x.topic", "a.*.c", FieldTable::default()).await;
    bind("qb", "x.topic", "a.#", FieldTable::default()).await;
    bind("qc", "x.topic", "#.z", FieldTable::default()).await;
    bind(
        "qa",
        "x.headers",
        "",
        args(&[("x-match", s("all")), ("h1", s("1")), ("h2", s("2"))]),
    )
    .await;
    bind(
        "qb",
        "x.headers",
        "",
        args(&[("x-match", s("any")), ("h1", s("1")), ("h2", s("2"))]),
    )
    .await;

    publish(&ch, "x.direct", "red", b"d-red").await;
    publish(&ch, "x.direct", "blue", b"d-blue").await;
    publish(&ch, "x.direct", "green", b"d-green").await;
    publish(&ch, "x.fanout", "whatever", b"f").await;
    publish(&ch, "x.topic", "a.b.c", b"t-abc").await;
    publish(&ch, "x.topic", "a.z", b"t-az").await;
    publish(&ch, "x.topic", "x.y.z", b"t-xyz").await;
    let with_headers = |h: FieldTable| BasicProperties::default().with_headers(h);
    ch.basic_publish(
        "x.headers",
        "",
        BasicPublishOptions::default(),
        b"h-both",
        with_headers(args(&[("h1", s("1")), ("h2", s("2"))])),
    )
    .await
    .unwrap();
    ch.basic_publish(
        "x.headers",
        "",
        BasicPublishOptions::default(),
        b"h-one",
        with_headers(args(&[("h1", s("1"))])),
    )
    .await
    .unwrap();

    let qa = drain(&ch, "qa").await;
    let qb = drain(&ch, "qb").await;
    let qc = drain(&ch, "qc").await;
    let strs = |v: Vec<Vec<u8>>| {
        v.into_iter()
            .map(|b| String::from_utf8(b).unwrap())
            .collect::<Vec<_>>()
    };
    assert_eq!(strs(qa), ["d-red", "f", "t-abc", "h-both"]);
    assert_eq!(
        strs(qb),
        ["d-blue", "f", "t-abc", "t-az", "h-both", "h-one"]
    );
    assert_eq!(strs(qc), ["t-az", "t-xyz"]);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn predeclared_exchanges_exist_and_route() {
    let server = Server::start().await;
    let conn = server.connect().await;
    let ch = conn.create_channel().await.unwrap();
    // The deprecated access class is answered, as RabbitMQ does, for old clients.
    ch.access_request("/data", AccessRequestOptions::default())
        .await
        .unwrap();
    let passive = ExchangeDeclareOptions {
        passive: true,
        ..ExchangeDeclareOptions::default()
    };
    for (name, kind) in [
        ("amq.direct", ExchangeKind::Direct),
        ("amq.fanout", ExchangeKind::Fanout),
        ("amq.topic", ExchangeKind::Topic),
        ("amq.headers", ExchangeKind::Headers),
        ("amq.match", ExchangeKind::Headers),
    ] {
        ch.exchange_declare(name, kind, passive, FieldTable::default())
            .await
            .unwrap_or_else(|e| panic!("{name}: {e}"));
    }
    queue(&ch, "qt").await;
    ch.queue_bind(
        "qt",
        "amq.topic",
        "logs.#",
        QueueBindOptions::default(),
        FieldTable::default(),
    )
    .await
    .unwrap();
    publish(&ch, "amq.topic", "logs.app.error", b"boom").await;
    assert_eq!(drain(&ch, "qt").await, [b"boom".to_vec()]);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exchange_to_exchange_and_alternate_exchange() {
    let server = Server::start().await;
    let conn = server.connect().await;
    let ch = conn.create_channel().await.unwrap();
    let opts = ExchangeDeclareOptions::default();
    ch.exchange_declare(
        "unrouted",
        ExchangeKind::Fanout,
        opts,
        FieldTable::default(),
    )
    .await
    .unwrap();
    ch.exchange_declare(
        "front",
        ExchangeKind::Direct,
        opts,
        args(&[("alternate-exchange", s("unrouted"))]),
    )
    .await
    .unwrap();
    ch.exchange_declare("back", ExchangeKind::Topic, opts, FieldTable::default())
        .await
        .unwrap();
    ch.exchange_bind(
        "back",
        "front",
        "k",
        ExchangeBindOptions::default(),
        FieldTable::default(),
    )
    .await
    .unwrap();
    queue(&ch, "via-e2e").await;
    queue(&ch, "via-ae").await;
    ch.queue_bind(
        "via-e2e",
        "back",
        "#",
        QueueBindOptions::default(),
        FieldTable::default(),
    )
    .await
    .unwrap();
    ch.queue_bind(
        "via-ae",
        "unrouted",
        "",
        QueueBindOptions::default(),
        FieldTable::default(),
    )
    .await
    .unwrap();
    publish(&ch, "front", "k", b"bound").await;
    publish(&ch, "front", "nope", b"alternate").await;
    assert_eq!(drain(&ch, "via-e2e").await, [b"bound".to_vec()]);
    assert_eq!(drain(&ch, "via-ae").await, [b"alternate".to_vec()]);
    ch.exchange_unbind(
        "back",
        "front",
        "k",
        ExchangeUnbindOptions::default(),
        FieldTable::default(),
    )
    .await
    .unwrap();
    publish(&ch, "front", "k", b"now-alternate").await;
    assert_eq!(drain(&ch, "via-ae").await, [b"now-alternate".to_vec()]);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publisher_confirms_ack_everything() {
    let server = Server::start().await;
    let conn = server.connect().await;
    let ch = conn.create_channel().await.unwrap();
    ch.confirm_select(ConfirmSelectOptions::default())
        .await
        .unwrap();
    ch.queue_declare(
        "durable-q",
        QueueDeclareOptions {
            durable: true,
            ..QueueDeclareOptions::default()
        },
        FieldTable::default(),
    )
    .await
    .unwrap();
    let mut pending = Vec::new();
    for i in 0..2000u32 {
        let props = BasicProperties::default().with_delivery_mode(if i % 2 == 0 { 2 } else { 1 });
        let c = ch
            .basic_publish(
                "",
                "durable-q",
                BasicPublishOptions::default(),
                &i.to_be_bytes(),
                props,
            )
            .await
            .unwrap();
        pending.push(c);
    }
    // Unroutable publishes are confirmed too.
    pending.push(
        ch.basic_publish(
            "",
            "nowhere",
            BasicPublishOptions::default(),
            b"x",
            BasicProperties::default(),
        )
        .await
        .unwrap(),
    );
    for c in pending {
        assert!(c.await.unwrap().is_ack());
    }
    let q = ch
        .queue_declare(
            "durable-q",
            QueueDeclareOptions {
                passive: true,
                ..QueueDeclareOptions::default()
            },
            FieldTable::default(),
        )
        .await
        .unwrap();
    assert_eq!(q.message_count(), 2000);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reject_publish_overflow_is_nacked() {
    let server = Server::start().await;
    let conn = server.connect().await;
    let ch = conn.create_channel().await.unwrap();
    ch.confirm_select(ConfirmSelectOptions::default())
        .await
        .unwrap();
    ch.queue_declare(
        "bounded",
        QueueDeclareOptions::default(),
        args(&[
            ("x-max-length", AMQPValue::LongInt(2)),
            ("x-overflow", s("reject-publish")),
        ]),
    )
    .await
    .unwrap();
    let mut results = Vec::new();
    for i in 0..4u8 {
        let c = ch
            .basic_publish(
                "",
                "bounded",
                BasicPublishOptions::default(),
                &[i],
                BasicProperties::default(),
            )
            .await
            .unwrap();
        results.push(c.await.unwrap().is_ack());
    }
    assert_eq!(results, [true, true, false, false]);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mandatory_unroutable_is_returned() {
    let server = Server::start().await;
    let conn = server.connect().await;
    let ch = conn.create_channel().await.unwrap();
    ch.confirm_select(ConfirmSelectOptions::default())
        .await
        .unwrap();
    let confirm = ch
        .basic_publish(
            "amq.direct",
            "no-such-binding",
            BasicPublishOptions {
                mandatory: true,
                ..BasicPublishOptions::default()
            },
            b"lost",
            BasicProperties::default().with_message_id("m".into()),
        )
        .await
        .unwrap()
        .await
        .unwrap();
    assert!(confirm.is_ack());
    let returned = confirm.take_message().expect("the message comes back");
    assert_eq!(returned.reply_code, 312);
    assert_eq!(returned.delivery.data, b"lost");
    assert_eq!(returned.delivery.exchange.as_str(), "amq.direct");
    assert_eq!(returned.delivery.routing_key.as_str(), "no-such-binding");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prefetch_bounds_unacked_deliveries() {
    let server = Server::start().await;
    let conn = server.connect().await;
    let ch = conn.create_channel().await.unwrap();
    queue(&ch, "pq").await;
    for i in 0..5u8 {
        publish(&ch, "", "pq", &[i]).await;
    }
    ch.basic_qos(2, BasicQosOptions::default()).await.unwrap();
    let mut consumer = ch
        .basic_consume(
            "pq",
            "c",
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await
        .unwrap();
    let a = next(&mut consumer, WAIT).await.unwrap();
    let b = next(&mut consumer, WAIT).await.unwrap();
    assert!(
        next(&mut consumer, SHORT).await.is_none(),
        "a third delivery exceeds prefetch 2"
    );
    a.acker.ack(BasicAckOptions::default()).await.unwrap();
    let c = next(&mut consumer, WAIT).await.unwrap();
    assert!(next(&mut consumer, SHORT).await.is_none());
    // One multiple-ack frees two slots.
    c.acker
        .ack(BasicAckOptions { multiple: true })
        .await
        .unwrap();
    let _ = b;
    let d = next(&mut consumer, WAIT).await.unwrap();
    let e = next(&mut consumer, WAIT).await.unwrap();
    assert_eq!((d.data[0], e.data[0]), (3, 4));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn global_prefetch_is_shared_by_the_channel() {
    let server = Server::start().await;
    let conn = server.connect().await;
    let ch = conn.create_channel().await.unwrap();
    queue(&ch, "g1").await;
    queue(&ch, "g2").await;
    for i in 0..3u8 {
        publish(&ch, "", "g1", &[i]).await;
        publish(&ch, "", "g2", &[i]).await;
    }
    ch.basic_qos(3, BasicQosOptions { global: true })
        .await
        .unwrap();
    let mut c1 = ch
        .basic_consume(
            "g1",
            "c1",
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await
        .unwrap();
    let mut c2 = ch
        .basic_consume(
            "g2",
            "c2",
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await
        .unwrap();
    let mut got = Vec::new();
    while let Some(d) = next(&mut c1, SHORT).await {
        got.push(d);
    }
    while let Some(d) = next(&mut c2, SHORT).await {
        got.push(d);
    }
    assert_eq!(got.len(), 3, "three unacked at most across the channel");
    ch.basic_ack(0, BasicAckOptions { multiple: true })
        .await
        .unwrap();
    // The rest arrives as acks free the budget, never more than three at a time.
    let mut received = got.len();
    let mut outstanding = Vec::new();
    for _ in 0..50 {
        while let Some(d) = next(&mut c1, std::time::Duration::from_millis(50)).await {
            outstanding.push(d);
        }
        while let Some(d) = next(&mut c2, std::time::Duration::from_millis(50)).await {
            outstanding.push(d);
        }
        assert!(outstanding.len() <= 3);
        received += outstanding.len();
        for d in outstanding.drain(..) {
            d.acker.ack(BasicAckOptions::default()).await.unwrap();
        }
        if received == 6 {
            break;
        }
    }
    assert_eq!(received, 6);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nack_requeue_redelivers_with_the_flag() {
    let server = Server::start().await;
    let conn = server.connect().await;
    let ch = conn.create_channel().await.unwrap();
    queue(&ch, "rq").await;
    publish(&ch, "", "rq", b"again").await;
    let mut consumer = ch
        .basic_consume(
            "rq",
            "c",
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await
        .unwrap();
    let first = next(&mut consumer, WAIT).await.unwrap();
    assert!(!first.redelivered);
    first
        .acker
        .nack(BasicNackOptions {
            requeue: true,
            ..BasicNackOptions::default()
        })
        .await
        .unwrap();
    let second = next(&mut consumer, WAIT).await.unwrap();
    assert!(second.redelivered);
    assert_eq!(second.data, b"again");
    second
        .acker
        .reject(BasicRejectOptions { requeue: true })
        .await
        .unwrap();
    let third = next(&mut consumer, WAIT).await.unwrap();
    assert!(third.redelivered);
    third.acker.ack(BasicAckOptions::default()).await.unwrap();
    assert!(next(&mut consumer, SHORT).await.is_none());
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recover_requeues_unacked() {
    let server = Server::start().await;
    let conn = server.connect().await;
    let ch = conn.create_channel().await.unwrap();
    queue(&ch, "recq").await;
    publish(&ch, "", "recq", b"m").await;
    let mut consumer = ch
        .basic_consume(
            "recq",
            "c",
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await
        .unwrap();
    let first = next(&mut consumer, WAIT).await.unwrap();
    assert!(!first.redelivered);
    ch.basic_recover(BasicRecoverOptions { requeue: true })
        .await
        .unwrap();
    let again = next(&mut consumer, WAIT).await.unwrap();
    assert!(again.redelivered);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rejected_and_expired_messages_are_dead_lettered() {
    let server = Server::start().await;
    let conn = server.connect().await;
    let ch = conn.create_channel().await.unwrap();
    ch.exchange_declare(
        "dlx",
        ExchangeKind::Direct,
        ExchangeDeclareOptions::default(),
        FieldTable::default(),
    )
    .await
    .unwrap();
    queue(&ch, "dead").await;
    ch.queue_bind(
        "dead",
        "dlx",
        "dead-key",
        QueueBindOptions::default(),
        FieldTable::default(),
    )
    .await
    .unwrap();
    ch.queue_declare(
        "work",
        QueueDeclareOptions::default(),
        args(&[
            ("x-dead-letter-exchange", s("dlx")),
            ("x-dead-letter-routing-key", s("dead-key")),
        ]),
    )
    .await
    .unwrap();
    ch.queue_declare(
        "short-lived",
        QueueDeclareOptions::default(),
        args(&[
            ("x-message-ttl", AMQPValue::LongInt(50)),
            ("x-dead-letter-exchange", s("dlx")),
            ("x-dead-letter-routing-key", s("dead-key")),
        ]),
    )
    .await
    .unwrap();

    publish(&ch, "", "work", b"rejected").await;
    let got = ch
        .basic_get("work", BasicGetOptions::default())
        .await
        .unwrap()
        .expect("a message");
    got.delivery
        .acker
        .reject(BasicRejectOptions { requeue: false })
        .await
        .unwrap();
    publish(&ch, "", "short-lived", b"expired").await;
    // Per-message TTL on a queue without one.
    ch.basic_publish(
        "",
        "work",
        BasicPublishOptions::default(),
        b"message-ttl",
        BasicProperties::default().with_expiration("30".into()),
    )
    .await
    .unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    // Expired heads are found when the queue is next looked at.
    assert!(
        ch.basic_get("work", BasicGetOptions::default())
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        ch.basic_get("short-lived", BasicGetOptions::default())
            .await
            .unwrap()
            .is_none()
    );
    let mut consumer = ch
        .basic_consume(
            "dead",
            "c",
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await
        .unwrap();
    let mut bodies = Vec::new();
    for _ in 0..3 {
        let d = next(&mut consumer, WAIT).await.expect("a dead letter");
        let death = d
            .properties
            .headers()
            .as_ref()
            .and_then(|h| h.inner().get("x-death").cloned());
        assert!(death.is_some(), "x-death header on {:?}", d.data);
        assert_eq!(d.routing_key.as_str(), "dead-key");
        bodies.push(String::from_utf8(d.data.clone()).unwrap());
    }
    bodies.sort();
    assert_eq!(bodies, ["expired", "message-ttl", "rejected"]);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_get_empty_purge_and_delete_counts() {
    let server = Server::start().await;
    let conn = server.connect().await;
    let ch = conn.create_channel().await.unwrap();
    queue(&ch, "gq").await;
    assert!(
        ch.basic_get("gq", BasicGetOptions::default())
            .await
            .unwrap()
            .is_none()
    );
    for i in 0..3u8 {
        publish(&ch, "", "gq", &[i]).await;
    }
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    let m = ch
        .basic_get("gq", BasicGetOptions::default())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(m.message_count, 2);
    m.delivery
        .acker
        .ack(BasicAckOptions::default())
        .await
        .unwrap();
    publish(&ch, "", "gq", b"x").await;
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    let purged = ch
        .queue_purge("gq", QueuePurgeOptions::default())
        .await
        .unwrap();
    assert_eq!(purged, 3);
    publish(&ch, "", "gq", b"y").await;
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    let deleted = ch
        .queue_delete("gq", QueueDeleteOptions::default())
        .await
        .unwrap();
    assert_eq!(deleted, 1);
    // Deleting again is not an error.
    assert_eq!(
        ch.queue_delete("gq", QueueDeleteOptions::default())
            .await
            .unwrap(),
        0
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transactions_commit_and_roll_back() {
    let server = Server::start().await;
    let conn = server.connect().await;
    let ch = conn.create_channel().await.unwrap();
    queue(&ch, "txq").await;
    ch.tx_select().await.unwrap();
    publish(&ch, "", "txq", b"rolled-back").await;
    ch.tx_rollback().await.unwrap();
    publish(&ch, "", "txq", b"committed").await;
    assert!(
        ch.basic_get("txq", BasicGetOptions { no_ack: true })
            .await
            .unwrap()
            .is_none()
    );
    ch.tx_commit().await.unwrap();
    let m = ch
        .basic_get("txq", BasicGetOptions::default())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(m.delivery.data, b"committed");
    // An ack inside a transaction takes effect only at commit.
    m.delivery
        .acker
        .ack(BasicAckOptions::default())
        .await
        .unwrap();
    ch.tx_rollback().await.unwrap();
    ch.basic_recover(BasicRecoverOptions { requeue: true })
        .await
        .unwrap();
    let again = ch
        .basic_get("txq", BasicGetOptions::default())
        .await
        .unwrap()
        .unwrap();
    assert!(again.delivery.redelivered);
    again
        .delivery
        .acker
        .ack(BasicAckOptions::default())
        .await
        .unwrap();
    ch.tx_commit().await.unwrap();
    ch.basic_recover(BasicRecoverOptions { requeue: true })
        .await
        .unwrap();
    assert!(
        ch.basic_get("txq", BasicGetOptions::default())
            .await
            .unwrap()
            .is_none()
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn direct_reply_to_rpc() {
    let server = Server::start().await;
    let conn = server.connect().await;
    let client = conn.create_channel().await.unwrap();
    let server_conn = server.connect().await;
    let worker = server_conn.create_channel().await.unwrap();
    queue(&worker, "rpc").await;
    let mut requests = worker
        .basic_consume(
            "rpc",
            "w",
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await
        .unwrap();
    let mut replies = client
        .basic_consume(
            "amq.rabbitmq.reply-to",
            "r",
            BasicConsumeOptions {
                no_ack: true,
                ..BasicConsumeOptions::default()
            },
            FieldTable::default(),
        )
        .await
        .unwrap();
    client
        .basic_publish(
            "",
            "rpc",
            BasicPublishOptions::default(),
            b"ping",
            BasicProperties::default()
                .with_reply_to("amq.rabbitmq.reply-to".into())
                .with_correlation_id("42".into()),
        )
        .await
        .unwrap();
    let req = next(&mut requests, WAIT).await.unwrap();
    let reply_to = req.properties.reply_to().clone().unwrap();
    assert!(
        reply_to.as_str().starts_with("amq.rabbitmq.reply-to."),
        "{reply_to:?}"
    );
    worker
        .basic_publish(
            "",
            reply_to.as_str(),
            BasicPublishOptions::default(),
            b"pong",
            BasicProperties::default().with_correlation_id("42".into()),
        )
        .await
        .unwrap();
    req.acker.ack(BasicAckOptions::default()).await.unwrap();
    let reply = next(&mut replies, WAIT).await.unwrap();
    assert_eq!(reply.data, b"pong");
    assert_eq!(
        reply
            .properties
            .correlation_id()
            .as_ref()
            .map(|s| s.as_str()),
        Some("42")
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_named_exclusive_queue() {
    let server = Server::start().await;
    let conn = server.connect().await;
    let ch = conn.create_channel().await.unwrap();
    let q = ch
        .queue_declare(
            "",
            QueueDeclareOptions {
                exclusive: true,
                ..QueueDeclareOptions::default()
            },
            FieldTable::default(),
        )
        .await
        .unwrap();
    assert!(q.name().as_str().starts_with("amq.gen-"), "{}", q.name());
    publish(&ch, "", q.name().as_str(), b"to-me").await;
    assert_eq!(drain(&ch, q.name().as_str()).await, [b"to-me".to_vec()]);
    // Exclusive queues die with their connection.
    let name = q.name().to_string();
    conn.close(200, "bye").await.unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let other = server.connect().await.create_channel().await.unwrap();
    let e = other
        .queue_declare(
            &name,
            QueueDeclareOptions {
                passive: true,
                ..QueueDeclareOptions::default()
            },
            FieldTable::default(),
        )
        .await
        .unwrap_err();
    assert_eq!(common::code(&e), Some(404));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn consumers_hear_about_queue_deletion() {
    let server = Server::start().await;
    let conn = server.connect().await;
    let ch = conn.create_channel().await.unwrap();
    queue(&ch, "doomed").await;
    let mut consumer = ch
        .basic_consume(
            "doomed",
            "c",
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await
        .unwrap();
    let other = conn.create_channel().await.unwrap();
    other
        .queue_delete("doomed", QueueDeleteOptions::default())
        .await
        .unwrap();
    // lapin ends the consumer stream when the broker cancels it.
    let end = tokio::time::timeout(WAIT, futures_util::StreamExt::next(&mut consumer)).await;
    assert!(matches!(end, Ok(None)), "{end:?}");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_messages_span_frames() {
    let server = Server::start().await;
    let conn = server.connect().await;
    let ch = conn.create_channel().await.unwrap();
    queue(&ch, "big").await;
    let body: Vec<u8> = (0..1_000_000u32).map(|i| (i % 251) as u8).collect();
    publish(&ch, "", "big", &body).await;
    let mut consumer = ch
        .basic_consume(
            "big",
            "c",
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await
        .unwrap();
    let d = next(&mut consumer, WAIT).await.unwrap();
    assert_eq!(d.data, body);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn priorities_and_max_length() {
    let server = Server::start().await;
    let conn = server.connect().await;
    let ch = conn.create_channel().await.unwrap();
    ch.queue_declare(
        "prio",
        QueueDeclareOptions::default(),
        args(&[("x-max-priority", AMQPValue::ShortShortUInt(9))]),
    )
    .await
    .unwrap();
    for p in [1u8, 9, 5] {
        ch.basic_publish(
            "",
            "prio",
            BasicPublishOptions::default(),
            &[p],
            BasicProperties::default().with_priority(p),
        )
        .await
        .unwrap();
    }
    assert_eq!(drain(&ch, "prio").await, [vec![9], vec![5], vec![1]]);
    ch.queue_declare(
        "capped",
        QueueDeclareOptions::default(),
        args(&[("x-max-length", AMQPValue::LongInt(2))]),
    )
    .await
    .unwrap();
    for i in 0..4u8 {
        publish(&ch, "", "capped", &[i]).await;
    }
    // drop-head keeps the newest.
    assert_eq!(drain(&ch, "capped").await, [vec![2], vec![3]]);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_ack_consumer_gets_a_stream_larger_than_its_window() {
    let server = Server::start_with(trident_amqp::AmqpConfig {
        no_ack_window: 10,
        ..trident_amqp::AmqpConfig::default()
    })
    .await;
    let conn = server.connect().await;
    let ch = conn.create_channel().await.unwrap();
    queue(&ch, "stream").await;
    for i in 0..500u32 {
        publish(&ch, "", "stream", &i.to_be_bytes()).await;
    }
    let mut consumer = ch
        .basic_consume(
            "stream",
            "c",
            BasicConsumeOptions {
                no_ack: true,
                ..BasicConsumeOptions::default()
            },
            FieldTable::default(),
        )
        .await
        .unwrap();
    for i in 0..500u32 {
        let d = next(&mut consumer, WAIT)
            .await
            .unwrap_or_else(|| panic!("delivery {i}"));
        assert_eq!(d.data, i.to_be_bytes());
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resource_alarm_blocks_publishers() {
    let (alarm, rx) = tokio::sync::watch::channel(None);
    let server = Server::start_with_alarm(rx).await;
    let conn = server.connect().await;
    let ch = conn.create_channel().await.unwrap();
    queue(&ch, "alarmed").await;
    publish(&ch, "", "alarmed", b"before").await;
    alarm.send(Some("low on memory".into())).unwrap();
    // This connection has published, so it is the one being held back.
    let deadline = std::time::Instant::now() + WAIT;
    while !conn.status().blocked() && std::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert!(
        conn.status().blocked(),
        "connection.blocked reached the client"
    );
    // A consumer on another connection keeps receiving while publishers are blocked.
    let other = server.connect().await;
    let och = other.create_channel().await.unwrap();
    let mut consumer = och
        .basic_consume(
            "alarmed",
            "c",
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await
        .unwrap();
    assert_eq!(next(&mut consumer, WAIT).await.unwrap().data, b"before");
    alarm.send(None).unwrap();
    let deadline = std::time::Instant::now() + WAIT;
    while conn.status().blocked() && std::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert!(
        !conn.status().blocked(),
        "connection.unblocked reached the client"
    );
    publish(&ch, "", "alarmed", b"after").await;
    assert_eq!(next(&mut consumer, WAIT).await.unwrap().data, b"after");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publishers_are_paused_while_consumers_fall_behind() {
    let server = Server::start_with(trident_amqp::AmqpConfig {
        flow_backlog: 50,
        ..trident_amqp::AmqpConfig::default()
    })
    .await;
    let consumer_conn = server.connect().await;
    let cch = consumer_conn.create_channel().await.unwrap();
    queue(&cch, "slow").await;
    cch.basic_qos(1, BasicQosOptions::default()).await.unwrap();
    // Takes one message and never acknowledges it: the queue cannot drain.
    let mut consumer = cch
        .basic_consume(
            "slow",
            "c",
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await
        .unwrap();

    let publisher = server.connect().await;
    let pch = publisher.create_channel().await.unwrap();
    let body = vec![7u8; 1024];
    let total = 20_000u32;
    let publishing = tokio::spawn(async move {
        for _ in 0..total {
            if pch
                .basic_publish(
                    "",
                    "slow",
                    BasicPublishOptions::default(),
                    &body,
                    BasicProperties::default(),
                )
                .await
                .is_err()
            {
                break;
            }
        }
        pch
    });
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    let q = server
        .engine
        .vhost("/")
        .unwrap()
        .queue(&trident_core::QueueName::new("slow").unwrap())
        .unwrap();
    let backlog = q.stats().ready;
    assert!(
        backlog < u64::from(total) / 2,
        "the publisher was not held back: {backlog} ready"
    );
    // Once nobody consumes, holding the publisher back would not help: it resumes.
    let first = next(&mut consumer, WAIT).await.unwrap();
    first.acker.ack(BasicAckOptions::default()).await.unwrap();
    drop(consumer);
    cch.close(200, "bye").await.unwrap();
    let _pch = tokio::time::timeout(std::time::Duration::from_secs(30), publishing)
        .await
        .expect("the publisher finishes once the pause ends")
        .unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(q.stats().ready, u64::from(total) - 1);
    server.stop().await;
}
