//! Routing through every exchange type, exchange-to-exchange bindings, alternate
//! exchanges, mandatory returns and multi-frame bodies.

use crate::prelude::*;

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
