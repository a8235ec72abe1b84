//! Fetch (key 1). Served up to v12: v13+ names topics by id only.

use crate::codec::wire::{MAX, RecordSet, Uuid, kafka_struct};

kafka_struct! {
    pub struct FetchRequest {
        pub replica_id: i32 [0, 14] = -1,
        pub max_wait_ms: i32 [0, MAX],
        pub min_bytes: i32 [0, MAX],
        pub max_bytes: i32 [3, MAX] = i32::MAX,
        /// 0 read_uncommitted, 1 read_committed.
        pub isolation_level: i8 [4, MAX],
        pub session_id: i32 [7, MAX],
        pub session_epoch: i32 [7, MAX] = -1,
        pub topics: Vec<FetchTopic> [0, MAX],
        pub forgotten_topics_data: Vec<ForgottenTopic> [7, MAX],
        pub rack_id: String [11, MAX],
    }
}

kafka_struct! {
    pub struct FetchTopic {
        pub topic: String [0, 12],
        pub topic_id: Uuid [13, MAX],
        pub partitions: Vec<FetchPartition> [0, MAX],
    }
}

kafka_struct! {
    pub struct FetchPartition {
        pub partition: i32 [0, MAX],
        pub current_leader_epoch: i32 [9, MAX] = -1,
        pub fetch_offset: i64 [0, MAX],
        pub last_fetched_epoch: i32 [12, MAX] = -1,
        pub log_start_offset: i64 [5, MAX] = -1,
        pub partition_max_bytes: i32 [0, MAX],
    }
}

kafka_struct! {
    pub struct ForgottenTopic {
        pub topic: String [7, 12],
        pub topic_id: Uuid [13, MAX],
        pub partitions: Vec<i32> [7, MAX],
    }
}

kafka_struct! {
    pub struct FetchResponse {
        pub throttle_time_ms: i32 [1, MAX],
        pub error_code: i16 [7, MAX],
        pub session_id: i32 [7, MAX],
        pub responses: Vec<FetchableTopicResponse> [0, MAX],
    }
}

kafka_struct! {
    pub struct FetchableTopicResponse {
        pub topic: String [0, 12],
        pub topic_id: Uuid [13, MAX],
        pub partitions: Vec<PartitionData> [0, MAX],
    }
}

kafka_struct! {
    pub struct PartitionData {
        pub partition_index: i32 [0, MAX],
        pub error_code: i16 [0, MAX],
        pub high_watermark: i64 [0, MAX] = -1,
        pub last_stable_offset: i64 [4, MAX] = -1,
        pub log_start_offset: i64 [5, MAX] = -1,
        pub aborted_transactions: Option<Vec<AbortedTransaction>> [4, MAX],
        pub preferred_read_replica: i32 [11, MAX] = -1,
        pub records: RecordSet [0, MAX],
    }
}

kafka_struct! {
    pub struct AbortedTransaction {
        pub producer_id: i64 [4, MAX],
        pub first_offset: i64 [4, MAX],
    }
}
