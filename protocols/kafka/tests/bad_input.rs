//! What hostile or broken clients send: unknown API keys and versions, truncated and
//! oversized frames, absurd array lengths, corrupt record batches, requests before
//! authentication. The broker answers as Kafka does or closes the connection, and
//! keeps serving everyone else.
#![allow(clippy::unwrap_used)]

mod support;

use bytes::BytesMut;
use support::{RawClient, TestServer, unique};
use trident_kafka::codec::api::key;
use trident_kafka::codec::record_batch;
use trident_kafka::error_code as ec;
use trident_kafka::messages::api_versions::{ApiVersionsRequest, ApiVersionsResponse};
use trident_kafka::messages::metadata::{MetadataRequest, MetadataRequestTopic, MetadataResponse};
use trident_kafka::messages::produce::*;

/// The server still answers a fresh client.
async fn still_serving(s: &TestServer) {
    let mut c = RawClient::connect(s.addr).await;
    let r: ApiVersionsResponse = c
        .call(key::API_VERSIONS, 3, &ApiVersionsRequest::default())
        .await
        .expect("server still answers");
    assert_eq!(r.error_code, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn absurd_array_length_in_a_14_byte_alter_configs_is_refused() {
    let s = TestServer::start().await;
    let mut c = RawClient::connect(s.addr).await;
    // AlterConfigs v0: header (key 33, v0, correlation 1, null client id) and a
    // resources array that claims 2^31-1 elements: 14 bytes after the size.
    let mut frame = vec![0, 0, 0, 14];
    frame.extend_from_slice(&[0, 33, 0, 0, 0, 0, 0, 1, 0xff, 0xff, 0x7f, 0xff, 0xff, 0xff]);
    c.send_raw(&frame).await;
    assert!(
        c.is_closed().await,
        "an undecodable request closes the connection"
    );
    // Same in a flexible version (compact array length as a varint).
    let mut c = RawClient::connect(s.addr).await;
    let mut frame = vec![0, 0, 0, 15];
    frame.extend_from_slice(&[
        0, 33, 0, 2, 0, 0, 0, 1, 0xff, 0xff, 0, 0xff, 0xff, 0xff, 0x0f,
    ]);
    c.send_raw(&frame).await;
    assert!(c.is_closed().await);
    still_serving(&s).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_api_key_closes_and_unknown_api_versions_version_answers_v0() {
    let s = TestServer::start().await;
    let mut c = RawClient::connect(s.addr).await;
    c.send(999, 0, &ApiVersionsRequest::default()).await;
    assert!(c.is_closed().await);

    // ApiVersions v99: UNSUPPORTED_VERSION with our table, in a v0 body.
    let mut c = RawClient::connect(s.addr).await;
    let frame = c.encode(key::API_VERSIONS, 99, &ApiVersionsRequest::default());
    c.send_raw(&frame).await;
    let r: ApiVersionsResponse = c.recv(key::API_VERSIONS, 0).await.unwrap();
    assert_eq!(r.error_code, ec::UNSUPPORTED_VERSION);
    assert!(
        r.api_keys
            .iter()
            .any(|a| a.api_key == key::PRODUCE && a.min_version == 3)
    );

    // An unsupported version of another API closes the connection, never hangs.
    let mut c = RawClient::connect(s.addr).await;
    c.send(key::METADATA, 77, &MetadataRequest::default()).await;
    assert!(c.is_closed().await);
    still_serving(&s).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_and_truncated_frames() {
    let mut config = support::kafka_config();
    config.max_frame_bytes = 1024;
    let s = TestServer::start_with(config).await;
    let mut c = RawClient::connect(s.addr).await;
    c.send_raw(&[0x7f, 0xff, 0xff, 0xff]).await;
    assert!(
        c.is_closed().await,
        "a frame larger than the maximum is refused from its size"
    );

    let mut c = RawClient::connect(s.addr).await;
    c.send_raw(&[0xff, 0xff, 0xff, 0xfe]).await;
    assert!(c.is_closed().await, "a negative size is refused");

    // A frame whose body ends inside the header.
    let mut c = RawClient::connect(s.addr).await;
    c.send_raw(&[0, 0, 0, 10, 0, 18, 0, 3, 0, 0, 0, 1, 0, 9])
        .await;
    assert!(c.is_closed().await);

    // A frame that never completes just waits; the client hanging up ends it.
    let mut c = RawClient::connect(s.addr).await;
    c.send_raw(&[0, 0, 0, 100, 0, 18]).await;
    drop(c);
    still_serving(&s).await;
}

fn produce_request(topic: &str, batch: BytesMut, acks: i16) -> ProduceRequest {
    ProduceRequest {
        transactional_id: None,
        acks,
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crc_mismatch_is_corrupt_message_and_nothing_is_appended() {
    let s = TestServer::start().await;
    let topic = unique("crc");
    let mut c = RawClient::connect(s.addr).await;
    let good = record_batch::build(&[(None, b"one", 1000), (None, b"two", 1001)], None);
    let r: ProduceResponse = c
        .call(key::PRODUCE, 9, &produce_request(&topic, good.clone(), -1))
        .await
        .unwrap();
    let p = &r.responses[0].partitions[0];
    assert_eq!((p.error_code, p.base_offset), (0, 0));

    let mut bad = good.clone();
    let last = bad.len() - 1;
    bad[last] ^= 0x01;
    let r: ProduceResponse = c
        .call(key::PRODUCE, 9, &produce_request(&topic, bad, -1))
        .await
        .unwrap();
    assert_eq!(r.responses[0].partitions[0].error_code, ec::CORRUPT_MESSAGE);

    let mut truncated = good.clone();
    truncated.truncate(good.len() - 3);
    let r: ProduceResponse = c
        .call(key::PRODUCE, 7, &produce_request(&topic, truncated, 1))
        .await
        .unwrap();
    assert_eq!(r.responses[0].partitions[0].error_code, ec::CORRUPT_MESSAGE);

    let part = s.engine().topic(&topic).unwrap().partitions[0].clone();
    assert_eq!(
        part.high_watermark(),
        2,
        "the corrupt batches appended nothing"
    );

    // The connection survives a refused batch.
    let r: ProduceResponse = c
        .call(key::PRODUCE, 9, &produce_request(&topic, good, 1))
        .await
        .unwrap();
    assert_eq!(r.responses[0].partitions[0].base_offset, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acks_zero_gets_no_response_but_is_stored() {
    let s = TestServer::start().await;
    let topic = unique("acks0");
    let mut c = RawClient::connect(s.addr).await;
    let batch = record_batch::build(&[(None, b"fire", 1)], None);
    c.send(key::PRODUCE, 9, &produce_request(&topic, batch, 0))
        .await;
    // The next response on the connection belongs to the next request.
    let md: MetadataResponse = c
        .call(
            key::METADATA,
            12,
            &MetadataRequest {
                topics: Some(vec![MetadataRequestTopic {
                    topic_id: [0; 16],
                    name: Some(topic.clone()),
                }]),
                allow_auto_topic_creation: false,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(md.topics[0].error_code, 0);
    let part = s.engine().topic(&topic).unwrap().partitions[0].clone();
    for _ in 0..100 {
        if part.high_watermark() == 1 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert_eq!(part.high_watermark(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_before_authentication_are_refused_when_sasl_is_required() {
    let mut config = support::kafka_config();
    config.sasl_required = true;
    let s = TestServer::start_with(config).await;
    let mut c = RawClient::connect(s.addr).await;
    // ApiVersions is allowed (clients need it to start SASL)...
    let r: ApiVersionsResponse = c
        .call(key::API_VERSIONS, 3, &ApiVersionsRequest::default())
        .await
        .unwrap();
    assert_eq!(r.error_code, 0);
    // ...Metadata is not.
    c.send(key::METADATA, 12, &MetadataRequest::default()).await;
    assert!(c.is_closed().await);
    still_serving(&s).await;
}
