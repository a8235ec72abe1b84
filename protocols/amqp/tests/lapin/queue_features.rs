//! Queue arguments: dead-lettering and TTL, priorities and max length, server-named
//! exclusive queues.

use crate::prelude::*;

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
    assert_eq!(code(&e), Some(404));
    server.stop().await;
}
