//! Committed offsets: OffsetCommit (8), OffsetFetch (9), OffsetDelete (47).

use crate::codec::wire::{MAX, kafka_struct};

kafka_struct! {
    pub struct OffsetCommitRequest {
        pub group_id: String [0, MAX],
        pub generation_id: i32 [1, MAX] = -1,
        pub member_id: String [1, MAX],
        pub group_instance_id: Option<String> [7, MAX],
        pub retention_time_ms: i64 [2, 4] = -1,
        pub topics: Vec<OffsetCommitRequestTopic> [0, MAX],
    }
}

kafka_struct! {
    pub struct OffsetCommitRequestTopic {
        pub name: String [0, MAX],
        pub partitions: Vec<OffsetCommitRequestPartition> [0, MAX],
    }
}

kafka_struct! {
    pub struct OffsetCommitRequestPartition {
        pub partition_index: i32 [0, MAX],
        pub committed_offset: i64 [0, MAX],
        pub committed_leader_epoch: i32 [6, MAX] = -1,
        pub commit_timestamp: i64 [1, 1] = -1,
        pub committed_metadata: Option<String> [0, MAX],
    }
}

kafka_struct! {
    pub struct OffsetCommitResponse {
        pub throttle_time_ms: i32 [3, MAX],
        pub topics: Vec<OffsetCommitResponseTopic> [0, MAX],
    }
}

kafka_struct! {
    pub struct OffsetCommitResponseTopic {
        pub name: String [0, MAX],
        pub partitions: Vec<OffsetCommitResponsePartition> [0, MAX],
    }
}

kafka_struct! {
    pub struct OffsetCommitResponsePartition {
        pub partition_index: i32 [0, MAX],
        pub error_code: i16 [0, MAX],
    }
}

kafka_struct! {
    pub struct OffsetFetchRequest {
        pub group_id: String [0, 7],
        /// Null (v2+) asks for every partition the group committed.
        pub topics: Option<Vec<OffsetFetchRequestTopic>> [0, 7],
        pub require_stable: bool [7, MAX],
    }
}

kafka_struct! {
    pub struct OffsetFetchRequestTopic {
        pub name: String [0, MAX],
        pub partition_indexes: Vec<i32> [0, MAX],
    }
}

kafka_struct! {
    pub struct OffsetFetchResponse {
        pub throttle_time_ms: i32 [3, MAX],
        pub topics: Vec<OffsetFetchResponseTopic> [0, 7],
        pub error_code: i16 [2, 7],
    }
}

kafka_struct! {
    pub struct OffsetFetchResponseTopic {
        pub name: String [0, MAX],
        pub partitions: Vec<OffsetFetchResponsePartition> [0, MAX],
    }
}

kafka_struct! {
    pub struct OffsetFetchResponsePartition {
        pub partition_index: i32 [0, MAX],
        pub committed_offset: i64 [0, MAX] = -1,
        pub committed_leader_epoch: i32 [5, MAX] = -1,
        pub metadata: Option<String> [0, MAX],
        pub error_code: i16 [0, MAX],
    }
}

kafka_struct! {
    pub struct OffsetDeleteRequest {
        pub group_id: String [0, MAX],
        pub topics: Vec<OffsetDeleteRequestTopic> [0, MAX],
    }
}

kafka_struct! {
    pub struct OffsetDeleteRequestTopic {
        pub name: String [0, MAX],
        pub partitions: Vec<OffsetDeleteRequestPartition> [0, MAX],
    }
}

kafka_struct! {
    pub struct OffsetDeleteRequestPartition {
        pub partition_index: i32 [0, MAX],
    }
}

kafka_struct! {
    pub struct OffsetDeleteResponse {
        pub error_code: i16 [0, MAX],
        pub throttle_time_ms: i32 [0, MAX],
        pub topics: Vec<OffsetDeleteResponseTopic> [0, MAX],
    }
}

kafka_struct! {
    pub struct OffsetDeleteResponseTopic {
        pub name: String [0, MAX],
        pub partitions: Vec<OffsetDeleteResponsePartition> [0, MAX],
    }
}

kafka_struct! {
    pub struct OffsetDeleteResponsePartition {
        pub partition_index: i32 [0, MAX],
        pub error_code: i16 [0, MAX],
    }
}
