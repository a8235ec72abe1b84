//! DescribeConfigs (32), AlterConfigs (33), IncrementalAlterConfigs (44).

use crate::codec::wire::{MAX, kafka_struct};

/// Resource types of the config APIs.
pub const RESOURCE_TOPIC: i8 = 2;
pub const RESOURCE_BROKER: i8 = 4;

kafka_struct! {
    pub struct DescribeConfigsRequest {
        pub resources: Vec<DescribeConfigsResource> [0, MAX],
        pub include_synonyms: bool [1, MAX],
        pub include_documentation: bool [3, MAX],
    }
}

kafka_struct! {
    pub struct DescribeConfigsResource {
        pub resource_type: i8 [0, MAX],
        pub resource_name: String [0, MAX],
        /// Null: every key.
        pub configuration_keys: Option<Vec<String>> [0, MAX],
    }
}

kafka_struct! {
    pub struct DescribeConfigsResponse {
        pub throttle_time_ms: i32 [0, MAX],
        pub results: Vec<DescribeConfigsResult> [0, MAX],
    }
}

kafka_struct! {
    pub struct DescribeConfigsResult {
        pub error_code: i16 [0, MAX],
        pub error_message: Option<String> [0, MAX],
        pub resource_type: i8 [0, MAX],
        pub resource_name: String [0, MAX],
        pub configs: Vec<DescribeConfigsResourceResult> [0, MAX],
    }
}

kafka_struct! {
    pub struct DescribeConfigsResourceResult {
        pub name: String [0, MAX],
        pub value: Option<String> [0, MAX],
        pub read_only: bool [0, MAX],
        pub is_default: bool [0, 0],
        pub config_source: i8 [1, MAX] = -1,
        pub is_sensitive: bool [0, MAX],
        pub synonyms: Vec<DescribeConfigsSynonym> [1, MAX],
        pub config_type: i8 [3, MAX],
        pub documentation: Option<String> [3, MAX],
    }
}

kafka_struct! {
    pub struct DescribeConfigsSynonym {
        pub name: String [0, MAX],
        pub value: Option<String> [0, MAX],
        pub source: i8 [0, MAX],
    }
}

kafka_struct! {
    pub struct AlterConfigsRequest {
        pub resources: Vec<AlterConfigsResource> [0, MAX],
        pub validate_only: bool [0, MAX],
    }
}

kafka_struct! {
    pub struct AlterConfigsResource {
        pub resource_type: i8 [0, MAX],
        pub resource_name: String [0, MAX],
        pub configs: Vec<AlterableConfig> [0, MAX],
    }
}

kafka_struct! {
    pub struct AlterableConfig {
        pub name: String [0, MAX],
        pub value: Option<String> [0, MAX],
    }
}

kafka_struct! {
    /// The response of both AlterConfigs and IncrementalAlterConfigs.
    pub struct AlterConfigsResponse {
        pub throttle_time_ms: i32 [0, MAX],
        pub responses: Vec<AlterConfigsResourceResponse> [0, MAX],
    }
}

kafka_struct! {
    pub struct AlterConfigsResourceResponse {
        pub error_code: i16 [0, MAX],
        pub error_message: Option<String> [0, MAX],
        pub resource_type: i8 [0, MAX],
        pub resource_name: String [0, MAX],
    }
}

kafka_struct! {
    pub struct IncrementalAlterConfigsRequest {
        pub resources: Vec<IncrementalAlterConfigsResource> [0, MAX],
        pub validate_only: bool [0, MAX],
    }
}

kafka_struct! {
    pub struct IncrementalAlterConfigsResource {
        pub resource_type: i8 [0, MAX],
        pub resource_name: String [0, MAX],
        pub configs: Vec<IncrementalAlterableConfig> [0, MAX],
    }
}

kafka_struct! {
    pub struct IncrementalAlterableConfig {
        pub name: String [0, MAX],
        /// 0 SET, 1 DELETE, 2 APPEND, 3 SUBTRACT.
        pub config_operation: i8 [0, MAX],
        pub value: Option<String> [0, MAX],
    }
}
