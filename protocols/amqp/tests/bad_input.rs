//! Hostile and broken input over a raw socket: each case gets the right close code (or
//! the protocol header), only that connection ends, and a well-behaved client on the
//! same broker keeps working throughout.

#![allow(clippy::unwrap_used)]

mod common;

use amq_protocol::frame::AMQPFrame;
use amq_protocol::protocol::{AMQPClass, basic, channel, queue};
use amq_protocol::types::{FieldTable, ShortString};
use common::{Raw, Server};
use lapin::options::{BasicGetOptions, BasicPublishOptions, QueueDeclareOptions};
use lapin::{BasicProperties, Channel};

fn method(ch: u16, class_method: [u8; 4], args: &[u8]) -> Vec<u8> {
    let mut payload = class_method.to_vec();
    payload.extend_from_slice(args);
    frame(1, ch, &payload)
}

fn frame(kind: u8, ch: u16, payload: &[u8]) -> Vec<u8> {
    let mut f = vec![kind];
    f.extend_from_slice(&ch.to_be_bytes());
    f.extend_from_slice(&(payload.len() as u32).to_be_bytes());
    f.extend_from_slice(payload);
    f.push(0xCE);
    f
}

fn publish_frame(ch: u16, queue: &str) -> AMQPFrame {
    AMQPFrame::Method(
        ch,
        AMQPClass::Basic(basic::AMQPMethod::Publish(basic::Publish {
            exchange: ShortString::from(""),
            routing_key: ShortString::from(queue),
            mandatory: false,
            immediate: false,
        })),
    )
}

/// A bystander that must not notice any of this.
async fn bystander(server: &Server) -> (lapin::Connection, Channel) {
    let conn = server.connect().await;
    let ch = conn.create_channel().await.unwrap();
    ch.queue_declare(
        "bystander",
        QueueDeclareOptions::default(),
        Default::default(),
    )
    .await
    .unwrap();
    (conn, ch)
}

async fn still_fine(ch: &Channel) {
    ch.basic_publish(
        "",
        "bystander",
        BasicPublishOptions::default(),
        b"ok",
        BasicProperties::default(),
    )
    .await
    .unwrap();
    let mut got = None;
    for _ in 0..50 {
        got = ch
            .basic_get("bystander", BasicGetOptions { no_ack: true })
            .await
            .unwrap();
        if got.is_some() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(got.unwrap().delivery.data, b"ok");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_and_wrong_protocol_headers_get_our_header() {
    let server = Server::start().await;
    let (_conn, by) = bystander(&server).await;
    for junk in [
        &b"GET / HTTP/1.1\r\n\r\n"[..],
        b"AMQP\x01\x01\x00\x09",
        b"AMQP\x00\x00\x09\x02",
        &[0xff; 64],
    ] {
        let mut raw = Raw::connect(server.addr).await;
        raw.send_bytes(junk).await;
        let answer = raw.read_to_end().await;
        assert_eq!(answer, b"AMQP\x00\x00\x09\x01", "answer to {junk:?}");
    }
    still_fine(&by).await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn frame_errors_close_with_501() {
    let server = Server::start().await;
    let (_conn, by) = bystander(&server).await;

    // A frame larger than the negotiated frame_max, refused from its header.
    let mut raw = Raw::open(server.addr).await;
    raw.send_bytes(&[3, 0, 1, 0x7f, 0xff, 0xff, 0xff]).await;
    assert_eq!(raw.connection_close_code().await, Some(501));

    // Wrong frame-end octet.
    let mut raw = Raw::open(server.addr).await;
    raw.open_channel(1).await;
    let mut f = method(1, [0, 20, 0, 20], &[1]); // channel.flow
    let last = f.len() - 1;
    f[last] = 0x00;
    raw.send_bytes(&f).await;
    assert_eq!(raw.connection_close_code().await, Some(501));

    // Unknown frame type.
    let mut raw = Raw::open(server.addr).await;
    raw.send_bytes(&frame(9, 0, b"")).await;
    assert_eq!(raw.connection_close_code().await, Some(501));

    // A heartbeat on a channel other than 0.
    let mut raw = Raw::open(server.addr).await;
    raw.send_bytes(&frame(8, 3, b"")).await;
    assert_eq!(raw.connection_close_code().await, Some(501));

    // Garbage after a good handshake.
    let mut raw = Raw::open(server.addr).await;
    raw.send_bytes(&[0xAB; 100]).await;
    assert_eq!(raw.connection_close_code().await, Some(501));

    still_fine(&by).await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn truncated_frames_end_only_that_connection() {
    let server = Server::start().await;
    let (_conn, by) = bystander(&server).await;
    let mut raw = Raw::open(server.addr).await;
    raw.open_channel(1).await;
    let f = method(1, [0, 20, 0, 20], &[1]);
    raw.send_bytes(&f[..f.len() - 3]).await;
    drop(raw);
    // And one that stops mid-header during the handshake.
    let mut raw = Raw::connect(server.addr).await;
    raw.send_bytes(b"AMQP\x00\x00\x09\x01\x01\x00").await;
    drop(raw);
    still_fine(&by).await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn content_out_of_order_is_505() {
    let server = Server::start().await;
    let (_conn, by) = bystander(&server).await;

    // A body frame with no method and header before it.
    let mut raw = Raw::open(server.addr).await;
    raw.open_channel(1).await;
    raw.send_bytes(&frame(3, 1, b"orphan body")).await;
    assert_eq!(raw.connection_close_code().await, Some(505));

    // A content header with no method before it.
    let mut raw = Raw::open(server.addr).await;
    raw.open_channel(1).await;
    let mut header = vec![0, 60, 0, 0];
    header.extend_from_slice(&5u64.to_be_bytes());
    header.extend_from_slice(&[0, 0]);
    raw.send_bytes(&frame(2, 1, &header)).await;
    assert_eq!(raw.connection_close_code().await, Some(505));

    // A method where the publish's content header should be.
    let mut raw = Raw::open(server.addr).await;
    raw.open_channel(1).await;
    raw.send(publish_frame(1, "bystander")).await;
    raw.send(publish_frame(1, "bystander")).await;
    assert_eq!(raw.connection_close_code().await, Some(505));

    // A body longer than its header announced.
    let mut raw = Raw::open(server.addr).await;
    raw.open_channel(1).await;
    raw.send(publish_frame(1, "bystander")).await;
    let mut header = vec![0, 60, 0, 0];
    header.extend_from_slice(&2u64.to_be_bytes());
    header.extend_from_slice(&[0, 0]);
    raw.send_bytes(&frame(2, 1, &header)).await;
    raw.send_bytes(&frame(3, 1, b"too long")).await;
    assert_eq!(raw.connection_close_code().await, Some(505));

    still_fine(&by).await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn methods_in_the_wrong_place() {
    let server = Server::start().await;
    let (_conn, by) = bystander(&server).await;

    // A method on a channel that was never opened: 504 CHANNEL_ERROR.
    let mut raw = Raw::open(server.addr).await;
    raw.send(AMQPFrame::Method(
        7,
        AMQPClass::Queue(queue::AMQPMethod::Declare(queue::Declare {
            queue: ShortString::from("x"),
            passive: false,
            durable: false,
            exclusive: false,
            auto_delete: false,
            nowait: false,
            arguments: FieldTable::default(),
        })),
    ))
    .await;
    assert_eq!(raw.connection_close_code().await, Some(504));

    // A method on a channel the client closed.
    let mut raw = Raw::open(server.addr).await;
    raw.open_channel(1).await;
    raw.send(AMQPFrame::Method(
        1,
        AMQPClass::Channel(channel::AMQPMethod::Close(channel::Close {
            reply_code: 200,
            reply_text: ShortString::from("bye"),
            class_id: 0,
            method_id: 0,
        })),
    ))
    .await;
    let ok = raw.frame().await;
    assert!(matches!(
        ok,
        Some(AMQPFrame::Method(
            1,
            AMQPClass::Channel(channel::AMQPMethod::CloseOk(_))
        ))
    ));
    raw.send(publish_frame(1, "bystander")).await;
    assert_eq!(raw.connection_close_code().await, Some(504));

    // Opening a channel twice.
    let mut raw = Raw::open(server.addr).await;
    raw.open_channel(1).await;
    raw.send(AMQPFrame::Method(
        1,
        AMQPClass::Channel(channel::AMQPMethod::Open(channel::Open {})),
    ))
    .await;
    assert_eq!(raw.connection_close_code().await, Some(504));

    // A channel method on channel 0, a connection method on a channel.
    let mut raw = Raw::open(server.addr).await;
    raw.send(publish_frame(0, "bystander")).await;
    assert_eq!(raw.connection_close_code().await, Some(503));
    let mut raw = Raw::open(server.addr).await;
    raw.open_channel(1).await;
    raw.send_bytes(&method(1, [0, 10, 0, 40], &[1, b'/', 0, 0]))
        .await; // connection.open
    assert_eq!(raw.connection_close_code().await, Some(503));

    // An unknown method: 540; a method whose arguments are cut short: 502.
    let mut raw = Raw::open(server.addr).await;
    raw.open_channel(1).await;
    raw.send_bytes(&method(1, [0, 60, 0, 99], &[])).await;
    assert_eq!(raw.connection_close_code().await, Some(540));
    let mut raw = Raw::open(server.addr).await;
    raw.open_channel(1).await;
    raw.send_bytes(&method(1, [0, 50, 0, 10], &[0, 0, 200]))
        .await; // queue.declare, truncated name
    assert_eq!(raw.connection_close_code().await, Some(502));
    // A field table with an unknown value type: 502.
    let mut raw = Raw::open(server.addr).await;
    raw.open_channel(1).await;
    let mut args = vec![0, 0, 1, b'q', 0];
    args.extend_from_slice(&[0, 0, 0, 3, 1, b'k', b'?']);
    raw.send_bytes(&method(1, [0, 50, 0, 10], &args)).await;
    assert_eq!(raw.connection_close_code().await, Some(502));

    still_fine(&by).await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_channel_error_keeps_other_channels_open() {
    let server = Server::start().await;
    let mut raw = Raw::open(server.addr).await;
    raw.open_channel(1).await;
    raw.open_channel(2).await;
    raw.send(AMQPFrame::Method(
        1,
        AMQPClass::Queue(queue::AMQPMethod::Declare(queue::Declare {
            queue: ShortString::from("missing"),
            passive: true,
            durable: false,
            exclusive: false,
            auto_delete: false,
            nowait: false,
            arguments: FieldTable::default(),
        })),
    ))
    .await;
    assert_eq!(raw.channel_close_code().await, Some(404));
    // Frames for the closing channel are dropped until close-ok.
    raw.send(publish_frame(1, "x")).await;
    raw.send(AMQPFrame::Method(
        1,
        AMQPClass::Channel(channel::AMQPMethod::CloseOk(channel::CloseOk {})),
    ))
    .await;
    raw.send(AMQPFrame::Method(
        2,
        AMQPClass::Queue(queue::AMQPMethod::Declare(queue::Declare {
            queue: ShortString::from("fine"),
            passive: false,
            durable: false,
            exclusive: false,
            auto_delete: false,
            nowait: false,
            arguments: FieldTable::default(),
        })),
    ))
    .await;
    let ok = raw.frame().await;
    assert!(
        matches!(
            ok,
            Some(AMQPFrame::Method(
                2,
                AMQPClass::Queue(queue::AMQPMethod::DeclareOk(_))
            ))
        ),
        "{ok:?}"
    );
    // Channel 1 can be opened again.
    raw.open_channel(1).await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_peers_are_dropped_after_two_heartbeats() {
    let server = Server::start_with(trident_amqp::AmqpConfig {
        heartbeat_secs: 1,
        ..trident_amqp::AmqpConfig::default()
    })
    .await;
    let mut raw = Raw::connect(server.addr).await;
    raw.send_bytes(b"AMQP\x00\x00\x09\x01").await;
    let _start = raw.frame().await;
    let start_ok = method(0, [0, 10, 0, 11], &{
        let mut a = vec![0, 0, 0, 0, 5];
        a.extend_from_slice(b"PLAIN");
        a.extend_from_slice(&[0, 0, 0, 12]);
        a.extend_from_slice(b"\0guest\0guest");
        a.extend_from_slice(&[5]);
        a.extend_from_slice(b"en_US");
        a
    });
    raw.send_bytes(&start_ok).await;
    let _tune = raw.frame().await;
    // tune-ok with heartbeat 1s, then open.
    let mut tune_ok = vec![0, 0];
    tune_ok.extend_from_slice(&131_072u32.to_be_bytes());
    tune_ok.extend_from_slice(&1u16.to_be_bytes());
    raw.send_bytes(&method(0, [0, 10, 0, 31], &tune_ok)).await;
    raw.send_bytes(&method(0, [0, 10, 0, 40], &[1, b'/', 0, 0]))
        .await;
    let _open_ok = raw.frame().await;
    // Say nothing: the server sends heartbeats, then gives up on us.
    let started = std::time::Instant::now();
    let mut heartbeats = 0;
    while let Some(f) = raw.frame().await {
        if matches!(f, AMQPFrame::Heartbeat) {
            heartbeats += 1;
        }
    }
    let waited = started.elapsed();
    assert!(heartbeats >= 1, "the server sends heartbeats");
    assert!(
        waited >= std::time::Duration::from_millis(1500),
        "{waited:?}"
    );
    assert!(waited <= std::time::Duration::from_secs(4), "{waited:?}");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_message_is_refused_before_buffering() {
    let server = Server::start().await;
    let mut raw = Raw::open(server.addr).await;
    raw.open_channel(1).await;
    raw.send(publish_frame(1, "q")).await;
    let mut header = vec![0, 60, 0, 0];
    header.extend_from_slice(&(u64::MAX / 2).to_be_bytes());
    header.extend_from_slice(&[0, 0]);
    raw.send_bytes(&frame(2, 1, &header)).await;
    assert_eq!(raw.channel_close_code().await, Some(406));
    server.stop().await;
}
