//! Publisher confirms, reject-publish overflow and transactions.

use crate::prelude::*;

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
