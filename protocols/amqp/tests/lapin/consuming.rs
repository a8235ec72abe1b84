//! Consumers and settlement: prefetch, requeue, recover, get, no-ack streams,
//! cancellation on queue deletion.

use futures_util::StreamExt;

use crate::prelude::*;

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

/// The next delivery to either consumer, waiting up to `wait`.
async fn next_either(
    a: &mut lapin::Consumer,
    b: &mut lapin::Consumer,
    wait: std::time::Duration,
) -> Option<lapin::message::Delivery> {
    let either = async {
        tokio::select! {
            Some(Ok(d)) = a.next() => Some(d),
            Some(Ok(d)) = b.next() => Some(d),
            else => None,
        }
    };
    tokio::time::timeout(wait, either).await.ok().flatten()
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
    // Three fit the channel's budget, whichever queue they come from; waiting for them
    // has no time limit short enough to fail on a loaded machine.
    let mut held = Vec::new();
    while held.len() < 3 {
        held.push(
            next_either(&mut c1, &mut c2, WAIT)
                .await
                .expect("deliveries up to the channel's prefetch"),
        );
    }
    assert!(
        next_either(&mut c1, &mut c2, SHORT).await.is_none(),
        "a fourth delivery exceeds the channel's prefetch of 3"
    );
    // The rest arrives as acks free the budget. Everything in one round is unacked at
    // once, so a round of more than three would break the channel limit.
    let mut received = held.len();
    while received < 6 {
        // One ack per delivery: lapin drops the deliveries it has buffered when it
        // sends `basic.ack(0, multiple)`, including any the broker sent after it made
        // room with that very ack (what made this test fail now and then).
        for d in held.drain(..) {
            d.acker.ack(BasicAckOptions::default()).await.unwrap();
        }
        held.push(
            next_either(&mut c1, &mut c2, WAIT)
                .await
                .expect("acks free the channel's budget for the other queue"),
        );
        while received + held.len() < 6
            && let Some(d) = next_either(&mut c1, &mut c2, SHORT).await
        {
            held.push(d);
        }
        assert!(held.len() <= 3, "{} unacked at once", held.len());
        received += held.len();
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
