//! ApiVersions (18).

use crate::codec::wire::{MAX, kafka_struct};

kafka_struct! {
    pub struct ApiVersionsRequest {
        pub client_software_name: String [3, MAX],
        pub client_software_version: String [3, MAX],
    }
}

kafka_struct! {
    pub struct ApiVersionsResponse {
        pub error_code: i16 [0, MAX],
        pub api_keys: Vec<ApiVersionRange> [0, MAX],
        pub throttle_time_ms: i32 [1, MAX],
    }
}

kafka_struct! {
    pub struct ApiVersionRange {
        pub api_key: i16 [0, MAX],
        pub min_version: i16 [0, MAX],
        pub max_version: i16 [0, MAX],
    }
}
