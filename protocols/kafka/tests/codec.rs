//! Codec properties: every message round-trips at every served version, and no byte
//! sequence makes any request decoder panic or allocate what was not sent.
#![allow(clippy::unwrap_used)]

use bytes::{Bytes, BytesMut};
use proptest::prelude::*;
use trident_kafka::codec::api::{self, APIS, key};
use trident_kafka::codec::header::{RequestHeader, write_request_header};
use trident_kafka::codec::{Reader, RecordSet, Wire, Writer};
use trident_kafka::handlers::decode_only;
use trident_kafka::messages::admin::*;
use trident_kafka::messages::api_versions::*;
use trident_kafka::messages::configs::*;
use trident_kafka::messages::fetch::*;
use trident_kafka::messages::groups::*;
use trident_kafka::messages::list_offsets::*;
use trident_kafka::messages::metadata::*;
use trident_kafka::messages::offsets::*;
use trident_kafka::messages::produce::*;
use trident_kafka::messages::producer_id::*;
use trident_kafka::messages::sasl::*;
use trident_kafka::messages::topic_partitions::*;

fn encode<T: Wire>(v: &T, version: i16, flexible: bool) -> Bytes {
    let mut w = Writer::new(flexible);
    v.write(&mut w, version);
    w.finish().to_bytes()
}

/// enc(x) -> dec -> enc gives the same bytes, and decoding consumes all of them.
fn roundtrip<T: Wire + std::fmt::Debug + PartialEq>(key: i16, sample: &T) {
    let spec = api::spec(key).unwrap();
    for version in spec.min..=spec.max {
        let flexible = spec.is_flexible(version);
        let first = encode(sample, version, flexible);
        let mut r = Reader::new(BytesMut::from(&first[..]), flexible);
        let decoded =
            T::read(&mut r, version).unwrap_or_else(|e| panic!("{} v{version}: {e}", spec.name));
        assert_eq!(r.remaining(), 0, "{} v{version}: trailing bytes", spec.name);
        let second = encode(&decoded, version, flexible);
        assert_eq!(first, second, "{} v{version}", spec.name);
        let mut r = Reader::new(BytesMut::from(&second[..]), flexible);
        assert_eq!(
            T::read(&mut r, version).unwrap(),
            decoded,
            "{} v{version}",
            spec.name
        );
    }
}

fn s(x: &str) -> String {
    x.to_string()
}

#[test]
fn requests_roundtrip_at_every_version() {
    roundtrip(
        key::PRODUCE,
        &ProduceRequest {
            transactional_id: None,
            acks: -1,
            timeout_ms: 30000,
            topics: vec![ProduceTopic {
                name: s("orders"),
                partitions: vec![
                    ProducePartition {
                        index: 0,
                        records: Some(BytesMut::from(&b"batch-bytes"[..])),
                    },
                    ProducePartition {
                        index: 1,
                        records: None,
                    },
                ],
            }],
        },
    );
    roundtrip(
        key::FETCH,
        &FetchRequest {
            replica_id: -1,
            max_wait_ms: 500,
            min_bytes: 1,
            max_bytes: 52428800,
            isolation_level: 1,
            session_id: 0,
            session_epoch: -1,
            topics: vec![FetchTopic {
                topic: s("orders"),
                topic_id: [0; 16],
                partitions: vec![FetchPartition {
                    partition: 2,
                    current_leader_epoch: 0,
                    fetch_offset: 1234,
                    last_fetched_epoch: -1,
                    log_start_offset: -1,
                    partition_max_bytes: 1048576,
                }],
            }],
            forgotten_topics_data: vec![],
            rack_id: s(""),
        },
    );
    roundtrip(
        key::LIST_OFFSETS,
        &ListOffsetsRequest {
            replica_id: -1,
            isolation_level: 0,
            topics: vec![ListOffsetsTopic {
                name: s("t"),
                partitions: vec![ListOffsetsPartition {
                    partition_index: 0,
                    current_leader_epoch: -1,
                    timestamp: -2,
                    max_num_offsets: 1,
                }],
            }],
        },
    );
    roundtrip(
        key::METADATA,
        &MetadataRequest {
            topics: Some(vec![MetadataRequestTopic {
                topic_id: [0; 16],
                name: Some(s("a")),
            }]),
            allow_auto_topic_creation: true,
            include_cluster_authorized_operations: false,
            include_topic_authorized_operations: false,
        },
    );
    roundtrip(
        key::OFFSET_COMMIT,
        &OffsetCommitRequest {
            group_id: s("g"),
            generation_id: 3,
            member_id: s("m-1"),
            group_instance_id: None,
            retention_time_ms: -1,
            topics: vec![OffsetCommitRequestTopic {
                name: s("t"),
                partitions: vec![OffsetCommitRequestPartition {
                    partition_index: 1,
                    committed_offset: 42,
                    committed_leader_epoch: -1,
                    commit_timestamp: -1,
                    committed_metadata: Some(s("meta")),
                }],
            }],
        },
    );
    roundtrip(
        key::OFFSET_FETCH,
        &OffsetFetchRequest {
            group_id: s("g"),
            topics: Some(vec![OffsetFetchRequestTopic {
                name: s("t"),
                partition_indexes: vec![0, 1, 2],
            }]),
            require_stable: false,
        },
    );
    roundtrip(
        key::FIND_COORDINATOR,
        &FindCoordinatorRequest {
            key: s("g"),
            key_type: 0,
            coordinator_keys: vec![s("g")],
        },
    );
    roundtrip(
        key::JOIN_GROUP,
        &JoinGroupRequest {
            group_id: s("g"),
            session_timeout_ms: 10000,
            rebalance_timeout_ms: 30000,
            member_id: s(""),
            group_instance_id: None,
            protocol_type: s("consumer"),
            protocols: vec![JoinGroupRequestProtocol {
                name: s("range"),
                metadata: Bytes::from_static(b"\0\0\0\0\0\x01\0\x01t"),
            }],
            reason: None,
        },
    );
    roundtrip(
        key::SYNC_GROUP,
        &SyncGroupRequest {
            group_id: s("g"),
            generation_id: 1,
            member_id: s("m"),
            group_instance_id: None,
            protocol_type: Some(s("consumer")),
            protocol_name: Some(s("range")),
            assignments: vec![SyncGroupRequestAssignment {
                member_id: s("m"),
                assignment: Bytes::from_static(b"assign"),
            }],
        },
    );
    roundtrip(
        key::HEARTBEAT,
        &HeartbeatRequest {
            group_id: s("g"),
            generation_id: 1,
            member_id: s("m"),
            group_instance_id: None,
        },
    );
    roundtrip(
        key::LEAVE_GROUP,
        &LeaveGroupRequest {
            group_id: s("g"),
            member_id: s("m"),
            members: vec![MemberIdentity {
                member_id: s("m"),
                group_instance_id: None,
                reason: None,
            }],
        },
    );
    roundtrip(
        key::DESCRIBE_GROUPS,
        &DescribeGroupsRequest {
            groups: vec![s("g1"), s("g2")],
            include_authorized_operations: false,
        },
    );
    roundtrip(
        key::LIST_GROUPS,
        &ListGroupsRequest {
            states_filter: vec![s("Stable")],
            types_filter: vec![s("classic")],
        },
    );
    roundtrip(
        key::DELETE_GROUPS,
        &DeleteGroupsRequest {
            groups_names: vec![s("g")],
        },
    );
    roundtrip(
        key::SASL_HANDSHAKE,
        &SaslHandshakeRequest {
            mechanism: s("PLAIN"),
        },
    );
    roundtrip(
        key::SASL_AUTHENTICATE,
        &SaslAuthenticateRequest {
            auth_bytes: Bytes::from_static(b"\0u\0p"),
        },
    );
    roundtrip(
        key::API_VERSIONS,
        &ApiVersionsRequest {
            client_software_name: s("librdkafka"),
            client_software_version: s("2.12.1"),
        },
    );
    roundtrip(
        key::CREATE_TOPICS,
        &CreateTopicsRequest {
            topics: vec![CreatableTopic {
                name: s("t"),
                num_partitions: 3,
                replication_factor: 1,
                assignments: vec![],
                configs: vec![CreatableTopicConfig {
                    name: s("retention.ms"),
                    value: Some(s("1000")),
                }],
            }],
            timeout_ms: 5000,
            validate_only: false,
        },
    );
    roundtrip(
        key::DELETE_TOPICS,
        &DeleteTopicsRequest {
            topics: vec![DeleteTopicState {
                name: Some(s("t")),
                topic_id: [0; 16],
            }],
            topic_names: vec![s("t")],
            timeout_ms: 5000,
        },
    );
    roundtrip(
        key::DELETE_RECORDS,
        &DeleteRecordsRequest {
            topics: vec![DeleteRecordsTopic {
                name: s("t"),
                partitions: vec![DeleteRecordsPartition {
                    partition_index: 0,
                    offset: 10,
                }],
            }],
            timeout_ms: 1000,
        },
    );
    roundtrip(
        key::INIT_PRODUCER_ID,
        &InitProducerIdRequest {
            transactional_id: None,
            transaction_timeout_ms: 60000,
            producer_id: -1,
            producer_epoch: -1,
        },
    );
    roundtrip(
        key::OFFSET_FOR_LEADER_EPOCH,
        &OffsetForLeaderEpochRequest {
            replica_id: -1,
            topics: vec![OffsetForLeaderTopic {
                topic: s("t"),
                partitions: vec![OffsetForLeaderPartition {
                    partition: 0,
                    current_leader_epoch: 0,
                    leader_epoch: 0,
                }],
            }],
        },
    );
    roundtrip(
        key::DESCRIBE_CONFIGS,
        &DescribeConfigsRequest {
            resources: vec![DescribeConfigsResource {
                resource_type: RESOURCE_TOPIC,
                resource_name: s("t"),
                configuration_keys: None,
            }],
            include_synonyms: true,
            include_documentation: false,
        },
    );
    roundtrip(
        key::ALTER_CONFIGS,
        &AlterConfigsRequest {
            resources: vec![AlterConfigsResource {
                resource_type: RESOURCE_TOPIC,
                resource_name: s("t"),
                configs: vec![AlterableConfig {
                    name: s("retention.ms"),
                    value: Some(s("5")),
                }],
            }],
            validate_only: true,
        },
    );
    roundtrip(
        key::INCREMENTAL_ALTER_CONFIGS,
        &IncrementalAlterConfigsRequest {
            resources: vec![IncrementalAlterConfigsResource {
                resource_type: RESOURCE_TOPIC,
                resource_name: s("t"),
                configs: vec![IncrementalAlterableConfig {
                    name: s("retention.bytes"),
                    config_operation: 0,
                    value: Some(s("1024")),
                }],
            }],
            validate_only: false,
        },
    );
    roundtrip(
        key::CREATE_PARTITIONS,
        &CreatePartitionsRequest {
            topics: vec![CreatePartitionsTopic {
                name: s("t"),
                count: 5,
                assignments: None,
            }],
            timeout_ms: 1000,
            validate_only: false,
        },
    );
    roundtrip(
        key::OFFSET_DELETE,
        &OffsetDeleteRequest {
            group_id: s("g"),
            topics: vec![OffsetDeleteRequestTopic {
                name: s("t"),
                partitions: vec![OffsetDeleteRequestPartition { partition_index: 0 }],
            }],
        },
    );
    roundtrip(
        key::DESCRIBE_CLUSTER,
        &DescribeClusterRequest {
            include_cluster_authorized_operations: false,
            endpoint_type: 1,
        },
    );
    for cursor in [
        None,
        Some(Cursor {
            topic_name: s("t"),
            partition_index: 4,
        }),
    ] {
        roundtrip(
            key::DESCRIBE_TOPIC_PARTITIONS,
            &DescribeTopicPartitionsRequest {
                topics: vec![TopicRequest { name: s("t") }],
                response_partition_limit: 100,
                cursor: trident_kafka::codec::wire::Nullable(cursor),
            },
        );
    }
}

#[test]
fn responses_roundtrip_at_every_version() {
    roundtrip(
        key::PRODUCE,
        &ProduceResponse {
            responses: vec![ProduceTopicResponse {
                name: s("t"),
                partitions: vec![ProducePartitionResponse {
                    index: 0,
                    error_code: 0,
                    base_offset: 100,
                    log_append_time_ms: -1,
                    log_start_offset: 0,
                    record_errors: vec![],
                    error_message: None,
                }],
            }],
            throttle_time_ms: 0,
        },
    );
    roundtrip(
        key::FETCH,
        &FetchResponse {
            throttle_time_ms: 0,
            error_code: 0,
            session_id: 0,
            responses: vec![FetchableTopicResponse {
                topic: s("t"),
                topic_id: [0; 16],
                partitions: vec![PartitionData {
                    partition_index: 0,
                    error_code: 0,
                    high_watermark: 10,
                    last_stable_offset: 10,
                    log_start_offset: 0,
                    aborted_transactions: Some(vec![]),
                    preferred_read_replica: -1,
                    records: RecordSet(vec![Bytes::from(vec![7u8; 700])]),
                }],
            }],
        },
    );
    roundtrip(
        key::METADATA,
        &MetadataResponse {
            throttle_time_ms: 0,
            brokers: vec![MetadataBroker {
                node_id: 0,
                host: s("127.0.0.1"),
                port: 9092,
                rack: None,
            }],
            cluster_id: Some(s("trident")),
            controller_id: 0,
            topics: vec![MetadataTopic {
                error_code: 0,
                name: Some(s("t")),
                topic_id: [1; 16],
                is_internal: false,
                partitions: vec![MetadataPartition {
                    error_code: 0,
                    partition_index: 0,
                    leader_id: 0,
                    leader_epoch: 0,
                    replica_nodes: vec![0],
                    isr_nodes: vec![0],
                    offline_replicas: vec![],
                }],
                topic_authorized_operations: i32::MIN,
            }],
            cluster_authorized_operations: i32::MIN,
        },
    );
    roundtrip(
        key::JOIN_GROUP,
        &JoinGroupResponse {
            throttle_time_ms: 0,
            error_code: 0,
            generation_id: 1,
            protocol_type: Some(s("consumer")),
            protocol_name: Some(s("range")),
            leader: s("m"),
            skip_assignment: false,
            member_id: s("m"),
            members: vec![JoinGroupResponseMember {
                member_id: s("m"),
                group_instance_id: None,
                metadata: Bytes::from_static(b"md"),
            }],
        },
    );
    roundtrip(
        key::DESCRIBE_GROUPS,
        &DescribeGroupsResponse {
            throttle_time_ms: 0,
            groups: vec![DescribedGroup {
                error_code: 0,
                error_message: None,
                group_id: s("g"),
                group_state: s("Stable"),
                protocol_type: s("consumer"),
                protocol_data: s("range"),
                members: vec![DescribedGroupMember {
                    member_id: s("m"),
                    group_instance_id: None,
                    client_id: s("c"),
                    client_host: s("/127.0.0.1"),
                    member_metadata: Bytes::from_static(b"x"),
                    member_assignment: Bytes::from_static(b"y"),
                }],
                authorized_operations: i32::MIN,
            }],
        },
    );
    roundtrip(
        key::DESCRIBE_CONFIGS,
        &DescribeConfigsResponse {
            throttle_time_ms: 0,
            results: vec![DescribeConfigsResult {
                error_code: 0,
                error_message: None,
                resource_type: RESOURCE_TOPIC,
                resource_name: s("t"),
                configs: vec![DescribeConfigsResourceResult {
                    name: s("retention.ms"),
                    value: Some(s("1")),
                    read_only: false,
                    is_default: false,
                    config_source: 1,
                    is_sensitive: false,
                    synonyms: vec![],
                    config_type: 5,
                    documentation: None,
                }],
            }],
        },
    );
    roundtrip(
        key::DESCRIBE_TOPIC_PARTITIONS,
        &DescribeTopicPartitionsResponse {
            throttle_time_ms: 0,
            topics: vec![DescribeTopicPartitionsTopic {
                error_code: 0,
                name: Some(s("t")),
                topic_id: [7; 16],
                is_internal: false,
                partitions: vec![DescribeTopicPartitionsPartition {
                    error_code: 0,
                    partition_index: 3,
                    leader_id: 0,
                    leader_epoch: 0,
                    replica_nodes: vec![0],
                    isr_nodes: vec![0],
                    eligible_leader_replicas: None,
                    last_known_elr: Some(vec![1, 2]),
                    offline_replicas: vec![],
                }],
                topic_authorized_operations: i32::MIN,
            }],
            next_cursor: trident_kafka::codec::wire::Nullable(Some(Cursor {
                topic_name: s("t"),
                partition_index: 4,
            })),
        },
    );
    roundtrip(
        key::API_VERSIONS,
        &ApiVersionsResponse {
            error_code: 0,
            api_keys: vec![ApiVersionRange {
                api_key: 0,
                min_version: 3,
                max_version: 9,
            }],
            throttle_time_ms: 0,
        },
    );
}

/// The same request as raw bytes, as librdkafka 2.x sends it: ApiVersions v3 with
/// header v2 and compact strings.
#[test]
fn known_bytes_of_an_api_versions_v3_request() {
    let mut w = Writer::new(true);
    write_request_header(
        &mut w,
        &RequestHeader {
            api_key: 18,
            api_version: 3,
            correlation_id: 1,
            client_id: Some(s("rdkafka")),
        },
    );
    ApiVersionsRequest {
        client_software_name: s("librdkafka"),
        client_software_version: s("2.12.1"),
    }
    .write(&mut w, 3);
    let got = w.finish().to_bytes();
    let mut want = vec![0, 18, 0, 3, 0, 0, 0, 1, 0, 7];
    want.extend_from_slice(b"rdkafka");
    want.push(0); // header tagged fields
    want.push(11);
    want.extend_from_slice(b"librdkafka");
    want.push(7);
    want.extend_from_slice(b"2.12.1");
    want.push(0); // body tagged fields
    assert_eq!(&got[..], &want[..]);
}

fn frame_for(api: i16, version: i16, body: &[u8]) -> BytesMut {
    let mut f = BytesMut::new();
    f.extend_from_slice(&api.to_be_bytes());
    f.extend_from_slice(&version.to_be_bytes());
    f.extend_from_slice(&7i32.to_be_bytes());
    f.extend_from_slice(&[0xff, 0xff]); // null client id
    if api::spec(api).is_some_and(|s| s.request_header_v2(version)) {
        f.extend_from_slice(&[0]);
    }
    f.extend_from_slice(body);
    f
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Arbitrary bodies for every served (API, version): an error or a value, never a
    /// panic. Lengths in the garbage claim huge arrays and strings all the time.
    #[test]
    fn arbitrary_bodies_never_panic_any_decoder(body in proptest::collection::vec(any::<u8>(), 0..256)) {
        for spec in APIS {
            for version in spec.min..=spec.max {
                let _ = decode_only(frame_for(spec.key, version, &body));
            }
        }
    }

    /// Arbitrary whole frames, header included.
    #[test]
    fn arbitrary_frames_never_panic(frame in proptest::collection::vec(any::<u8>(), 0..128)) {
        let _ = decode_only(BytesMut::from(&frame[..]));
    }

    /// Valid requests with one byte changed or the tail cut off.
    #[test]
    fn mutated_valid_requests_never_panic(at in any::<usize>(), byte in any::<u8>(), cut in any::<usize>()) {
        let req = JoinGroupRequest {
            group_id: s("group"),
            session_timeout_ms: 10000,
            rebalance_timeout_ms: 30000,
            member_id: s("member"),
            group_instance_id: Some(s("inst")),
            protocol_type: s("consumer"),
            protocols: vec![JoinGroupRequestProtocol { name: s("range"), metadata: Bytes::from_static(b"abc") }],
            reason: Some(s("why")),
        };
        for version in [0i16, 5, 6, 9] {
            let flexible = version >= 6;
            let body = encode(&req, version, flexible);
            let mut frame = frame_for(key::JOIN_GROUP, version, &body);
            let i = at % frame.len();
            frame[i] = byte;
            let keep = cut % (frame.len() + 1);
            frame.truncate(keep);
            let _ = decode_only(frame);
        }
    }
}
