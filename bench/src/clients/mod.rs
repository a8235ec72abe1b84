//! One run of a flow per protocol, with the real clients: lapin (AMQP 0-9-1), rumqttc
//! (MQTT 3.1.1) and librdkafka (Kafka). Producers and receivers are tokio tasks (the
//! Kafka ones blocking threads), one connection each unless said otherwise.

pub mod amqp;
pub mod cross;
pub mod kafka;
pub mod kafka_groups;
pub mod mqtt;

use std::sync::Arc;

use crate::args::Budget;
use crate::progress::Progress;

/// What every flow needs from the run.
#[derive(Debug, Clone)]
pub struct Run {
    pub size: usize,
    pub budget: Budget,
    pub producers: usize,
    pub quick: bool,
    pub progress: Arc<Progress>,
}
