//! Topic authorization, error codes checked on the wire (rust-rdkafka hides some of
//! them: it reports every DescribeConfigs/AlterConfigs resource as a success). The user
//! logs in with SASL PLAIN; its vhost `/` permissions read `^shared-` and configure
//! `^own-`, so `hidden-*` topics are invisible to it.
#![allow(clippy::unwrap_used)]

mod support;

use bytes::Bytes;
use support::{RawClient, TestServer, unique};
use trident_core::TopicName;
use trident_engine::{Permission, User};
use trident_kafka::codec::api::key;
use trident_kafka::codec::record_batch;
use trident_kafka::codec::wire::Nullable;
use trident_kafka::error_code as ec;
use trident_kafka::messages::configs::*;
use trident_kafka::messages::list_offsets::*;
use trident_kafka::messages::metadata::*;
use trident_kafka::messages::offsets::*;
use trident_kafka::messages::produce::*;
use trident_kafka::messages::sasl::*;
use trident_kafka::messages::topic_partitions::*;

struct Setup {
    s: TestServer,
    c: RawClient,
    shared: String,
    own: String,
    hidden: String,
}

async fn setup() -> Setup {
    let mut config = support::kafka_config();
    config.sasl_required = true;
    let s = TestServer::start_with(config).await;
    let mut dave = User::new("dave", "pw").unwrap();
    dave.permissions.insert(
        "/".into(),
        Permission {
            configure: "^own-".into(),
            write: "".into(),
            read: "^shared-".into(),
        },
    );
    s.engine().users().put(dave).unwrap();
    let (shared, own, hidden) = (unique("shared"), unique("own"), unique("hidden"));
    for name in [&shared, &own, &hidden] {
        let mut cfg = s.engine().config().default_topic.clone();
        cfg.partitions = 1;
        s.engine()
            .create_topic(TopicName::new(name).unwrap(), cfg)
            .await
            .unwrap();
    }
    // A commit on the hidden topic by someone allowed, for OffsetFetch to (not) show.
    s.engine()
        .offsets()
        .commit(
            "g",
            vec![(
                hidden.clone(),
                0,
                trident_engine::CommittedOffset {
                    offset: 7,
                    metadata: String::new(),
                    commit_timestamp_ms: 0,
                },
            )],
        )
        .unwrap();
    let mut c = RawClient::connect(s.addr).await;
    let h: SaslHandshakeResponse = c
        .call(
            key::SASL_HANDSHAKE,
            1,
            &SaslHandshakeRequest {
                mechanism: "PLAIN".into(),
            },
        )
        .await
        .unwrap();
    assert_eq!(h.error_code, 0);
    let r: SaslAuthenticateResponse = c
        .call(
            key::SASL_AUTHENTICATE,
            2,
            &SaslAuthenticateRequest {
                auth_bytes: Bytes::from_static(b"\0dave\0pw"),
            },
        )
        .await
        .unwrap();
    assert_eq!(r.error_code, 0, "{:?}", r.error_message);
    Setup {
        s,
        c,
        shared,
        own,
        hidden,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metadata_hides_and_refuses_topics_and_creates_only_with_configure() {
    let Setup {
        s,
        mut c,
        shared,
        own,
        hidden,
    } = setup().await;
    let ask = |names: &[&str]| MetadataRequest {
        topics: Some(
            names
                .iter()
                .map(|n| MetadataRequestTopic {
                    name: Some(n.to_string()),
                    ..Default::default()
                })
                .collect(),
        ),
        allow_auto_topic_creation: true,
        ..Default::default()
    };
    let not_mine = unique("shared-new");
    let creatable = unique("own-new");
    let r: MetadataResponse = c
        .call(
            key::METADATA,
            9,
            &ask(&[&shared, &hidden, &unique("hidden"), &not_mine, &creatable]),
        )
        .await
        .unwrap();
    let codes: Vec<i16> = r.topics.iter().map(|t| t.error_code).collect();
    assert_eq!(
        codes,
        vec![
            ec::NONE,
            ec::TOPIC_AUTHORIZATION_FAILED,
            // Missing or not, an invisible topic gets the same answer.
            ec::TOPIC_AUTHORIZATION_FAILED,
            // Visible (read) but not creatable (no configure): not auto-created.
            ec::UNKNOWN_TOPIC_OR_PARTITION,
            ec::NONE,
        ]
    );
    assert!(s.engine().topic(&not_mine).is_none());
    assert!(s.engine().topic(&creatable).is_some());

    // Listing every topic leaves the hidden one out.
    let r: MetadataResponse = c
        .call(key::METADATA, 9, &MetadataRequest::default())
        .await
        .unwrap();
    let names: Vec<String> = r.topics.into_iter().filter_map(|t| t.name).collect();
    assert!(names.contains(&shared) && names.contains(&own), "{names:?}");
    assert!(!names.contains(&hidden), "{names:?}");

    // Produce does not auto-create without configure either (it needs write anyway).
    let produce = ProduceRequest {
        transactional_id: None,
        acks: -1,
        timeout_ms: 5000,
        topics: vec![ProduceTopic {
            name: not_mine.clone(),
            partitions: vec![ProducePartition {
                index: 0,
                records: Some(record_batch::build(&[(None, b"x", 1)], None)),
            }],
        }],
    };
    let r: ProduceResponse = c.call(key::PRODUCE, 9, &produce).await.unwrap();
    assert_eq!(
        r.responses[0].partitions[0].error_code,
        ec::TOPIC_AUTHORIZATION_FAILED
    );
    assert!(s.engine().topic(&not_mine).is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn describe_topic_partitions_filters_the_listing_and_refuses_named_topics() {
    let Setup {
        mut c,
        shared,
        own,
        hidden,
        s: _server,
    } = setup().await;
    let describe = |names: &[&str]| DescribeTopicPartitionsRequest {
        topics: names
            .iter()
            .map(|n| TopicRequest {
                name: n.to_string(),
            })
            .collect(),
        response_partition_limit: 100,
        cursor: Nullable(None),
    };
    let r: DescribeTopicPartitionsResponse = c
        .call(key::DESCRIBE_TOPIC_PARTITIONS, 0, &describe(&[]))
        .await
        .unwrap();
    let names: Vec<String> = r.topics.into_iter().filter_map(|t| t.name).collect();
    assert!(names.contains(&shared) && names.contains(&own), "{names:?}");
    assert!(!names.contains(&hidden), "{names:?}");

    let r: DescribeTopicPartitionsResponse = c
        .call(
            key::DESCRIBE_TOPIC_PARTITIONS,
            0,
            &describe(&[&hidden, &shared]),
        )
        .await
        .unwrap();
    let got: Vec<(String, i16, usize)> = r
        .topics
        .into_iter()
        .map(|t| (t.name.unwrap(), t.error_code, t.partitions.len()))
        .collect();
    let mut want = vec![
        (hidden, ec::TOPIC_AUTHORIZATION_FAILED, 0),
        (shared, ec::NONE, 1),
    ];
    want.sort();
    assert_eq!(got, want);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn config_apis_answer_topic_authorization_failed() {
    let Setup {
        s,
        mut c,
        shared,
        own,
        hidden,
    } = setup().await;
    let describe = DescribeConfigsRequest {
        resources: [&shared, &own, &hidden]
            .iter()
            .map(|n| DescribeConfigsResource {
                resource_type: RESOURCE_TOPIC,
                resource_name: n.to_string(),
                configuration_keys: None,
            })
            .collect(),
        ..Default::default()
    };
    let r: DescribeConfigsResponse = c.call(key::DESCRIBE_CONFIGS, 4, &describe).await.unwrap();
    let codes: Vec<i16> = r.results.iter().map(|x| x.error_code).collect();
    assert_eq!(
        codes,
        vec![ec::NONE, ec::NONE, ec::TOPIC_AUTHORIZATION_FAILED]
    );
    assert!(r.results[2].configs.is_empty());

    let alter = |name: &str| IncrementalAlterConfigsResource {
        resource_type: RESOURCE_TOPIC,
        resource_name: name.into(),
        configs: vec![IncrementalAlterableConfig {
            name: "retention.ms".into(),
            config_operation: 0,
            value: Some("60000".into()),
        }],
    };
    let r: AlterConfigsResponse = c
        .call(
            key::INCREMENTAL_ALTER_CONFIGS,
            1,
            &IncrementalAlterConfigsRequest {
                resources: vec![alter(&own), alter(&shared)],
                validate_only: false,
            },
        )
        .await
        .unwrap();
    let codes: Vec<i16> = r.responses.iter().map(|x| x.error_code).collect();
    assert_eq!(codes, vec![ec::NONE, ec::TOPIC_AUTHORIZATION_FAILED]);
    assert_eq!(
        s.engine().topic(&own).unwrap().config.retention_ms,
        Some(60000)
    );
    assert_ne!(
        s.engine().topic(&shared).unwrap().config.retention_ms,
        Some(60000)
    );

    let r: AlterConfigsResponse = c
        .call(
            key::ALTER_CONFIGS,
            1,
            &AlterConfigsRequest {
                resources: vec![AlterConfigsResource {
                    resource_type: RESOURCE_TOPIC,
                    resource_name: shared.clone(),
                    configs: vec![],
                }],
                validate_only: false,
            },
        )
        .await
        .unwrap();
    assert_eq!(r.responses[0].error_code, ec::TOPIC_AUTHORIZATION_FAILED);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offsets_and_list_offsets_need_read_or_describe() {
    let Setup {
        mut c,
        shared,
        own,
        hidden,
        s: _server,
    } = setup().await;
    // ListOffsets: describe suffices (own: configure only), hidden is refused.
    let list = ListOffsetsRequest {
        topics: [&shared, &own, &hidden]
            .iter()
            .map(|n| ListOffsetsTopic {
                name: n.to_string(),
                partitions: vec![ListOffsetsPartition {
                    partition_index: 0,
                    timestamp: LATEST_TIMESTAMP,
                    ..Default::default()
                }],
            })
            .collect(),
        ..Default::default()
    };
    let r: ListOffsetsResponse = c.call(key::LIST_OFFSETS, 6, &list).await.unwrap();
    let codes: Vec<i16> = r
        .topics
        .iter()
        .map(|t| t.partitions[0].error_code)
        .collect();
    assert_eq!(
        codes,
        vec![ec::NONE, ec::NONE, ec::TOPIC_AUTHORIZATION_FAILED]
    );

    // OffsetFetch: named topics she may not read are refused per partition...
    let fetch = |topics: Option<Vec<&String>>| OffsetFetchRequest {
        group_id: "g".into(),
        topics: topics.map(|ts| {
            ts.into_iter()
                .map(|n| OffsetFetchRequestTopic {
                    name: n.clone(),
                    partition_indexes: vec![0],
                })
                .collect()
        }),
        require_stable: false,
    };
    let r: OffsetFetchResponse = c
        .call(key::OFFSET_FETCH, 7, &fetch(Some(vec![&shared, &hidden])))
        .await
        .unwrap();
    let got: Vec<(i16, i64)> = r
        .topics
        .iter()
        .map(|t| (t.partitions[0].error_code, t.partitions[0].committed_offset))
        .collect();
    assert_eq!(
        got,
        vec![(ec::NONE, -1), (ec::TOPIC_AUTHORIZATION_FAILED, -1)]
    );
    // ...and left out of "all the group's offsets".
    let r: OffsetFetchResponse = c.call(key::OFFSET_FETCH, 7, &fetch(None)).await.unwrap();
    assert!(r.topics.iter().all(|t| t.name != hidden), "{:?}", r.topics);

    // OffsetCommit and OffsetDelete need read on the topic.
    let commit = OffsetCommitRequest {
        group_id: "g".into(),
        topics: [&shared, &own]
            .iter()
            .map(|n| OffsetCommitRequestTopic {
                name: n.to_string(),
                partitions: vec![OffsetCommitRequestPartition {
                    partition_index: 0,
                    committed_offset: 0,
                    ..Default::default()
                }],
            })
            .collect(),
        ..Default::default()
    };
    let r: OffsetCommitResponse = c.call(key::OFFSET_COMMIT, 8, &commit).await.unwrap();
    let codes: Vec<i16> = r
        .topics
        .iter()
        .map(|t| t.partitions[0].error_code)
        .collect();
    assert_eq!(codes, vec![ec::NONE, ec::TOPIC_AUTHORIZATION_FAILED]);

    let delete = OffsetDeleteRequest {
        group_id: "g".into(),
        topics: vec![OffsetDeleteRequestTopic {
            name: hidden.clone(),
            partitions: vec![OffsetDeleteRequestPartition { partition_index: 0 }],
        }],
    };
    let r: OffsetDeleteResponse = c.call(key::OFFSET_DELETE, 0, &delete).await.unwrap();
    assert_eq!(
        r.topics[0].partitions[0].error_code,
        ec::TOPIC_AUTHORIZATION_FAILED
    );
}
