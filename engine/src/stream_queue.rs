//! Stream queues: a topic seen as a queue. A queue declared as a stream is a topic
//! (a partitioned log) of the same name, and every topic is a stream queue: it can be
//! declared passively, bound to exchanges, consumed from an offset the consumer picks
//! (`Vhost::consume_stream`) and deleted as a queue.
//!
//! Topics have no vhost; the permissions of vhost `/` govern them
//! ([`crate::auth::DEFAULT_VHOST`]), so that is the one vhost where they appear as
//! stream queues. (Bindings from other vhosts may still name a topic as their
//! destination, as before.)

use std::sync::Arc;

use trident_core::{Error, QueueName, Result, TopicName};

use crate::auth::DEFAULT_VHOST;
use crate::delivery::{ConsumerOptions, ConsumerSink, StreamReadOptions};
use crate::engine::Engine;
use crate::queue::QueueRef;
use crate::topic::{Topic, spawn_reader};
use crate::vhost::{QueueDeclared, Vhost};

/// The settings a stream queue is declared with. `None` leaves the engine's default
/// for new topics (and, on a redeclaration, is not compared).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StreamSpec {
    pub partitions: Option<u32>,
    /// Delete whole segments older than this (retention.ms).
    pub max_age_ms: Option<i64>,
    /// Delete the oldest segments while a partition is larger than this
    /// (retention.bytes; per partition, as Kafka counts it).
    pub max_bytes: Option<u64>,
    /// Roll to a new segment past this size (segment.bytes).
    pub segment_bytes: Option<u64>,
}

/// The most partitions a stream may be declared with.
pub const MAX_STREAM_PARTITIONS: u64 = 10_000;

/// Classic-queue arguments RabbitMQ refuses on a stream (every declaring surface refuses
/// them: AMQP `queue.declare`, the management API, definitions).
pub const STREAM_REFUSED_ARGUMENTS: [&str; 8] = [
    "x-message-ttl",
    "x-expires",
    "x-max-length",
    "x-overflow",
    "x-dead-letter-exchange",
    "x-dead-letter-routing-key",
    "x-max-priority",
    "x-single-active-consumer",
];

/// RabbitMQ's duration syntax (`x-max-age`, interval offsets): a positive integer and a
/// unit, `Y` (365 days), `M` (30 days), `D`, `h`, `m` or `s`. In milliseconds. Here so
/// that every surface that takes stream arguments reads them alike.
pub fn parse_stream_duration_ms(s: &str) -> Option<i64> {
    let unit = s.chars().last()?;
    let digits = &s[..s.len() - unit.len_utf8()];
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let n: i64 = digits.parse().ok()?;
    let unit_ms: i64 = match unit {
        'Y' => 365 * 86_400_000,
        'M' => 30 * 86_400_000,
        'D' => 86_400_000,
        'h' => 3_600_000,
        'm' => 60_000,
        's' => 1_000,
        _ => return None,
    };
    if n == 0 {
        return None;
    }
    n.checked_mul(unit_ms)
}

impl StreamSpec {
    /// Which setting of an existing stream's topic this spec disagrees with (a
    /// redeclaration that would be refused), if any.
    pub fn differs_from(&self, topic: &Topic) -> Option<&'static str> {
        inequivalent(topic, self)
    }
}

fn declared(topic: &Topic, name: &QueueName) -> QueueDeclared {
    QueueDeclared {
        name: name.clone(),
        message_count: topic.record_count(),
        consumer_count: topic.reader_count(),
    }
}

/// Which setting of an existing topic a redeclaration disagrees with.
fn inequivalent(topic: &Topic, spec: &StreamSpec) -> Option<&'static str> {
    let c = &topic.config;
    if spec.partitions.is_some_and(|p| p != c.partitions) {
        return Some("partitions");
    }
    if spec.max_age_ms.is_some() && spec.max_age_ms != c.retention_ms {
        return Some("max age");
    }
    if spec.max_bytes.is_some() && spec.max_bytes != c.retention_bytes {
        return Some("max length in bytes");
    }
    if spec.segment_bytes.is_some_and(|s| s != c.segment_bytes) {
        return Some("segment size");
    }
    None
}

impl Engine {
    /// Declares a stream queue in `vhost`: creates the topic `name` with `spec`, or
    /// checks an existing topic against the settings `spec` gives (406 when one
    /// differs, as a queue redeclared with other arguments).
    pub async fn declare_stream_queue(
        &self,
        vhost: &Vhost,
        name: &QueueName,
        spec: &StreamSpec,
    ) -> Result<QueueDeclared> {
        if vhost.name().as_str() != DEFAULT_VHOST {
            return Err(Error::PreconditionFailed(format!(
                "stream queues are topics, which live in vhost '{DEFAULT_VHOST}' only; \
                 cannot declare stream '{name}' in vhost '{}'",
                vhost.name()
            )));
        }
        if vhost.queue(name).is_some() {
            return Err(Error::PreconditionFailed(format!(
                "inequivalent arg 'x-queue-type' for queue '{name}' in vhost '{}': \
                 it exists and is not a stream",
                vhost.name()
            )));
        }
        let topic_name = TopicName::new(name.as_str()).map_err(|e| {
            Error::PreconditionFailed(format!("'{name}' cannot name a stream: {e}"))
        })?;
        if spec.partitions == Some(0) {
            return Err(Error::PreconditionFailed(
                "a stream needs at least one partition".into(),
            ));
        }
        let topic = match self.topic(name.as_str()) {
            Some(t) => t,
            None => {
                let mut config = self.config().default_topic.clone();
                if let Some(p) = spec.partitions {
                    config.partitions = p;
                }
                if spec.max_age_ms.is_some() {
                    config.retention_ms = spec.max_age_ms;
                }
                if spec.max_bytes.is_some() {
                    config.retention_bytes = spec.max_bytes;
                }
                if let Some(s) = spec.segment_bytes {
                    config.segment_bytes = s;
                }
                match self.create_topic(topic_name, config).await {
                    Ok(t) => return Ok(declared(&t, name)),
                    // Created by someone else meanwhile: compare with theirs.
                    Err(Error::PreconditionFailed(_)) => {
                        self.topic(name.as_str()).ok_or_else(|| {
                            Error::Unavailable(format!("stream '{name}' was deleted meanwhile"))
                        })?
                    }
                    Err(e) => return Err(e),
                }
            }
        };
        if let Some(what) = inequivalent(&topic, spec) {
            return Err(Error::PreconditionFailed(format!(
                "inequivalent arg for stream '{name}' in vhost '{}': its {what} differs",
                vhost.name()
            )));
        }
        Ok(declared(&topic, name))
    }

    /// Deletes a stream queue: its topic, with every record. Returns how many records
    /// it held.
    pub async fn delete_stream_queue(&self, vhost: &Vhost, name: &QueueName) -> Result<u64> {
        let topic = vhost
            .stream_queue(name)
            .ok_or_else(|| Error::not_found("queue", name.as_str(), vhost.name().as_str()))?;
        let count = topic.record_count();
        self.delete_topic(name.as_str()).await?;
        Ok(count)
    }
}

impl Vhost {
    /// The topic `name` names as a stream queue of this vhost (see the module docs):
    /// only in vhost `/`, and only when no queue has that name.
    pub fn stream_queue(&self, name: &QueueName) -> Option<Arc<Topic>> {
        if self.name().as_str() != DEFAULT_VHOST || self.queue(name).is_some() {
            return None;
        }
        self.topics().load().get(name.as_str()).cloned()
    }

    /// Passive declaration of a stream queue: its record and consumer counts.
    pub fn declare_stream_passive(&self, name: &QueueName) -> Option<QueueDeclared> {
        self.stream_queue(name).map(|t| declared(&t, name))
    }

    /// Attaches a stream consumer: it reads the topic from where `read` says and
    /// removes nothing. Deliveries carry their [`crate::LogPosition`] and settle
    /// through the returned handle, as queue deliveries do; settling only returns
    /// credit.
    pub async fn consume_stream(
        &self,
        name: &QueueName,
        opts: ConsumerOptions,
        read: StreamReadOptions,
        sink: ConsumerSink,
    ) -> Result<QueueRef> {
        let topic = self
            .stream_queue(name)
            .ok_or_else(|| Error::not_found("queue", name.as_str(), self.name().as_str()))?;
        spawn_reader(topic, opts, read, sink).await
    }
}
