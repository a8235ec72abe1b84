//! `trident-load`: Trident's own load generator. A client only (lapin for AMQP 0-9-1,
//! librdkafka for Kafka, rumqttc for MQTT); it works against any broker speaking those protocols, so that
//! Trident and its peers are measured with the same client in the same run.
//!
//! Every scenario prints one JSON line (machine-readable) and one human line. Counting is
//! honest: only acknowledged publishes (confirms, delivery reports) and received messages
//! count, the warm-up is excluded from the measured window, and time is `Instant`.

mod amqp;
mod amqp_idle;
mod idle_open;
mod kafka;
mod kafka_idle;
mod meter;
mod mqtt;
mod mqtt_idle;
mod mqtt_link;
mod stream_fill;

use anyhow::Result;
use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "trident-load",
    version,
    about = "Load generator for AMQP 0-9-1, MQTT and Kafka brokers"
)]
struct Cli {
    /// Tokio worker threads for the AMQP and MQTT scenarios.
    #[arg(long, global = true, default_value_t = 2)]
    threads: usize,
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// AMQP publishers and consumers on one queue: publish and end-to-end rates, latency.
    Amqp(amqp::AmqpArgs),
    /// N idle AMQP connections; broker RSS before and after (--broker-pid).
    AmqpIdle(amqp_idle::IdleArgs),
    /// MQTT publishers and subscribers on one topic: rates, latency, lost and duplicated.
    Mqtt(mqtt::MqttArgs),
    /// N idle MQTT connections from several 127.0.0.x sources; broker RSS (--broker-pid).
    MqttIdle(mqtt_idle::MqttIdleArgs),
    /// Kafka producer throughput (acknowledged records/s, MiB/s).
    KafkaProduce(kafka::ProduceArgs),
    /// Kafka consumer throughput from the beginning of a topic.
    KafkaConsume(kafka::ConsumeArgs),
    /// Kafka end-to-end latency at a fixed produce rate.
    KafkaE2e(kafka::E2eArgs),
    /// N idle Kafka connections (one ApiVersions each); broker RSS open and after close.
    KafkaIdle(kafka_idle::KafkaIdleArgs),
    /// Fills an AMQP stream queue with confirmed publishes (read it with kafka-consume).
    StreamFill(stream_fill::StreamFillArgs),
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    // Start the timestamp base before anything is sent.
    let _ = meter::now_ns();
    let rt = || {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(cli.threads.max(1))
            .enable_all()
            .build()
    };
    match cli.cmd {
        Cmd::Amqp(a) => rt()?.block_on(amqp::run(a)),
        Cmd::AmqpIdle(a) => rt()?.block_on(amqp_idle::run(a)),
        Cmd::Mqtt(a) => rt()?.block_on(mqtt::run(a)),
        Cmd::MqttIdle(a) => rt()?.block_on(mqtt_idle::run(a)),
        Cmd::KafkaProduce(a) => kafka::produce(a),
        Cmd::KafkaConsume(a) => kafka::consume(a),
        Cmd::KafkaE2e(a) => kafka::e2e(a),
        Cmd::KafkaIdle(a) => rt()?.block_on(kafka_idle::run(a)),
        Cmd::StreamFill(a) => rt()?.block_on(stream_fill::run(a)),
    }
}
