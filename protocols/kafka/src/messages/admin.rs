//! Topic administration: CreateTopics (19), DeleteTopics (20), DeleteRecords (21),
//! CreatePartitions (37).

use crate::codec::wire::{MAX, Uuid, kafka_struct};

kafka_struct! {
    pub struct CreateTopicsRequest {
        pub topics: Vec<CreatableTopic> [0, MAX],
        pub timeout_ms: i32 [0, MAX],
        pub validate_only: bool [1, MAX],
    }
}

kafka_struct! {
    pub struct CreatableTopic {
        pub name: String [0, MAX],
        /// -1: the broker default (v4+).
        pub num_partitions: i32 [0, MAX],
        pub replication_factor: i16 [0, MAX],
        pub assignments: Vec<CreatableReplicaAssignment> [0, MAX],
        pub configs: Vec<CreatableTopicConfig> [0, MAX],
    }
}

kafka_struct! {
    pub struct CreatableReplicaAssignment {
        pub partition_index: i32 [0, MAX],
        pub broker_ids: Vec<i32> [0, MAX],
    }
}

kafka_struct! {
    pub struct CreatableTopicConfig {
        pub name: String [0, MAX],
        pub value: Option<String> [0, MAX],
    }
}

kafka_struct! {
    pub struct CreateTopicsResponse {
        pub throttle_time_ms: i32 [2, MAX],
        pub topics: Vec<CreatableTopicResult> [0, MAX],
    }
}

kafka_struct! {
    pub struct CreatableTopicResult {
        pub name: String [0, MAX],
        pub topic_id: Uuid [7, MAX],
        pub error_code: i16 [0, MAX],
        pub error_message: Option<String> [1, MAX],
        pub num_partitions: i32 [5, MAX] = -1,
        pub replication_factor: i16 [5, MAX] = -1,
        pub configs: Option<Vec<CreatableTopicConfigs>> [5, MAX],
    }
}

kafka_struct! {
    pub struct CreatableTopicConfigs {
        pub name: String [0, MAX],
        pub value: Option<String> [0, MAX],
        pub read_only: bool [0, MAX],
        pub config_source: i8 [0, MAX] = -1,
        pub is_sensitive: bool [0, MAX],
    }
}

kafka_struct! {
    pub struct DeleteTopicsRequest {
        pub topics: Vec<DeleteTopicState> [6, MAX],
        pub topic_names: Vec<String> [0, 5],
        pub timeout_ms: i32 [0, MAX],
    }
}

kafka_struct! {
    pub struct DeleteTopicState {
        pub name: Option<String> [0, MAX],
        pub topic_id: Uuid [0, MAX],
    }
}

kafka_struct! {
    pub struct DeleteTopicsResponse {
        pub throttle_time_ms: i32 [1, MAX],
        pub responses: Vec<DeletableTopicResult> [0, MAX],
    }
}

kafka_struct! {
    pub struct DeletableTopicResult {
        pub name: Option<String> [0, MAX],
        pub topic_id: Uuid [6, MAX],
        pub error_code: i16 [0, MAX],
        pub error_message: Option<String> [5, MAX],
    }
}

kafka_struct! {
    pub struct DeleteRecordsRequest {
        pub topics: Vec<DeleteRecordsTopic> [0, MAX],
        pub timeout_ms: i32 [0, MAX],
    }
}

kafka_struct! {
    pub struct DeleteRecordsTopic {
        pub name: String [0, MAX],
        pub partitions: Vec<DeleteRecordsPartition> [0, MAX],
    }
}

kafka_struct! {
    pub struct DeleteRecordsPartition {
        pub partition_index: i32 [0, MAX],
        /// Delete everything before this offset; -1 means the high watermark.
        pub offset: i64 [0, MAX],
    }
}

kafka_struct! {
    pub struct DeleteRecordsResponse {
        pub throttle_time_ms: i32 [0, MAX],
        pub topics: Vec<DeleteRecordsTopicResult> [0, MAX],
    }
}

kafka_struct! {
    pub struct DeleteRecordsTopicResult {
        pub name: String [0, MAX],
        pub partitions: Vec<DeleteRecordsPartitionResult> [0, MAX],
    }
}

kafka_struct! {
    pub struct DeleteRecordsPartitionResult {
        pub partition_index: i32 [0, MAX],
        pub low_watermark: i64 [0, MAX] = -1,
        pub error_code: i16 [0, MAX],
    }
}

kafka_struct! {
    pub struct CreatePartitionsRequest {
        pub topics: Vec<CreatePartitionsTopic> [0, MAX],
        pub timeout_ms: i32 [0, MAX],
        pub validate_only: bool [0, MAX],
    }
}

kafka_struct! {
    pub struct CreatePartitionsTopic {
        pub name: String [0, MAX],
        /// The new total partition count.
        pub count: i32 [0, MAX],
        pub assignments: Option<Vec<CreatePartitionsAssignment>> [0, MAX],
    }
}

kafka_struct! {
    pub struct CreatePartitionsAssignment {
        pub broker_ids: Vec<i32> [0, MAX],
    }
}

kafka_struct! {
    pub struct CreatePartitionsResponse {
        pub throttle_time_ms: i32 [0, MAX],
        pub results: Vec<CreatePartitionsTopicResult> [0, MAX],
    }
}

kafka_struct! {
    pub struct CreatePartitionsTopicResult {
        pub name: String [0, MAX],
        pub error_code: i16 [0, MAX],
        pub error_message: Option<String> [0, MAX],
    }
}
