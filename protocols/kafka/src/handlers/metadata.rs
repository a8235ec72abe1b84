//! Metadata and DescribeCluster: one broker that leads every partition.

use trident_core::TopicName;
use trident_engine::{Access, Topic};

use super::authz::Authz;
use super::topic_id;
use crate::error_code as ec;
use crate::messages::metadata::{
    DescribeClusterBroker, DescribeClusterResponse, MetadataBroker, MetadataPartition,
    MetadataRequest, MetadataResponse, MetadataTopic,
};
use crate::shared::Shared;

pub async fn handle(b: &Shared, req: MetadataRequest, version: i16) -> MetadataResponse {
    handle_as(b, req, version, b.port_i32(), &Authz::Anonymous).await
}

/// Metadata for a caller on one listener. Each listener (plain or TLS) names itself, as
/// a Kafka broker answers with the endpoints of the listener the request came in on.
/// As Kafka's authorizer answers it: a listing of every topic leaves out those the
/// caller may not describe; a topic named explicitly gets TOPIC_AUTHORIZATION_FAILED
/// instead (whether it exists or not, so that the answer does not reveal it);
/// auto-creation needs configure, and without it a missing topic is
/// UNKNOWN_TOPIC_OR_PARTITION.
pub async fn handle_as(
    b: &Shared,
    req: MetadataRequest,
    version: i16,
    port: i32,
    authz: &Authz,
) -> MetadataResponse {
    // v0 asks for every topic with an empty list; later versions with null.
    let names: Option<Vec<String>> = match req.topics {
        None => None,
        Some(ts) if version == 0 && ts.is_empty() => None,
        Some(ts) => Some(ts.into_iter().filter_map(|t| t.name).collect()),
    };
    // Before v4 there is no flag and brokers auto-create as configured.
    let may_create = version < 4 || req.allow_auto_topic_creation;
    let topics = match names {
        None => b
            .engine
            .topics()
            .iter()
            .filter(|t| authz.may_describe(t.name.as_str()))
            .map(|t| describe_topic(b, t))
            .collect(),
        Some(names) => {
            let mut out = Vec::with_capacity(names.len());
            for name in names {
                if !authz.may_describe(&name) {
                    out.push(topic_error(name, ec::TOPIC_AUTHORIZATION_FAILED));
                    continue;
                }
                let create = may_create && authz.may(Access::Configure, &name);
                out.push(lookup(b, name, create).await);
            }
            out
        }
    };
    MetadataResponse {
        throttle_time_ms: 0,
        brokers: vec![MetadataBroker {
            node_id: b.node_id(),
            host: b.host().to_string(),
            port,
            rack: None,
        }],
        cluster_id: Some(b.config.cluster_id.clone()),
        controller_id: b.node_id(),
        topics,
        cluster_authorized_operations: i32::MIN,
    }
}

fn topic_error(name: String, code: i16) -> MetadataTopic {
    MetadataTopic {
        error_code: code,
        name: Some(name),
        ..Default::default()
    }
}

async fn lookup(b: &Shared, name: String, may_create: bool) -> MetadataTopic {
    let Ok(topic_name) = TopicName::new(&name) else {
        return topic_error(name, ec::INVALID_TOPIC_EXCEPTION);
    };
    if let Some(t) = b.engine.topic(&name) {
        return describe_topic(b, &t);
    }
    if !may_create {
        return topic_error(name, ec::UNKNOWN_TOPIC_OR_PARTITION);
    }
    match b.engine.topic_or_create(&topic_name).await {
        Ok(Some(t)) => describe_topic(b, &t),
        Ok(None) => topic_error(name, ec::UNKNOWN_TOPIC_OR_PARTITION),
        Err(e) => topic_error(name, ec::from_engine(&e)),
    }
}

pub fn describe_topic(b: &Shared, t: &Topic) -> MetadataTopic {
    let node = b.node_id();
    MetadataTopic {
        error_code: ec::NONE,
        name: Some(t.name.to_string()),
        topic_id: topic_id(t.name.as_str()),
        is_internal: false,
        partitions: (0..t.partitions.len())
            .map(|i| MetadataPartition {
                error_code: ec::NONE,
                partition_index: i32::try_from(i).unwrap_or(i32::MAX),
                leader_id: node,
                // One leader forever: epoch 0 lets clients validate positions
                // (KIP-320) against OffsetForLeaderEpoch without ever seeing a change.
                leader_epoch: 0,
                replica_nodes: vec![node],
                isr_nodes: vec![node],
                offline_replicas: Vec::new(),
            })
            .collect(),
        topic_authorized_operations: i32::MIN,
    }
}

pub fn describe_cluster(b: &Shared) -> DescribeClusterResponse {
    describe_cluster_for(b, b.port_i32())
}

/// [`describe_cluster`] advertising `port` (see [`handle_as`]).
pub fn describe_cluster_for(b: &Shared, port: i32) -> DescribeClusterResponse {
    DescribeClusterResponse {
        throttle_time_ms: 0,
        error_code: ec::NONE,
        error_message: None,
        endpoint_type: 1,
        cluster_id: b.config.cluster_id.clone(),
        controller_id: b.node_id(),
        brokers: vec![DescribeClusterBroker {
            broker_id: b.node_id(),
            host: b.host().to_string(),
            port,
            rack: None,
        }],
        cluster_authorized_operations: i32::MIN,
    }
}
