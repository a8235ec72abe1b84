//! ListOffsets (key 2) and OffsetForLeaderEpoch (key 23).

use crate::codec::wire::{MAX, kafka_struct};

/// Timestamp values with special meaning in a ListOffsets request.
pub const LATEST_TIMESTAMP: i64 = -1;
pub const EARLIEST_TIMESTAMP: i64 = -2;

kafka_struct! {
    pub struct ListOffsetsRequest {
        pub replica_id: i32 [0, MAX] = -1,
        pub isolation_level: i8 [2, MAX],
        pub topics: Vec<ListOffsetsTopic> [0, MAX],
    }
}

kafka_struct! {
    pub struct ListOffsetsTopic {
        pub name: String [0, MAX],
        pub partitions: Vec<ListOffsetsPartition> [0, MAX],
    }
}

kafka_struct! {
    pub struct ListOffsetsPartition {
        pub partition_index: i32 [0, MAX],
        pub current_leader_epoch: i32 [4, MAX] = -1,
        pub timestamp: i64 [0, MAX],
        pub max_num_offsets: i32 [0, 0] = 1,
    }
}

kafka_struct! {
    pub struct ListOffsetsResponse {
        pub throttle_time_ms: i32 [2, MAX],
        pub topics: Vec<ListOffsetsTopicResponse> [0, MAX],
    }
}

kafka_struct! {
    pub struct ListOffsetsTopicResponse {
        pub name: String [0, MAX],
        pub partitions: Vec<ListOffsetsPartitionResponse> [0, MAX],
    }
}

kafka_struct! {
    pub struct ListOffsetsPartitionResponse {
        pub partition_index: i32 [0, MAX],
        pub error_code: i16 [0, MAX],
        pub old_style_offsets: Vec<i64> [0, 0],
        pub timestamp: i64 [1, MAX] = -1,
        pub offset: i64 [1, MAX] = -1,
        pub leader_epoch: i32 [4, MAX] = -1,
    }
}

kafka_struct! {
    pub struct OffsetForLeaderEpochRequest {
        pub replica_id: i32 [3, MAX] = -2,
        pub topics: Vec<OffsetForLeaderTopic> [0, MAX],
    }
}

kafka_struct! {
    pub struct OffsetForLeaderTopic {
        pub topic: String [0, MAX],
        pub partitions: Vec<OffsetForLeaderPartition> [0, MAX],
    }
}

kafka_struct! {
    pub struct OffsetForLeaderPartition {
        pub partition: i32 [0, MAX],
        pub current_leader_epoch: i32 [2, MAX] = -1,
        pub leader_epoch: i32 [0, MAX],
    }
}

kafka_struct! {
    pub struct OffsetForLeaderEpochResponse {
        pub throttle_time_ms: i32 [2, MAX],
        pub topics: Vec<OffsetForLeaderTopicResult> [0, MAX],
    }
}

kafka_struct! {
    pub struct OffsetForLeaderTopicResult {
        pub topic: String [0, MAX],
        pub partitions: Vec<EpochEndOffset> [0, MAX],
    }
}

kafka_struct! {
    pub struct EpochEndOffset {
        pub error_code: i16 [0, MAX],
        pub partition: i32 [0, MAX],
        pub leader_epoch: i32 [1, MAX] = -1,
        pub end_offset: i64 [0, MAX] = -1,
    }
}
