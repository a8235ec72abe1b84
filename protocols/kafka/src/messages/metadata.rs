//! Metadata (key 3) and DescribeCluster (key 60).

use crate::codec::wire::{MAX, Uuid, kafka_struct};

kafka_struct! {
    pub struct MetadataRequest {
        /// Null asks for every topic (v1+); in v0 an empty array does.
        pub topics: Option<Vec<MetadataRequestTopic>> [0, MAX],
        pub allow_auto_topic_creation: bool [4, MAX] = true,
        pub include_cluster_authorized_operations: bool [8, 10],
        pub include_topic_authorized_operations: bool [8, MAX],
    }
}

kafka_struct! {
    pub struct MetadataRequestTopic {
        pub topic_id: Uuid [10, MAX],
        pub name: Option<String> [0, MAX],
    }
}

kafka_struct! {
    pub struct MetadataResponse {
        pub throttle_time_ms: i32 [3, MAX],
        pub brokers: Vec<MetadataBroker> [0, MAX],
        pub cluster_id: Option<String> [2, MAX],
        pub controller_id: i32 [1, MAX] = -1,
        pub topics: Vec<MetadataTopic> [0, MAX],
        pub cluster_authorized_operations: i32 [8, 10] = i32::MIN,
    }
}

kafka_struct! {
    pub struct MetadataBroker {
        pub node_id: i32 [0, MAX],
        pub host: String [0, MAX],
        pub port: i32 [0, MAX],
        pub rack: Option<String> [1, MAX],
    }
}

kafka_struct! {
    pub struct MetadataTopic {
        pub error_code: i16 [0, MAX],
        pub name: Option<String> [0, MAX],
        pub topic_id: Uuid [10, MAX],
        pub is_internal: bool [1, MAX],
        pub partitions: Vec<MetadataPartition> [0, MAX],
        pub topic_authorized_operations: i32 [8, MAX] = i32::MIN,
    }
}

kafka_struct! {
    pub struct MetadataPartition {
        pub error_code: i16 [0, MAX],
        pub partition_index: i32 [0, MAX],
        pub leader_id: i32 [0, MAX],
        pub leader_epoch: i32 [7, MAX] = -1,
        pub replica_nodes: Vec<i32> [0, MAX],
        pub isr_nodes: Vec<i32> [0, MAX],
        pub offline_replicas: Vec<i32> [5, MAX],
    }
}

kafka_struct! {
    pub struct DescribeClusterRequest {
        pub include_cluster_authorized_operations: bool [0, MAX],
        pub endpoint_type: i8 [1, MAX] = 1,
    }
}

kafka_struct! {
    pub struct DescribeClusterResponse {
        pub throttle_time_ms: i32 [0, MAX],
        pub error_code: i16 [0, MAX],
        pub error_message: Option<String> [0, MAX],
        pub endpoint_type: i8 [1, MAX] = 1,
        pub cluster_id: String [0, MAX],
        pub controller_id: i32 [0, MAX] = -1,
        pub brokers: Vec<DescribeClusterBroker> [0, MAX],
        pub cluster_authorized_operations: i32 [0, MAX] = i32::MIN,
    }
}

kafka_struct! {
    pub struct DescribeClusterBroker {
        pub broker_id: i32 [0, MAX],
        pub host: String [0, MAX],
        pub port: i32 [0, MAX],
        pub rack: Option<String> [0, MAX],
    }
}
