//! Handlers called directly, without sockets: request value in, response value out,
//! against a real engine in a temporary directory.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use trident_engine::{Engine, EngineConfig};
use trident_kafka::error_code as ec;
use trident_kafka::handlers::{configs, groups, list_offsets, metadata, offsets, topics};
use trident_kafka::messages::admin::*;
use trident_kafka::messages::configs::*;
use trident_kafka::messages::groups::*;
use trident_kafka::messages::list_offsets::*;
use trident_kafka::messages::metadata::*;
use trident_kafka::messages::offsets::*;
use trident_kafka::{KafkaConfig, Shared};

async fn broker() -> (Arc<Shared>, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::open(EngineConfig::new(dir.path())).await.unwrap();
    let config = KafkaConfig {
        advertised_host: "kafka.example".into(),
        advertised_port: 9092,
        ..KafkaConfig::default()
    };
    (Arc::new(Shared::new(engine, config, 0)), dir)
}

fn create(name: &str, partitions: i32, configs: &[(&str, &str)]) -> CreateTopicsRequest {
    CreateTopicsRequest {
        topics: vec![CreatableTopic {
            name: name.into(),
            num_partitions: partitions,
            replication_factor: -1,
            assignments: vec![],
            configs: configs
                .iter()
                .map(|(k, v)| CreatableTopicConfig {
                    name: (*k).into(),
                    value: Some((*v).into()),
                })
                .collect(),
        }],
        timeout_ms: 1000,
        validate_only: false,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn topics_metadata_and_configs() {
    let (b, _dir) = broker().await;
    let r = topics::create_topics(&b, create("orders", 3, &[("retention.ms", "60000")]), 7).await;
    assert_eq!(r.topics[0].error_code, 0);
    assert_eq!(r.topics[0].num_partitions, 3);
    let again = topics::create_topics(&b, create("orders", 3, &[]), 7).await;
    assert_eq!(again.topics[0].error_code, ec::TOPIC_ALREADY_EXISTS);
    let bad = topics::create_topics(&b, create("bad/name", 1, &[]), 7).await;
    assert_eq!(bad.topics[0].error_code, ec::INVALID_TOPIC_EXCEPTION);
    let bad = topics::create_topics(&b, create("x", 1, &[("cleanup.policy", "compact")]), 7).await;
    assert_eq!(bad.topics[0].error_code, ec::INVALID_CONFIG);
    let mut rf3 = create("y", 1, &[]);
    rf3.topics[0].replication_factor = 3;
    let r = topics::create_topics(&b, rf3, 7).await;
    assert_eq!(r.topics[0].error_code, ec::INVALID_REPLICATION_FACTOR);

    let md = metadata::handle(
        &b,
        MetadataRequest {
            topics: Some(vec![
                MetadataRequestTopic {
                    topic_id: [0; 16],
                    name: Some("orders".into()),
                },
                MetadataRequestTopic {
                    topic_id: [0; 16],
                    name: Some("missing".into()),
                },
            ]),
            allow_auto_topic_creation: false,
            ..Default::default()
        },
        12,
    )
    .await;
    assert_eq!(md.brokers[0].host, "kafka.example");
    assert_eq!(md.brokers[0].port, 9092);
    assert_eq!(md.topics[0].partitions.len(), 3);
    assert_eq!(md.topics[1].error_code, ec::UNKNOWN_TOPIC_OR_PARTITION);
    assert!(
        b.engine.topic("missing").is_none(),
        "no auto-create when the client says no"
    );

    let describe = |keys: Option<Vec<String>>| DescribeConfigsRequest {
        resources: vec![DescribeConfigsResource {
            resource_type: RESOURCE_TOPIC,
            resource_name: "orders".into(),
            configuration_keys: keys,
        }],
        include_synonyms: false,
        include_documentation: true,
    };
    let d = configs::describe(&b, describe(Some(vec!["retention.ms".into()])), 4).await;
    let entry = &d.results[0].configs;
    assert_eq!(entry.len(), 1);
    assert_eq!(entry[0].value.as_deref(), Some("60000"));

    let alter = IncrementalAlterConfigsRequest {
        resources: vec![IncrementalAlterConfigsResource {
            resource_type: RESOURCE_TOPIC,
            resource_name: "orders".into(),
            configs: vec![
                IncrementalAlterableConfig {
                    name: "retention.ms".into(),
                    config_operation: 1,
                    value: None,
                },
                IncrementalAlterableConfig {
                    name: "segment.bytes".into(),
                    config_operation: 0,
                    value: Some("1048576".into()),
                },
            ],
        }],
        validate_only: false,
    };
    let r = configs::incremental_alter(&b, alter, 1).await;
    assert_eq!(r.responses[0].error_code, 0);
    let cfg = b.engine.topic("orders").unwrap().config.clone();
    assert_eq!(cfg.segment_bytes, 1 << 20);
    assert_eq!(
        cfg.retention_ms,
        b.engine.config().default_topic.retention_ms
    );

    let grow = topics::create_partitions(
        &b,
        CreatePartitionsRequest {
            topics: vec![CreatePartitionsTopic {
                name: "orders".into(),
                count: 2,
                assignments: None,
            }],
            timeout_ms: 1000,
            validate_only: false,
        },
        3,
    )
    .await;
    assert_eq!(
        grow.results[0].error_code,
        ec::INVALID_PARTITIONS,
        "never shrink"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offsets_commit_fetch_and_delete() {
    let (b, _dir) = broker().await;
    topics::create_topics(&b, create("t", 2, &[]), 5).await;
    let commit = OffsetCommitRequest {
        group_id: "g".into(),
        generation_id: -1,
        member_id: String::new(),
        topics: vec![OffsetCommitRequestTopic {
            name: "t".into(),
            partitions: vec![
                OffsetCommitRequestPartition {
                    partition_index: 0,
                    committed_offset: 7,
                    committed_metadata: Some("m".into()),
                    ..Default::default()
                },
                OffsetCommitRequestPartition {
                    partition_index: 9,
                    committed_offset: 1,
                    ..Default::default()
                },
            ],
        }],
        ..Default::default()
    };
    let r = offsets::commit(&b, commit, 8).await;
    assert_eq!(r.topics[0].partitions[0].error_code, 0);
    assert_eq!(
        r.topics[0].partitions[1].error_code,
        ec::UNKNOWN_TOPIC_OR_PARTITION
    );

    let f = offsets::fetch(
        &b,
        OffsetFetchRequest {
            group_id: "g".into(),
            topics: None,
            require_stable: false,
        },
        7,
    )
    .await;
    let p = &f.topics[0].partitions[0];
    assert_eq!((p.committed_offset, p.metadata.as_deref()), (7, Some("m")));

    let listed = groups::list(&b, ListGroupsRequest::default(), 4).await;
    assert_eq!(listed.groups[0].group_id, "g");
    assert_eq!(listed.groups[0].group_state, "Empty");
    let described = groups::describe(
        &b,
        DescribeGroupsRequest {
            groups: vec!["g".into(), "nope".into()],
            include_authorized_operations: false,
        },
        6,
    )
    .await;
    assert_eq!(described.groups[0].group_state, "Empty");
    assert_eq!(described.groups[1].error_code, ec::GROUP_ID_NOT_FOUND);

    let d = offsets::delete(
        &b,
        OffsetDeleteRequest {
            group_id: "g".into(),
            topics: vec![OffsetDeleteRequestTopic {
                name: "t".into(),
                partitions: vec![OffsetDeleteRequestPartition { partition_index: 0 }],
            }],
        },
        0,
    )
    .await;
    assert_eq!(d.error_code, 0);
    assert!(b.engine.offsets().group("g").is_empty());
    let gone = groups::delete(
        &b,
        DeleteGroupsRequest {
            groups_names: vec!["g".into()],
        },
        2,
    )
    .await;
    assert_eq!(gone.results[0].error_code, ec::GROUP_ID_NOT_FOUND);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_offsets_and_delete_records_on_an_empty_and_a_missing_partition() {
    let (b, _dir) = broker().await;
    topics::create_topics(&b, create("t", 1, &[]), 5).await;
    let req = |partition: i32, ts: i64| ListOffsetsRequest {
        replica_id: -1,
        isolation_level: 0,
        topics: vec![ListOffsetsTopic {
            name: "t".into(),
            partitions: vec![ListOffsetsPartition {
                partition_index: partition,
                current_leader_epoch: -1,
                timestamp: ts,
                max_num_offsets: 1,
            }],
        }],
    };
    let r = list_offsets::handle(&b, req(0, LATEST_TIMESTAMP), 6).await;
    assert_eq!(r.topics[0].partitions[0].offset, 0);
    let r = list_offsets::handle(&b, req(0, 12345), 6).await;
    assert_eq!(
        r.topics[0].partitions[0].offset, -1,
        "nothing at or after that time"
    );
    let r = list_offsets::handle(&b, req(5, LATEST_TIMESTAMP), 6).await;
    assert_eq!(
        r.topics[0].partitions[0].error_code,
        ec::UNKNOWN_TOPIC_OR_PARTITION
    );

    let r = topics::delete_records(
        &b,
        DeleteRecordsRequest {
            topics: vec![DeleteRecordsTopic {
                name: "t".into(),
                partitions: vec![DeleteRecordsPartition {
                    partition_index: 0,
                    offset: 10,
                }],
            }],
            timeout_ms: 1000,
        },
        2,
    )
    .await;
    assert_eq!(
        r.topics[0].partitions[0].error_code,
        ec::OFFSET_OUT_OF_RANGE
    );

    let fc = groups::find_coordinator(
        &b,
        FindCoordinatorRequest {
            key: String::new(),
            key_type: 0,
            coordinator_keys: vec!["a".into(), "b".into()],
        },
        4,
    )
    .await;
    assert_eq!(fc.coordinators.len(), 2);
    assert_eq!(fc.coordinators[1].host, "kafka.example");
}
