//! Unbinding what does not exist succeeds (unbind-ok), for both unbind methods, as in
//! RabbitMQ: client RPC helpers unbind during cleanup, after auto-delete already took
//! the queue, and their close must not fail.

use crate::prelude::*;

async fn unbind_queue(ch: &Channel, q: &str, x: &str, key: &str) -> Result<(), Option<u16>> {
    ch.queue_unbind(q, x, key, FieldTable::default())
        .await
        .map_err(|e| code(&e))
}

async fn unbind_exchange(ch: &Channel, dest: &str, src: &str) -> Result<(), Option<u16>> {
    ch.exchange_unbind(
        dest,
        src,
        "k",
        ExchangeUnbindOptions::default(),
        FieldTable::default(),
    )
    .await
    .map_err(|e| code(&e))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queue_unbind_of_anything_missing_is_ok() {
    let server = Server::start().await;
    let conn = server.connect().await;
    let ch = conn.create_channel().await.unwrap();
    queue(&ch, "here").await;
    assert_eq!(
        unbind_queue(&ch, "no-such-queue", "amq.direct", "k").await,
        Ok(())
    );
    assert_eq!(
        unbind_queue(&ch, "here", "no-such-exchange", "k").await,
        Ok(())
    );
    assert_eq!(
        unbind_queue(&ch, "here", "amq.direct", "never-bound").await,
        Ok(())
    );
    assert_eq!(unbind_queue(&ch, "gone", "gone-too", "k").await, Ok(()));
    // The channel is still open, and a real binding still unbinds.
    ch.queue_bind(
        "here",
        "amq.direct",
        "k",
        QueueBindOptions::default(),
        FieldTable::default(),
    )
    .await
    .unwrap();
    assert_eq!(unbind_queue(&ch, "here", "amq.direct", "k").await, Ok(()));
    publish(&ch, "amq.direct", "k", b"unrouted").await;
    assert!(drain(&ch, "here").await.is_empty(), "the binding is gone");
    // The default exchange stays off limits (403), as in RabbitMQ.
    assert_eq!(unbind_queue(&ch, "here", "", "here").await, Err(Some(403)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unbind_after_auto_delete_took_the_queue() {
    let server = Server::start().await;
    let conn = server.connect().await;
    let ch = conn.create_channel().await.unwrap();
    let q = ch
        .queue_declare(
            "",
            QueueDeclareOptions {
                auto_delete: true,
                ..QueueDeclareOptions::default()
            },
            FieldTable::default(),
        )
        .await
        .unwrap();
    let name = q.name().as_str().to_string();
    ch.queue_bind(
        &name,
        "amq.topic",
        "rpc.#",
        QueueBindOptions::default(),
        FieldTable::default(),
    )
    .await
    .unwrap();
    ch.basic_consume(
        &name,
        "rpc",
        BasicConsumeOptions::default(),
        FieldTable::default(),
    )
    .await
    .unwrap();
    ch.basic_cancel("rpc", BasicCancelOptions::default())
        .await
        .unwrap();
    // The last consumer left: the queue and its binding go (the deletion runs on its
    // own, so look until it has). Then the cleanup unbinds.
    let mut gone = false;
    for _ in 0..100 {
        let probe = conn.create_channel().await.unwrap();
        match probe
            .queue_declare(&name, passive(), FieldTable::default())
            .await
        {
            Err(e) if code(&e) == Some(404) => {
                gone = true;
                break;
            }
            _ => tokio::time::sleep(std::time::Duration::from_millis(20)).await,
        }
    }
    assert!(gone, "the auto-delete queue went away");
    let ch = conn.create_channel().await.unwrap();
    assert_eq!(unbind_queue(&ch, &name, "amq.topic", "rpc.#").await, Ok(()));
    queue(&ch, "still-usable").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exchange_unbind_of_anything_missing_is_ok() {
    let server = Server::start().await;
    let conn = server.connect().await;
    let ch = conn.create_channel().await.unwrap();
    ch.exchange_declare(
        "src",
        ExchangeKind::Direct,
        ExchangeDeclareOptions::default(),
        FieldTable::default(),
    )
    .await
    .unwrap();
    ch.exchange_declare(
        "dst",
        ExchangeKind::Fanout,
        ExchangeDeclareOptions::default(),
        FieldTable::default(),
    )
    .await
    .unwrap();
    assert_eq!(unbind_exchange(&ch, "no-such-dest", "src").await, Ok(()));
    assert_eq!(unbind_exchange(&ch, "dst", "no-such-source").await, Ok(()));
    assert_eq!(
        unbind_exchange(&ch, "dst", "src").await,
        Ok(()),
        "never bound"
    );
    assert_eq!(unbind_exchange(&ch, "nothing", "at-all").await, Ok(()));
    queue(&ch, "after").await;
}
