//! InitProducerId (22).

use crate::codec::wire::{MAX, kafka_struct};

kafka_struct! {
    pub struct InitProducerIdRequest {
        pub transactional_id: Option<String> [0, MAX],
        pub transaction_timeout_ms: i32 [0, MAX],
        /// v3+: an existing producer asking for an epoch bump (KIP-360).
        pub producer_id: i64 [3, MAX] = -1,
        pub producer_epoch: i16 [3, MAX] = -1,
    }
}

kafka_struct! {
    pub struct InitProducerIdResponse {
        pub throttle_time_ms: i32 [0, MAX],
        pub error_code: i16 [0, MAX],
        pub producer_id: i64 [0, MAX] = -1,
        pub producer_epoch: i16 [0, MAX],
    }
}
