//! Topics forwarding into exchanges: one tailing task per partition of a topic whose
//! `forward.exchange` is set. It reads what is appended, decodes the records
//! (`trident-records`), turns each into a message by the one documented mapping and
//! publishes it, so that queue consumers of any protocol receive what log producers
//! wrote.
//!
//! Position: the task remembers how far it got as a committed offset of the reserved
//! group [`FORWARD_GROUP`], after the publishes of a batch are confirmed by every queue
//! they reached. After a restart it resumes there, so a record is published at least
//! once (a crash between confirm and commit republishes the last batch). Without a
//! committed offset it starts at the high watermark: turning forwarding on forwards
//! what is appended from then on, as a Kafka consumer with `auto.offset.reset=latest`.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use trident_core::{ExchangeName, ForwardKey, Message, TopicName};
use trident_records::{from_record, record};

use crate::engine::Engine;
use crate::offsets::CommittedOffset;
use crate::publish::PublishOptions;
use crate::topic::{PartitionRef, Topic};

/// The consumer group under which forwarding positions are committed. Kafka clients
/// see it in ListGroups-free offset fetches only; the double underscore marks it
/// internal, as Kafka's own `__consumer_offsets`.
pub const FORWARD_GROUP: &str = "__trident_forward";

/// How much a tailing task reads per round.
const READ_BYTES: usize = 1 << 20;
/// How long to wait before retrying when the vhost or exchange is missing or a read
/// fails (an exchange declared after the topic was configured is picked up then).
const RETRY: Duration = Duration::from_millis(500);

/// The running tailing tasks, per topic.
#[derive(Debug, Default)]
pub(crate) struct Forwarders {
    tasks: Mutex<HashMap<TopicName, Vec<tokio::task::AbortHandle>>>,
}

impl Forwarders {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<TopicName, Vec<tokio::task::AbortHandle>>> {
        // A poisoned lock means a panic during a HashMap insert; the map is consistent.
        self.tasks.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Stops the topic's tasks and starts one per partition if forwarding is on.
    pub(crate) fn restart(&self, engine: &Engine, topic: &Topic) {
        self.stop(topic.name.as_str());
        let Some(exchange) = topic.config.forward.exchange.clone() else {
            return;
        };
        let Ok(exchange) = ExchangeName::new(&exchange) else {
            tracing::warn!(topic = %topic.name, exchange, "forwarding off: invalid exchange name");
            return;
        };
        let handles = topic
            .partitions
            .iter()
            .map(|p| {
                let tail = Tail {
                    engine: engine.clone(),
                    partition: p.clone(),
                    vhost: topic.config.forward.vhost.clone(),
                    exchange: exchange.clone(),
                    key: topic.config.forward.routing_key,
                };
                tokio::spawn(tail.run()).abort_handle()
            })
            .collect();
        self.lock().insert(topic.name.clone(), handles);
    }

    pub(crate) fn stop(&self, topic: &str) {
        if let Some(handles) = self.lock().remove(topic) {
            for h in handles {
                h.abort();
            }
        }
    }

    pub(crate) fn stop_all(&self) {
        for (_, handles) in self.lock().drain() {
            for h in handles {
                h.abort();
            }
        }
    }
}

struct Tail {
    engine: Engine,
    partition: PartitionRef,
    vhost: String,
    exchange: ExchangeName,
    key: ForwardKey,
}

impl Tail {
    async fn run(self) {
        let topic = self.partition.topic().clone();
        let index = self.partition.index();
        let committed = self
            .engine
            .offsets()
            .fetch(FORWARD_GROUP, topic.as_str(), index)
            .and_then(|c| u64::try_from(c.offset).ok());
        let mut pos = committed.unwrap_or_else(|| self.partition.high_watermark());
        let mut hw = self.partition.watch();
        tracing::info!(topic = %topic, partition = index, exchange = %self.exchange, from = pos, "forwarding records");
        loop {
            while pos >= *hw.borrow_and_update() {
                if hw.changed().await.is_err() {
                    return; // the partition stopped: topic deleted or engine shut down
                }
            }
            match self.forward_from(pos).await {
                Ok(next) if next > pos => {
                    pos = next;
                    self.commit(pos);
                }
                Ok(_) => tokio::time::sleep(RETRY).await,
                Err(e) => {
                    tracing::warn!(topic = %topic, partition = index, error = %e, "forwarding paused; retrying");
                    // Records deleted by retention before they were forwarded are
                    // skipped from the log start, as a Kafka consumer resets.
                    pos = pos.max(self.partition.log_start_offset());
                    tokio::time::sleep(RETRY).await;
                }
            }
        }
    }

    /// Publishes the records of one read starting at `pos`; returns the next position.
    async fn forward_from(&self, pos: u64) -> Result<u64, String> {
        let vhost = self.engine.vhost(&self.vhost).map_err(|e| e.to_string())?;
        let read = self
            .partition
            .read(pos, READ_BYTES)
            .await
            .map_err(|e| e.to_string())?;
        let mut next = pos;
        let mut confirms = Vec::new();
        for batch in &read.batches {
            let records = record::decode(&batch.bytes, batch.base_offset)
                .map_err(|e| format!("batch at offset {}: {e}", batch.base_offset))?;
            for r in records.iter().filter(|r| r.offset >= pos) {
                let message = self.message_of(r);
                let opts = PublishOptions {
                    mandatory: false,
                    confirm: true,
                };
                match vhost.publish(message, &self.exchange, opts).await {
                    Ok(p) => confirms.extend(p.confirm),
                    // A record the exchange can never take (too large for a message)
                    // is skipped loudly rather than stopping the topic's forwarding.
                    Err(trident_core::Error::MessageTooLarge { size, max }) => {
                        tracing::warn!(topic = %self.partition.topic(), offset = r.offset, size, max, "record too large to forward; skipped");
                    }
                    Err(e) => {
                        self.wait(confirms).await?;
                        if next > pos {
                            return Ok(next);
                        }
                        return Err(e.to_string());
                    }
                }
            }
            next = batch.next_offset();
        }
        self.wait(confirms).await?;
        Ok(next)
    }

    async fn wait(&self, confirms: Vec<crate::publish::Confirm>) -> Result<(), String> {
        for c in confirms {
            c.wait().await.map_err(|e| e.to_string())?;
        }
        Ok(())
    }

    fn message_of(&self, r: &record::Record) -> Message {
        let mut m = from_record(r);
        let topic = self.partition.topic().as_str();
        m.routing_key = match self.key {
            ForwardKey::Topic => topic.to_string(),
            ForwardKey::RecordKey => r
                .key
                .as_deref()
                .and_then(|k| std::str::from_utf8(k).ok())
                .unwrap_or(topic)
                .to_string(),
        };
        m
    }

    fn commit(&self, pos: u64) {
        let offset = CommittedOffset {
            offset: i64::try_from(pos).unwrap_or(i64::MAX),
            metadata: String::new(),
            commit_timestamp_ms: trident_core::message::now_ms(),
        };
        let topic = self.partition.topic().to_string();
        if let Err(e) = self
            .engine
            .offsets()
            .commit(FORWARD_GROUP, vec![(topic, self.partition.index(), offset)])
        {
            tracing::warn!(error = %e, "cannot store the forwarding position");
        }
    }
}
