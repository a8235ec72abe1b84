//! Reply codes where RabbitMQ raises them: channel errors close the channel and leave
//! the connection usable; connection errors close both; exclusive queues are locked.

use crate::prelude::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn channel_errors_have_rabbitmq_codes_and_spare_the_connection() {
    let server = Server::start().await;
    let conn = server.connect().await;

    // 404: passive declare of a missing queue and exchange.
    let ch = conn.create_channel().await.unwrap();
    assert_eq!(
        declare(&ch, "missing", passive(), FieldTable::default()).await,
        Err(Some(404))
    );
    let ch = conn.create_channel().await.unwrap();
    let e = ch
        .exchange_declare(
            "missing-x",
            ExchangeKind::Direct,
            ExchangeDeclareOptions {
                passive: true,
                ..ExchangeDeclareOptions::default()
            },
            FieldTable::default(),
        )
        .await
        .unwrap_err();
    assert_eq!(code(&e), Some(404));

    // 404: publish to a missing exchange (reported asynchronously as a channel close).
    let ch = conn.create_channel().await.unwrap();
    ch.confirm_select(ConfirmSelectOptions::default())
        .await
        .unwrap();
    let r = ch
        .basic_publish(
            "no-such-x",
            "k",
            BasicPublishOptions::default(),
            b"x",
            BasicProperties::default(),
        )
        .await;
    let failed = match r {
        Ok(c) => c.await.is_err(),
        Err(_) => true,
    };
    assert!(failed);
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    assert!(!ch.status().connected());

    // 406: redeclare with different properties or arguments.
    let ch = conn.create_channel().await.unwrap();
    declare(
        &ch,
        "q406",
        QueueDeclareOptions::default(),
        FieldTable::default(),
    )
    .await
    .unwrap();
    let durable = QueueDeclareOptions {
        durable: true,
        ..QueueDeclareOptions::default()
    };
    assert_eq!(
        declare(&ch, "q406", durable, FieldTable::default()).await,
        Err(Some(406))
    );
    let ch = conn.create_channel().await.unwrap();
    assert_eq!(
        declare(
            &ch,
            "q406",
            QueueDeclareOptions::default(),
            arg("x-max-length", AMQPValue::LongInt(5))
        )
        .await,
        Err(Some(406))
    );

    // 406: invalid queue arguments.
    let ch = conn.create_channel().await.unwrap();
    assert_eq!(
        declare(
            &ch,
            "bad-ttl",
            QueueDeclareOptions::default(),
            arg("x-message-ttl", AMQPValue::LongInt(-1))
        )
        .await,
        Err(Some(406))
    );
    let ch = conn.create_channel().await.unwrap();
    assert_eq!(
        declare(
            &ch,
            "bad-prio",
            QueueDeclareOptions::default(),
            arg("x-max-priority", AMQPValue::LongInt(1000))
        )
        .await,
        Err(Some(406))
    );

    // 406: unknown delivery tag.
    let ch = conn.create_channel().await.unwrap();
    let w = watcher(&ch).await;
    ch.basic_ack(99, BasicAckOptions::default()).await.unwrap();
    assert_eq!(closed_with(w).await, Some(406));

    // 406: invalid per-message TTL.
    let ch = conn.create_channel().await.unwrap();
    let w = watcher(&ch).await;
    ch.basic_publish(
        "",
        "q406",
        BasicPublishOptions::default(),
        b"x",
        BasicProperties::default().with_expiration("soon".into()),
    )
    .await
    .unwrap();
    assert_eq!(closed_with(w).await, Some(406));

    // 406: tx.commit on a channel that is not transactional; confirm after tx.
    let ch = conn.create_channel().await.unwrap();
    assert_eq!(code(&ch.tx_commit().await.unwrap_err()), Some(406));
    let ch = conn.create_channel().await.unwrap();
    ch.tx_select().await.unwrap();
    let e = ch
        .confirm_select(ConfirmSelectOptions::default())
        .await
        .unwrap_err();
    assert_eq!(code(&e), Some(406));

    // 403: reserved names.
    let ch = conn.create_channel().await.unwrap();
    assert_eq!(
        declare(
            &ch,
            "amq.mine",
            QueueDeclareOptions::default(),
            FieldTable::default()
        )
        .await,
        Err(Some(403))
    );
    let ch = conn.create_channel().await.unwrap();
    let e = ch
        .exchange_declare(
            "amq.mine",
            ExchangeKind::Direct,
            ExchangeDeclareOptions::default(),
            FieldTable::default(),
        )
        .await
        .unwrap_err();
    assert_eq!(code(&e), Some(403));
    let ch = conn.create_channel().await.unwrap();
    let e = ch
        .exchange_delete("amq.direct", ExchangeDeleteOptions::default())
        .await
        .unwrap_err();
    assert_eq!(code(&e), Some(403));

    // 406: inequivalent exchange redeclare; delete if-unused of a used exchange.
    let ch = conn.create_channel().await.unwrap();
    ch.exchange_declare(
        "xe",
        ExchangeKind::Direct,
        ExchangeDeclareOptions::default(),
        FieldTable::default(),
    )
    .await
    .unwrap();
    let e = ch
        .exchange_declare(
            "xe",
            ExchangeKind::Fanout,
            ExchangeDeclareOptions::default(),
            FieldTable::default(),
        )
        .await
        .unwrap_err();
    assert_eq!(code(&e), Some(406));
    let ch = conn.create_channel().await.unwrap();
    ch.queue_bind(
        "q406",
        "xe",
        "k",
        QueueBindOptions::default(),
        FieldTable::default(),
    )
    .await
    .unwrap();
    let e = ch
        .exchange_delete(
            "xe",
            ExchangeDeleteOptions {
                if_unused: true,
                ..Default::default()
            },
        )
        .await
        .unwrap_err();
    assert_eq!(code(&e), Some(406));

    // 404: bind to a missing exchange or queue.
    let ch = conn.create_channel().await.unwrap();
    let e = ch
        .queue_bind(
            "q406",
            "nope",
            "k",
            QueueBindOptions::default(),
            FieldTable::default(),
        )
        .await
        .unwrap_err();
    assert_eq!(code(&e), Some(404));
    let ch = conn.create_channel().await.unwrap();
    let e = ch
        .queue_bind(
            "nope",
            "xe",
            "k",
            QueueBindOptions::default(),
            FieldTable::default(),
        )
        .await
        .unwrap_err();
    assert_eq!(code(&e), Some(404));

    // 406: the reply-to consumer must be no-ack; publishing with reply-to needs one.
    let ch = conn.create_channel().await.unwrap();
    let e = ch
        .basic_consume(
            "amq.rabbitmq.reply-to",
            "r",
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await
        .unwrap_err();
    assert_eq!(code(&e), Some(406));
    let ch = conn.create_channel().await.unwrap();
    let w = watcher(&ch).await;
    ch.basic_publish(
        "",
        "q406",
        BasicPublishOptions::default(),
        b"x",
        BasicProperties::default().with_reply_to("amq.rabbitmq.reply-to".into()),
    )
    .await
    .unwrap();
    assert_eq!(closed_with(w).await, Some(406));

    // After all of that the connection still works.
    let ch = conn.create_channel().await.unwrap();
    declare(&ch, "q406", passive(), FieldTable::default())
        .await
        .unwrap();
    assert!(conn.status().connected());
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exclusive_queues_are_locked_to_their_connection() {
    let server = Server::start().await;
    let owner = server.connect().await;
    let ch = owner.create_channel().await.unwrap();
    let exclusive = QueueDeclareOptions {
        exclusive: true,
        ..QueueDeclareOptions::default()
    };
    declare(&ch, "mine", exclusive, FieldTable::default())
        .await
        .unwrap();

    let other = server.connect().await;
    let ch2 = other.create_channel().await.unwrap();
    assert_eq!(
        declare(&ch2, "mine", passive(), FieldTable::default()).await,
        Err(Some(405))
    );
    let ch2 = other.create_channel().await.unwrap();
    let e = ch2
        .basic_consume(
            "mine",
            "c",
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await
        .unwrap_err();
    assert_eq!(code(&e), Some(405));
    let ch2 = other.create_channel().await.unwrap();
    let e = ch2
        .queue_delete("mine", QueueDeleteOptions::default())
        .await
        .unwrap_err();
    assert_eq!(code(&e), Some(405));

    // An exclusive consumer keeps others off a shared queue: 403 as in RabbitMQ.
    declare(
        &ch,
        "shared",
        QueueDeclareOptions::default(),
        FieldTable::default(),
    )
    .await
    .unwrap();
    // Held: lapin cancels a consumer whose handle is dropped.
    let _solo = ch
        .basic_consume(
            "shared",
            "solo",
            BasicConsumeOptions {
                exclusive: true,
                ..BasicConsumeOptions::default()
            },
            FieldTable::default(),
        )
        .await
        .unwrap();
    let ch2 = other.create_channel().await.unwrap();
    let e = ch2
        .basic_consume(
            "shared",
            "c",
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await
        .unwrap_err();
    assert_eq!(code(&e), Some(403));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connection_errors_close_the_connection() {
    let server = Server::start().await;

    // 530: reusing a consumer tag on a channel.
    let conn = server.connect().await;
    let ch = conn.create_channel().await.unwrap();
    declare(
        &ch,
        "q",
        QueueDeclareOptions::default(),
        FieldTable::default(),
    )
    .await
    .unwrap();
    let _held = ch
        .basic_consume(
            "q",
            "tag",
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await
        .unwrap();
    let e = ch
        .basic_consume(
            "q",
            "tag",
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await
        .unwrap_err();
    assert_eq!(code(&e), Some(530));
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    assert!(!conn.status().connected());

    // 503: unknown exchange type.
    let conn = server.connect().await;
    let ch = conn.create_channel().await.unwrap();
    let e = ch
        .exchange_declare(
            "weird",
            ExchangeKind::Custom("x-weird".into()),
            ExchangeDeclareOptions::default(),
            FieldTable::default(),
        )
        .await
        .unwrap_err();
    assert_eq!(code(&e), Some(503));

    // 540: basic.recover with requeue=false is not implemented (as in RabbitMQ).
    let conn = server.connect().await;
    let ch = conn.create_channel().await.unwrap();
    ch.basic_qos(1, BasicQosOptions::default()).await.unwrap();
    let e = ch
        .basic_recover(BasicRecoverOptions { requeue: false })
        .await
        .unwrap_err();
    assert_eq!(code(&e), Some(540));
    server.stop().await;
}
