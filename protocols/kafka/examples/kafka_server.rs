//! A standalone Kafka listener over a fresh or existing data directory, for trying
//! clients against the adapter without the full broker:
//! `cargo run -p trident-kafka --example kafka_server -- 127.0.0.1:9092 /tmp/trident-kafka`
//! (`TRIDENT_KAFKA_SASL=1` requires SASL; `TRIDENT_KAFKA_DURABILITY=never` skips fsync).

use trident_engine::{Engine, EngineConfig};
use trident_kafka::KafkaConfig;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let addr = args.next().unwrap_or_else(|| "127.0.0.1:9092".into());
    let dir = args.next().unwrap_or_else(|| "/tmp/trident-kafka".into());
    let mut engine_config = EngineConfig::new(dir);
    if std::env::var("TRIDENT_KAFKA_DURABILITY").as_deref() == Ok("never") {
        engine_config.durability = trident_core::Durability::Never;
    }
    let engine = Engine::open(engine_config).await?;
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    let config = KafkaConfig {
        sasl_required: std::env::var("TRIDENT_KAFKA_SASL").is_ok(),
        ..KafkaConfig::default()
    };
    let (_tx, rx) = tokio::sync::watch::channel(false);
    eprintln!("kafka on {addr}");
    trident_kafka::serve(listener, engine, config, rx).await;
    Ok(())
}
