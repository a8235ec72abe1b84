//! Request dispatch: header checks, the SASL gate, decoding, and the handler of each
//! API. Handlers take a decoded request and return a response value; only dispatch
//! knows about frames.
//!
//! Most handlers run to completion before the next request of the connection is read,
//! which keeps Kafka's per-connection ordering. Those that wait (Produce for the write or
//! fsync, Fetch for data, JoinGroup/SyncGroup for the group) do their ordered part here
//! — a produce is queued on its partitions before the next request is looked at — and
//! return a task; the connection writes responses in request order regardless.

pub mod api_versions;
pub mod authz;
pub mod configs;
pub mod fetch;
pub mod groups;
pub mod list_offsets;
pub mod metadata;
pub mod offsets;
pub mod produce;
pub mod producer_id;
pub mod sasl;
pub mod topic_partitions;
pub mod topics;

use std::sync::Arc;

use bytes::BytesMut;
use tokio::task::JoinHandle;

use crate::codec::api::{self, ApiSpec, key};
use crate::codec::header::{RequestHeader, parse_request};
use crate::codec::{DecodeError, Frame, Reader, Wire, Writer};
use crate::error_code as ec;
use crate::session::Session;
use crate::shared::Shared;

/// What the connection does with a request's outcome.
#[derive(Debug)]
pub enum Reply {
    /// A response, ready.
    Frame(Frame),
    /// A response still being produced; written when done, in order.
    Later(JoinHandle<Option<Frame>>),
    /// No response (Produce with acks=0).
    Nothing,
    /// Write this response, then close (failed authentication).
    FrameThenClose(Frame),
}

/// Why a connection is closed without a response, as Kafka does.
#[derive(Debug, thiserror::Error)]
pub enum CloseReason {
    #[error("undecodable request: {0}")]
    Decode(#[from] DecodeError),
    #[error("unknown API key {0}")]
    UnknownApi(i16),
    #[error("unsupported version {version} of {name}")]
    UnsupportedVersion { name: &'static str, version: i16 },
    #[error("{0} before SASL authentication")]
    Unauthenticated(&'static str),
}

/// Context of the request being served.
#[derive(Debug, Clone)]
pub struct Request {
    pub header: RequestHeader,
    pub spec: &'static ApiSpec,
}

impl Request {
    pub fn version(&self) -> i16 {
        self.header.api_version
    }

    /// Encodes a response body with the right header for this request.
    pub fn respond<T: Wire>(&self, body: &T) -> Frame {
        let v = self.version();
        let mut w = Writer::response(
            self.header.correlation_id,
            self.spec.response_header_v1(v),
            self.spec.is_flexible(v),
        );
        body.write(&mut w, v);
        w.finish()
    }
}

/// Serves one request frame.
pub async fn dispatch(
    broker: &Arc<Shared>,
    session: &mut Session,
    frame: BytesMut,
) -> Result<Reply, CloseReason> {
    let parsed = parse_request(frame)?;
    let header = parsed.header;
    let Some(spec) = parsed.spec else {
        return Err(CloseReason::UnknownApi(header.api_key));
    };
    if let Some(c) = &header.client_id
        && *c != session.client_id
    {
        session.client_id.clone_from(c);
    }
    let Some(mut body) = parsed.body else {
        if spec.key == key::API_VERSIONS {
            // A client newer than us: answer in v0 so it can pick a version we serve.
            return Ok(Reply::Frame(self::api_versions::unsupported_version(
                header.correlation_id,
            )));
        }
        return Err(CloseReason::UnsupportedVersion {
            name: spec.name,
            version: header.api_version,
        });
    };
    if broker.config.sasl_required
        && !session.sasl.is_authenticated()
        && !matches!(
            spec.key,
            key::API_VERSIONS | key::SASL_HANDSHAKE | key::SASL_AUTHENTICATE
        )
    {
        return Err(CloseReason::Unauthenticated(spec.name));
    }
    let req = Request { header, spec };
    let v = req.version();
    let b = broker.as_ref();

    macro_rules! decode {
        ($ty:ty) => {
            <$ty as Wire>::read(&mut body, v)?
        };
    }
    macro_rules! simple {
        ($ty:ty, $handler:expr) => {{
            let r = decode!($ty);
            Reply::Frame(req.respond(&$handler(b, r, v).await))
        }};
    }
    // Handlers that check topic permissions of the connection's SASL user.
    macro_rules! authorized {
        ($ty:ty, $handler:expr) => {{
            let r = decode!($ty);
            let authz = self::authz::Authz::of(b, session);
            Reply::Frame(req.respond(&$handler(b, r, v, &authz).await))
        }};
    }

    use crate::messages::*;
    let reply = match spec.key {
        key::API_VERSIONS => {
            let _ = decode!(api_versions::ApiVersionsRequest);
            Reply::Frame(req.respond(&self::api_versions::handle()))
        }
        key::METADATA => {
            let r = decode!(metadata::MetadataRequest);
            let port = b.port_for(session.tls);
            let authz = self::authz::Authz::of(b, session);
            Reply::Frame(req.respond(&self::metadata::handle_as(b, r, v, port, &authz).await))
        }
        key::DESCRIBE_CLUSTER => {
            let _ = decode!(metadata::DescribeClusterRequest);
            let port = b.port_for(session.tls);
            Reply::Frame(req.respond(&self::metadata::describe_cluster_for(b, port)))
        }
        key::DESCRIBE_TOPIC_PARTITIONS => authorized!(
            topic_partitions::DescribeTopicPartitionsRequest,
            self::topic_partitions::handle_as
        ),
        key::PRODUCE => {
            let r = decode!(produce::ProduceRequest);
            let authz = self::authz::Authz::of(b, session);
            let throttle = self::produce::throttle_time_ms(v, std::mem::take(&mut session.held_ms));
            self::produce::handle(broker, req, r, &authz, throttle).await
        }
        key::FETCH => {
            let r = decode!(fetch::FetchRequest);
            let authz = self::authz::Authz::of(b, session);
            let broker = broker.clone();
            Reply::Later(tokio::spawn(async move {
                let resp = self::fetch::handle(&broker, r, v, &authz).await;
                Some(req.respond(&resp))
            }))
        }
        key::LIST_OFFSETS => authorized!(
            list_offsets::ListOffsetsRequest,
            self::list_offsets::handle_as
        ),
        key::OFFSET_FOR_LEADER_EPOCH => authorized!(
            list_offsets::OffsetForLeaderEpochRequest,
            self::list_offsets::offset_for_leader_epoch_as
        ),
        key::CREATE_TOPICS => {
            let r = decode!(admin::CreateTopicsRequest);
            let authz = self::authz::Authz::of(b, session);
            Reply::Frame(req.respond(&self::topics::create_topics_as(b, r, v, &authz).await))
        }
        key::DELETE_TOPICS => {
            let r = decode!(admin::DeleteTopicsRequest);
            let authz = self::authz::Authz::of(b, session);
            Reply::Frame(req.respond(&self::topics::delete_topics_as(b, r, v, &authz).await))
        }
        key::CREATE_PARTITIONS => authorized!(
            admin::CreatePartitionsRequest,
            self::topics::create_partitions_as
        ),
        key::DELETE_RECORDS => {
            authorized!(admin::DeleteRecordsRequest, self::topics::delete_records_as)
        }
        key::DESCRIBE_CONFIGS => {
            authorized!(configs::DescribeConfigsRequest, self::configs::describe_as)
        }
        key::ALTER_CONFIGS => authorized!(configs::AlterConfigsRequest, self::configs::alter_as),
        key::INCREMENTAL_ALTER_CONFIGS => authorized!(
            configs::IncrementalAlterConfigsRequest,
            self::configs::incremental_alter_as
        ),
        key::FIND_COORDINATOR => {
            let r = decode!(groups::FindCoordinatorRequest);
            let port = b.port_for(session.tls);
            Reply::Frame(req.respond(&self::groups::find_coordinator_for(b, r, v, port).await))
        }
        key::JOIN_GROUP => {
            let r = decode!(groups::JoinGroupRequest);
            self::groups::join(b, session, req, r)
        }
        key::SYNC_GROUP => {
            let r = decode!(groups::SyncGroupRequest);
            self::groups::sync(b, req, r)
        }
        key::HEARTBEAT => simple!(groups::HeartbeatRequest, self::groups::heartbeat),
        key::LEAVE_GROUP => simple!(groups::LeaveGroupRequest, self::groups::leave),
        key::DESCRIBE_GROUPS => simple!(groups::DescribeGroupsRequest, self::groups::describe),
        key::LIST_GROUPS => simple!(groups::ListGroupsRequest, self::groups::list),
        key::DELETE_GROUPS => simple!(groups::DeleteGroupsRequest, self::groups::delete),
        key::OFFSET_COMMIT => authorized!(offsets::OffsetCommitRequest, self::offsets::commit_as),
        key::OFFSET_FETCH => authorized!(offsets::OffsetFetchRequest, self::offsets::fetch_as),
        key::OFFSET_DELETE => authorized!(offsets::OffsetDeleteRequest, self::offsets::delete_as),
        key::INIT_PRODUCER_ID => simple!(
            producer_id::InitProducerIdRequest,
            self::producer_id::handle
        ),
        key::SASL_HANDSHAKE => {
            let r = decode!(sasl::SaslHandshakeRequest);
            Reply::Frame(req.respond(&self::sasl::handshake(session, r)))
        }
        key::SASL_AUTHENTICATE => {
            let r = decode!(sasl::SaslAuthenticateRequest);
            let (resp, ok) = self::sasl::authenticate(b, session, r);
            if ok {
                Reply::Frame(req.respond(&resp))
            } else {
                Reply::FrameThenClose(req.respond(&resp))
            }
        }
        other => return Err(CloseReason::UnknownApi(other)),
    };
    Ok(reply)
}

/// Whether `version` of `key` is served (used by tests and the fuzz target).
pub fn serves(key: i16, version: i16) -> bool {
    api::spec(key).is_some_and(|s| s.supports(version))
}

/// Decodes the body of any served request and discards it: the fuzz target and the
/// proptest run every decoder through this.
pub fn decode_only(frame: BytesMut) -> Result<(), CloseReason> {
    use crate::messages::*;
    let parsed = parse_request(frame)?;
    let (Some(spec), Some(mut body)) = (parsed.spec, parsed.body) else {
        return Ok(());
    };
    let v = parsed.header.api_version;
    fn run<T: Wire>(r: &mut Reader, v: i16) -> Result<(), CloseReason> {
        T::read(r, v).map(drop).map_err(CloseReason::from)
    }
    let r = &mut body;
    match spec.key {
        key::API_VERSIONS => run::<api_versions::ApiVersionsRequest>(r, v),
        key::METADATA => run::<metadata::MetadataRequest>(r, v),
        key::DESCRIBE_CLUSTER => run::<metadata::DescribeClusterRequest>(r, v),
        key::DESCRIBE_TOPIC_PARTITIONS => {
            run::<topic_partitions::DescribeTopicPartitionsRequest>(r, v)
        }
        key::PRODUCE => run::<produce::ProduceRequest>(r, v),
        key::FETCH => run::<fetch::FetchRequest>(r, v),
        key::LIST_OFFSETS => run::<list_offsets::ListOffsetsRequest>(r, v),
        key::OFFSET_FOR_LEADER_EPOCH => run::<list_offsets::OffsetForLeaderEpochRequest>(r, v),
        key::CREATE_TOPICS => run::<admin::CreateTopicsRequest>(r, v),
        key::DELETE_TOPICS => run::<admin::DeleteTopicsRequest>(r, v),
        key::CREATE_PARTITIONS => run::<admin::CreatePartitionsRequest>(r, v),
        key::DELETE_RECORDS => run::<admin::DeleteRecordsRequest>(r, v),
        key::DESCRIBE_CONFIGS => run::<configs::DescribeConfigsRequest>(r, v),
        key::ALTER_CONFIGS => run::<configs::AlterConfigsRequest>(r, v),
        key::INCREMENTAL_ALTER_CONFIGS => run::<configs::IncrementalAlterConfigsRequest>(r, v),
        key::FIND_COORDINATOR => run::<groups::FindCoordinatorRequest>(r, v),
        key::JOIN_GROUP => run::<groups::JoinGroupRequest>(r, v),
        key::SYNC_GROUP => run::<groups::SyncGroupRequest>(r, v),
        key::HEARTBEAT => run::<groups::HeartbeatRequest>(r, v),
        key::LEAVE_GROUP => run::<groups::LeaveGroupRequest>(r, v),
        key::DESCRIBE_GROUPS => run::<groups::DescribeGroupsRequest>(r, v),
        key::LIST_GROUPS => run::<groups::ListGroupsRequest>(r, v),
        key::DELETE_GROUPS => run::<groups::DeleteGroupsRequest>(r, v),
        key::OFFSET_COMMIT => run::<offsets::OffsetCommitRequest>(r, v),
        key::OFFSET_FETCH => run::<offsets::OffsetFetchRequest>(r, v),
        key::OFFSET_DELETE => run::<offsets::OffsetDeleteRequest>(r, v),
        key::INIT_PRODUCER_ID => run::<producer_id::InitProducerIdRequest>(r, v),
        key::SASL_HANDSHAKE => run::<sasl::SaslHandshakeRequest>(r, v),
        key::SASL_AUTHENTICATE => run::<sasl::SaslAuthenticateRequest>(r, v),
        _ => Ok(()),
    }
}

/// A topic's 16-byte id, derived from its name (the engine has no topic ids; clients
/// only need them stable and distinct). Never the all-zero "no id".
pub fn topic_id(name: &str) -> [u8; 16] {
    use sha2::{Digest, Sha256};
    let h = Sha256::digest(name.as_bytes());
    let mut id = [0u8; 16];
    id.copy_from_slice(&h[..16]);
    // Mark it as a version-4 style UUID so that tools print it like one.
    id[6] = (id[6] & 0x0f) | 0x40;
    id[8] = (id[8] & 0x3f) | 0x80;
    id
}

/// `error_code` for a topic name that cannot exist.
pub fn invalid_topic() -> i16 {
    ec::INVALID_TOPIC_EXCEPTION
}
