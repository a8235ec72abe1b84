//! DescribeTopicPartitions (key 75, KIP-966): Metadata's topic description, paged by a
//! cursor so that a topic with many partitions does not need one huge response.

use crate::codec::wire::{MAX, Nullable, Uuid, kafka_struct};

kafka_struct! {
    pub struct DescribeTopicPartitionsRequest {
        /// Empty asks for every topic.
        pub topics: Vec<TopicRequest> [0, MAX],
        pub response_partition_limit: i32 [0, MAX] = 2000,
        /// Where to continue: the `next_cursor` of the previous response.
        pub cursor: Nullable<Cursor> [0, MAX],
    }
}

kafka_struct! {
    pub struct TopicRequest {
        pub name: String [0, MAX],
    }
}

kafka_struct! {
    pub struct Cursor {
        pub topic_name: String [0, MAX],
        pub partition_index: i32 [0, MAX],
    }
}

kafka_struct! {
    pub struct DescribeTopicPartitionsResponse {
        pub throttle_time_ms: i32 [0, MAX],
        pub topics: Vec<DescribeTopicPartitionsTopic> [0, MAX],
        /// Null when everything asked for was described.
        pub next_cursor: Nullable<Cursor> [0, MAX],
    }
}

kafka_struct! {
    pub struct DescribeTopicPartitionsTopic {
        pub error_code: i16 [0, MAX],
        pub name: Option<String> [0, MAX],
        pub topic_id: Uuid [0, MAX],
        pub is_internal: bool [0, MAX],
        pub partitions: Vec<DescribeTopicPartitionsPartition> [0, MAX],
        pub topic_authorized_operations: i32 [0, MAX] = i32::MIN,
    }
}

kafka_struct! {
    pub struct DescribeTopicPartitionsPartition {
        pub error_code: i16 [0, MAX],
        pub partition_index: i32 [0, MAX],
        pub leader_id: i32 [0, MAX],
        pub leader_epoch: i32 [0, MAX] = -1,
        pub replica_nodes: Vec<i32> [0, MAX],
        pub isr_nodes: Vec<i32> [0, MAX],
        /// KIP-966 eligible leader replicas: null, Trident has no replication.
        pub eligible_leader_replicas: Option<Vec<i32>> [0, MAX],
        pub last_known_elr: Option<Vec<i32>> [0, MAX],
        pub offline_replicas: Vec<i32> [0, MAX],
    }
}
