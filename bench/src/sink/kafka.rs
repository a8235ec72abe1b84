//! A Kafka discard server on Trident's own sans-io codec (crate `trident-kafka`'s
//! `codec` and `messages`): ApiVersions answered with the four APIs it serves, Metadata
//! with every requested topic as one partition led by this server, Produce counted
//! (records, from each batch header) and dropped, Fetch answered empty; any other
//! request closes the connection.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::BytesMut;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use trident_kafka::codec::api::{self, key};
use trident_kafka::codec::frame::next_frame;
use trident_kafka::codec::header::parse_request;
use trident_kafka::codec::{Reader, Wire, Writer};
use trident_kafka::messages::api_versions::{ApiVersionRange, ApiVersionsResponse};
use trident_kafka::messages::fetch::FetchResponse;
use trident_kafka::messages::metadata::{
    MetadataBroker, MetadataPartition, MetadataRequest, MetadataResponse, MetadataTopic,
};
use trident_kafka::messages::produce::{
    ProducePartitionResponse, ProduceRequest, ProduceResponse, ProduceTopicResponse,
};

use super::Sink;

const MAX_FRAME: usize = 64 << 20;
const SERVED: [i16; 4] = [key::PRODUCE, key::FETCH, key::METADATA, key::API_VERSIONS];
/// Kafka's UNSUPPORTED_VERSION: ApiVersions at a version we do not read.
const UNSUPPORTED_VERSION: i16 = 35;

pub async fn start() -> std::io::Result<Sink> {
    super::listen(serve).await
}

async fn serve(mut s: TcpStream, received: Arc<AtomicU64>) {
    let _ = session(&mut s, &received).await;
}

fn versions(error_code: i16) -> ApiVersionsResponse {
    ApiVersionsResponse {
        error_code,
        api_keys: SERVED
            .iter()
            .filter_map(|k| api::spec(*k))
            .map(|s| ApiVersionRange {
                api_key: s.key,
                min_version: s.min,
                max_version: s.max,
            })
            .collect(),
        throttle_time_ms: 0,
    }
}

/// Records in a produce request's record set: the v2 batch headers' record counts
/// (bytes 57..61 of each batch; the batch length at 8..12 counts from byte 12).
pub fn records_in(mut set: &[u8]) -> u64 {
    let mut n = 0u64;
    while set.len() >= 61 {
        let len = i32::from_be_bytes([set[8], set[9], set[10], set[11]]);
        let count = i32::from_be_bytes([set[57], set[58], set[59], set[60]]);
        n += u64::try_from(count).unwrap_or(0);
        let Some(next) = usize::try_from(len).ok().and_then(|l| l.checked_add(12)) else {
            break;
        };
        if next > set.len() {
            break;
        }
        set = &set[next..];
    }
    n
}

/// The answer to one request, or None when none is due (acks=0) or it cannot be read.
fn answer(
    api_key: i16,
    version: i16,
    body: &mut Reader,
    port: u16,
    received: &AtomicU64,
    w: &mut Writer,
) -> Option<bool> {
    match api_key {
        key::API_VERSIONS => versions(0).write(w, version),
        key::METADATA => {
            let req = MetadataRequest::read(body, version).ok()?;
            let topics = req
                .topics
                .unwrap_or_default()
                .into_iter()
                .filter_map(|t| t.name)
                .map(|name| MetadataTopic {
                    name: Some(name),
                    partitions: vec![MetadataPartition {
                        partition_index: 0,
                        leader_id: 0,
                        replica_nodes: vec![0],
                        isr_nodes: vec![0],
                        ..Default::default()
                    }],
                    ..Default::default()
                })
                .collect();
            MetadataResponse {
                brokers: vec![MetadataBroker {
                    node_id: 0,
                    host: "127.0.0.1".into(),
                    port: i32::from(port),
                    rack: None,
                }],
                cluster_id: Some("trident-bench-sink".into()),
                controller_id: 0,
                topics,
                ..Default::default()
            }
            .write(w, version)
        }
        key::PRODUCE => {
            let req = ProduceRequest::read(body, version).ok()?;
            let mut responses = Vec::new();
            for t in req.topics {
                let mut partitions = Vec::new();
                for p in t.partitions {
                    let n = p.records.as_deref().map_or(0, records_in);
                    let base = received.fetch_add(n, Ordering::Relaxed);
                    partitions.push(ProducePartitionResponse {
                        index: p.index,
                        error_code: 0,
                        base_offset: i64::try_from(base).unwrap_or(i64::MAX),
                        ..Default::default()
                    });
                }
                responses.push(ProduceTopicResponse {
                    name: t.name,
                    partitions,
                });
            }
            if req.acks == 0 {
                return Some(false);
            }
            ProduceResponse {
                responses,
                throttle_time_ms: 0,
            }
            .write(w, version)
        }
        key::FETCH => FetchResponse::default().write(w, version),
        _ => return None,
    }
    Some(true)
}

async fn session(s: &mut TcpStream, received: &AtomicU64) -> std::io::Result<()> {
    let port = s.local_addr()?.port();
    let mut buf = BytesMut::with_capacity(256 * 1024);
    let mut out = BytesMut::new();
    loop {
        loop {
            let frame = match next_frame(&mut buf, MAX_FRAME) {
                Ok(Some(f)) => f,
                Ok(None) => break,
                Err(_) => return Ok(()),
            };
            let Ok(req) = parse_request(frame) else {
                return Ok(());
            };
            let h = req.header;
            let Some(spec) = req.spec.filter(|s| SERVED.contains(&s.key)) else {
                return Ok(());
            };
            let Some(mut body) = req.body else {
                // A version we do not read: only ApiVersions has an answer for that
                // (the error and our table, at version 0), and the client retries.
                if spec.key != key::API_VERSIONS {
                    return Ok(());
                }
                let mut w = Writer::response(h.correlation_id, false, false);
                versions(UNSUPPORTED_VERSION).write(&mut w, 0);
                out.extend_from_slice(&w.finish().to_bytes());
                continue;
            };
            let v = h.api_version;
            let mut w = Writer::response(
                h.correlation_id,
                spec.response_header_v1(v),
                spec.is_flexible(v),
            );
            match answer(spec.key, v, &mut body, port, received, &mut w) {
                Some(true) => out.extend_from_slice(&w.finish().to_bytes()),
                Some(false) => {}
                None => return Ok(()),
            }
        }
        if !out.is_empty() {
            s.write_all(&out).await?;
            out.clear();
        }
        if s.read_buf(&mut buf).await? == 0 {
            return Ok(());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_records_across_batches() {
        let mut set = Vec::new();
        for count in [3i32, 5] {
            let mut b = vec![0u8; 70];
            b[8..12].copy_from_slice(&(70i32 - 12).to_be_bytes());
            b[57..61].copy_from_slice(&count.to_be_bytes());
            set.extend_from_slice(&b);
        }
        assert_eq!(records_in(&set), 8);
        assert_eq!(records_in(&set[..30]), 0, "a torn batch counts nothing");
    }
}
