//! What holds publishers back: the resource alarm and publisher flow control.

use crate::prelude::*;

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
