//! Direct reply-to.

use crate::prelude::*;

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
