//! CreateTopics, DeleteTopics, CreatePartitions, DeleteRecords.

use trident_core::{Error, TopicName};

use trident_engine::Access;

use super::authz::Authz;
use super::topic_id;
use crate::error_code as ec;
use crate::messages::admin::*;
use crate::shared::Shared;
use crate::topic_config::{self, SOURCE_DEFAULT, SOURCE_DYNAMIC_TOPIC};

fn as_i32(n: usize) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

pub async fn create_topics(
    b: &Shared,
    req: CreateTopicsRequest,
    version: i16,
) -> CreateTopicsResponse {
    create_topics_as(b, req, version, &Authz::Anonymous).await
}

/// CreateTopics for a caller: topics it may not configure are refused with
/// TOPIC_AUTHORIZATION_FAILED, as by Kafka's authorizer.
pub async fn create_topics_as(
    b: &Shared,
    req: CreateTopicsRequest,
    _version: i16,
    authz: &Authz,
) -> CreateTopicsResponse {
    let mut topics = Vec::with_capacity(req.topics.len());
    for t in req.topics {
        if !authz.may(Access::Configure, &t.name) {
            topics.push(CreatableTopicResult {
                error_code: ec::TOPIC_AUTHORIZATION_FAILED,
                error_message: Some(format!("not authorized to create topic '{}'", t.name)),
                name: t.name,
                ..Default::default()
            });
            continue;
        }
        topics.push(create_one(b, t, req.validate_only).await);
    }
    CreateTopicsResponse {
        throttle_time_ms: 0,
        topics,
    }
}

async fn create_one(b: &Shared, t: CreatableTopic, validate_only: bool) -> CreatableTopicResult {
    let fail = |code: i16, msg: String| CreatableTopicResult {
        name: t.name.clone(),
        error_code: code,
        error_message: Some(msg),
        ..Default::default()
    };
    let name = match TopicName::new(&t.name) {
        Ok(n) => n,
        Err(e) => return fail(ec::INVALID_TOPIC_EXCEPTION, e.to_string()),
    };
    if !matches!(t.replication_factor, -1 | 1) && t.assignments.is_empty() {
        return fail(
            ec::INVALID_REPLICATION_FACTOR,
            format!(
                "replication factor {} is larger than the 1 available broker",
                t.replication_factor
            ),
        );
    }
    let defaults = &b.engine.config().default_topic;
    let partitions = if t.assignments.is_empty() {
        match t.num_partitions {
            -1 => defaults.partitions,
            n if n > 0 => n.unsigned_abs(),
            n => {
                return fail(
                    ec::INVALID_PARTITIONS,
                    format!("invalid partition count {n}"),
                );
            }
        }
    } else {
        if t.num_partitions != -1 || t.replication_factor != -1 {
            return fail(
                ec::INVALID_REQUEST,
                "give either replica assignments or partition count and replication factor".into(),
            );
        }
        let node = b.node_id();
        let mut indexes: Vec<i32> = t.assignments.iter().map(|a| a.partition_index).collect();
        indexes.sort_unstable();
        let consecutive = indexes.iter().enumerate().all(|(i, p)| as_i32(i) == *p);
        if !consecutive || t.assignments.iter().any(|a| a.broker_ids != [node]) {
            return fail(
                ec::INVALID_REPLICA_ASSIGNMENT,
                format!("partitions must be 0..n, each on broker {node} alone"),
            );
        }
        u32::try_from(t.assignments.len()).unwrap_or(u32::MAX)
    };
    let mut config = defaults.clone();
    config.partitions = partitions;
    for c in &t.configs {
        if let Err(msg) = topic_config::apply(&mut config, defaults, &c.name, c.value.as_deref()) {
            return fail(ec::INVALID_CONFIG, msg);
        }
    }
    if b.engine.topic(name.as_str()).is_some() {
        return fail(
            ec::TOPIC_ALREADY_EXISTS,
            format!("Topic '{name}' already exists."),
        );
    }
    if !validate_only {
        match b.engine.create_topic(name.clone(), config.clone()).await {
            Ok(_) => {}
            Err(Error::PreconditionFailed(m)) => return fail(ec::TOPIC_ALREADY_EXISTS, m),
            Err(e) => return fail(ec::from_engine(&e), e.to_string()),
        }
    }
    let max = b.engine.config().max_message_bytes;
    let configs = topic_config::describe(&config, defaults, max)
        .into_iter()
        .map(|e| CreatableTopicConfigs {
            name: e.name.to_string(),
            value: Some(e.value),
            read_only: e.read_only,
            config_source: if e.is_default {
                SOURCE_DEFAULT
            } else {
                SOURCE_DYNAMIC_TOPIC
            },
            is_sensitive: false,
        })
        .collect();
    CreatableTopicResult {
        name: t.name,
        topic_id: topic_id(name.as_str()),
        error_code: ec::NONE,
        error_message: None,
        num_partitions: i32::try_from(partitions).unwrap_or(i32::MAX),
        replication_factor: 1,
        configs: Some(configs),
    }
}

pub async fn delete_topics(
    b: &Shared,
    req: DeleteTopicsRequest,
    version: i16,
) -> DeleteTopicsResponse {
    delete_topics_as(b, req, version, &Authz::Anonymous).await
}

/// DeleteTopics for a caller: topics it may not configure are refused with
/// TOPIC_AUTHORIZATION_FAILED.
pub async fn delete_topics_as(
    b: &Shared,
    req: DeleteTopicsRequest,
    _version: i16,
    authz: &Authz,
) -> DeleteTopicsResponse {
    // v6 names topics by name or id; ids are derived from names, so map them back.
    let mut wanted: Vec<(Option<String>, [u8; 16])> = req
        .topic_names
        .into_iter()
        .map(|n| (Some(n), [0; 16]))
        .collect();
    for t in req.topics {
        let name = t.name.or_else(|| {
            b.engine
                .topics()
                .iter()
                .find(|topic| topic_id(topic.name.as_str()) == t.topic_id)
                .map(|topic| topic.name.to_string())
        });
        wanted.push((name, t.topic_id));
    }
    let mut responses = Vec::with_capacity(wanted.len());
    for (name, id) in wanted {
        let Some(name) = name else {
            responses.push(DeletableTopicResult {
                name: None,
                topic_id: id,
                error_code: ec::UNKNOWN_TOPIC_OR_PARTITION,
                error_message: Some("unknown topic id".into()),
            });
            continue;
        };
        let id = topic_id(&name);
        if !authz.may(Access::Configure, &name) {
            responses.push(DeletableTopicResult {
                error_message: Some(format!("not authorized to delete topic '{name}'")),
                name: Some(name),
                topic_id: id,
                error_code: ec::TOPIC_AUTHORIZATION_FAILED,
            });
            continue;
        }
        let (code, msg) = match b.engine.delete_topic(&name).await {
            Ok(()) => (ec::NONE, None),
            Err(e) => (ec::from_engine(&e), Some(e.to_string())),
        };
        responses.push(DeletableTopicResult {
            name: Some(name),
            topic_id: id,
            error_code: code,
            error_message: msg,
        });
    }
    DeleteTopicsResponse {
        throttle_time_ms: 0,
        responses,
    }
}

pub async fn create_partitions(
    b: &Shared,
    req: CreatePartitionsRequest,
    version: i16,
) -> CreatePartitionsResponse {
    create_partitions_as(b, req, version, &Authz::Anonymous).await
}

/// CreatePartitions for a caller: growing a topic needs configure on it (Kafka: ALTER).
pub async fn create_partitions_as(
    b: &Shared,
    req: CreatePartitionsRequest,
    _version: i16,
    authz: &Authz,
) -> CreatePartitionsResponse {
    let mut results = Vec::with_capacity(req.topics.len());
    for t in req.topics {
        let result = |code: i16, msg: Option<String>| CreatePartitionsTopicResult {
            name: t.name.clone(),
            error_code: code,
            error_message: msg,
        };
        if !authz.may(Access::Configure, &t.name) {
            results.push(result(
                ec::TOPIC_AUTHORIZATION_FAILED,
                Some(format!("not authorized to alter topic '{}'", t.name)),
            ));
            continue;
        }
        let Some(topic) = b.engine.topic(&t.name) else {
            results.push(result(
                ec::UNKNOWN_TOPIC_OR_PARTITION,
                Some("no such topic".into()),
            ));
            continue;
        };
        let current = topic.partitions.len();
        let Some(total) = u32::try_from(t.count)
            .ok()
            .filter(|n| *n as usize > current)
        else {
            results.push(result(
                ec::INVALID_PARTITIONS,
                Some(format!(
                    "topic has {current} partitions; the new count must be larger, got {}",
                    t.count
                )),
            ));
            continue;
        };
        if let Some(a) = &t.assignments {
            let node = b.node_id();
            if a.len() != total as usize - current || a.iter().any(|x| x.broker_ids != [node]) {
                results.push(result(
                    ec::INVALID_REPLICA_ASSIGNMENT,
                    Some(format!("each new partition must be on broker {node} alone")),
                ));
                continue;
            }
        }
        if req.validate_only {
            results.push(result(ec::NONE, None));
            continue;
        }
        match b.engine.create_partitions(&t.name, total).await {
            Ok(()) => results.push(result(ec::NONE, None)),
            Err(e) => results.push(result(ec::from_engine(&e), Some(e.to_string()))),
        }
    }
    CreatePartitionsResponse {
        throttle_time_ms: 0,
        results,
    }
}

pub async fn delete_records(
    b: &Shared,
    req: DeleteRecordsRequest,
    version: i16,
) -> DeleteRecordsResponse {
    delete_records_as(b, req, version, &Authz::Anonymous).await
}

/// DeleteRecords for a caller: needs configure on the topic (Kafka: DELETE); refused
/// partitions get TOPIC_AUTHORIZATION_FAILED and keep their records.
pub async fn delete_records_as(
    b: &Shared,
    req: DeleteRecordsRequest,
    _version: i16,
    authz: &Authz,
) -> DeleteRecordsResponse {
    let mut topics = Vec::with_capacity(req.topics.len());
    for t in req.topics {
        let allowed = authz.may(Access::Configure, &t.name);
        let topic = b.engine.topic(&t.name).filter(|_| allowed);
        let mut partitions = Vec::with_capacity(t.partitions.len());
        for p in t.partitions {
            let mut r = DeleteRecordsPartitionResult {
                partition_index: p.partition_index,
                low_watermark: -1,
                error_code: ec::NONE,
            };
            let part = topic.as_ref().and_then(|topic| {
                u32::try_from(p.partition_index)
                    .ok()
                    .and_then(|i| topic.partition(i))
            });
            match part {
                None if !allowed => r.error_code = ec::TOPIC_AUTHORIZATION_FAILED,
                None => r.error_code = ec::UNKNOWN_TOPIC_OR_PARTITION,
                Some(part) => {
                    let hw = part.high_watermark();
                    let target = match p.offset {
                        -1 => Some(hw),
                        o => u64::try_from(o).ok().filter(|o| *o <= hw),
                    };
                    match target {
                        None => r.error_code = ec::OFFSET_OUT_OF_RANGE,
                        Some(o) => match part.delete_records_before(o).await {
                            Ok(low) => r.low_watermark = i64::try_from(low).unwrap_or(i64::MAX),
                            Err(e) => r.error_code = ec::from_engine(&e),
                        },
                    }
                }
            }
            partitions.push(r);
        }
        topics.push(DeleteRecordsTopicResult {
            name: t.name,
            partitions,
        });
    }
    DeleteRecordsResponse {
        throttle_time_ms: 0,
        topics,
    }
}
