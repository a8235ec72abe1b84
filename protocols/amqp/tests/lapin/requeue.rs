//! Requeued messages go back to their original position in the queue, as RabbitMQ keeps
//! it, whatever the order and batching of the settlements: one nack per read forward
//! and reversed, `multiple`, reject, a closed channel, a lost connection.

use amq_protocol::frame::AMQPFrame;
use amq_protocol::protocol::{AMQPClass, basic};
use amq_protocol::types::ShortString as AmqShortString;

use crate::common::Raw;
use crate::prelude::*;

const HELD: usize = 7;
const TOTAL: u8 = 10;

/// A queue holding m0..m9, in that order.
async fn filled(ch: &Channel, name: &str) {
    queue(ch, name).await;
    for i in 0..TOTAL {
        publish(ch, "", name, format!("m{i}").as_bytes()).await;
    }
}

/// Takes the first `HELD` messages with basic.get (unacknowledged).
async fn take(ch: &Channel, q: &str) -> Vec<lapin::message::BasicGetMessage> {
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    let mut out = Vec::new();
    for i in 0..HELD {
        let m = ch
            .basic_get(q, BasicGetOptions { no_ack: false })
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("message {i} is there"));
        assert_eq!(m.delivery.data, format!("m{i}").as_bytes());
        out.push(m);
    }
    out
}

/// Everything in the queue, with its redelivered flag.
async fn contents(ch: &Channel, q: &str) -> Vec<(String, bool)> {
    let mut out = Vec::new();
    while let Some(m) = ch
        .basic_get(q, BasicGetOptions { no_ack: true })
        .await
        .unwrap()
    {
        out.push((
            String::from_utf8(m.delivery.data.clone()).unwrap(),
            m.delivery.redelivered,
        ));
    }
    out
}

/// m0..m9 in order, the first `HELD` flagged as redelivered.
fn original_order() -> Vec<(String, bool)> {
    (0..TOTAL)
        .map(|i| (format!("m{i}"), usize::from(i) < HELD))
        .collect()
}

async fn nack_each(held: &[lapin::message::BasicGetMessage], order: &[usize]) {
    for &i in order {
        held[i]
            .delivery
            .acker
            .nack(BasicNackOptions {
                multiple: false,
                requeue: true,
            })
            .await
            .unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_nack_per_read_forward_and_reversed() {
    let server = Server::start().await;
    let conn = server.connect().await;
    let ch = conn.create_channel().await.unwrap();
    let forward: Vec<usize> = (0..HELD).collect();
    let reversed: Vec<usize> = (0..HELD).rev().collect();
    let shuffled = vec![3, 0, 6, 1, 5, 2, 4];
    for (name, order) in [("fwd", forward), ("rev", reversed), ("mix", shuffled)] {
        filled(&ch, name).await;
        let held = take(&ch, name).await;
        nack_each(&held, &order).await;
        assert_eq!(
            contents(&ch, name).await,
            original_order(),
            "nack order {order:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_consumer_closed_by_nacking_one_by_one() {
    // What client iterators do when they are closed: cancel, then nack each message
    // they still hold, in the order they got them.
    let server = Server::start().await;
    let conn = server.connect().await;
    let ch = conn.create_channel().await.unwrap();
    filled(&ch, "it").await;
    ch.basic_qos(HELD as u16, BasicQosOptions::default())
        .await
        .unwrap();
    let mut consumer = ch
        .basic_consume(
            "it",
            "iter",
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await
        .unwrap();
    let mut held = Vec::new();
    for i in 0..HELD {
        let d = next(&mut consumer, WAIT).await.unwrap();
        assert_eq!(d.data, format!("m{i}").as_bytes());
        held.push(d);
    }
    ch.basic_cancel("iter", BasicCancelOptions::default())
        .await
        .unwrap();
    for d in &held {
        d.acker
            .nack(BasicNackOptions {
                multiple: false,
                requeue: true,
            })
            .await
            .unwrap();
    }
    assert_eq!(contents(&ch, "it").await, original_order());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn multiple_nacks_and_rejects_in_any_batching() {
    let server = Server::start().await;
    let conn = server.connect().await;
    let ch = conn.create_channel().await.unwrap();
    filled(&ch, "mul").await;
    let held = take(&ch, "mul").await;
    // m4 alone, then m5 by reject, then everything up to m6 at once (m0..m3, m6).
    nack_each(&held, &[4]).await;
    held[5]
        .delivery
        .acker
        .reject(BasicRejectOptions { requeue: true })
        .await
        .unwrap();
    held[6]
        .delivery
        .acker
        .nack(BasicNackOptions {
            multiple: true,
            requeue: true,
        })
        .await
        .unwrap();
    assert_eq!(contents(&ch, "mul").await, original_order());

    filled(&ch, "rej").await;
    let held = take(&ch, "rej").await;
    for i in [6, 2, 0, 5, 1, 4, 3] {
        held[i]
            .delivery
            .acker
            .reject(BasicRejectOptions { requeue: true })
            .await
            .unwrap();
    }
    assert_eq!(contents(&ch, "rej").await, original_order());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn closing_the_channel_puts_the_rest_back_in_place() {
    let server = Server::start().await;
    let conn = server.connect().await;
    let ch = conn.create_channel().await.unwrap();
    filled(&ch, "cc").await;
    let holder = conn.create_channel().await.unwrap();
    let held = take(&holder, "cc").await;
    // Two come back early; closing the channel returns the other five.
    nack_each(&held, &[5, 1]).await;
    holder.close(200, "bye").await.unwrap();
    assert_eq!(contents(&ch, "cc").await, original_order());
}

/// basic.get on a raw connection, which the test then drops without closing it.
async fn raw_get(raw: &mut Raw, q: &str) {
    raw.send(AMQPFrame::Method(
        1,
        AMQPClass::Basic(basic::AMQPMethod::Get(basic::Get {
            queue: AmqShortString::from(q),
            no_ack: false,
        })),
    ))
    .await;
    // get-ok, content header, body.
    match raw.frame().await {
        Some(AMQPFrame::Method(1, AMQPClass::Basic(basic::AMQPMethod::GetOk(_)))) => {}
        other => panic!("expected get-ok, got {other:?}"),
    }
    assert!(matches!(raw.frame().await, Some(AMQPFrame::Header(..))));
    assert!(matches!(raw.frame().await, Some(AMQPFrame::Body(..))));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_connection_puts_everything_back_in_place() {
    let server = Server::start().await;
    let conn = server.connect().await;
    let ch = conn.create_channel().await.unwrap();
    filled(&ch, "lost").await;
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    let mut raw = Raw::open(server.addr).await;
    raw.open_channel(1).await;
    for _ in 0..HELD {
        raw_get(&mut raw, "lost").await;
    }
    // No connection.close: the socket just goes.
    drop(raw);
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    assert_eq!(contents(&ch, "lost").await, original_order());
}
