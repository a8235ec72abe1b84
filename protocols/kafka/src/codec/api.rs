//! The API keys we serve, the version range of each, and where flexible versions begin.
//!
//! Only what works end to end is listed: ApiVersions advertises exactly this table, and
//! clients negotiate down to it. Maximums are capped below Kafka's latest where a newer
//! version needs something Trident does not have (topic ids in Fetch v13+, batched
//! OffsetFetch v8+, KIP-734 max-timestamp lookups in ListOffsets v7+).

/// One served API.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ApiSpec {
    pub key: i16,
    pub name: &'static str,
    pub min: i16,
    pub max: i16,
    /// First flexible version (KIP-482); `None` when no served version is flexible.
    pub flexible_from: Option<i16>,
}

macro_rules! apis {
    ($($const:ident = $key:literal, $name:literal, $min:literal ..= $max:literal, $flex:expr;)*) => {
        pub mod key {
            $(pub const $const: i16 = $key;)*
        }
        /// Every served API, ordered by key.
        pub const APIS: &[ApiSpec] = &[
            $(ApiSpec { key: $key, name: $name, min: $min, max: $max, flexible_from: $flex },)*
        ];
    };
}

apis! {
    PRODUCE = 0, "Produce", 3..=9, Some(9);
    FETCH = 1, "Fetch", 4..=12, Some(12);
    LIST_OFFSETS = 2, "ListOffsets", 0..=6, Some(6);
    METADATA = 3, "Metadata", 0..=12, Some(9);
    OFFSET_COMMIT = 8, "OffsetCommit", 0..=8, Some(8);
    OFFSET_FETCH = 9, "OffsetFetch", 0..=7, Some(6);
    FIND_COORDINATOR = 10, "FindCoordinator", 0..=4, Some(3);
    JOIN_GROUP = 11, "JoinGroup", 0..=9, Some(6);
    HEARTBEAT = 12, "Heartbeat", 0..=4, Some(4);
    LEAVE_GROUP = 13, "LeaveGroup", 0..=5, Some(4);
    SYNC_GROUP = 14, "SyncGroup", 0..=5, Some(4);
    DESCRIBE_GROUPS = 15, "DescribeGroups", 0..=6, Some(5);
    LIST_GROUPS = 16, "ListGroups", 0..=5, Some(3);
    SASL_HANDSHAKE = 17, "SaslHandshake", 1..=1, None;
    API_VERSIONS = 18, "ApiVersions", 0..=3, Some(3);
    CREATE_TOPICS = 19, "CreateTopics", 0..=7, Some(5);
    DELETE_TOPICS = 20, "DeleteTopics", 0..=6, Some(4);
    DELETE_RECORDS = 21, "DeleteRecords", 0..=2, Some(2);
    INIT_PRODUCER_ID = 22, "InitProducerId", 0..=4, Some(2);
    OFFSET_FOR_LEADER_EPOCH = 23, "OffsetForLeaderEpoch", 0..=4, Some(4);
    DESCRIBE_CONFIGS = 32, "DescribeConfigs", 0..=4, Some(4);
    ALTER_CONFIGS = 33, "AlterConfigs", 0..=2, Some(2);
    SASL_AUTHENTICATE = 36, "SaslAuthenticate", 0..=2, Some(2);
    CREATE_PARTITIONS = 37, "CreatePartitions", 0..=3, Some(2);
    DELETE_GROUPS = 42, "DeleteGroups", 0..=2, Some(2);
    INCREMENTAL_ALTER_CONFIGS = 44, "IncrementalAlterConfigs", 0..=1, Some(1);
    OFFSET_DELETE = 47, "OffsetDelete", 0..=0, None;
    DESCRIBE_CLUSTER = 60, "DescribeCluster", 0..=1, Some(0);
    DESCRIBE_TOPIC_PARTITIONS = 75, "DescribeTopicPartitions", 0..=0, Some(0);
}

/// The spec of a served API key.
pub fn spec(key: i16) -> Option<&'static ApiSpec> {
    APIS.iter().find(|a| a.key == key)
}

impl ApiSpec {
    pub fn supports(&self, version: i16) -> bool {
        version >= self.min && version <= self.max
    }

    pub fn is_flexible(&self, version: i16) -> bool {
        self.flexible_from.is_some_and(|f| version >= f)
    }

    /// Request header v2 (with tagged fields) for flexible versions, v1 otherwise.
    pub fn request_header_v2(&self, version: i16) -> bool {
        self.is_flexible(version)
    }

    /// Response header v1 for flexible versions — except ApiVersions, whose response
    /// header is always v0 so that a client can parse it before it knows our versions.
    pub fn response_header_v1(&self, version: i16) -> bool {
        self.key != key::API_VERSIONS && self.is_flexible(version)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_sorted_and_sane() {
        for w in APIS.windows(2) {
            assert!(w[0].key < w[1].key);
        }
        for a in APIS {
            assert!(a.min <= a.max, "{}", a.name);
            if let Some(f) = a.flexible_from {
                assert!(f <= a.max, "{}", a.name);
            }
        }
        let av = spec(key::API_VERSIONS).map(|s| s.response_header_v1(3));
        assert_eq!(av, Some(false));
    }
}
