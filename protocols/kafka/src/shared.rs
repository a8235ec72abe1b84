//! State shared by every connection of one Kafka listener (the AMQP adapter's
//! `connection::Shared` is the same idea, under the same name).

use std::sync::Arc;

use trident_engine::Engine;

use crate::config::KafkaConfig;
use crate::coordinator::Coordinator;
use crate::producer_ids::ProducerIds;

/// What handlers need: the engine, the settings, the group coordinator.
#[derive(Debug)]
pub struct Shared {
    pub engine: Engine,
    pub config: KafkaConfig,
    /// The port advertised to clients (the configured one, or the bound one).
    pub port: u16,
    /// The port advertised to clients of the TLS listener (0: none).
    pub tls_port: u16,
    pub coordinator: Arc<Coordinator>,
    pub producer_ids: ProducerIds,
}

impl Shared {
    pub fn new(engine: Engine, config: KafkaConfig, bound_port: u16) -> Self {
        let port = if config.advertised_port == 0 {
            bound_port
        } else {
            config.advertised_port
        };
        let coordinator = Arc::new(Coordinator::new(config.groups.clone()));
        Self {
            engine,
            config,
            port,
            tls_port: 0,
            coordinator,
            producer_ids: ProducerIds::new(),
        }
    }

    pub fn node_id(&self) -> i32 {
        self.config.node_id
    }

    pub fn host(&self) -> &str {
        &self.config.advertised_host
    }

    pub fn port_i32(&self) -> i32 {
        i32::from(self.port)
    }

    /// The port to advertise on a connection of the plain or the TLS listener.
    pub fn port_for(&self, tls: bool) -> i32 {
        if tls && self.tls_port != 0 {
            i32::from(self.tls_port)
        } else {
            self.port_i32()
        }
    }
}
