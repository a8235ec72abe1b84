//! FindCoordinator, JoinGroup, SyncGroup, Heartbeat, LeaveGroup, DescribeGroups,
//! ListGroups, DeleteGroups: thin translations onto the coordinator.

use std::time::Duration;

use tokio::time::Instant;

use super::{Reply, Request};
use crate::coordinator::{GroupState, JoinParams, Pending};
use crate::error_code as ec;
use crate::messages::groups::*;
use crate::session::Session;
use crate::shared::Shared;

pub async fn find_coordinator(
    b: &Shared,
    req: FindCoordinatorRequest,
    version: i16,
) -> FindCoordinatorResponse {
    find_coordinator_for(b, req, version, b.port_i32()).await
}

/// [`find_coordinator`] naming the listener at `port` (plain or TLS, the one asked).
pub async fn find_coordinator_for(
    b: &Shared,
    req: FindCoordinatorRequest,
    version: i16,
    advertised: i32,
) -> FindCoordinatorResponse {
    // Transactions are not served, so there is no transaction coordinator.
    let (code, message) = if req.key_type == 0 {
        (ec::NONE, None)
    } else {
        (
            ec::COORDINATOR_NOT_AVAILABLE,
            Some("transactions are not supported".to_string()),
        )
    };
    let ok = code == ec::NONE;
    let node = if ok { b.node_id() } else { -1 };
    let host = if ok {
        b.host().to_string()
    } else {
        String::new()
    };
    let port = if ok { advertised } else { -1 };
    let keys = if version >= 4 {
        req.coordinator_keys
    } else {
        vec![req.key]
    };
    FindCoordinatorResponse {
        throttle_time_ms: 0,
        error_code: code,
        error_message: message.clone(),
        node_id: node,
        host: host.clone(),
        port,
        coordinators: keys
            .into_iter()
            .map(|key| Coordinator {
                key,
                node_id: node,
                host: host.clone(),
                port,
                error_code: code,
                error_message: message.clone(),
            })
            .collect(),
    }
}

fn ms(v: i32) -> Duration {
    Duration::from_millis(u64::try_from(v).unwrap_or(0))
}

/// Kafka before v7 has no null protocol name; an error response carries "".
fn fix_join(mut r: JoinGroupResponse, version: i16) -> JoinGroupResponse {
    if version < 7 && r.protocol_name.is_none() {
        r.protocol_name = Some(String::new());
    }
    r
}

pub fn join(b: &Shared, session: &Session, req: Request, j: JoinGroupRequest) -> Reply {
    let v = req.version();
    let now_error = |code: i16| {
        Reply::Frame(req.respond(&fix_join(
            JoinGroupResponse {
                error_code: code,
                member_id: j.member_id.clone(),
                ..Default::default()
            },
            v,
        )))
    };
    if j.group_id.is_empty() {
        return now_error(ec::INVALID_GROUP_ID);
    }
    let cfg = b.coordinator.config();
    let session_timeout = ms(j.session_timeout_ms);
    if session_timeout < cfg.min_session_timeout || session_timeout > cfg.max_session_timeout {
        return now_error(ec::INVALID_SESSION_TIMEOUT);
    }
    // v0 has no rebalance timeout: the session timeout served for both.
    let rebalance_timeout = if j.rebalance_timeout_ms > 0 {
        ms(j.rebalance_timeout_ms)
    } else {
        session_timeout
    };
    let params = JoinParams {
        member_id: j.member_id.clone(),
        instance_id: j.group_instance_id.clone(),
        client_id: session.client_id.clone(),
        client_host: session.client_host(),
        session_timeout,
        rebalance_timeout,
        protocol_type: j.protocol_type.clone(),
        protocols: j
            .protocols
            .iter()
            .map(|p| (p.name.clone(), p.metadata.clone()))
            .collect(),
    };
    match b.coordinator.join(&j.group_id, params, Instant::now()) {
        Pending::Now(r) => Reply::Frame(req.respond(&fix_join(r, v))),
        Pending::Wait(rx) => {
            // The ticker's period would round the initial delay up; wake exactly at it.
            if let Some(deadline) = b.coordinator.deadline(&j.group_id) {
                let coordinator = b.coordinator.clone();
                tokio::spawn(async move {
                    tokio::time::sleep_until(deadline).await;
                    coordinator.tick(Instant::now());
                });
            }
            let member_id = j.member_id;
            Reply::Later(tokio::spawn(async move {
                let r = rx.await.unwrap_or_else(|_| JoinGroupResponse {
                    error_code: ec::REBALANCE_IN_PROGRESS,
                    member_id,
                    ..Default::default()
                });
                Some(req.respond(&fix_join(r, v)))
            }))
        }
    }
}

pub fn sync(b: &Shared, req: Request, s: SyncGroupRequest) -> Reply {
    let assignments = s
        .assignments
        .into_iter()
        .map(|a| (a.member_id, a.assignment))
        .collect();
    match b.coordinator.sync(
        &s.group_id,
        &s.member_id,
        s.generation_id,
        assignments,
        Instant::now(),
    ) {
        Pending::Now(r) => Reply::Frame(req.respond(&r)),
        Pending::Wait(rx) => Reply::Later(tokio::spawn(async move {
            let r = rx.await.unwrap_or_else(|_| SyncGroupResponse {
                error_code: ec::REBALANCE_IN_PROGRESS,
                ..Default::default()
            });
            Some(req.respond(&r))
        })),
    }
}

pub async fn heartbeat(b: &Shared, req: HeartbeatRequest, _version: i16) -> HeartbeatResponse {
    HeartbeatResponse {
        throttle_time_ms: 0,
        error_code: b.coordinator.heartbeat(
            &req.group_id,
            &req.member_id,
            req.generation_id,
            Instant::now(),
        ),
    }
}

pub async fn leave(b: &Shared, req: LeaveGroupRequest, version: i16) -> LeaveGroupResponse {
    let now = Instant::now();
    if version < 3 {
        return LeaveGroupResponse {
            throttle_time_ms: 0,
            error_code: b
                .coordinator
                .leave(&req.group_id, &req.member_id, None, now),
            members: Vec::new(),
        };
    }
    let members = req
        .members
        .into_iter()
        .map(|m| MemberResponse {
            error_code: b.coordinator.leave(
                &req.group_id,
                &m.member_id,
                m.group_instance_id.as_deref(),
                now,
            ),
            member_id: m.member_id,
            group_instance_id: m.group_instance_id,
        })
        .collect();
    LeaveGroupResponse {
        throttle_time_ms: 0,
        error_code: ec::NONE,
        members,
    }
}

pub async fn describe(
    b: &Shared,
    req: DescribeGroupsRequest,
    version: i16,
) -> DescribeGroupsResponse {
    let groups = req
        .groups
        .into_iter()
        .map(|g| {
            b.coordinator.describe(&g).unwrap_or_else(|| {
                // Groups that only have committed offsets are Empty; unknown ones Dead
                // before v6, GROUP_ID_NOT_FOUND from v6 (KIP-1043).
                let has_offsets = !b.engine.offsets().group(&g).is_empty();
                let missing = !has_offsets && version >= 6;
                DescribedGroup {
                    error_code: if missing {
                        ec::GROUP_ID_NOT_FOUND
                    } else {
                        ec::NONE
                    },
                    error_message: missing.then(|| format!("group '{g}' not found")),
                    group_id: g,
                    group_state: if has_offsets { "Empty" } else { "Dead" }.to_string(),
                    protocol_type: if has_offsets { "consumer" } else { "" }.to_string(),
                    ..Default::default()
                }
            })
        })
        .collect();
    DescribeGroupsResponse {
        throttle_time_ms: 0,
        groups,
    }
}

pub async fn list(b: &Shared, req: ListGroupsRequest, _version: i16) -> ListGroupsResponse {
    let mut groups: Vec<ListedGroup> = b
        .coordinator
        .list()
        .into_iter()
        .map(|(id, protocol_type, state)| ListedGroup {
            group_id: id,
            protocol_type: if protocol_type.is_empty() && state == GroupState::Empty {
                "consumer".into()
            } else {
                protocol_type
            },
            group_state: state.name().to_string(),
            group_type: "classic".into(),
        })
        .collect();
    for g in b.engine.offsets().groups() {
        if !groups.iter().any(|l| l.group_id == g) {
            groups.push(ListedGroup {
                group_id: g,
                protocol_type: "consumer".into(),
                group_state: GroupState::Empty.name().to_string(),
                group_type: "classic".into(),
            });
        }
    }
    // Only classic groups exist: a types filter without "classic" matches nothing.
    if !req.types_filter.is_empty()
        && !req
            .types_filter
            .iter()
            .any(|t| t.eq_ignore_ascii_case("classic"))
    {
        groups.clear();
    }
    if !req.states_filter.is_empty() {
        groups.retain(|g| {
            req.states_filter
                .iter()
                .any(|s| s.eq_ignore_ascii_case(&g.group_state))
        });
    }
    groups.sort_by(|a, b| a.group_id.cmp(&b.group_id));
    ListGroupsResponse {
        throttle_time_ms: 0,
        error_code: ec::NONE,
        groups,
    }
}

pub async fn delete(b: &Shared, req: DeleteGroupsRequest, _version: i16) -> DeleteGroupsResponse {
    let mut results = Vec::with_capacity(req.groups_names.len());
    for g in req.groups_names {
        let code = match b.coordinator.delete(&g) {
            Err(code) => code,
            Ok(had_state) => {
                let engine = b.engine.clone();
                let group = g.clone();
                let deleted =
                    tokio::task::spawn_blocking(move || engine.offsets().delete(&group, None))
                        .await;
                match deleted {
                    Ok(Ok(n)) if n > 0 || had_state => ec::NONE,
                    Ok(Ok(_)) => ec::GROUP_ID_NOT_FOUND,
                    Ok(Err(e)) => ec::from_engine(&e),
                    Err(_) => ec::UNKNOWN_SERVER_ERROR,
                }
            }
        };
        results.push(DeletableGroupResult {
            group_id: g,
            error_code: code,
        });
    }
    DeleteGroupsResponse {
        throttle_time_ms: 0,
        results,
    }
}
