//! `/api/topics`: partitioned logs with each partition's start and end offsets and
//! bytes on disk; PUT creates (or grows), DELETE deletes.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::State;
use axum::http::Uri;
use axum::response::Response;
use serde::Deserialize;
use serde_json::{Value, json};
use trident_core::{TopicConfig, TopicName};
use trident_engine::{Access, Topic};

use crate::Api;
use crate::body::{self, P};
use crate::caller::Caller;
use crate::error::{ApiError, ApiResult};
use crate::rates::{self, Range};

/// Most partitions one topic may have through this API: past this a typo (an extra
/// zero) would open thousands of files.
pub const MAX_PARTITIONS: u32 = 10_000;

pub(crate) fn topic_json(t: &Topic) -> Value {
    let mut messages = 0u64;
    let mut bytes = 0u64;
    let partitions: Vec<Value> = t
        .partitions
        .iter()
        .map(|p| {
            let (start, end, size) = (p.log_start_offset(), p.high_watermark(), p.size_bytes());
            messages += end.saturating_sub(start);
            bytes += size;
            json!({
                "partition": p.index(),
                "start_offset": start,
                "end_offset": end,
                "bytes": size,
            })
        })
        .collect();
    json!({
        "name": t.name.as_str(),
        "partitions": t.partitions.len(),
        "messages": messages,
        "bytes": bytes,
        "config": config_json(&t.config),
        "partition_details": partitions,
    })
}

/// A topic with `message_stats.publish` (records appended: the sum of end offsets)
/// and the rates the sampler measured.
fn topic_json_with_rates(api: &Api, t: &Topic, range: Option<Range>) -> Value {
    let mut out = topic_json(t);
    let appended: u64 = t.partitions.iter().map(|p| p.high_watermark()).sum();
    if let Value::Object(o) = &mut out {
        o.insert("message_stats".into(), json!({ "publish": appended }));
    }
    let details = api.rates.topic(t.name.as_str(), range);
    rates::attach(&mut out, details, rates::TOPIC_COUNTER_FIELDS, None);
    out
}

pub(crate) fn config_json(c: &TopicConfig) -> Value {
    json!({
        "retention_ms": c.retention_ms.unwrap_or(-1),
        "retention_bytes": c.retention_bytes.map_or(-1, |b| i64::try_from(b).unwrap_or(i64::MAX)),
        "segment_bytes": c.segment_bytes,
        "segment_ms": c.segment_ms.unwrap_or(-1),
    })
}

/// Logs are governed by the permissions of vhost `/` (see `User::may_log`).
fn can_see(caller: &Caller, topic: &str) -> bool {
    caller.is_admin()
        || caller.user.has_tag("monitoring")
        || caller.user.may_log(Access::Read, topic)
        || caller.user.may_log(Access::Configure, topic)
}

fn require_configure(caller: &Caller, topic: &str) -> ApiResult<()> {
    if caller.is_admin()
        || (caller.user.has_tag("management") && caller.user.may_log(Access::Configure, topic))
    {
        Ok(())
    } else {
        Err(ApiError::forbidden(format!(
            "user '{}' may not change topic '{topic}'",
            caller.user.name
        )))
    }
}

pub async fn list(State(api): State<Api>, caller: Caller) -> ApiResult<Response> {
    let out: Vec<Value> = api
        .engine
        .topics()
        .iter()
        .filter(|t| can_see(&caller, t.name.as_str()))
        .map(|t| topic_json_with_rates(&api, t, None))
        .collect();
    body::ok(&out)
}

fn topic(api: &Api, caller: &Caller, name: &str) -> ApiResult<Arc<Topic>> {
    api.engine
        .topic(name)
        .filter(|_| can_see(caller, name))
        .ok_or_else(|| ApiError::not_found(format!("no topic '{name}'")))
}

pub async fn show(
    State(api): State<Api>,
    caller: Caller,
    P(name): P<String>,
    uri: Uri,
) -> ApiResult<Response> {
    let t = topic(&api, &caller, &name)?;
    let range = Range::from_query(uri.query());
    body::ok(&topic_json_with_rates(&api, &t, range))
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(crate) struct TopicBody {
    #[serde(default)]
    pub partitions: Option<u32>,
    /// -1: forever.
    #[serde(default)]
    pub retention_ms: Option<i64>,
    /// -1: unlimited.
    #[serde(default)]
    pub retention_bytes: Option<i64>,
    #[serde(default)]
    pub segment_bytes: Option<u64>,
    #[serde(default)]
    pub segment_ms: Option<i64>,
}

/// The configuration a body asks for, over the broker's defaults; absurd values are
/// refused with the limit named.
pub(crate) fn topic_config(api: &Api, b: &TopicBody) -> ApiResult<TopicConfig> {
    let mut c = api.engine.config().default_topic.clone();
    if let Some(n) = b.partitions {
        if n == 0 || n > MAX_PARTITIONS {
            return Err(ApiError::bad_request(format!(
                "'partitions' must be between 1 and {MAX_PARTITIONS}, got {n}"
            )));
        }
        c.partitions = n;
    }
    if let Some(ms) = b.retention_ms {
        if ms < -1 {
            return Err(ApiError::bad_request("'retention_ms' must be -1 or more"));
        }
        c.retention_ms = (ms >= 0).then_some(ms);
    }
    if let Some(bytes) = b.retention_bytes {
        if bytes < -1 {
            return Err(ApiError::bad_request(
                "'retention_bytes' must be -1 or more",
            ));
        }
        c.retention_bytes = u64::try_from(bytes).ok();
    }
    if let Some(s) = b.segment_bytes {
        if !(1024..=1 << 40).contains(&s) {
            return Err(ApiError::bad_request(
                "'segment_bytes' must be between 1024 and 2^40",
            ));
        }
        c.segment_bytes = s;
    }
    if let Some(ms) = b.segment_ms {
        if ms < -1 || ms == 0 {
            return Err(ApiError::bad_request("'segment_ms' must be -1 or positive"));
        }
        c.segment_ms = (ms > 0).then_some(ms);
    }
    Ok(c)
}

pub async fn create(
    State(api): State<Api>,
    caller: Caller,
    P(name): P<String>,
    req: Body,
) -> ApiResult<Response> {
    require_configure(&caller, &name)?;
    let b: TopicBody = body::read_json(req).await?;
    let config = topic_config(&api, &b)?;
    let tname = TopicName::new(&name)?;
    if let Some(existing) = api.engine.topic(&name) {
        let current = existing.partitions.len() as u32;
        return match b.partitions {
            Some(n) if n > current => {
                api.engine.create_partitions(&name, n).await?;
                body::no_content()
            }
            Some(n) if n < current => Err(ApiError::bad_request(format!(
                "topic '{name}' has {current} partitions; partitions can be added, never removed"
            ))),
            _ => body::no_content(),
        };
    }
    api.engine.create_topic(tname, config).await?;
    tracing::info!(topic = %name, by = %caller.user.name, "created topic");
    body::created(true)
}

pub async fn delete(
    State(api): State<Api>,
    caller: Caller,
    P(name): P<String>,
) -> ApiResult<Response> {
    require_configure(&caller, &name)?;
    topic(&api, &caller, &name)?;
    api.engine.delete_topic(&name).await?;
    tracing::info!(topic = %name, by = %caller.user.name, "deleted topic");
    body::no_content()
}
