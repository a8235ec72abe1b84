//! Who is in a consumer group right now. Membership is the adapter's coordinator state
//! (the engine keeps only committed offsets); an adapter that coordinates groups
//! registers a [`GroupMembership`] source so that operators can see members and so that
//! an offset reset can refuse a group that is active, as Kafka does.

use std::sync::{Arc, RwLock};

/// One member of a group as an operator sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupMember {
    pub member_id: String,
    pub client_id: String,
    pub host: String,
    /// (topic, partition) assigned to it, when the group is stable.
    pub assignment: Vec<(String, u32)>,
}

/// A group with live membership state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupSummary {
    pub group: String,
    pub state: String,
    pub protocol: String,
    pub members: Vec<GroupMember>,
}

/// Implemented by an adapter's group coordinator.
pub trait GroupMembership: Send + Sync + std::fmt::Debug {
    /// Every group with live state (members, or a rebalance in progress).
    fn groups(&self) -> Vec<GroupSummary>;
}

#[derive(Debug, Default)]
pub(crate) struct MembershipSources {
    sources: RwLock<Vec<Arc<dyn GroupMembership>>>,
}

impl MembershipSources {
    pub(crate) fn add(&self, source: Arc<dyn GroupMembership>) {
        self.sources
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .push(source);
    }

    pub(crate) fn groups(&self) -> Vec<GroupSummary> {
        let sources = self.sources.read().unwrap_or_else(|p| p.into_inner());
        let mut all: Vec<GroupSummary> = sources.iter().flat_map(|s| s.groups()).collect();
        all.sort_by(|a, b| a.group.cmp(&b.group));
        all
    }
}
