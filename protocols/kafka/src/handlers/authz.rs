//! Topic authorization for connections that authenticated with SASL (the engine's
//! `User::may_log`, i.e. the user's permissions in vhost `/` matched against the topic
//! name). Kafka's ACL operations map onto RabbitMQ's three patterns:
//! - Produce: write. Fetch, OffsetCommit/OffsetFetch/OffsetDelete: read.
//! - CreateTopics, DeleteTopics, CreatePartitions, DeleteRecords, AlterConfigs,
//!   IncrementalAlterConfigs, Metadata auto-creation: configure.
//! - DescribeConfigs: read or configure (Kafka's DESCRIBE_CONFIGS is implied by
//!   ALTER_CONFIGS, and consumers read a topic's retention).
//! - Describe (Metadata, DescribeTopicPartitions, ListOffsets, OffsetForLeaderEpoch):
//!   any of the three, as Kafka's DESCRIBE is implied by READ, WRITE, ALTER and DELETE.
//!
//! A connection that never authenticated is served as before (Kafka with no
//! authorizer); set `kafka.sasl_required` to refuse those.

use std::sync::Arc;

use trident_engine::{Access, User};

use crate::sasl::SaslState;
use crate::session::Session;
use crate::shared::Shared;

/// Who is asking, looked up once per request.
#[derive(Debug, Clone)]
pub enum Authz {
    /// No SASL on this connection: no authorizer applies.
    Anonymous,
    User(Arc<User>),
    /// Authenticated as a user who has since been deleted: nothing is allowed.
    Nobody,
}

impl Authz {
    pub fn of(b: &Shared, session: &Session) -> Self {
        match &session.sasl {
            SaslState::Authenticated(name) => match b.engine.users().get(name) {
                Some(u) => Authz::User(u),
                None => Authz::Nobody,
            },
            _ => Authz::Anonymous,
        }
    }

    pub fn may(&self, access: Access, topic: &str) -> bool {
        match self {
            Authz::Anonymous => true,
            Authz::User(u) => u.may_log(access, topic),
            Authz::Nobody => false,
        }
    }

    /// Whether the topic is visible at all: listings leave out what this fails.
    pub fn may_describe(&self, topic: &str) -> bool {
        [Access::Configure, Access::Write, Access::Read]
            .into_iter()
            .any(|a| self.may(a, topic))
    }

    /// DescribeConfigs on a topic.
    pub fn may_describe_configs(&self, topic: &str) -> bool {
        self.may(Access::Read, topic) || self.may(Access::Configure, topic)
    }
}
