//! Protocol behaviour checked with a bare client built on the crate's codec: long
//! polling, fetch limits, idempotent duplicates, SCRAM, old versions.
#![allow(clippy::unwrap_used)]

mod support;

use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use bytes::Bytes;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use support::{RawClient, TestServer, unique};
use trident_kafka::codec::api::key;
use trident_kafka::codec::record_batch;
use trident_kafka::error_code as ec;
use trident_kafka::messages::fetch::*;
use trident_kafka::messages::list_offsets::*;
use trident_kafka::messages::produce::*;
use trident_kafka::messages::producer_id::*;
use trident_kafka::messages::sasl::*;

fn produce_req(topic: &str, batch: bytes::BytesMut) -> ProduceRequest {
    ProduceRequest {
        transactional_id: None,
        acks: -1,
        timeout_ms: 5000,
        topics: vec![ProduceTopic {
            name: topic.into(),
            partitions: vec![ProducePartition {
                index: 0,
                records: Some(batch),
            }],
        }],
    }
}

fn fetch_req(topic: &str, offset: i64, max_wait_ms: i32, partition_max_bytes: i32) -> FetchRequest {
    FetchRequest {
        max_wait_ms,
        min_bytes: 1,
        max_bytes: 50 << 20,
        topics: vec![FetchTopic {
            topic: topic.into(),
            topic_id: [0; 16],
            partitions: vec![FetchPartition {
                partition: 0,
                fetch_offset: offset,
                partition_max_bytes,
                ..Default::default()
            }],
        }],
        ..Default::default()
    }
}

async fn produce(c: &mut RawClient, topic: &str, values: &[&[u8]]) -> ProducePartitionResponse {
    let records: Vec<_> = values.iter().map(|v| (None, *v, 1000)).collect();
    let batch = record_batch::build(&records, None);
    let r: ProduceResponse = c
        .call(key::PRODUCE, 9, &produce_req(topic, batch))
        .await
        .unwrap();
    r.responses[0].partitions[0].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fetch_long_polls_until_data_arrives_or_max_wait() {
    let s = TestServer::start().await;
    let topic = unique("poll");
    let mut producer = RawClient::connect(s.addr).await;
    assert_eq!(
        produce(&mut producer, &topic, &[b"first"]).await.error_code,
        0
    );

    // Nothing past offset 1: an empty answer after about max_wait.
    let mut c = RawClient::connect(s.addr).await;
    let t0 = Instant::now();
    let r: FetchResponse = c
        .call(key::FETCH, 12, &fetch_req(&topic, 1, 300, 1 << 20))
        .await
        .unwrap();
    let waited = t0.elapsed();
    assert!(
        waited >= Duration::from_millis(290),
        "answered after {waited:?}"
    );
    assert!(
        r.responses[0].partitions[0]
            .records
            .0
            .iter()
            .all(|b| b.is_empty())
    );
    assert_eq!(r.responses[0].partitions[0].high_watermark, 1);

    // A produce during the wait answers the fetch at once.
    let t0 = Instant::now();
    c.send(key::FETCH, 12, &fetch_req(&topic, 1, 5000, 1 << 20))
        .await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        produce(&mut producer, &topic, &[b"second"])
            .await
            .base_offset,
        1
    );
    let r: FetchResponse = c.recv(key::FETCH, 12).await.unwrap();
    assert!(
        t0.elapsed() < Duration::from_secs(2),
        "woken by the append, not the timeout"
    );
    let p = &r.responses[0].partitions[0];
    assert_eq!(p.high_watermark, 2);
    let data: Vec<u8> = p.records.0.iter().flat_map(|b| b.to_vec()).collect();
    assert_eq!(
        i64::from_be_bytes(data[..8].try_into().unwrap()),
        1,
        "base offset patched"
    );

    // Out of range.
    let r: FetchResponse = c
        .call(key::FETCH, 12, &fetch_req(&topic, 99, 0, 1 << 20))
        .await
        .unwrap();
    assert_eq!(
        r.responses[0].partitions[0].error_code,
        ec::OFFSET_OUT_OF_RANGE
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn partition_max_bytes_limits_a_fetch_but_one_batch_always_fits() {
    let s = TestServer::start().await;
    let topic = unique("limit");
    let mut c = RawClient::connect(s.addr).await;
    let value = vec![b'v'; 1000];
    for _ in 0..3 {
        assert_eq!(produce(&mut c, &topic, &[&value]).await.error_code, 0);
    }
    let batch_len = record_batch::build(&[(None, &value, 1000)], None).len();
    let r: FetchResponse = c
        .call(key::FETCH, 11, &fetch_req(&topic, 0, 0, 1500))
        .await
        .unwrap();
    let got: usize = r.responses[0].partitions[0]
        .records
        .0
        .iter()
        .map(Bytes::len)
        .sum();
    assert_eq!(got, batch_len, "one batch of three");
    let r: FetchResponse = c
        .call(key::FETCH, 11, &fetch_req(&topic, 0, 0, 10))
        .await
        .unwrap();
    let got: usize = r.responses[0].partitions[0]
        .records
        .0
        .iter()
        .map(Bytes::len)
        .sum();
    assert_eq!(
        got, batch_len,
        "a limit smaller than a batch still returns one (KIP-74)"
    );
    let r: FetchResponse = c
        .call(key::FETCH, 4, &fetch_req(&topic, 0, 0, 1 << 20))
        .await
        .unwrap();
    let got: usize = r.responses[0].partitions[0]
        .records
        .0
        .iter()
        .map(Bytes::len)
        .sum();
    assert_eq!(got, 3 * batch_len);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idempotent_retries_are_dropped_and_gaps_refused() {
    let s = TestServer::start().await;
    let topic = unique("dup");
    let mut c = RawClient::connect(s.addr).await;
    let id: InitProducerIdResponse = c
        .call(
            key::INIT_PRODUCER_ID,
            4,
            &InitProducerIdRequest {
                transactional_id: None,
                transaction_timeout_ms: 60000,
                producer_id: -1,
                producer_epoch: -1,
            },
        )
        .await
        .unwrap();
    assert_eq!(id.error_code, 0);
    let pid = id.producer_id;
    let batch =
        |seq: i32| record_batch::build(&[(None, b"a", 1), (None, b"b", 2)], Some((pid, 0, seq)));
    let first: ProduceResponse = c
        .call(key::PRODUCE, 9, &produce_req(&topic, batch(0)))
        .await
        .unwrap();
    assert_eq!(first.responses[0].partitions[0].base_offset, 0);
    let again: ProduceResponse = c
        .call(key::PRODUCE, 9, &produce_req(&topic, batch(0)))
        .await
        .unwrap();
    let p = &again.responses[0].partitions[0];
    assert_eq!(
        (p.error_code, p.base_offset),
        (0, 0),
        "a retry gets the original offset"
    );
    let gap: ProduceResponse = c
        .call(key::PRODUCE, 9, &produce_req(&topic, batch(5)))
        .await
        .unwrap();
    assert_eq!(
        gap.responses[0].partitions[0].error_code,
        ec::OUT_OF_ORDER_SEQUENCE_NUMBER
    );
    let next: ProduceResponse = c
        .call(key::PRODUCE, 9, &produce_req(&topic, batch(2)))
        .await
        .unwrap();
    assert_eq!(next.responses[0].partitions[0].base_offset, 2);
    let part = s.engine().topic(&topic).unwrap().partitions[0].clone();
    assert_eq!(part.high_watermark(), 4, "the duplicate was not stored");

    // KIP-360 epoch bump keeps the id.
    let bumped: InitProducerIdResponse = c
        .call(
            key::INIT_PRODUCER_ID,
            4,
            &InitProducerIdRequest {
                transactional_id: None,
                transaction_timeout_ms: 60000,
                producer_id: pid,
                producer_epoch: 0,
            },
        )
        .await
        .unwrap();
    assert_eq!((bumped.producer_id, bumped.producer_epoch), (pid, 1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pipelined_produce_requests_keep_their_order() {
    let s = TestServer::start().await;
    let topic = unique("pipe");
    let mut c = RawClient::connect(s.addr).await;
    // 500 requests written back to back before reading any response: one read
    // burst, so the connection task runs out of its cooperative budget midway.
    let mut bytes = Vec::new();
    for i in 0..500u32 {
        let v = i.to_be_bytes();
        let batch = record_batch::build(&[(None, &v, 1)], None);
        bytes.extend(c.encode(key::PRODUCE, 9, &produce_req(&topic, batch)));
    }
    c.send_raw(&bytes).await;
    for i in 0..500 {
        let r: ProduceResponse = c.recv(key::PRODUCE, 9).await.unwrap();
        assert_eq!(
            r.responses[0].partitions[0].base_offset, i,
            "responses in request order"
        );
    }
    let part = s.engine().topic(&topic).unwrap().partitions[0].clone();
    let read = part.read(0, 1 << 20).await.unwrap();
    let values: Vec<u32> = read
        .batches
        .iter()
        .map(|b| {
            // The single record's value is the last 5 bytes before the header count.
            let n = b.bytes.len();
            u32::from_be_bytes(b.bytes[n - 5..n - 1].try_into().unwrap())
        })
        .collect();
    assert_eq!(
        values,
        (0..500).collect::<Vec<u32>>(),
        "appended in request order"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_offsets_v0_and_by_time() {
    let s = TestServer::start().await;
    let topic = unique("lo");
    let mut c = RawClient::connect(s.addr).await;
    let batch = record_batch::build(
        &[(None, b"a", 100), (None, b"b", 200), (None, b"c", 300)],
        None,
    );
    let _: ProduceResponse = c
        .call(key::PRODUCE, 9, &produce_req(&topic, batch))
        .await
        .unwrap();
    let query = |ts: i64| ListOffsetsRequest {
        replica_id: -1,
        isolation_level: 0,
        topics: vec![ListOffsetsTopic {
            name: topic.clone(),
            partitions: vec![ListOffsetsPartition {
                partition_index: 0,
                current_leader_epoch: -1,
                timestamp: ts,
                max_num_offsets: 1,
            }],
        }],
    };
    let r: ListOffsetsResponse = c
        .call(key::LIST_OFFSETS, 0, &query(LATEST_TIMESTAMP))
        .await
        .unwrap();
    assert_eq!(r.topics[0].partitions[0].old_style_offsets, vec![3]);
    let r: ListOffsetsResponse = c.call(key::LIST_OFFSETS, 6, &query(150)).await.unwrap();
    let p = &r.topics[0].partitions[0];
    assert_eq!((p.offset, p.timestamp), (1, 200));
    let r: ListOffsetsResponse = c
        .call(key::LIST_OFFSETS, 1, &query(EARLIEST_TIMESTAMP))
        .await
        .unwrap();
    assert_eq!(r.topics[0].partitions[0].offset, 0);
}

type HmacSha256 = Hmac<Sha256>;

fn hmac(key: &[u8], data: &[u8]) -> Vec<u8> {
    let mut m = <HmacSha256 as Mac>::new_from_slice(key).unwrap();
    m.update(data);
    m.finalize().into_bytes().to_vec()
}

async fn scram_login(s: &TestServer, user: &str, password: &str) -> (bool, RawClient) {
    let mut c = RawClient::connect(s.addr).await;
    let h: SaslHandshakeResponse = c
        .call(
            key::SASL_HANDSHAKE,
            1,
            &SaslHandshakeRequest {
                mechanism: "SCRAM-SHA-256".into(),
            },
        )
        .await
        .unwrap();
    assert_eq!(h.error_code, 0);
    let cnonce = "rOprNGfwEbeRWgbNEkqO";
    let first_bare = format!("n={user},r={cnonce}");
    let r: SaslAuthenticateResponse = c
        .call(
            key::SASL_AUTHENTICATE,
            2,
            &SaslAuthenticateRequest {
                auth_bytes: Bytes::from(format!("n,,{first_bare}")),
            },
        )
        .await
        .unwrap();
    assert_eq!(r.error_code, 0, "{:?}", r.error_message);
    let server_first = String::from_utf8(r.auth_bytes.to_vec()).unwrap();
    let mut nonce = "";
    let mut salt = Vec::new();
    let mut iterations = 0;
    for attr in server_first.split(',') {
        if let Some(v) = attr.strip_prefix("r=") {
            nonce = v;
        } else if let Some(v) = attr.strip_prefix("s=") {
            salt = B64.decode(v).unwrap();
        } else if let Some(v) = attr.strip_prefix("i=") {
            iterations = v.parse().unwrap();
        }
    }
    assert!(nonce.starts_with(cnonce));
    let mut salted = [0u8; 32];
    pbkdf2::pbkdf2::<HmacSha256>(password.as_bytes(), &salt, iterations, &mut salted).unwrap();
    let client_key = hmac(&salted, b"Client Key");
    let stored_key = Sha256::digest(&client_key);
    let without_proof = format!("c=biws,r={nonce}");
    let auth_message = format!("{first_bare},{server_first},{without_proof}");
    let signature = hmac(&stored_key, auth_message.as_bytes());
    let proof: Vec<u8> = client_key
        .iter()
        .zip(&signature)
        .map(|(a, b)| a ^ b)
        .collect();
    let r: SaslAuthenticateResponse = c
        .call(
            key::SASL_AUTHENTICATE,
            2,
            &SaslAuthenticateRequest {
                auth_bytes: Bytes::from(format!("{without_proof},p={}", B64.encode(proof))),
            },
        )
        .await
        .unwrap();
    if r.error_code != 0 {
        return (false, c);
    }
    let server_key = hmac(&salted, b"Server Key");
    let expected = format!(
        "v={}",
        B64.encode(hmac(&server_key, auth_message.as_bytes()))
    );
    assert_eq!(
        r.auth_bytes,
        Bytes::from(expected),
        "server proves it knows the key"
    );
    (true, c)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scram_sha_256_exchange() {
    let mut config = support::kafka_config();
    config.sasl_required = true;
    let s = TestServer::start_with(config).await;
    let mut bob = trident_engine::User::new("bob", "pencil").unwrap();
    // Produce needs write permission on the topic (vhost `/` permissions govern logs).
    bob.permissions.insert(
        "/".into(),
        trident_engine::Permission {
            configure: "".into(),
            write: "^scram".into(),
            read: "".into(),
        },
    );
    s.engine().users().put(bob).unwrap();
    let (ok, mut c) = scram_login(&s, "bob", "pencil").await;
    assert!(ok);
    let r: ProduceResponse = c
        .call(
            key::PRODUCE,
            9,
            &produce_req(
                &unique("elsewhere"),
                record_batch::build(&[(None, b"x", 1)], None),
            ),
        )
        .await
        .unwrap();
    assert_eq!(
        r.responses[0].partitions[0].error_code, 29,
        "TOPIC_AUTHORIZATION_FAILED outside the write pattern"
    );
    // No configure pattern: creating a topic is refused the same way.
    use trident_kafka::messages::admin::{
        CreatableTopic, CreateTopicsRequest, CreateTopicsResponse,
    };
    let create = CreateTopicsRequest {
        topics: vec![CreatableTopic {
            name: unique("scram-made"),
            num_partitions: 1,
            replication_factor: -1,
            assignments: vec![],
            configs: vec![],
        }],
        timeout_ms: 1000,
        validate_only: false,
    };
    let r: CreateTopicsResponse = c.call(key::CREATE_TOPICS, 5, &create).await.unwrap();
    assert_eq!(r.topics[0].error_code, 29, "{:?}", r.topics[0]);
    // Write alone does not auto-create a topic (Kafka asks for CREATE): unknown topic.
    let topic = unique("scram");
    let batch = || record_batch::build(&[(None, b"x", 1)], None);
    let r: ProduceResponse = c
        .call(key::PRODUCE, 9, &produce_req(&topic, batch()))
        .await
        .unwrap();
    assert_eq!(
        r.responses[0].partitions[0].error_code,
        ec::UNKNOWN_TOPIC_OR_PARTITION
    );
    assert!(s.engine().topic(&topic).is_none());
    // Once it exists, bob's write permission is enough.
    let mut cfg = s.engine().config().default_topic.clone();
    cfg.partitions = 1;
    s.engine()
        .create_topic(trident_core::TopicName::new(&topic).unwrap(), cfg)
        .await
        .unwrap();
    let r: ProduceResponse = c
        .call(key::PRODUCE, 9, &produce_req(&topic, batch()))
        .await
        .unwrap();
    assert_eq!(r.responses[0].partitions[0].error_code, 0);

    let (ok, mut c) = scram_login(&s, "bob", "wrong").await;
    assert!(!ok);
    assert!(c.is_closed().await, "a failed login closes the connection");
}

mod describe_topic_partitions {
    use super::*;
    use trident_core::{TopicConfig, TopicName};
    use trident_kafka::codec::wire::Nullable;
    use trident_kafka::messages::api_versions::*;
    use trident_kafka::messages::topic_partitions::*;

    async fn describe(
        c: &mut RawClient,
        topics: &[&str],
        limit: i32,
        cursor: Option<(&str, i32)>,
    ) -> DescribeTopicPartitionsResponse {
        let req = DescribeTopicPartitionsRequest {
            topics: topics
                .iter()
                .map(|t| TopicRequest {
                    name: t.to_string(),
                })
                .collect(),
            response_partition_limit: limit,
            cursor: Nullable(cursor.map(|(t, p)| Cursor {
                topic_name: t.into(),
                partition_index: p,
            })),
        };
        c.call(key::DESCRIBE_TOPIC_PARTITIONS, 0, &req)
            .await
            .unwrap()
    }

    /// (topic, error, partition indexes) of one described topic.
    type Described = (String, i16, Vec<i32>);

    /// Each described topic, and the next cursor.
    fn summary(r: &DescribeTopicPartitionsResponse) -> (Vec<Described>, Option<(String, i32)>) {
        let topics = r
            .topics
            .iter()
            .map(|t| {
                (
                    t.name.clone().unwrap_or_default(),
                    t.error_code,
                    t.partitions.iter().map(|p| p.partition_index).collect(),
                )
            })
            .collect();
        let cursor = r
            .next_cursor
            .0
            .as_ref()
            .map(|c| (c.topic_name.clone(), c.partition_index));
        (topics, cursor)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn pages_through_topics_with_a_cursor() {
        let s = TestServer::start().await;
        let p = unique("dtp");
        let (a, b, c3) = (format!("{p}-a"), format!("{p}-b"), format!("{p}-c"));
        for (name, n) in [(&a, 5), (&b, 1), (&c3, 3)] {
            s.engine()
                .create_topic(
                    TopicName::new(name).unwrap(),
                    TopicConfig {
                        partitions: n,
                        ..TopicConfig::default()
                    },
                )
                .await
                .unwrap();
        }
        let missing = format!("{p}-zz");
        let mut c = RawClient::connect(s.addr).await;

        let versions: ApiVersionsResponse = c
            .call(key::API_VERSIONS, 3, &ApiVersionsRequest::default())
            .await
            .unwrap();
        assert!(
            versions
                .api_keys
                .iter()
                .any(|k| k.api_key == 75 && k.min_version == 0 && k.max_version == 0),
            "advertised in ApiVersions"
        );

        // Asked in any order, described in name order, 4 partitions per page.
        let asked = [c3.as_str(), missing.as_str(), a.as_str(), b.as_str()];
        let first = describe(&mut c, &asked, 4, None).await;
        assert_eq!(
            summary(&first),
            (vec![(a.clone(), 0, vec![0, 1, 2, 3])], Some((a.clone(), 4)))
        );
        let t = &first.topics[0];
        assert_eq!(t.topic_id, trident_kafka::handlers::topic_id(&a));
        assert!(t.partitions.iter().all(|p| p.leader_id == 0
            && p.leader_epoch == 0
            && p.replica_nodes == vec![0]
            && p.isr_nodes == vec![0]
            && p.eligible_leader_replicas.is_none()));

        let second = describe(&mut c, &asked, 4, Some((&a, 4))).await;
        assert_eq!(
            summary(&second),
            (
                vec![
                    (a.clone(), 0, vec![4]),
                    (b.clone(), 0, vec![0]),
                    (c3.clone(), 0, vec![0, 1]),
                ],
                Some((c3.clone(), 2))
            )
        );
        let last = describe(&mut c, &asked, 4, Some((&c3, 2))).await;
        assert_eq!(
            summary(&last),
            (
                vec![
                    (c3.clone(), 0, vec![2]),
                    (missing.clone(), ec::UNKNOWN_TOPIC_OR_PARTITION, vec![]),
                ],
                None
            )
        );

        // A limit that ends exactly at a topic's end points the cursor at the next one.
        let exact = describe(&mut c, &[&a, &b], 5, None).await;
        assert_eq!(
            summary(&exact),
            (
                vec![(a.clone(), 0, vec![0, 1, 2, 3, 4])],
                Some((b.clone(), 0))
            )
        );
        // Every topic (empty list), from a cursor: only topics at or after it.
        let all = describe(&mut c, &[], 2000, Some((&b, 0))).await;
        let (topics, cursor) = summary(&all);
        assert_eq!(cursor, None);
        let ours: Vec<_> = topics.into_iter().filter(|t| t.0.starts_with(&p)).collect();
        assert_eq!(
            ours,
            vec![(b.clone(), 0, vec![0]), (c3.clone(), 0, vec![0, 1, 2])]
        );
        // A cursor naming a topic that was not asked for, or a negative partition.
        for bad in [Some((missing.as_str(), 0)), Some((a.as_str(), -1))] {
            let r = describe(&mut c, &[&a, &b], 10, bad).await;
            assert!(
                r.topics.iter().all(|t| t.error_code == ec::INVALID_REQUEST),
                "{bad:?}: {r:?}"
            );
        }
        assert!(
            s.engine().topic(&missing).is_none(),
            "describing never creates topics"
        );
    }

    #[test]
    fn request_bytes_match_kafkas_layout() {
        // Hand-encoded v0 request body (flexible): topics [ "t" ], limit 7, cursor ("t", 2).
        let body: &[u8] = &[
            0x02, 0x02, b't', 0x00, // compact array of 1, compact string "t", no tags
            0x00, 0x00, 0x00, 0x07, // response_partition_limit
            0x01, 0x02, b't', 0x00, 0x00, 0x00, 0x02, 0x00, // cursor present, "t", 2, no tags
            0x00, // request tags
        ];
        let mut r = trident_kafka::codec::Reader::new(bytes::BytesMut::from(body), true);
        let req = <DescribeTopicPartitionsRequest as trident_kafka::codec::Wire>::read(&mut r, 0)
            .unwrap();
        assert_eq!(req.response_partition_limit, 7);
        assert_eq!(req.topics[0].name, "t");
        assert_eq!(
            req.cursor.0,
            Some(Cursor {
                topic_name: "t".into(),
                partition_index: 2
            })
        );
        assert_eq!(r.remaining(), 0);
        let mut null_cursor = body[..8].to_vec();
        null_cursor.extend_from_slice(&[0xff, 0x00]);
        let mut r =
            trident_kafka::codec::Reader::new(bytes::BytesMut::from(&null_cursor[..]), true);
        let req = <DescribeTopicPartitionsRequest as trident_kafka::codec::Wire>::read(&mut r, 0)
            .unwrap();
        assert_eq!(req.cursor.0, None, "-1 marks a null cursor");
    }
}
