//! `/api/consumer-groups`: groups with committed offsets, their lag per partition,
//! and resetting their offsets (kafka-consumer-groups `--reset-offsets`).
//!
//! Committed offsets come from the engine; members from the membership view the
//! adapter that coordinates the group registered with the engine.

use axum::body::Body;
use axum::extract::State;
use axum::response::Response;
use serde::Deserialize;
use serde_json::{Value, json};
use trident_engine::{Access, CommittedOffset, GroupSummary};

use crate::Api;
use crate::body::{self, P};
use crate::caller::Caller;
use crate::error::{ApiError, ApiResult};

fn partition_json(api: &Api, topic: &str, partition: u32, committed: &CommittedOffset) -> Value {
    let end = api
        .engine
        .topic(topic)
        .and_then(|t| t.partition(partition).map(|p| p.high_watermark()));
    let lag = end.map(|e| {
        i64::try_from(e)
            .unwrap_or(i64::MAX)
            .saturating_sub(committed.offset)
            .max(0)
    });
    json!({
        "topic": topic,
        "partition": partition,
        "committed_offset": committed.offset,
        "end_offset": end,
        "lag": lag,
        "metadata": committed.metadata,
        "commit_timestamp": committed.commit_timestamp_ms,
    })
}

fn membership(api: &Api, group: &str) -> Option<GroupSummary> {
    api.engine
        .group_memberships()
        .into_iter()
        .find(|g| g.group == group)
}

fn group_json(api: &Api, group: &str) -> Value {
    let live = membership(api, group);
    let members: Vec<Value> = live
        .as_ref()
        .map(|g| {
            g.members
                .iter()
                .map(|m| {
                    json!({
                        "member_id": m.member_id,
                        "client_id": m.client_id,
                        "host": m.host,
                        "assignment": m.assignment.iter()
                            .map(|(t, p)| json!({"topic": t, "partition": p}))
                            .collect::<Vec<_>>(),
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    let state = live.as_ref().map_or("Empty", |g| g.state.as_str());
    let offsets = api.engine.offsets().group(group);
    let partitions: Vec<Value> = offsets
        .iter()
        .map(|(t, p, o)| partition_json(api, t, *p, o))
        .collect();
    let lag: i64 = partitions
        .iter()
        .filter_map(|p| p.get("lag").and_then(Value::as_i64))
        .sum();
    let mut topics: Vec<&str> = offsets.iter().map(|(t, _, _)| t.as_str()).collect();
    topics.dedup();
    json!({
        "group": group,
        "topics": topics,
        "lag": lag,
        "state": state,
        "members": members,
        "offsets": partitions,
    })
}

/// Monitoring and administrators see every group; others those whose topics they may
/// read (the group's name is not a resource the permissions name).
fn can_see(api: &Api, caller: &Caller, group: &str) -> bool {
    caller.is_admin()
        || caller.user.has_tag("monitoring")
        || api
            .engine
            .offsets()
            .group(group)
            .iter()
            .all(|(t, _, _)| caller.user.may_log(Access::Read, t))
}

/// Groups with committed offsets or live members.
fn group_names(api: &Api) -> Vec<String> {
    let mut names = api.engine.offsets().groups();
    names.extend(api.engine.group_memberships().into_iter().map(|g| g.group));
    names.sort();
    names.dedup();
    names
}

pub async fn list(State(api): State<Api>, caller: Caller) -> ApiResult<Response> {
    let out: Vec<Value> = group_names(&api)
        .iter()
        .filter(|g| can_see(&api, &caller, g))
        .map(|g| group_json(&api, g))
        .collect();
    body::ok(&out)
}

fn require_group(api: &Api, caller: &Caller, group: &str) -> ApiResult<()> {
    let known = !api.engine.offsets().group(group).is_empty() || membership(api, group).is_some();
    if !known || !can_see(api, caller, group) {
        return Err(ApiError::not_found(format!("no consumer group '{group}'")));
    }
    Ok(())
}

pub async fn show(
    State(api): State<Api>,
    caller: Caller,
    P(group): P<String>,
) -> ApiResult<Response> {
    require_group(&api, &caller, &group)?;
    body::ok(&group_json(&api, &group))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ResetBody {
    /// `earliest`, `latest` or `datetime`.
    to: String,
    /// For `datetime`: milliseconds since the Unix epoch.
    #[serde(default)]
    timestamp_ms: Option<i64>,
    /// Only this topic's partitions (all of the group's otherwise). With a topic the
    /// group has not committed for, every partition of that topic is set.
    #[serde(default)]
    topic: Option<String>,
}

pub async fn reset_offsets(
    State(api): State<Api>,
    caller: Caller,
    P(group): P<String>,
    req: Body,
) -> ApiResult<Response> {
    caller.require_admin()?;
    let b: ResetBody = body::read_json(req).await?;
    // As kafka-consumer-groups: members would overwrite the reset with their next commit.
    if let Some(live) = membership(&api, &group)
        && !live.members.is_empty()
    {
        return Err(ApiError::new(
            axum::http::StatusCode::CONFLICT,
            format!(
                "offsets can only be reset while group '{group}' is inactive; it is {} with {} member(s)",
                live.state,
                live.members.len()
            ),
        ));
    }
    let mut targets: Vec<(String, u32)> = api
        .engine
        .offsets()
        .group(&group)
        .into_iter()
        .filter(|(t, _, _)| b.topic.as_deref().is_none_or(|only| only == t))
        .map(|(t, p, _)| (t, p))
        .collect();
    if let Some(only) = &b.topic
        && targets.is_empty()
    {
        let t = api
            .engine
            .topic(only)
            .ok_or_else(|| ApiError::not_found(format!("no topic '{only}'")))?;
        targets = t
            .partitions
            .iter()
            .map(|p| (only.clone(), p.index()))
            .collect();
    }
    if targets.is_empty() {
        return Err(ApiError::not_found(format!(
            "no consumer group '{group}' with committed offsets (name a topic to set them)"
        )));
    }
    let now = trident_core::message::now_ms();
    let mut commits = Vec::with_capacity(targets.len());
    for (topic, partition) in targets {
        let Some(p) = api
            .engine
            .topic(&topic)
            .and_then(|t| t.partition(partition).cloned())
        else {
            // The topic went away since the commit: nothing to point at.
            continue;
        };
        let offset = match b.to.as_str() {
            "earliest" => p.log_start_offset(),
            "latest" => p.high_watermark(),
            "datetime" => {
                let ts = b.timestamp_ms.ok_or_else(|| {
                    ApiError::bad_request("'to': 'datetime' needs 'timestamp_ms'")
                })?;
                p.offset_for_timestamp(ts)
                    .await?
                    .unwrap_or_else(|| p.high_watermark())
            }
            other => {
                return Err(ApiError::bad_request(format!(
                    "'to' must be earliest, latest or datetime, got '{other}'"
                )));
            }
        };
        commits.push((
            topic,
            partition,
            CommittedOffset {
                offset: i64::try_from(offset).unwrap_or(i64::MAX),
                metadata: String::new(),
                commit_timestamp_ms: now,
            },
        ));
    }
    api.engine.offsets().commit(&group, commits)?;
    tracing::info!(%group, to = %b.to, by = %caller.user.name, "reset consumer group offsets");
    body::ok(&group_json(&api, &group))
}
