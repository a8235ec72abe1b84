//! AMQP durability against the real broker binary and SIGKILL: a publisher keeps many
//! confirms in flight (so acknowledgements arrive as batched multiple-acks), the broker
//! is killed mid-stream and restarted on the same data directory. Every message whose
//! confirm arrived must come back, in order, exactly once; the durable exchange and its
//! binding must still route; a message delivered but not acknowledged before the kill
//! must be delivered again.

mod support;

use std::collections::VecDeque;
use std::time::Duration;

use lapin::options::{
    BasicAckOptions, BasicConsumeOptions, BasicPublishOptions, BasicQosOptions,
    ConfirmSelectOptions, ExchangeDeclareOptions, QueueBindOptions, QueueDeclareOptions,
};
use lapin::types::FieldTable;
use lapin::{BasicProperties, Connection, ConnectionProperties, ExchangeKind};
use support::Broker;

async fn next(consumer: &mut lapin::Consumer, wait: Duration) -> Option<lapin::message::Delivery> {
    use futures_core::Stream;
    use std::future::poll_fn;
    use std::pin::Pin;
    let next = poll_fn(|cx| Pin::new(&mut *consumer).poll_next(cx));
    match tokio::time::timeout(wait, next).await {
        Ok(Some(Ok(d))) => Some(d),
        _ => None,
    }
}

fn durable() -> QueueDeclareOptions {
    QueueDeclareOptions {
        durable: true,
        ..QueueDeclareOptions::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pipelined_confirms_survive_sigkill() {
    let mut broker = Broker::start();
    let uri = format!("amqp://guest:guest@{}/%2f", broker.amqp);
    let conn = Connection::connect(&uri, ConnectionProperties::default())
        .await
        .expect("connect");
    let ch = conn.create_channel().await.expect("channel");
    ch.exchange_declare(
        "durable-topic",
        ExchangeKind::Topic,
        ExchangeDeclareOptions {
            durable: true,
            ..ExchangeDeclareOptions::default()
        },
        FieldTable::default(),
    )
    .await
    .expect("exchange");
    ch.queue_declare("dq", durable(), FieldTable::default())
        .await
        .expect("queue");
    ch.queue_declare("held", durable(), FieldTable::default())
        .await
        .expect("queue");
    ch.queue_bind(
        "dq",
        "durable-topic",
        "k.#",
        QueueBindOptions::default(),
        FieldTable::default(),
    )
    .await
    .expect("bind");

    // One persistent message taken and held unacknowledged across the kill.
    let persistent = BasicProperties::default().with_delivery_mode(2);
    ch.confirm_select(ConfirmSelectOptions::default())
        .await
        .expect("confirm mode");
    ch.basic_publish(
        "",
        "held",
        BasicPublishOptions::default(),
        b"held",
        persistent.clone(),
    )
    .await
    .expect("publish")
    .await
    .expect("confirm");
    let holder = conn.create_channel().await.expect("channel");
    holder
        .basic_qos(1, BasicQosOptions::default())
        .await
        .expect("qos");
    let mut held = holder
        .basic_consume(
            "held",
            "h",
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await
        .expect("consume");
    let taken = next(&mut held, Duration::from_secs(5))
        .await
        .expect("held delivery");
    assert_eq!(taken.data, b"held");

    // Publish with up to 512 confirms in flight; kill once 3000 are confirmed.
    let pid = broker.pid().expect("running");
    let mut pending = VecDeque::new();
    let mut confirmed: i64 = -1;
    let mut seq: i64 = 0;
    let mut killed = false;
    loop {
        while pending.len() < 512 && !killed {
            let body = seq.to_be_bytes();
            match ch
                .basic_publish(
                    "durable-topic",
                    "k.x",
                    BasicPublishOptions::default(),
                    &body,
                    persistent.clone(),
                )
                .await
            {
                Ok(c) => pending.push_back((seq, c)),
                Err(_) => break,
            }
            seq += 1;
        }
        let Some((s, c)) = pending.pop_front() else {
            break;
        };
        match c.await {
            Ok(lapin::publisher_confirm::Confirmation::Ack(_)) => confirmed = s,
            _ => break,
        }
        if confirmed >= 3_000 && !killed {
            let _ = std::process::Command::new("kill")
                .arg("-9")
                .arg(pid.to_string())
                .status();
            killed = true;
        }
        assert!(seq < 1_000_000, "the broker was never killed");
    }
    assert!(confirmed >= 3_000, "confirmed only up to {confirmed}");
    drop(conn);

    broker.restart();
    let conn = Connection::connect(&uri, ConnectionProperties::default())
        .await
        .expect("reconnect");
    let ch = conn.create_channel().await.expect("channel");
    ch.basic_qos(1000, BasicQosOptions::default())
        .await
        .expect("qos");
    let mut consumer = ch
        .basic_consume(
            "dq",
            "c",
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await
        .expect("consume");
    let mut expect: i64 = 0;
    while let Some(d) = next(&mut consumer, Duration::from_secs(3)).await {
        let got = i64::from_be_bytes(d.data[..8].try_into().expect("8-byte body"));
        assert_eq!(got, expect, "messages come back in order, once each");
        expect += 1;
        d.acker.ack(BasicAckOptions::default()).await.expect("ack");
    }
    assert!(
        expect > confirmed,
        "every confirmed message survives: got {expect}, confirmed up to {confirmed}"
    );

    // The held message is back.
    let mut held = ch
        .basic_consume(
            "held",
            "h2",
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await
        .expect("consume held");
    let again = next(&mut held, Duration::from_secs(5))
        .await
        .expect("held message redelivered");
    assert_eq!(again.data, b"held");

    // The durable exchange and binding survived too.
    ch.basic_publish(
        "durable-topic",
        "k.after",
        BasicPublishOptions::default(),
        b"after",
        persistent,
    )
    .await
    .expect("publish after restart");
    let after = next(&mut consumer, Duration::from_secs(5))
        .await
        .expect("routed after restart");
    assert_eq!(after.data, b"after");
}

async fn connect(broker: &Broker) -> Connection {
    let uri = format!("amqp://guest:guest@{}/%2f", broker.amqp);
    Connection::connect(&uri, ConnectionProperties::default())
        .await
        .expect("connect")
}

/// Declares durable `queue` and publishes `n` persistent messages (body: the index as
/// 8 bytes), each confirmed before the next.
async fn fill_durable(conn: &Connection, queue: &str, n: i64) {
    let ch = conn.create_channel().await.expect("channel");
    ch.queue_declare(queue, durable(), FieldTable::default())
        .await
        .expect("queue");
    ch.confirm_select(ConfirmSelectOptions::default())
        .await
        .expect("confirm mode");
    let persistent = BasicProperties::default().with_delivery_mode(2);
    for i in 0..n {
        let confirm = ch
            .basic_publish(
                "",
                queue,
                BasicPublishOptions::default(),
                &i.to_be_bytes(),
                persistent.clone(),
            )
            .await
            .expect("publish")
            .await
            .expect("confirm");
        assert!(confirm.is_ack(), "message {i} was not confirmed");
    }
}

fn index(body: &[u8]) -> i64 {
    i64::from_be_bytes(body[..8].try_into().expect("8-byte body"))
}

/// Reads everything `queue` holds after a restart: (index, redelivered) in arrival order.
async fn read_out(conn: &Connection, queue: &str) -> Vec<(i64, bool)> {
    let ch = conn.create_channel().await.expect("channel");
    ch.basic_qos(1000, BasicQosOptions::default())
        .await
        .expect("qos");
    let mut consumer = ch
        .basic_consume(
            queue,
            "reader",
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await
        .expect("consume");
    let mut out = Vec::new();
    while let Some(d) = next(&mut consumer, Duration::from_secs(2)).await {
        out.push((index(&d.data), d.redelivered));
        d.acker.ack(BasicAckOptions::default()).await.expect("ack");
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delivered_messages_come_back_flagged_after_sigkill() {
    const TOTAL: i64 = 40;
    const PUSHED: i64 = 10;
    const GOT: i64 = 3;
    let mut broker = Broker::start();
    let conn = connect(&broker).await;
    fill_durable(&conn, "marks", TOTAL).await;

    // PUSHED deliveries to a consumer (its prefetch stops it there) and GOT basic.gets,
    // none acknowledged; the rest are never delivered.
    let ch = conn.create_channel().await.expect("channel");
    ch.basic_qos(PUSHED as u16, BasicQosOptions::default())
        .await
        .expect("qos");
    let mut consumer = ch
        .basic_consume(
            "marks",
            "c",
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await
        .expect("consume");
    for i in 0..PUSHED {
        let d = next(&mut consumer, Duration::from_secs(5))
            .await
            .expect("delivery");
        assert_eq!((index(&d.data), d.redelivered), (i, false));
    }
    let getter = conn.create_channel().await.expect("channel");
    for i in PUSHED..PUSHED + GOT {
        let d = getter
            .basic_get("marks", lapin::options::BasicGetOptions::default())
            .await
            .expect("get")
            .expect("a message to get");
        assert_eq!(
            (index(&d.delivery.data), d.delivery.redelivered),
            (i, false)
        );
    }
    // Right after the client saw the last one: nothing had time to be flushed later.
    broker.kill9();
    drop(conn);

    broker.restart();
    let conn = connect(&broker).await;
    let expected: Vec<(i64, bool)> = (0..TOTAL).map(|i| (i, i < PUSHED + GOT)).collect();
    assert_eq!(
        read_out(&conn, "marks").await,
        expected,
        "every message comes back once, in order, flagged exactly when it had been delivered"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ack_followed_by_a_round_trip_survives_sigkill() {
    const TOTAL: i64 = 300;
    let mut broker = Broker::start();
    for round in 0..2 {
        let queue = format!("acked-{round}");
        let conn = connect(&broker).await;
        fill_durable(&conn, &queue, TOTAL).await;
        let ch = conn.create_channel().await.expect("channel");
        ch.basic_qos(TOTAL as u16, BasicQosOptions::default())
            .await
            .expect("qos");
        let mut consumer = ch
            .basic_consume(
                &queue,
                "c",
                BasicConsumeOptions::default(),
                FieldTable::default(),
            )
            .await
            .expect("consume");
        let mut held = Vec::new();
        for i in 0..TOTAL {
            let d = next(&mut consumer, Duration::from_secs(5))
                .await
                .expect("delivery");
            assert_eq!(index(&d.data), i);
            held.push(d);
        }
        // Ack two thirds one by one (round 0) or with one multiple ack (round 1), then
        // one synchronous round trip, then kill at once: no time for any later flush.
        let acked = TOTAL * 2 / 3;
        if round == 0 {
            for d in &held[..acked as usize] {
                d.acker.ack(BasicAckOptions::default()).await.expect("ack");
            }
        } else {
            held[acked as usize - 1]
                .acker
                .ack(BasicAckOptions { multiple: true })
                .await
                .expect("multiple ack");
        }
        ch.basic_qos(TOTAL as u16, BasicQosOptions::default())
            .await
            .expect("qos round trip");
        broker.kill9();
        drop(held);
        drop(conn);

        broker.restart();
        let conn = connect(&broker).await;
        let expected: Vec<(i64, bool)> = (acked..TOTAL).map(|i| (i, true)).collect();
        assert_eq!(
            read_out(&conn, &queue).await,
            expected,
            "round {round}: acked messages stay gone; the unacked rest comes back flagged"
        );
    }
}
