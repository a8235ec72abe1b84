//! One publisher of protocol IN and one receiver of protocol OUT on the same broker,
//! wired the way docs/cross-protocol.md describes: AMQP and MQTT meet on `amq.topic`
//! (an MQTT topic is a routing key), a Kafka topic is a binding destination (AMQP
//! `queue.bind` with the topic's name), and a topic with `trident.forward.exchange`
//! publishes its records to an exchange. Same-protocol flows take the same path where
//! there is one (AMQP through `amq.topic`), the direct one otherwise.

use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow};
use lapin::options::{
    BasicConsumeOptions, BasicQosOptions, QueueBindOptions, QueueDeclareOptions, QueueDeleteOptions,
};
use lapin::types::FieldTable;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::{Offset, TopicPartitionList};
use rumqttc::{Event, Packet};

use super::{Run, amqp, kafka, mqtt};
use crate::args::HostPort;
use crate::flow::{Finish, Layout, Quota, Receiver, summarize, unique_name};
use crate::row::Measured;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Proto {
    Amqp,
    Mqtt,
    Kafka,
}

impl Proto {
    pub fn name(self) -> &'static str {
        match self {
            Proto::Amqp => "amqp",
            Proto::Mqtt => "mqtt",
            Proto::Kafka => "kafka",
        }
    }
}

/// A target's endpoints.
#[derive(Debug, Clone, Default)]
pub struct Ends {
    pub amqp: Option<String>,
    pub mqtt: Option<HostPort>,
    pub kafka: Option<HostPort>,
}

impl Ends {
    fn amqp(&self) -> Result<&str> {
        self.amqp
            .as_deref()
            .ok_or_else(|| anyhow!("no amqp:// URL"))
    }
    fn mqtt(&self) -> Result<&HostPort> {
        self.mqtt.as_ref().ok_or_else(|| anyhow!("no mqtt:// URL"))
    }
    fn kafka(&self) -> Result<String> {
        self.kafka
            .as_ref()
            .map(HostPort::to_string)
            .ok_or_else(|| anyhow!("no kafka:// URL"))
    }
}

/// The protocols a direction needs endpoints for (AMQP also binds a Kafka topic).
pub fn needs(i: Proto, o: Proto) -> Vec<&'static str> {
    let mut v = vec![i.name()];
    if o != i {
        v.push(o.name());
    }
    if o == Proto::Kafka && i != Proto::Kafka && !v.contains(&"amqp") {
        v.push("amqp");
    }
    v
}

pub async fn run(ends: &Ends, i: Proto, o: Proto, run: &Run) -> Result<Measured> {
    // One word: a routing key, an MQTT topic and a Kafka topic name all at once.
    let rk = unique_name("cross");
    let out_topic = format!("{rk}-out");
    let in_topic = if o == Proto::Kafka {
        out_topic.clone()
    } else {
        rk.clone()
    };
    let finish = Finish::new(run.quick);
    let r = Receiver::new(Layout::Fanout(1), finish.clone(), run.progress.clone());
    let mut cleanup_queue = None;
    let setup = match &ends.amqp {
        Some(uri) if i == Proto::Amqp || o == Proto::Amqp || o == Proto::Kafka => {
            Some(amqp::connect(uri, "trident-bench cross setup").await?)
        }
        _ => None,
    };
    let sch = match &setup {
        Some(c) => Some(c.create_channel().await?),
        None => None,
    };

    // The receiving side first, so that nothing published is missed.
    let receiver: tokio::task::JoinHandle<Result<Receiver>> = match o {
        Proto::Amqp => {
            let ch = sch.as_ref().ok_or_else(|| anyhow!("no amqp:// URL"))?;
            let q = format!("{rk}-q");
            ch.queue_declare(&q, QueueDeclareOptions::default(), FieldTable::default())
                .await
                .context("queue.declare")?;
            ch.queue_bind(
                &q,
                "amq.topic",
                &rk,
                QueueBindOptions::default(),
                FieldTable::default(),
            )
            .await
            .context("queue.bind")?;
            cleanup_queue = Some(q.clone());
            let conn = amqp::connect(ends.amqp()?, "trident-bench cross consumer").await?;
            let cch = conn.create_channel().await?;
            cch.basic_qos(1000, BasicQosOptions::default()).await?;
            let consumer = cch
                .basic_consume(
                    &q,
                    "bench",
                    BasicConsumeOptions::default(),
                    FieldTable::default(),
                )
                .await
                .context("basic.consume")?;
            tokio::spawn(async move {
                let r = amqp::consume(cch, consumer, r, false, amqp::ack_every(1000)).await;
                let _ = conn.close(200, "done").await;
                r
            })
        }
        Proto::Mqtt => {
            let id = format!("{}-cross-sub", std::process::id());
            let (client, mut el) = mqtt::connect(ends.mqtt()?, &id, 100).await?;
            client.subscribe(&rk, mqtt::qos(1)).await?;
            loop {
                let ev = tokio::time::timeout(Duration::from_secs(10), el.poll())
                    .await
                    .map_err(|_| anyhow!("no SUBACK within 10 s"))??;
                if let Event::Incoming(Packet::SubAck(_)) = ev {
                    break;
                }
            }
            tokio::spawn(mqtt::receive(client, el, r))
        }
        Proto::Kafka => {
            let b = ends.kafka()?;
            let t = out_topic.clone();
            let b2 = b.clone();
            tokio::task::spawn_blocking(move || kafka::create_topic(&b2, &t, 1))
                .await
                .context("admin task")??;
            if i != Proto::Kafka {
                let ch = sch.as_ref().ok_or_else(|| anyhow!("no amqp:// URL"))?;
                ch.queue_bind(
                    &out_topic,
                    "amq.topic",
                    &rk,
                    QueueBindOptions::default(),
                    FieldTable::default(),
                )
                .await
                .context("queue.bind of the topic to amq.topic")?;
            }
            let c: BaseConsumer = ClientConfig::new()
                .set("bootstrap.servers", &b)
                .set("group.id", unique_name("group"))
                .set("enable.auto.commit", "false")
                .set("fetch.queue.backoff.ms", "10")
                .create()
                .context("consumer")?;
            let mut tpl = TopicPartitionList::new();
            tpl.add_partition_offset(&out_topic, 0, Offset::Beginning)?;
            c.assign(&tpl).context("assign")?;
            let h = tokio::task::spawn_blocking(move || kafka::receive(c, r));
            // As in every Kafka flow: the reader resolves its offset and sends its first
            // fetch before anything is published, so that latency is not its start.
            let settle = if run.quick { 500 } else { 3000 };
            tokio::time::sleep(Duration::from_millis(settle)).await;
            h
        }
    };
    if i == Proto::Kafka && o != Proto::Kafka {
        let b = ends.kafka()?;
        let t = in_topic.clone();
        tokio::task::spawn_blocking(move || {
            kafka::create_topic_with(
                &b,
                &t,
                1,
                &[
                    ("trident.forward.exchange", "amq.topic"),
                    ("trident.forward.routing.key", "topic"),
                ],
            )
        })
        .await
        .context("admin task")??;
        // Forwarding starts at the end of the log when it is switched on: give its
        // tailing task a moment, so that the first records are not before its start.
        tokio::time::sleep(Duration::from_millis(500)).await;
    }

    let started = Instant::now();
    let quota = Quota::split(run.budget, 0, 1, started);
    let sent = match i {
        Proto::Amqp => {
            let conn = amqp::connect(ends.amqp()?, "trident-bench cross producer").await?;
            let ch = conn.create_channel().await?;
            let n = amqp::publish(&ch, "amq.topic", &rk, 0, quota, run.size, None, None).await?;
            let _ = conn.close(200, "done").await;
            n
        }
        Proto::Mqtt => {
            let id = format!("{}-cross-pub", std::process::id());
            let (client, el) = mqtt::connect(ends.mqtt()?, &id, 100).await?;
            mqtt::publish(client, el, rk.clone(), 0, quota, run.size, 1, None).await?
        }
        Proto::Kafka => {
            let (b, t, size) = (ends.kafka()?, in_topic.clone(), run.size);
            let f = kafka::Flow::new(Layout::Fanout(1), 1);
            let (n, errors) = tokio::task::spawn_blocking(move || {
                kafka::produce(&b, &t, &f, 0, quota, size, None)
            })
            .await
            .context("producer task")??;
            if let Some(e) = errors {
                anyhow::bail!("{e}");
            }
            n
        }
    };
    finish.produced(sent);
    let r = receiver.await.context("receiver task")??;
    let m = summarize(Layout::Fanout(1), &[(0, sent)], vec![r], started, run.size);

    if let (Some(ch), Some(q)) = (&sch, cleanup_queue) {
        let _ = ch.queue_delete(&q, QueueDeleteOptions::default()).await;
    }
    if let Some(c) = setup {
        let _ = c.close(200, "done").await;
    }
    if let Ok(b) = ends.kafka() {
        let mut topics = Vec::new();
        if o == Proto::Kafka {
            topics.push(out_topic);
        }
        if i == Proto::Kafka && o != Proto::Kafka {
            topics.push(in_topic);
        }
        let _ = tokio::task::spawn_blocking(move || {
            for t in topics {
                kafka::delete_topic(&b, &t);
            }
        })
        .await;
    }
    Ok(m)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_topic_bound_from_amqp_or_mqtt_needs_amqp() {
        assert_eq!(
            needs(Proto::Mqtt, Proto::Kafka),
            vec!["mqtt", "kafka", "amqp"]
        );
        assert_eq!(needs(Proto::Amqp, Proto::Kafka), vec!["amqp", "kafka"]);
        assert_eq!(needs(Proto::Kafka, Proto::Kafka), vec!["kafka"]);
        assert_eq!(needs(Proto::Kafka, Proto::Mqtt), vec!["kafka", "mqtt"]);
    }
}
