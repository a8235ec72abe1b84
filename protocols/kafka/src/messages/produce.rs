//! Produce (key 0).

use bytes::BytesMut;

use crate::codec::wire::{MAX, kafka_struct};

kafka_struct! {
    pub struct ProduceRequest {
        pub transactional_id: Option<String> [3, MAX],
        /// 0: no response; 1: after the write; -1: after it is durable.
        pub acks: i16 [0, MAX],
        pub timeout_ms: i32 [0, MAX],
        pub topics: Vec<ProduceTopic> [0, MAX],
    }
}

kafka_struct! {
    pub struct ProduceTopic {
        pub name: String [0, MAX],
        pub partitions: Vec<ProducePartition> [0, MAX],
    }
}

kafka_struct! {
    pub struct ProducePartition {
        pub index: i32 [0, MAX],
        /// The record batch, split off the request frame without a copy.
        pub records: Option<BytesMut> [0, MAX],
    }
}

kafka_struct! {
    pub struct ProduceResponse {
        pub responses: Vec<ProduceTopicResponse> [0, MAX],
        pub throttle_time_ms: i32 [1, MAX],
    }
}

kafka_struct! {
    pub struct ProduceTopicResponse {
        pub name: String [0, MAX],
        pub partitions: Vec<ProducePartitionResponse> [0, MAX],
    }
}

kafka_struct! {
    pub struct ProducePartitionResponse {
        pub index: i32 [0, MAX],
        pub error_code: i16 [0, MAX],
        pub base_offset: i64 [0, MAX] = -1,
        pub log_append_time_ms: i64 [2, MAX] = -1,
        pub log_start_offset: i64 [5, MAX] = -1,
        pub record_errors: Vec<BatchIndexAndErrorMessage> [8, MAX],
        pub error_message: Option<String> [8, MAX],
    }
}

kafka_struct! {
    pub struct BatchIndexAndErrorMessage {
        pub batch_index: i32 [0, MAX],
        pub batch_index_error_message: Option<String> [0, MAX],
    }
}
