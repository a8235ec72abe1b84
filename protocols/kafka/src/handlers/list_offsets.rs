//! ListOffsets (earliest, latest, by timestamp) and OffsetForLeaderEpoch.

use trident_engine::PartitionRef;

use super::authz::Authz;
use crate::codec::record_batch;
use crate::error_code as ec;
use crate::messages::list_offsets::{
    EARLIEST_TIMESTAMP, EpochEndOffset, LATEST_TIMESTAMP, ListOffsetsPartitionResponse,
    ListOffsetsRequest, ListOffsetsResponse, ListOffsetsTopicResponse, OffsetForLeaderEpochRequest,
    OffsetForLeaderEpochResponse, OffsetForLeaderTopicResult,
};
use crate::shared::Shared;

fn as_i64(o: u64) -> i64 {
    i64::try_from(o).unwrap_or(i64::MAX)
}

pub async fn handle(b: &Shared, req: ListOffsetsRequest, version: i16) -> ListOffsetsResponse {
    handle_as(b, req, version, &Authz::Anonymous).await
}

/// ListOffsets for a caller: a topic it may not describe gets TOPIC_AUTHORIZATION_FAILED
/// on every partition, as from Kafka.
pub async fn handle_as(
    b: &Shared,
    req: ListOffsetsRequest,
    version: i16,
    authz: &Authz,
) -> ListOffsetsResponse {
    let mut topics = Vec::with_capacity(req.topics.len());
    for t in req.topics {
        let allowed = authz.may_describe(&t.name);
        let topic = b.engine.topic(&t.name).filter(|_| allowed);
        let mut partitions = Vec::with_capacity(t.partitions.len());
        for p in t.partitions {
            let part = topic.as_ref().and_then(|topic| {
                u32::try_from(p.partition_index)
                    .ok()
                    .and_then(|i| topic.partition(i))
            });
            let mut r = ListOffsetsPartitionResponse {
                partition_index: p.partition_index,
                ..Default::default()
            };
            match part {
                None if !allowed => r.error_code = ec::TOPIC_AUTHORIZATION_FAILED,
                None => r.error_code = ec::UNKNOWN_TOPIC_OR_PARTITION,
                Some(part) => match lookup(part, p.timestamp).await {
                    Ok(Some((offset, ts))) => {
                        r.offset = offset;
                        r.timestamp = ts;
                        r.leader_epoch = 0;
                        r.old_style_offsets = vec![offset];
                    }
                    Ok(None) => {
                        r.offset = -1;
                        r.timestamp = -1;
                    }
                    Err(code) => r.error_code = code,
                },
            }
            if version == 0 && r.error_code != ec::NONE {
                r.old_style_offsets.clear();
            }
            partitions.push(r);
        }
        topics.push(ListOffsetsTopicResponse {
            name: t.name,
            partitions,
        });
    }
    ListOffsetsResponse {
        throttle_time_ms: 0,
        topics,
    }
}

/// (offset, timestamp) for a ListOffsets query; `None` when no record is that recent.
async fn lookup(p: &PartitionRef, timestamp: i64) -> Result<Option<(i64, i64)>, i16> {
    match timestamp {
        LATEST_TIMESTAMP => Ok(Some((as_i64(p.high_watermark()), -1))),
        EARLIEST_TIMESTAMP => Ok(Some((as_i64(p.log_start_offset()), -1))),
        ts if ts < 0 => Err(ec::UNSUPPORTED_VERSION),
        ts => {
            let found = p
                .offset_for_timestamp(ts)
                .await
                .map_err(|e| ec::from_engine(&e))?;
            let Some(offset) = found else {
                return Ok(None);
            };
            // The time index is per batch; narrow it to the first record at or after
            // `ts` by reading that batch's record timestamps (decompressing if needed).
            let read = p.read(offset, 1).await.map_err(|e| ec::from_engine(&e))?;
            let Some(batch) = read.batches.first() else {
                return Ok(Some((as_i64(offset), ts)));
            };
            match record_batch::first_record_at_or_after(&batch.bytes, ts) {
                Some((delta, record_ts)) => {
                    let at = batch
                        .base_offset
                        .saturating_add(u64::try_from(delta).unwrap_or(0));
                    Ok(Some((as_i64(at.max(offset)), record_ts)))
                }
                None => Ok(Some((
                    as_i64(offset.max(batch.base_offset)),
                    batch.max_timestamp,
                ))),
            }
        }
    }
}

/// A single leader that never changes: epoch 0 ends at the high watermark.
pub async fn offset_for_leader_epoch(
    b: &Shared,
    req: OffsetForLeaderEpochRequest,
    version: i16,
) -> OffsetForLeaderEpochResponse {
    offset_for_leader_epoch_as(b, req, version, &Authz::Anonymous).await
}

/// OffsetForLeaderEpoch for a caller: needs describe on the topic.
pub async fn offset_for_leader_epoch_as(
    b: &Shared,
    req: OffsetForLeaderEpochRequest,
    _version: i16,
    authz: &Authz,
) -> OffsetForLeaderEpochResponse {
    let topics = req
        .topics
        .into_iter()
        .map(|t| {
            let allowed = authz.may_describe(&t.topic);
            let topic = b.engine.topic(&t.topic).filter(|_| allowed);
            let partitions = t
                .partitions
                .into_iter()
                .map(|p| {
                    let part = topic.as_ref().and_then(|topic| {
                        u32::try_from(p.partition)
                            .ok()
                            .and_then(|i| topic.partition(i))
                    });
                    match part {
                        Some(part) => EpochEndOffset {
                            error_code: ec::NONE,
                            partition: p.partition,
                            leader_epoch: 0,
                            end_offset: as_i64(part.high_watermark()),
                        },
                        None => EpochEndOffset {
                            error_code: if allowed {
                                ec::UNKNOWN_TOPIC_OR_PARTITION
                            } else {
                                ec::TOPIC_AUTHORIZATION_FAILED
                            },
                            partition: p.partition,
                            leader_epoch: -1,
                            end_offset: -1,
                        },
                    }
                })
                .collect();
            OffsetForLeaderTopicResult {
                topic: t.topic,
                partitions,
            }
        })
        .collect();
    OffsetForLeaderEpochResponse {
        throttle_time_ms: 0,
        topics,
    }
}
