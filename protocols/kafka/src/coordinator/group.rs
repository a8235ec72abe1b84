//! One consumer group's membership state machine (the classic protocol, KIP-62 timing):
//!
//! ```text
//! Empty --join--> PreparingRebalance --all rejoined / rebalance timeout--> CompletingRebalance
//!   ^                    ^                                                      |
//!   |                    +--- join with new metadata, leave, session expiry ----+-- leader's SyncGroup --> Stable
//!   +--- last member gone --------------------------------------------------------------------------------+
//! ```
//!
//! Pure: time comes in as `now`, waiting requests are oneshot senders answered from
//! here, so the whole protocol is testable without sockets or sleeps.

use std::collections::HashMap;
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::oneshot;
use tokio::time::Instant;

use crate::config::GroupConfig;
use crate::error_code as ec;
use crate::messages::groups::{
    DescribedGroup, DescribedGroupMember, JoinGroupResponse, JoinGroupResponseMember,
    SyncGroupResponse,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupState {
    Empty,
    PreparingRebalance,
    CompletingRebalance,
    Stable,
}

impl GroupState {
    /// The names Kafka's tools print.
    pub fn name(self) -> &'static str {
        match self {
            GroupState::Empty => "Empty",
            GroupState::PreparingRebalance => "PreparingRebalance",
            GroupState::CompletingRebalance => "CompletingRebalance",
            GroupState::Stable => "Stable",
        }
    }
}

/// A response now, or one that arrives when the group gets there.
#[derive(Debug)]
pub enum Pending<T> {
    Now(T),
    Wait(oneshot::Receiver<T>),
}

/// What a JoinGroup asks for, independent of the request version.
#[derive(Debug, Clone)]
pub struct JoinParams {
    pub member_id: String,
    pub instance_id: Option<String>,
    pub client_id: String,
    pub client_host: String,
    pub session_timeout: Duration,
    pub rebalance_timeout: Duration,
    pub protocol_type: String,
    pub protocols: Vec<(String, Bytes)>,
}

#[derive(Debug)]
pub struct Member {
    pub id: String,
    pub instance_id: Option<String>,
    pub client_id: String,
    pub client_host: String,
    pub session_timeout: Duration,
    pub rebalance_timeout: Duration,
    /// Supported assignment protocols with their metadata, in preference order.
    pub protocols: Vec<(String, Bytes)>,
    /// This member's share, from the leader's SyncGroup.
    pub assignment: Bytes,
    /// Last sign of life (join, sync, heartbeat, commit): the session timer.
    pub last_seen: Instant,
    /// Order of first arrival: the longest-standing member leads.
    seq: u64,
    join_waiter: Option<oneshot::Sender<JoinGroupResponse>>,
    sync_waiter: Option<oneshot::Sender<SyncGroupResponse>>,
}

impl Member {
    fn metadata(&self, protocol: Option<&str>) -> Bytes {
        protocol
            .and_then(|p| self.protocols.iter().find(|(n, _)| n == p))
            .map(|(_, m)| m.clone())
            .unwrap_or_default()
    }

    fn supports(&self, protocol: &str) -> bool {
        self.protocols.iter().any(|(n, _)| n == protocol)
    }

    /// A member waiting for a JoinGroup or SyncGroup answer is alive by definition.
    fn is_waiting(&self) -> bool {
        self.join_waiter.is_some() || self.sync_waiter.is_some()
    }
}

#[derive(Debug)]
pub struct Group {
    pub id: String,
    pub state: GroupState,
    pub generation: i32,
    pub protocol_type: Option<String>,
    /// The assignment protocol chosen for the current generation.
    pub protocol: Option<String>,
    pub leader: Option<String>,
    pub members: HashMap<String, Member>,
    next_seq: u64,
    /// While preparing a rebalance: members that have not rejoined by then are dropped.
    rebalance_deadline: Option<Instant>,
    /// While the initial delay of an empty group runs: no completion before this.
    delay_until: Option<Instant>,
    /// The delay is extended per new member, but never past this.
    delay_cap: Option<Instant>,
}

fn join_error(code: i16, member_id: &str) -> JoinGroupResponse {
    JoinGroupResponse {
        error_code: code,
        generation_id: -1,
        member_id: member_id.to_string(),
        ..Default::default()
    }
}

fn sync_error(code: i16) -> SyncGroupResponse {
    SyncGroupResponse {
        error_code: code,
        ..Default::default()
    }
}

impl Group {
    pub fn new(id: String) -> Self {
        Self {
            id,
            state: GroupState::Empty,
            generation: 0,
            protocol_type: None,
            protocol: None,
            leader: None,
            members: HashMap::new(),
            next_seq: 0,
            rebalance_deadline: None,
            delay_until: None,
            delay_cap: None,
        }
    }

    /// The earliest instant at which [`Group::tick`] has something to do.
    pub fn next_deadline(&self) -> Option<Instant> {
        let session = self
            .members
            .values()
            .filter(|m| !m.is_waiting())
            .map(|m| m.last_seen + m.session_timeout)
            .min();
        [session, self.rebalance_deadline, self.delay_until]
            .into_iter()
            .flatten()
            .min()
    }

    pub fn join(
        &mut self,
        p: JoinParams,
        cfg: &GroupConfig,
        now: Instant,
        new_member_id: impl FnOnce() -> String,
    ) -> Pending<JoinGroupResponse> {
        if p.protocol_type.is_empty() || p.protocols.is_empty() {
            return Pending::Now(join_error(ec::INCONSISTENT_GROUP_PROTOCOL, &p.member_id));
        }
        let others_disagree = self.members.values().any(|m| m.id != p.member_id)
            && (self.protocol_type.as_deref() != Some(p.protocol_type.as_str())
                || !p.protocols.iter().any(|(name, _)| {
                    self.members
                        .values()
                        .filter(|m| m.id != p.member_id)
                        .all(|m| m.supports(name))
                }));
        if others_disagree {
            return Pending::Now(join_error(ec::INCONSISTENT_GROUP_PROTOCOL, &p.member_id));
        }

        let member_id = if p.member_id.is_empty() {
            // A static member (KIP-345) that restarts keeps its place.
            let known = p.instance_id.as_ref().and_then(|inst| {
                self.members
                    .values()
                    .find(|m| m.instance_id.as_ref() == Some(inst))
                    .map(|m| m.id.clone())
            });
            known.unwrap_or_else(new_member_id)
        } else if self.members.contains_key(&p.member_id) {
            p.member_id.clone()
        } else {
            return Pending::Now(join_error(ec::UNKNOWN_MEMBER_ID, &p.member_id));
        };

        // A known member rejoining with unchanged metadata after the group settled
        // gets the current generation back instead of forcing everyone to rebalance.
        if let Some(m) = self.members.get_mut(&member_id)
            && m.protocols == p.protocols
        {
            let is_leader = self.leader.as_deref() == Some(member_id.as_str());
            let settled = match self.state {
                GroupState::Stable => !is_leader,
                GroupState::CompletingRebalance => true,
                _ => false,
            };
            if settled {
                m.last_seen = now;
                return Pending::Now(self.join_response(&member_id));
            }
        }

        let (tx, rx) = oneshot::channel();
        let is_new = !self.members.contains_key(&member_id);
        if is_new {
            self.next_seq += 1;
        }
        let seq = self.next_seq;
        let member = self
            .members
            .entry(member_id.clone())
            .or_insert_with(|| Member {
                id: member_id.clone(),
                instance_id: None,
                client_id: String::new(),
                client_host: String::new(),
                session_timeout: p.session_timeout,
                rebalance_timeout: p.rebalance_timeout,
                protocols: Vec::new(),
                assignment: Bytes::new(),
                last_seen: now,
                seq,
                join_waiter: None,
                sync_waiter: None,
            });
        member.instance_id = p.instance_id;
        member.client_id = p.client_id;
        member.client_host = p.client_host;
        member.session_timeout = p.session_timeout;
        member.rebalance_timeout = p.rebalance_timeout;
        member.protocols = p.protocols;
        member.last_seen = now;
        if let Some(old) = member.join_waiter.replace(tx) {
            // The same member joined twice; the older request is superseded.
            let _ = old.send(join_error(ec::REBALANCE_IN_PROGRESS, &member_id));
        }
        self.protocol_type = Some(p.protocol_type);

        match self.state {
            GroupState::Empty => {
                self.state = GroupState::PreparingRebalance;
                self.delay_until = Some(now + cfg.initial_rebalance_delay);
                self.delay_cap = Some(now + p.rebalance_timeout);
                self.rebalance_deadline = Some(now + p.rebalance_timeout);
            }
            GroupState::PreparingRebalance => {
                if is_new && let (Some(_), Some(cap)) = (self.delay_until, self.delay_cap) {
                    self.delay_until = Some((now + cfg.initial_rebalance_delay).min(cap));
                }
            }
            GroupState::Stable | GroupState::CompletingRebalance => self.prepare_rebalance(now),
        }
        self.try_complete_join(now);
        Pending::Wait(rx)
    }

    /// What a member is told about the current generation.
    fn join_response(&self, member_id: &str) -> JoinGroupResponse {
        let leader = self.leader.clone().unwrap_or_default();
        let members = if leader == member_id {
            let mut ms: Vec<&Member> = self.members.values().collect();
            ms.sort_by_key(|m| m.seq);
            ms.into_iter()
                .map(|m| JoinGroupResponseMember {
                    member_id: m.id.clone(),
                    group_instance_id: m.instance_id.clone(),
                    metadata: m.metadata(self.protocol.as_deref()),
                })
                .collect()
        } else {
            Vec::new()
        };
        JoinGroupResponse {
            error_code: ec::NONE,
            generation_id: self.generation,
            protocol_type: self.protocol_type.clone(),
            protocol_name: self.protocol.clone(),
            leader,
            member_id: member_id.to_string(),
            members,
            ..Default::default()
        }
    }

    fn prepare_rebalance(&mut self, now: Instant) {
        for m in self.members.values_mut() {
            if let Some(tx) = m.sync_waiter.take() {
                let _ = tx.send(sync_error(ec::REBALANCE_IN_PROGRESS));
            }
            m.assignment = Bytes::new();
        }
        self.state = GroupState::PreparingRebalance;
        let timeout = self
            .members
            .values()
            .map(|m| m.rebalance_timeout)
            .max()
            .unwrap_or_default();
        self.rebalance_deadline = Some(now + timeout);
        self.delay_until = None;
        self.delay_cap = None;
    }

    /// Completes the join phase once every member has rejoined (after the initial
    /// delay), or drops the absent ones when the rebalance timeout expires.
    fn try_complete_join(&mut self, now: Instant) {
        if self.state != GroupState::PreparingRebalance {
            return;
        }
        if self.delay_until.is_some_and(|d| now < d) {
            return;
        }
        let all_joined = self.members.values().all(|m| m.join_waiter.is_some());
        let timed_out = self.rebalance_deadline.is_some_and(|d| now >= d);
        if !all_joined && !timed_out {
            return;
        }
        if !all_joined {
            self.members.retain(|_, m| m.join_waiter.is_some());
        }
        self.generation = self.generation.wrapping_add(1).max(1);
        self.rebalance_deadline = None;
        self.delay_until = None;
        self.delay_cap = None;
        if self.members.is_empty() {
            self.state = GroupState::Empty;
            self.protocol = None;
            self.protocol_type = None;
            self.leader = None;
            return;
        }
        self.protocol = self.select_protocol();
        let leader_stays = self
            .leader
            .as_ref()
            .is_some_and(|l| self.members.contains_key(l));
        if !leader_stays {
            self.leader = self
                .members
                .values()
                .min_by_key(|m| m.seq)
                .map(|m| m.id.clone());
        }
        self.state = GroupState::CompletingRebalance;
        let ids: Vec<String> = self.members.keys().cloned().collect();
        for id in ids {
            let resp = self.join_response(&id);
            if let Some(m) = self.members.get_mut(&id) {
                m.last_seen = now;
                if let Some(tx) = m.join_waiter.take() {
                    let _ = tx.send(resp);
                }
            }
        }
    }

    /// The protocol every member supports that most members prefer (Kafka's vote).
    fn select_protocol(&self) -> Option<String> {
        let mut ms: Vec<&Member> = self.members.values().collect();
        ms.sort_by_key(|m| m.seq);
        let first = ms.first()?;
        let candidates: Vec<&str> = first
            .protocols
            .iter()
            .map(|(n, _)| n.as_str())
            .filter(|n| ms.iter().all(|m| m.supports(n)))
            .collect();
        let mut best: Option<(&str, usize)> = None;
        for c in &candidates {
            let votes = ms
                .iter()
                .filter(|m| {
                    m.protocols
                        .iter()
                        .map(|(n, _)| n.as_str())
                        .find(|n| candidates.contains(n))
                        == Some(*c)
                })
                .count();
            if best.is_none_or(|(_, v)| votes > v) {
                best = Some((c, votes));
            }
        }
        best.map(|(c, _)| c.to_string())
    }

    pub fn sync(
        &mut self,
        member_id: &str,
        generation: i32,
        assignments: Vec<(String, Bytes)>,
        now: Instant,
    ) -> Pending<SyncGroupResponse> {
        let Some(m) = self.members.get_mut(member_id) else {
            return Pending::Now(sync_error(ec::UNKNOWN_MEMBER_ID));
        };
        if generation != self.generation {
            return Pending::Now(sync_error(ec::ILLEGAL_GENERATION));
        }
        m.last_seen = now;
        match self.state {
            GroupState::Empty | GroupState::PreparingRebalance => {
                Pending::Now(sync_error(ec::REBALANCE_IN_PROGRESS))
            }
            GroupState::Stable => {
                let assignment = m.assignment.clone();
                Pending::Now(self.sync_ok(assignment))
            }
            GroupState::CompletingRebalance => {
                let (tx, rx) = oneshot::channel();
                if let Some(old) = m.sync_waiter.replace(tx) {
                    let _ = old.send(sync_error(ec::REBALANCE_IN_PROGRESS));
                }
                if self.leader.as_deref() == Some(member_id) {
                    for (id, a) in assignments {
                        if let Some(target) = self.members.get_mut(&id) {
                            target.assignment = a;
                        }
                    }
                    self.state = GroupState::Stable;
                    let answers: Vec<(oneshot::Sender<SyncGroupResponse>, Bytes)> = self
                        .members
                        .values_mut()
                        .filter_map(|m| m.sync_waiter.take().map(|tx| (tx, m.assignment.clone())))
                        .collect();
                    for (tx, a) in answers {
                        let _ = tx.send(self.sync_ok(a));
                    }
                }
                Pending::Wait(rx)
            }
        }
    }

    fn sync_ok(&self, assignment: Bytes) -> SyncGroupResponse {
        SyncGroupResponse {
            error_code: ec::NONE,
            protocol_type: self.protocol_type.clone(),
            protocol_name: self.protocol.clone(),
            assignment,
            ..Default::default()
        }
    }

    pub fn heartbeat(&mut self, member_id: &str, generation: i32, now: Instant) -> i16 {
        let Some(m) = self.members.get_mut(member_id) else {
            return ec::UNKNOWN_MEMBER_ID;
        };
        m.last_seen = now;
        if generation != self.generation {
            return ec::ILLEGAL_GENERATION;
        }
        match self.state {
            GroupState::PreparingRebalance => ec::REBALANCE_IN_PROGRESS,
            GroupState::Empty => ec::UNKNOWN_MEMBER_ID,
            GroupState::CompletingRebalance | GroupState::Stable => ec::NONE,
        }
    }

    /// Whether an offset commit by this member at this generation is accepted.
    pub fn check_commit(&mut self, member_id: &str, generation: i32, now: Instant) -> i16 {
        if generation < 0 && member_id.is_empty() {
            // Consumers that assign partitions themselves commit without a generation;
            // fine as long as no group members could own those partitions.
            return if self.members.is_empty() {
                ec::NONE
            } else {
                ec::UNKNOWN_MEMBER_ID
            };
        }
        let Some(m) = self.members.get_mut(member_id) else {
            return ec::UNKNOWN_MEMBER_ID;
        };
        m.last_seen = now;
        if generation != self.generation {
            return ec::ILLEGAL_GENERATION;
        }
        if self.state == GroupState::CompletingRebalance {
            return ec::REBALANCE_IN_PROGRESS;
        }
        ec::NONE
    }

    /// Removes a member (LeaveGroup); others rebalance.
    pub fn leave(&mut self, member_id: &str, instance_id: Option<&str>, now: Instant) -> i16 {
        let id = if member_id.is_empty() {
            instance_id.and_then(|inst| {
                self.members
                    .values()
                    .find(|m| m.instance_id.as_deref() == Some(inst))
                    .map(|m| m.id.clone())
            })
        } else {
            Some(member_id.to_string())
        };
        let Some(id) = id.filter(|id| self.members.contains_key(id)) else {
            return ec::UNKNOWN_MEMBER_ID;
        };
        self.remove_members(&[id], now);
        ec::NONE
    }

    fn remove_members(&mut self, ids: &[String], now: Instant) {
        for id in ids {
            if let Some(m) = self.members.remove(id) {
                if let Some(tx) = m.join_waiter {
                    let _ = tx.send(join_error(ec::UNKNOWN_MEMBER_ID, id));
                }
                if let Some(tx) = m.sync_waiter {
                    let _ = tx.send(sync_error(ec::UNKNOWN_MEMBER_ID));
                }
            }
        }
        if self
            .leader
            .as_ref()
            .is_some_and(|l| !self.members.contains_key(l))
        {
            self.leader = None;
        }
        if self.state != GroupState::PreparingRebalance && self.state != GroupState::Empty {
            self.prepare_rebalance(now);
        }
        self.try_complete_join(now);
    }

    /// Expires members whose session timed out and applies rebalance deadlines.
    pub fn tick(&mut self, now: Instant) {
        let expired: Vec<String> = self
            .members
            .values()
            .filter(|m| !m.is_waiting() && now >= m.last_seen + m.session_timeout)
            .map(|m| m.id.clone())
            .collect();
        if !expired.is_empty() {
            tracing::info!(group = %self.id, members = ?expired, "session timeout: removing members");
            self.remove_members(&expired, now);
        }
        self.try_complete_join(now);
    }

    pub fn describe(&self) -> DescribedGroup {
        let mut ms: Vec<&Member> = self.members.values().collect();
        ms.sort_by_key(|m| m.seq);
        let stable = self.state == GroupState::Stable;
        DescribedGroup {
            error_code: ec::NONE,
            group_id: self.id.clone(),
            group_state: self.state.name().to_string(),
            protocol_type: self.protocol_type.clone().unwrap_or_default(),
            protocol_data: self.protocol.clone().unwrap_or_default(),
            members: ms
                .into_iter()
                .map(|m| DescribedGroupMember {
                    member_id: m.id.clone(),
                    group_instance_id: m.instance_id.clone(),
                    client_id: m.client_id.clone(),
                    client_host: m.client_host.clone(),
                    member_metadata: m.metadata(self.protocol.as_deref()),
                    member_assignment: if stable {
                        m.assignment.clone()
                    } else {
                        Bytes::new()
                    },
                })
                .collect(),
            ..Default::default()
        }
    }

    /// Topics the members subscribe to (consumer protocol only).
    pub fn subscribed_topics(&self) -> Vec<String> {
        if self.protocol_type.as_deref() != Some("consumer") {
            return Vec::new();
        }
        let mut out: Vec<String> = self
            .members
            .values()
            .filter_map(|m| {
                crate::messages::consumer_protocol::subscribed_topics(
                    &m.metadata(self.protocol.as_deref()),
                )
                .ok()
            })
            .flatten()
            .collect();
        out.sort();
        out.dedup();
        out
    }
}
