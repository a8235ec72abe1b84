//! Durable topology and persistent messages survive a broker restart (engine closed
//! and reopened on the same directory); transient ones do not.

#![allow(clippy::unwrap_used)]

mod common;

use common::{Server, WAIT, next};
use lapin::options::*;
use lapin::types::FieldTable;
use lapin::{BasicProperties, ExchangeKind};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn durable_queue_and_persistent_messages_survive_restart() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start_in(dir.path(), trident_amqp::AmqpConfig::default()).await;
    {
        let conn = server.connect().await;
        let ch = conn.create_channel().await.unwrap();
        ch.confirm_select(ConfirmSelectOptions::default())
            .await
            .unwrap();
        let durable = QueueDeclareOptions {
            durable: true,
            ..QueueDeclareOptions::default()
        };
        ch.queue_declare("keep", durable, FieldTable::default())
            .await
            .unwrap();
        ch.queue_declare(
            "forget",
            QueueDeclareOptions::default(),
            FieldTable::default(),
        )
        .await
        .unwrap();
        ch.exchange_declare(
            "durable-x",
            ExchangeKind::Topic,
            ExchangeDeclareOptions {
                durable: true,
                ..ExchangeDeclareOptions::default()
            },
            FieldTable::default(),
        )
        .await
        .unwrap();
        ch.queue_bind(
            "keep",
            "durable-x",
            "k.#",
            QueueBindOptions::default(),
            FieldTable::default(),
        )
        .await
        .unwrap();
        let persistent = BasicProperties::default().with_delivery_mode(2);
        for (body, props) in [
            (&b"persistent-1"[..], persistent.clone()),
            (b"transient", BasicProperties::default()),
            (b"persistent-2", persistent.clone()),
        ] {
            let confirm = ch
                .basic_publish(
                    "durable-x",
                    "k.x",
                    BasicPublishOptions::default(),
                    body,
                    props,
                )
                .await
                .unwrap()
                .await
                .unwrap();
            assert!(confirm.is_ack());
        }
        // A persistent message taken but not acked before the restart comes back.
        let mut consumer = ch
            .basic_consume(
                "keep",
                "c",
                BasicConsumeOptions::default(),
                FieldTable::default(),
            )
            .await
            .unwrap();
        let first = next(&mut consumer, WAIT).await.unwrap();
        assert_eq!(first.data, b"persistent-1");
    }
    server.stop().await;

    let server = Server::start_in(dir.path(), trident_amqp::AmqpConfig::default()).await;
    let conn = server.connect().await;
    let ch = conn.create_channel().await.unwrap();
    let passive = QueueDeclareOptions {
        passive: true,
        ..QueueDeclareOptions::default()
    };
    let q = ch
        .queue_declare("keep", passive, FieldTable::default())
        .await
        .unwrap();
    assert_eq!(q.message_count(), 2);
    let e = ch
        .queue_declare("forget", passive, FieldTable::default())
        .await
        .unwrap_err();
    assert_eq!(common::code(&e), Some(404));
    let ch = conn.create_channel().await.unwrap();
    let mut consumer = ch
        .basic_consume(
            "keep",
            "c",
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await
        .unwrap();
    let a = next(&mut consumer, WAIT).await.unwrap();
    let b = next(&mut consumer, WAIT).await.unwrap();
    assert_eq!(a.data, b"persistent-1");
    assert_eq!(b.data, b"persistent-2");
    // The durable binding still routes.
    ch.basic_publish(
        "durable-x",
        "k.y",
        BasicPublishOptions::default(),
        b"after",
        BasicProperties::default(),
    )
    .await
    .unwrap();
    let c = next(&mut consumer, WAIT).await.unwrap();
    assert_eq!(c.data, b"after");
    server.stop().await;
}
