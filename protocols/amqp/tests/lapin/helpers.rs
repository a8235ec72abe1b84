//! Small helpers the themes share: argument tables, declarations, publishing, and
//! watching a channel for the code it is closed with.

use crate::prelude::*;

pub(crate) fn args(entries: &[(&str, AMQPValue)]) -> FieldTable {
    let mut t = FieldTable::default();
    for (k, v) in entries {
        t.insert(ShortString::from(*k), v.clone());
    }
    t
}

pub(crate) fn s(v: &str) -> AMQPValue {
    AMQPValue::LongString(LongString::from(v))
}

pub(crate) async fn queue(ch: &Channel, name: &str) {
    ch.queue_declare(name, QueueDeclareOptions::default(), FieldTable::default())
        .await
        .unwrap();
}

pub(crate) async fn publish(ch: &Channel, exchange: &str, key: &str, body: &[u8]) {
    ch.basic_publish(
        exchange,
        key,
        BasicPublishOptions::default(),
        body,
        BasicProperties::default(),
    )
    .await
    .unwrap();
}

/// Bodies currently in a queue, drained with basic.get.
pub(crate) async fn drain(ch: &Channel, q: &str) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    // Publishes are asynchronous: give the queue a moment to have them all.
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    while let Some(m) = ch
        .basic_get(q, BasicGetOptions { no_ack: true })
        .await
        .unwrap()
    {
        out.push(m.delivery.data.clone());
    }
    out
}

pub(crate) fn passive() -> QueueDeclareOptions {
    QueueDeclareOptions {
        passive: true,
        ..QueueDeclareOptions::default()
    }
}

pub(crate) fn arg(k: &str, v: AMQPValue) -> FieldTable {
    let mut t = FieldTable::default();
    t.insert(ShortString::from(k), v);
    t
}

/// A consumer on a throwaway queue: lapin reports a broker-initiated channel close
/// to the channel's consumers, which is how a test sees the code of an error caused by
/// a method that has no reply (ack, publish).
pub(crate) async fn watcher(ch: &Channel) -> lapin::Consumer {
    let q = ch
        .queue_declare(
            "",
            QueueDeclareOptions {
                exclusive: true,
                ..Default::default()
            },
            FieldTable::default(),
        )
        .await
        .unwrap();
    ch.basic_consume(
        q.name().as_str(),
        "watcher",
        BasicConsumeOptions::default(),
        FieldTable::default(),
    )
    .await
    .unwrap()
}

pub(crate) async fn closed_with(mut watcher: lapin::Consumer) -> Option<u16> {
    match tokio::time::timeout(WAIT, futures_util::StreamExt::next(&mut watcher)).await {
        Ok(Some(Err(e))) => code(&e),
        _ => None,
    }
}

pub(crate) async fn declare(
    ch: &Channel,
    name: &str,
    opts: QueueDeclareOptions,
    args: FieldTable,
) -> Result<(), Option<u16>> {
    ch.queue_declare(name, opts, args)
        .await
        .map(|_| ())
        .map_err(|e| code(&e))
}
