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
