//! Crash safety of the whole broker: a client streams acknowledged writes, the broker
//! process is killed with SIGKILL mid-stream, restarted on the same data directory, and
//! every acknowledged message must be there, in order, with nothing torn or duplicated.
//! Once over AMQP (persistent messages, publisher confirms, durable queue) and once over
//! Kafka (acks=all, CRC checked by the client on fetch).

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use support::Broker;

fn kill9(pid: u32) {
    let _ = std::process::Command::new("kill")
        .arg("-9")
        .arg(pid.to_string())
        .status();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn amqp_confirmed_persistent_messages_survive_sigkill() {
    use lapin::options::{
        BasicConsumeOptions, BasicPublishOptions, ConfirmSelectOptions, QueueDeclareOptions,
    };
    use lapin::types::FieldTable;
    use lapin::{BasicProperties, Connection, ConnectionProperties};
    use tokio_stream_shim::next_delivery;

    let mut broker = Broker::start();
    let uri = format!("amqp://guest:guest@{}/%2f", broker.amqp);
    let conn = Connection::connect(&uri, ConnectionProperties::default())
        .await
        .expect("connect");
    let ch = conn.create_channel().await.expect("channel");
    ch.confirm_select(ConfirmSelectOptions::default())
        .await
        .expect("confirm mode");
    ch.queue_declare(
        "crash",
        QueueDeclareOptions {
            durable: true,
            ..Default::default()
        },
        FieldTable::default(),
    )
    .await
    .expect("declare");

    let confirmed = Arc::new(AtomicI64::new(-1));
    let pid = broker.pid().expect("running");
    let killer = {
        let confirmed = confirmed.clone();
        tokio::spawn(async move {
            // Kill once a fair number are confirmed, so the kill lands mid-stream.
            while confirmed.load(Ordering::Acquire) < 2_000 {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            kill9(pid);
        })
    };
    let mut pending = std::collections::VecDeque::new();
    let mut seq: i64 = 0;
    'publish: loop {
        let props = BasicProperties::default().with_delivery_mode(2);
        let body = seq.to_string();
        match ch
            .basic_publish(
                "",
                "crash",
                BasicPublishOptions::default(),
                body.as_bytes(),
                props,
            )
            .await
        {
            Ok(confirm) => pending.push_back((seq, confirm)),
            Err(_) => break,
        }
        seq += 1;
        // Keep up to 100 publishes in flight, as a pipelining publisher does.
        while pending.len() > 100 || (seq % 50 == 0 && !pending.is_empty()) {
            let Some((s, c)) = pending.pop_front() else {
                break;
            };
            match c.await {
                Ok(lapin::publisher_confirm::Confirmation::Ack(_)) => {
                    confirmed.store(s, Ordering::Release)
                }
                _ => break 'publish,
            }
        }
        if seq > 200_000 {
            panic!("the broker was never killed");
        }
    }
    killer.await.expect("killer");
    let last = confirmed.load(Ordering::Acquire);
    assert!(last >= 2_000, "confirmed {last}");
    drop(conn);

    broker.kill9();
    broker.restart();
    let conn = Connection::connect(&uri, ConnectionProperties::default())
        .await
        .expect("reconnect");
    let ch = conn.create_channel().await.expect("channel");
    let mut consumer = ch
        .basic_consume(
            "crash",
            "check",
            BasicConsumeOptions {
                no_ack: true,
                ..Default::default()
            },
            FieldTable::default(),
        )
        .await
        .expect("consume");
    let mut expect = 0i64;
    while let Some(body) = next_delivery(&mut consumer, Duration::from_secs(3)).await {
        let text = String::from_utf8(body).expect("utf8 body: no torn message");
        let got: i64 = text.parse().expect("a sequence number: no torn message");
        assert_eq!(
            got, expect,
            "messages come back in order, without gaps or duplicates"
        );
        expect += 1;
    }
    assert!(
        expect > last,
        "every confirmed message survived: confirmed up to {last}, recovered up to {}",
        expect - 1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kafka_acks_all_records_survive_sigkill() {
    use rdkafka::ClientConfig;
    use rdkafka::consumer::{BaseConsumer, Consumer};
    use rdkafka::message::Message;
    use rdkafka::producer::{FutureProducer, FutureRecord};

    let mut broker = Broker::start();
    let bootstrap = broker.kafka.to_string();
    let producer: FutureProducer = ClientConfig::new()
        .set("bootstrap.servers", &bootstrap)
        .set("acks", "all")
        .set("linger.ms", "1")
        .set("message.timeout.ms", "3000")
        .set("retries", "0")
        .create()
        .expect("producer");
    let confirmed = Arc::new(AtomicI64::new(-1));
    let pid = broker.pid().expect("running");
    let killer = {
        let confirmed = confirmed.clone();
        tokio::spawn(async move {
            while confirmed.load(Ordering::Acquire) < 5_000 {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            kill9(pid);
        })
    };
    let mut seq: i64 = 0;
    'produce: loop {
        let mut batch = Vec::new();
        for _ in 0..200 {
            let value = seq.to_string();
            let fut = producer.send_result(
                FutureRecord::<(), _>::to("crash")
                    .partition(0)
                    .payload(&value),
            );
            match fut {
                Ok(f) => batch.push((seq, f)),
                Err(_) => break 'produce,
            }
            seq += 1;
        }
        for (s, f) in batch {
            match f.await {
                Ok(Ok(_)) => confirmed.store(s, Ordering::Release),
                _ => break 'produce,
            }
        }
        if seq > 2_000_000 {
            panic!("the broker was never killed");
        }
    }
    killer.await.expect("killer");
    drop(producer);
    let last = confirmed.load(Ordering::Acquire);
    assert!(last >= 5_000);

    broker.kill9();
    broker.restart();
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", broker.kafka.to_string())
        .set("group.id", "crash-check")
        .set("auto.offset.reset", "earliest")
        .set("enable.auto.commit", "false")
        .set("check.crcs", "true")
        .create()
        .expect("consumer");
    let mut tpl = rdkafka::TopicPartitionList::new();
    tpl.add_partition_offset("crash", 0, rdkafka::Offset::Beginning)
        .expect("tpl");
    consumer.assign(&tpl).expect("assign");
    let mut expect = 0i64;
    let mut idle = 0;
    while idle < 30 {
        match consumer.poll(Duration::from_millis(100)) {
            Some(Ok(m)) => {
                idle = 0;
                let v = m
                    .payload()
                    .map(|p| String::from_utf8_lossy(p).to_string())
                    .unwrap_or_default();
                let got: i64 = v.parse().expect("a sequence number: no torn record");
                assert_eq!(got, expect, "records in order, no gaps, no duplicates");
                assert_eq!(m.offset(), expect);
                expect += 1;
            }
            Some(Err(e)) => panic!("fetch failed: {e}"),
            None => idle += 1,
        }
    }
    assert!(
        expect > last,
        "every acknowledged record survived: acked up to {last}, recovered up to {}",
        expect - 1
    );
}

/// lapin's consumer is a `futures` stream; this reads it without adding a dependency
/// on `futures` just for `StreamExt::next`.
mod tokio_stream_shim {
    use std::future::poll_fn;
    use std::pin::Pin;
    use std::time::Duration;

    pub async fn next_delivery(consumer: &mut lapin::Consumer, wait: Duration) -> Option<Vec<u8>> {
        let next = poll_fn(|cx| {
            use futures_core::Stream;
            Pin::new(&mut *consumer).poll_next(cx)
        });
        match tokio::time::timeout(wait, next).await {
            Ok(Some(Ok(delivery))) => Some(delivery.data),
            _ => None,
        }
    }
}
