//! OffsetCommit, OffsetFetch, OffsetDelete against the engine's committed offsets
//! (durable in the metadata store before a commit is acknowledged).

use tokio::time::Instant;
use trident_engine::{Access, CommittedOffset};

use super::authz::Authz;
use crate::error_code as ec;
use crate::messages::offsets::*;
use crate::shared::Shared;

pub async fn commit(b: &Shared, req: OffsetCommitRequest, version: i16) -> OffsetCommitResponse {
    commit_as(b, req, version, &Authz::Anonymous).await
}

/// OffsetCommit for a caller: committing a position on a topic needs read on it, as
/// Kafka's READ on the topic; refused partitions get TOPIC_AUTHORIZATION_FAILED and are
/// not stored. (Trident's access model has no group resource, so the group itself is
/// open.)
pub async fn commit_as(
    b: &Shared,
    req: OffsetCommitRequest,
    _version: i16,
    authz: &Authz,
) -> OffsetCommitResponse {
    let group_check = if req.group_id.is_empty() {
        ec::INVALID_GROUP_ID
    } else {
        b.coordinator.check_commit(
            &req.group_id,
            &req.member_id,
            req.generation_id,
            Instant::now(),
        )
    };
    let now = trident_core::message::now_ms();
    let mut topics = Vec::with_capacity(req.topics.len());
    let mut entries = Vec::new();
    for t in &req.topics {
        let allowed = authz.may(Access::Read, &t.name);
        let topic = b.engine.topic(&t.name);
        let partitions = t
            .partitions
            .iter()
            .map(|p| {
                let exists = topic.as_ref().is_some_and(|topic| {
                    u32::try_from(p.partition_index)
                        .ok()
                        .and_then(|i| topic.partition(i))
                        .is_some()
                });
                let code = if !allowed {
                    ec::TOPIC_AUTHORIZATION_FAILED
                } else if group_check != ec::NONE {
                    group_check
                } else if !exists {
                    ec::UNKNOWN_TOPIC_OR_PARTITION
                } else {
                    entries.push((
                        t.name.clone(),
                        p.partition_index.unsigned_abs(),
                        CommittedOffset {
                            offset: p.committed_offset,
                            metadata: p.committed_metadata.clone().unwrap_or_default(),
                            commit_timestamp_ms: now,
                        },
                    ));
                    ec::NONE
                };
                OffsetCommitResponsePartition {
                    partition_index: p.partition_index,
                    error_code: code,
                }
            })
            .collect();
        topics.push(OffsetCommitResponseTopic {
            name: t.name.clone(),
            partitions,
        });
    }
    if !entries.is_empty() {
        // The store fsyncs before returning: keep that off the async workers.
        let engine = b.engine.clone();
        let group = req.group_id.clone();
        let stored =
            tokio::task::spawn_blocking(move || engine.offsets().commit(&group, entries)).await;
        let failure = match stored {
            Ok(Ok(())) => None,
            Ok(Err(e)) => Some(ec::from_engine(&e)),
            Err(_) => Some(ec::UNKNOWN_SERVER_ERROR),
        };
        if let Some(code) = failure {
            for t in &mut topics {
                for p in &mut t.partitions {
                    if p.error_code == ec::NONE {
                        p.error_code = code;
                    }
                }
            }
        }
    }
    OffsetCommitResponse {
        throttle_time_ms: 0,
        topics,
    }
}

pub async fn fetch(b: &Shared, req: OffsetFetchRequest, version: i16) -> OffsetFetchResponse {
    fetch_as(b, req, version, &Authz::Anonymous).await
}

/// OffsetFetch for a caller: topics named in the request that it may not read get
/// TOPIC_AUTHORIZATION_FAILED on each partition; a request for all the group's offsets
/// leaves those topics out, as Kafka does.
pub async fn fetch_as(
    b: &Shared,
    req: OffsetFetchRequest,
    _version: i16,
    authz: &Authz,
) -> OffsetFetchResponse {
    let offsets = b.engine.offsets();
    let topics = match req.topics {
        // Every partition the group committed, grouped by topic.
        None => {
            let mut out: Vec<OffsetFetchResponseTopic> = Vec::new();
            for (topic, partition, c) in offsets.group(&req.group_id) {
                if !authz.may(Access::Read, &topic) {
                    continue;
                }
                let p = OffsetFetchResponsePartition {
                    partition_index: i32::try_from(partition).unwrap_or(i32::MAX),
                    committed_offset: c.offset,
                    committed_leader_epoch: -1,
                    metadata: Some(c.metadata),
                    error_code: ec::NONE,
                };
                match out.iter_mut().find(|t| t.name == topic) {
                    Some(t) => t.partitions.push(p),
                    None => out.push(OffsetFetchResponseTopic {
                        name: topic,
                        partitions: vec![p],
                    }),
                }
            }
            out
        }
        Some(ts) => ts
            .into_iter()
            .map(|t| {
                let allowed = authz.may(Access::Read, &t.name);
                let partitions = t
                    .partition_indexes
                    .iter()
                    .map(|&i| {
                        if !allowed {
                            return OffsetFetchResponsePartition {
                                partition_index: i,
                                committed_offset: -1,
                                committed_leader_epoch: -1,
                                metadata: Some(String::new()),
                                error_code: ec::TOPIC_AUTHORIZATION_FAILED,
                            };
                        }
                        let c = u32::try_from(i)
                            .ok()
                            .and_then(|p| offsets.fetch(&req.group_id, &t.name, p));
                        OffsetFetchResponsePartition {
                            partition_index: i,
                            committed_offset: c.as_ref().map_or(-1, |c| c.offset),
                            committed_leader_epoch: -1,
                            metadata: Some(c.map(|c| c.metadata).unwrap_or_default()),
                            error_code: ec::NONE,
                        }
                    })
                    .collect();
                OffsetFetchResponseTopic {
                    name: t.name,
                    partitions,
                }
            })
            .collect(),
    };
    OffsetFetchResponse {
        throttle_time_ms: 0,
        topics,
        error_code: ec::NONE,
    }
}

pub async fn delete(b: &Shared, req: OffsetDeleteRequest, version: i16) -> OffsetDeleteResponse {
    delete_as(b, req, version, &Authz::Anonymous).await
}

/// OffsetDelete for a caller: needs read on each topic (Kafka: READ on the topic).
pub async fn delete_as(
    b: &Shared,
    req: OffsetDeleteRequest,
    _version: i16,
    authz: &Authz,
) -> OffsetDeleteResponse {
    let committed = b.engine.offsets().group(&req.group_id);
    if committed.is_empty() && !b.coordinator.has_members(&req.group_id) {
        return OffsetDeleteResponse {
            error_code: ec::GROUP_ID_NOT_FOUND,
            throttle_time_ms: 0,
            topics: Vec::new(),
        };
    }
    let subscribed = b.coordinator.subscribed_topics(&req.group_id);
    let mut doomed = Vec::new();
    let mut topics: Vec<OffsetDeleteResponseTopic> = req
        .topics
        .into_iter()
        .map(|t| {
            let allowed = authz.may(Access::Read, &t.name);
            let busy = subscribed.contains(&t.name);
            let partitions = t
                .partitions
                .into_iter()
                .map(|p| {
                    let code = if !allowed {
                        ec::TOPIC_AUTHORIZATION_FAILED
                    } else if busy {
                        ec::GROUP_SUBSCRIBED_TO_TOPIC
                    } else {
                        doomed.push((t.name.clone(), p.partition_index.unsigned_abs()));
                        ec::NONE
                    };
                    OffsetDeleteResponsePartition {
                        partition_index: p.partition_index,
                        error_code: code,
                    }
                })
                .collect();
            OffsetDeleteResponseTopic {
                name: t.name,
                partitions,
            }
        })
        .collect();
    if !doomed.is_empty() {
        let engine = b.engine.clone();
        let group = req.group_id.clone();
        let r = tokio::task::spawn_blocking(move || engine.offsets().delete(&group, Some(&doomed)))
            .await;
        let code = match r {
            Ok(Ok(_)) => None,
            Ok(Err(e)) => Some(ec::from_engine(&e)),
            Err(_) => Some(ec::UNKNOWN_SERVER_ERROR),
        };
        if let Some(code) = code {
            for t in &mut topics {
                for p in &mut t.partitions {
                    if p.error_code == ec::NONE {
                        p.error_code = code;
                    }
                }
            }
        }
    }
    OffsetDeleteResponse {
        error_code: ec::NONE,
        throttle_time_ms: 0,
        topics,
    }
}
