//! Fetch: stored batches as they are (their base offset was patched at append time),
//! with long polling: when fewer than `min_bytes` are available the request waits on
//! the partitions' high-watermark watches until data arrives or `max_wait_ms` passes.
//!
//! Fetch sessions (KIP-227) are not kept: we always answer session id 0, which tells
//! clients to send full fetch requests.

use std::future::Future;
use std::pin::Pin;
use std::task::Poll;
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::watch::error::RecvError;
use tokio::time::Instant;
use trident_engine::{Access, PartitionRef};

use crate::codec::RecordSet;
use crate::error_code as ec;
use crate::handlers::authz::Authz;
use crate::messages::fetch::{FetchRequest, FetchResponse, FetchableTopicResponse, PartitionData};
use crate::shared::Shared;

/// Longest wait honoured, whatever the client asks: a stuck long poll must end.
const MAX_WAIT_CAP: Duration = Duration::from_secs(30);

/// A pending `watch::Receiver::changed()`.
type WatchWait<'a> = Pin<Box<dyn Future<Output = Result<(), RecvError>> + Send + 'a>>;

/// One requested partition.
struct Wanted {
    topic: usize,
    index: i32,
    partition: Option<PartitionRef>,
    /// The user may not read the topic: answered without looking at it.
    denied: bool,
    offset: i64,
    max_bytes: usize,
}

/// What one pass found for one partition.
struct Found {
    error: i16,
    high_watermark: i64,
    log_start: i64,
    batches: Vec<Bytes>,
}

fn offset_i64(o: u64) -> i64 {
    i64::try_from(o).unwrap_or(i64::MAX)
}

pub async fn handle(b: &Shared, req: FetchRequest, version: i16, authz: &Authz) -> FetchResponse {
    let mut names = Vec::with_capacity(req.topics.len());
    let mut wanted = Vec::new();
    for (ti, t) in req.topics.iter().enumerate() {
        let denied = !authz.may(Access::Read, &t.topic);
        let topic = b.engine.topic(&t.topic).filter(|_| !denied);
        names.push(t.topic.clone());
        for p in &t.partitions {
            let partition = topic
                .as_ref()
                .and_then(|topic| {
                    u32::try_from(p.partition)
                        .ok()
                        .and_then(|i| topic.partition(i))
                })
                .cloned();
            wanted.push(Wanted {
                topic: ti,
                index: p.partition,
                partition,
                denied,
                offset: p.fetch_offset,
                max_bytes: usize::try_from(p.partition_max_bytes).unwrap_or(0),
            });
        }
    }
    let max_bytes = usize::try_from(req.max_bytes).unwrap_or(0);
    let min_bytes = usize::try_from(req.min_bytes).unwrap_or(0);
    let wait = Duration::from_millis(u64::try_from(req.max_wait_ms).unwrap_or(0)).min(MAX_WAIT_CAP);
    let deadline = Instant::now() + wait;

    let found = loop {
        // Subscribe before looking, so that an append landing in between still wakes us.
        let mut watches: Vec<_> = wanted
            .iter()
            .filter_map(|w| w.partition.as_ref().map(PartitionRef::watch))
            .collect();
        for w in &mut watches {
            w.borrow_and_update();
        }
        let (found, bytes, any_error) = read_pass(&wanted, max_bytes).await;
        if bytes >= min_bytes || any_error || Instant::now() >= deadline || watches.is_empty() {
            break found;
        }
        // Each `changed()` future must live across polls: dropping it would drop its
        // registration with the watch.
        let mut waits: Vec<WatchWait<'_>> = watches
            .iter_mut()
            .map(|w| Box::pin(w.changed()) as WatchWait<'_>)
            .collect();
        let changed = std::future::poll_fn(|cx| {
            for f in &mut waits {
                if f.as_mut().poll(cx).is_ready() {
                    return Poll::Ready(());
                }
            }
            Poll::Pending
        });
        tokio::select! {
            () = changed => {}
            () = tokio::time::sleep_until(deadline) => {
                let (found, _, _) = read_pass(&wanted, max_bytes).await;
                break found;
            }
        }
    };

    let read_committed = req.isolation_level == 1;
    let mut responses: Vec<FetchableTopicResponse> = names
        .into_iter()
        .map(|topic| FetchableTopicResponse {
            topic,
            ..Default::default()
        })
        .collect();
    for (w, f) in wanted.iter().zip(found) {
        let data = PartitionData {
            partition_index: w.index,
            error_code: f.error,
            high_watermark: f.high_watermark,
            // No transactions: everything written is stable.
            last_stable_offset: f.high_watermark,
            log_start_offset: f.log_start,
            aborted_transactions: read_committed.then(Vec::new),
            preferred_read_replica: -1,
            records: RecordSet(f.batches),
        };
        if let Some(t) = responses.get_mut(w.topic) {
            t.partitions.push(data);
        }
    }
    let _ = version;
    FetchResponse {
        throttle_time_ms: 0,
        error_code: ec::NONE,
        session_id: 0,
        responses,
    }
}

/// Reads every wanted partition once, within the response budget. The first partition
/// with data may exceed it by one batch (KIP-74), so a large batch never blocks a
/// consumer; later ones are skipped rather than overflow it.
async fn read_pass(wanted: &[Wanted], max_bytes: usize) -> (Vec<Found>, usize, bool) {
    let mut out = Vec::with_capacity(wanted.len());
    let mut total = 0usize;
    let mut any_error = false;
    for w in wanted {
        let Some(p) = &w.partition else {
            any_error = true;
            out.push(Found {
                error: if w.denied {
                    ec::TOPIC_AUTHORIZATION_FAILED
                } else {
                    ec::UNKNOWN_TOPIC_OR_PARTITION
                },
                high_watermark: -1,
                log_start: -1,
                batches: Vec::new(),
            });
            continue;
        };
        let hw = p.high_watermark();
        let start = p.log_start_offset();
        let mut f = Found {
            error: ec::NONE,
            high_watermark: offset_i64(hw),
            log_start: offset_i64(start),
            batches: Vec::new(),
        };
        let offset = u64::try_from(w.offset).ok();
        match offset {
            Some(o) if o >= start && o <= hw => {
                let budget = max_bytes.saturating_sub(total).min(w.max_bytes);
                if o < hw && budget > 0 {
                    match p.read(o, budget).await {
                        Ok(r) => {
                            let size: usize = r.batches.iter().map(|b| b.bytes.len()).sum();
                            f.high_watermark = offset_i64(r.high_watermark);
                            f.log_start = offset_i64(r.log_start_offset);
                            if total == 0 || total + size <= max_bytes {
                                total += size;
                                f.batches = r.batches.into_iter().map(|b| b.bytes).collect();
                            }
                        }
                        Err(e) => {
                            any_error = true;
                            f.error = ec::from_engine(&e);
                        }
                    }
                }
            }
            _ => {
                any_error = true;
                f.error = ec::OFFSET_OUT_OF_RANGE;
            }
        }
        out.push(f);
    }
    (out, total, any_error)
}
