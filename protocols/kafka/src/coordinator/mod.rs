//! The consumer group coordinator: every group's membership state, behind one short
//! lock (no await happens while it is held), plus a ticker that expires sessions and
//! completes rebalances whose deadlines pass. Committed offsets are not kept here: they
//! live in the engine's metadata store so that they survive restarts.

pub mod group;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use bytes::Bytes;
use tokio::time::Instant;

use crate::config::GroupConfig;
use crate::error_code as ec;
use crate::messages::groups::{DescribedGroup, JoinGroupResponse, SyncGroupResponse};

pub use group::{Group, GroupState, JoinParams, Pending};

#[derive(Debug)]
pub struct Coordinator {
    groups: Mutex<HashMap<String, Group>>,
    config: GroupConfig,
}

/// A random member id suffix (Kafka uses a UUID; uniqueness is what matters).
fn random_suffix() -> String {
    let mut b = [0u8; 16];
    if getrandom::getrandom(&mut b).is_err() {
        let t = trident_core::message::now_ms().to_le_bytes();
        b[..8].copy_from_slice(&t);
    }
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

impl Coordinator {
    pub fn new(config: GroupConfig) -> Self {
        Self {
            groups: Mutex::new(HashMap::new()),
            config,
        }
    }

    pub fn config(&self) -> &GroupConfig {
        &self.config
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<String, Group>> {
        // A panic while holding the lock leaves group state at worst stale, never
        // unsafe; keep coordinating.
        self.groups.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn join(&self, group_id: &str, p: JoinParams, now: Instant) -> Pending<JoinGroupResponse> {
        let mut groups = self.lock();
        let group = groups
            .entry(group_id.to_string())
            .or_insert_with(|| Group::new(group_id.to_string()));
        let client_id = if p.client_id.is_empty() {
            "member".to_string()
        } else {
            p.client_id.clone()
        };
        group.join(p, &self.config, now, || {
            format!("{client_id}-{}", random_suffix())
        })
    }

    pub fn sync(
        &self,
        group_id: &str,
        member_id: &str,
        generation: i32,
        assignments: Vec<(String, Bytes)>,
        now: Instant,
    ) -> Pending<SyncGroupResponse> {
        let mut groups = self.lock();
        match groups.get_mut(group_id) {
            Some(g) => g.sync(member_id, generation, assignments, now),
            None => Pending::Now(SyncGroupResponse {
                error_code: ec::UNKNOWN_MEMBER_ID,
                ..Default::default()
            }),
        }
    }

    pub fn heartbeat(&self, group_id: &str, member_id: &str, generation: i32, now: Instant) -> i16 {
        let mut groups = self.lock();
        match groups.get_mut(group_id) {
            Some(g) => g.heartbeat(member_id, generation, now),
            None => ec::UNKNOWN_MEMBER_ID,
        }
    }

    pub fn leave(
        &self,
        group_id: &str,
        member_id: &str,
        instance_id: Option<&str>,
        now: Instant,
    ) -> i16 {
        let mut groups = self.lock();
        match groups.get_mut(group_id) {
            Some(g) => g.leave(member_id, instance_id, now),
            None => ec::UNKNOWN_MEMBER_ID,
        }
    }

    pub fn check_commit(
        &self,
        group_id: &str,
        member_id: &str,
        generation: i32,
        now: Instant,
    ) -> i16 {
        let mut groups = self.lock();
        match groups.get_mut(group_id) {
            Some(g) => g.check_commit(member_id, generation, now),
            None if generation < 0 => ec::NONE,
            None => ec::UNKNOWN_MEMBER_ID,
        }
    }

    pub fn describe(&self, group_id: &str) -> Option<DescribedGroup> {
        self.lock().get(group_id).map(Group::describe)
    }

    /// (group id, protocol type, state) of every group with live state.
    pub fn list(&self) -> Vec<(String, String, GroupState)> {
        self.lock()
            .values()
            .map(|g| {
                (
                    g.id.clone(),
                    g.protocol_type.clone().unwrap_or_default(),
                    g.state,
                )
            })
            .collect()
    }

    /// Every group as the engine's operator view describes it (management API).
    fn summaries(&self) -> Vec<trident_engine::GroupSummary> {
        let described: Vec<DescribedGroup> = self.lock().values().map(Group::describe).collect();
        described
            .into_iter()
            .map(|g| {
                let consumer = g.protocol_type == "consumer";
                trident_engine::GroupSummary {
                    group: g.group_id,
                    state: g.group_state,
                    protocol: g.protocol_data,
                    members: g
                        .members
                        .into_iter()
                        .map(|m| trident_engine::GroupMember {
                            assignment: if consumer && !m.member_assignment.is_empty() {
                                crate::messages::consumer_protocol::assigned_partitions(
                                    &m.member_assignment,
                                )
                                .unwrap_or_default()
                                .into_iter()
                                .flat_map(|(t, ps)| {
                                    ps.into_iter().filter_map(move |p| {
                                        u32::try_from(p).ok().map(|p| (t.clone(), p))
                                    })
                                })
                                .collect()
                            } else {
                                Vec::new()
                            },
                            member_id: m.member_id,
                            client_id: m.client_id,
                            host: m.client_host,
                        })
                        .collect(),
                }
            })
            .collect()
    }

    /// Forgets a group's membership state; refused while it has members.
    pub fn delete(&self, group_id: &str) -> Result<bool, i16> {
        let mut groups = self.lock();
        match groups.get(group_id) {
            Some(g) if !g.members.is_empty() => Err(ec::NON_EMPTY_GROUP),
            Some(_) => {
                groups.remove(group_id);
                Ok(true)
            }
            None => Ok(false),
        }
    }

    pub fn has_members(&self, group_id: &str) -> bool {
        self.lock()
            .get(group_id)
            .is_some_and(|g| !g.members.is_empty())
    }

    pub fn subscribed_topics(&self, group_id: &str) -> Vec<String> {
        self.lock()
            .get(group_id)
            .map(Group::subscribed_topics)
            .unwrap_or_default()
    }

    /// The next instant at which the group has a deadline to apply.
    pub fn deadline(&self, group_id: &str) -> Option<Instant> {
        self.lock().get(group_id).and_then(Group::next_deadline)
    }

    /// Applies every group's deadlines.
    pub fn tick(&self, now: Instant) {
        let mut groups = self.lock();
        for g in groups.values_mut() {
            if g.next_deadline().is_some_and(|d| d <= now) {
                g.tick(now);
            }
        }
        // A group without members keeps nothing worth remembering here (its committed
        // offsets live in the engine), so every group id ever used does not stay in memory.
        groups.retain(|_, g| g.state != GroupState::Empty || !g.members.is_empty());
    }

    /// Runs [`Coordinator::tick`] until `shutdown` flips.
    pub async fn run_ticker(self: Arc<Self>, mut shutdown: tokio::sync::watch::Receiver<bool>) {
        let mut interval = tokio::time::interval(self.config.tick);
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = interval.tick() => self.tick(Instant::now()),
                r = shutdown.changed() => {
                    if r.is_err() || *shutdown.borrow() {
                        return;
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests;

/// Lets operators (the management API) see members, through the engine.
#[derive(Debug)]
pub struct MembershipView(pub Arc<Coordinator>);

impl trident_engine::GroupMembership for MembershipView {
    fn groups(&self) -> Vec<trident_engine::GroupSummary> {
        self.0.summaries()
    }
}
