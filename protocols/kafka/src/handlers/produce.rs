//! Produce: validate each partition's record batch (header and CRC only, never the
//! records), hand the bytes as sent to the partition, answer when written (acks=1) or
//! durable (acks=all), or not at all (acks=0).
//!
//! Ordering: each append is queued on its partition (`PartitionRef::enqueue_append`,
//! awaited here) while this request is dispatched, before the connection reads the next
//! request, so pipelined produce requests (an idempotent producer keeps up to 5 in
//! flight) reach each partition in the order they were sent; only the wait for the
//! results runs concurrently. A full partition queue makes the connection wait here,
//! which is the backpressure: it reads no further request until there is room.

use std::sync::Arc;

use trident_core::{BatchEncoding, Error, TopicName};
use trident_engine::{
    Access, AppendError, AppendRequest, AppendResult, PendingAppend, ProducerSeq,
};

use super::authz::Authz;
use super::{Reply, Request};
use crate::codec::record_batch::{self, BatchError};
use crate::error_code as ec;
use crate::messages::produce::{
    ProducePartitionResponse, ProduceRequest, ProduceResponse, ProduceTopicResponse,
};
use crate::shared::Shared;

/// One partition's outcome: known now, or an append queued on the partition.
enum Slot {
    Done(ProducePartitionResponse),
    Appending(i32, PendingAppend),
}

fn failed(index: i32, code: i16, message: Option<String>) -> ProducePartitionResponse {
    ProducePartitionResponse {
        index,
        error_code: code,
        base_offset: -1,
        log_append_time_ms: -1,
        log_start_offset: -1,
        record_errors: Vec::new(),
        error_message: message,
    }
}

fn batch_error_code(e: &BatchError) -> i16 {
    match e {
        BatchError::BadCompression(_) => ec::UNSUPPORTED_COMPRESSION_TYPE,
        BatchError::Control => ec::INVALID_RECORD,
        BatchError::TooShort(_)
        | BatchError::LengthMismatch { .. }
        | BatchError::BadMagic(_)
        | BatchError::CrcMismatch { .. }
        | BatchError::BadCount(_) => ec::CORRUPT_MESSAGE,
    }
}

fn append_outcome(
    index: i32,
    r: Result<Result<AppendResult, AppendError>, Error>,
) -> ProducePartitionResponse {
    match r {
        Ok(Ok(a)) => ProducePartitionResponse {
            index,
            error_code: ec::NONE,
            base_offset: i64::try_from(a.base_offset).unwrap_or(i64::MAX),
            log_append_time_ms: -1,
            log_start_offset: i64::try_from(a.log_start_offset).unwrap_or(-1),
            record_errors: Vec::new(),
            error_message: None,
        },
        Ok(Err(e)) => {
            let code = match e {
                AppendError::OutOfOrderSequence { .. } => ec::OUT_OF_ORDER_SEQUENCE_NUMBER,
                AppendError::ProducerFenced { .. } => ec::INVALID_PRODUCER_EPOCH,
                AppendError::UnknownProducer(_) => ec::UNKNOWN_PRODUCER_ID,
                AppendError::Engine(_) => ec::KAFKA_STORAGE_ERROR,
            };
            failed(index, code, Some(e.to_string()))
        }
        Err(e) => failed(index, ec::from_engine(&e), Some(e.to_string())),
    }
}

/// Produce v6 (KIP-219): from this version on, a client that reads a throttle time
/// itself waits that long before sending again, because a Kafka broker answers first
/// and mutes the connection afterwards.
const CLIENT_SIDE_THROTTLE_VERSION: i16 = 6;

/// The throttle time to report for a produce request that a resource alarm held back
/// for `held_ms` before it was read. Older clients are told how long the answer was
/// delayed, as a throttling Kafka broker tells them; newer ones would wait that long a
/// second time, so they are told 0: the wait is over when the answer arrives.
pub fn throttle_time_ms(version: i16, held_ms: i32) -> i32 {
    if version < CLIENT_SIDE_THROTTLE_VERSION {
        held_ms
    } else {
        0
    }
}

pub async fn handle(
    broker: &Arc<Shared>,
    req: Request,
    produce: ProduceRequest,
    authz: &Authz,
    throttle_time_ms: i32,
) -> Reply {
    let acks = produce.acks;
    let mut topics: Vec<(String, Vec<Slot>)> = Vec::with_capacity(produce.topics.len());
    for topic in produce.topics {
        let mut slots = Vec::with_capacity(topic.partitions.len());
        let refuse_all = |code: i16, message: Option<String>| {
            topic
                .partitions
                .iter()
                .map(|p| Slot::Done(failed(p.index, code, message.clone())))
                .collect::<Vec<_>>()
        };
        if !(-1..=1).contains(&acks) {
            topics.push((
                topic.name.clone(),
                refuse_all(ec::INVALID_REQUIRED_ACKS, None),
            ));
            continue;
        }
        if produce.transactional_id.is_some() {
            let msg = Some("transactions are not supported".to_string());
            topics.push((topic.name.clone(), refuse_all(ec::INVALID_REQUEST, msg)));
            continue;
        }
        let Ok(name) = TopicName::new(&topic.name) else {
            topics.push((
                topic.name.clone(),
                refuse_all(ec::INVALID_TOPIC_EXCEPTION, None),
            ));
            continue;
        };
        if !authz.may(Access::Write, name.as_str()) {
            topics.push((
                topic.name.clone(),
                refuse_all(ec::TOPIC_AUTHORIZATION_FAILED, None),
            ));
            continue;
        }
        let found = match broker.engine.topic(name.as_str()) {
            Some(t) => Some(t),
            // Creating a topic, even implicitly, needs configure (Kafka: CREATE).
            None if !authz.may(Access::Configure, name.as_str()) => None,
            None => match broker.engine.topic_or_create(&name).await {
                Ok(t) => t,
                Err(e) => {
                    topics.push((
                        topic.name.clone(),
                        refuse_all(ec::from_engine(&e), Some(e.to_string())),
                    ));
                    continue;
                }
            },
        };
        let Some(t) = found else {
            topics.push((
                topic.name.clone(),
                refuse_all(ec::UNKNOWN_TOPIC_OR_PARTITION, None),
            ));
            continue;
        };
        let max_bytes = broker.engine.config().max_message_bytes;
        for p in topic.partitions {
            let index = p.index;
            let Some(part) = u32::try_from(index).ok().and_then(|i| t.partition(i)) else {
                slots.push(Slot::Done(failed(
                    index,
                    ec::UNKNOWN_TOPIC_OR_PARTITION,
                    None,
                )));
                continue;
            };
            let Some(bytes) = p.records else {
                slots.push(Slot::Done(failed(
                    index,
                    ec::CORRUPT_MESSAGE,
                    Some("null records".into()),
                )));
                continue;
            };
            if bytes.len() > max_bytes {
                slots.push(Slot::Done(failed(index, ec::MESSAGE_TOO_LARGE, None)));
                continue;
            }
            let header = match record_batch::validate(&bytes) {
                Ok(h) => h,
                Err(e) => {
                    tracing::debug!(topic = %name, partition = index, error = %e, "refused batch");
                    slots.push(Slot::Done(failed(
                        index,
                        batch_error_code(&e),
                        Some(e.to_string()),
                    )));
                    continue;
                }
            };
            if header.is_transactional() {
                let msg = Some("transactional batches are not supported".to_string());
                slots.push(Slot::Done(failed(index, ec::INVALID_RECORD, msg)));
                continue;
            }
            let producer = header.is_idempotent().then_some(ProducerSeq {
                producer_id: header.producer_id,
                epoch: header.producer_epoch,
                base_sequence: header.base_sequence,
            });
            let max_timestamp = if header.max_timestamp >= 0 {
                header.max_timestamp
            } else {
                trident_core::message::now_ms()
            };
            let append = AppendRequest {
                record_count: header.offset_count(),
                max_timestamp,
                encoding: BatchEncoding::RecordBatchV2,
                bytes,
                producer,
                wait_durable: acks == -1,
            };
            // Awaited in place: the append is on the partition's queue before the next
            // request of this connection is read.
            slots.push(match part.enqueue_append(append).await {
                Ok(pending) => Slot::Appending(index, pending),
                Err(e) => Slot::Done(append_outcome(index, Err(e))),
            });
        }
        topics.push((topic.name, slots));
    }

    let pending = topics
        .iter()
        .any(|(_, slots)| slots.iter().any(|s| matches!(s, Slot::Appending(..))));
    if acks == 0 {
        // No response; the appends are queued and complete without anyone waiting.
        return Reply::Nothing;
    }
    if !pending {
        return Reply::Frame(req.respond(&finish(topics, throttle_time_ms).await));
    }
    Reply::Later(tokio::spawn(async move {
        let resp = finish(topics, throttle_time_ms).await;
        Some(req.respond(&resp))
    }))
}

async fn finish(topics: Vec<(String, Vec<Slot>)>, throttle_time_ms: i32) -> ProduceResponse {
    let mut responses = Vec::with_capacity(topics.len());
    for (name, slots) in topics {
        let mut partitions = Vec::with_capacity(slots.len());
        for slot in slots {
            partitions.push(match slot {
                Slot::Done(r) => r,
                Slot::Appending(index, pending) => append_outcome(index, pending.result().await),
            });
        }
        responses.push(ProduceTopicResponse { name, partitions });
    }
    ProduceResponse {
        responses,
        throttle_time_ms,
    }
}
