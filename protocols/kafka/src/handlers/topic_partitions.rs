//! DescribeTopicPartitions (KIP-966), paged the way Kafka's broker pages it: topics in
//! name order, at most `min(response_partition_limit, 2000)` partitions per response,
//! and a `next_cursor` (topic, partition) wherever the limit cut the listing; the next
//! request passes it back as `cursor`. Unknown topics named in the request come back
//! with UNKNOWN_TOPIC_OR_PARTITION; the request never creates topics.

use trident_core::TopicName;
use trident_engine::Topic;

use super::authz::Authz;
use super::topic_id;
use crate::error_code as ec;
use crate::messages::topic_partitions::{
    Cursor, DescribeTopicPartitionsPartition, DescribeTopicPartitionsRequest,
    DescribeTopicPartitionsResponse, DescribeTopicPartitionsTopic,
};
use crate::shared::Shared;

/// Kafka's `max.request.partition.size.limit` default: the most partitions one response
/// describes, whatever the client asks for.
const MAX_PARTITIONS: i32 = 2000;

pub async fn handle(
    b: &Shared,
    req: DescribeTopicPartitionsRequest,
    version: i16,
) -> DescribeTopicPartitionsResponse {
    handle_as(b, req, version, &Authz::Anonymous).await
}

/// As Metadata: listing every topic leaves out those the caller may not describe; a
/// topic named explicitly gets TOPIC_AUTHORIZATION_FAILED.
pub async fn handle_as(
    b: &Shared,
    req: DescribeTopicPartitionsRequest,
    _version: i16,
    authz: &Authz,
) -> DescribeTopicPartitionsResponse {
    let cursor = req.cursor.0;
    let from_topic = cursor.as_ref().map_or("", |c| c.topic_name.as_str());
    let every_topic = req.topics.is_empty();
    let mut names: Vec<String> = if every_topic {
        b.engine
            .topics()
            .iter()
            .map(|t| t.name.to_string())
            .filter(|n| authz.may_describe(n))
            .collect()
    } else {
        req.topics.iter().map(|t| t.name.clone()).collect()
    };
    names.retain(|n| n.as_str() >= from_topic);
    names.sort_unstable();
    names.dedup();
    if let Some(c) = &cursor {
        // As Kafka: a cursor must name a requested topic and a real partition index.
        let unlisted = !every_topic && !names.contains(&c.topic_name);
        if unlisted || c.partition_index < 0 {
            return refuse_all(&req.topics, ec::INVALID_REQUEST);
        }
    }

    let mut remaining = req.response_partition_limit.min(MAX_PARTITIONS);
    let mut topics = Vec::new();
    let mut next_cursor = None;
    for name in names {
        if remaining == 0 {
            // The limit fell exactly at the end of the previous topic.
            next_cursor = Some(Cursor {
                topic_name: name,
                partition_index: 0,
            });
            break;
        }
        if remaining < 0 {
            break;
        }
        let start = match &cursor {
            Some(c) if c.topic_name == name => c.partition_index,
            _ => 0,
        };
        if !authz.may_describe(&name) {
            // Only named topics get here: the listing of all was filtered above.
            topics.push(topic_error(name, ec::TOPIC_AUTHORIZATION_FAILED));
            continue;
        }
        let Some(t) = b.engine.topic(&name) else {
            if !every_topic {
                let code = if TopicName::new(&name).is_ok() {
                    ec::UNKNOWN_TOPIC_OR_PARTITION
                } else {
                    ec::INVALID_TOPIC_EXCEPTION
                };
                topics.push(topic_error(name, code));
            }
            continue;
        };
        let total = i32::try_from(t.partitions.len()).unwrap_or(i32::MAX);
        let end = total.min(start.saturating_add(remaining));
        topics.push(describe(b, &t, start, end));
        if end < total {
            next_cursor = Some(Cursor {
                topic_name: name,
                partition_index: end,
            });
            break;
        }
        remaining -= (end - start).max(0);
    }
    DescribeTopicPartitionsResponse {
        throttle_time_ms: 0,
        topics,
        next_cursor: crate::codec::wire::Nullable(next_cursor),
    }
}

fn topic_error(name: String, code: i16) -> DescribeTopicPartitionsTopic {
    DescribeTopicPartitionsTopic {
        error_code: code,
        name: Some(name),
        ..Default::default()
    }
}

fn refuse_all(
    requested: &[crate::messages::topic_partitions::TopicRequest],
    code: i16,
) -> DescribeTopicPartitionsResponse {
    DescribeTopicPartitionsResponse {
        throttle_time_ms: 0,
        topics: requested
            .iter()
            .map(|t| topic_error(t.name.clone(), code))
            .collect(),
        next_cursor: Default::default(),
    }
}

/// Partitions `start..end` of a topic (empty when `start` is past the last one).
fn describe(b: &Shared, t: &Topic, start: i32, end: i32) -> DescribeTopicPartitionsTopic {
    let node = b.node_id();
    DescribeTopicPartitionsTopic {
        error_code: ec::NONE,
        name: Some(t.name.to_string()),
        topic_id: topic_id(t.name.as_str()),
        is_internal: false,
        partitions: (start..end)
            .map(|i| DescribeTopicPartitionsPartition {
                error_code: ec::NONE,
                partition_index: i,
                leader_id: node,
                // As in Metadata: one leader forever, epoch 0.
                leader_epoch: 0,
                replica_nodes: vec![node],
                isr_nodes: vec![node],
                eligible_leader_replicas: None,
                last_known_elr: None,
                offline_replicas: Vec::new(),
            })
            .collect(),
        topic_authorized_operations: i32::MIN,
    }
}
