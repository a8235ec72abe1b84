//! CONNECT: authentication, the client identifier, keep alive and session expiry
//! (plain functions below, unit tested), then takeover of the client id, the session
//! itself (resumed or started clean) and the CONNACK.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use trident_core::{BindingDestination, ConnectionId};
use trident_engine::{User, UserStore};

use crate::codec::{
    ConnAck, ConnAckProperties, Connect, Decoder, Packet, ProtocolVersion, PubRel, ReasonCode,
};
use crate::config::MqttConfig;
use crate::connection::{Io, Shared, refuse};
use crate::names;
use crate::packet_ids::PacketIds;
use crate::registry::Kept;
use crate::session::{EngineLinks, Inbound, Liveness, OutFlight, Output, PeerLimits, Session};
use crate::session_store;
use crate::subscriptions::Subscription;
use crate::topic_alias::OutAliases;

/// How long a new connection waits for the one it takes the client id from to let
/// go of the session.
const TAKEOVER_WAIT: Duration = Duration::from_secs(5);

/// Checks the credentials of a CONNECT. `Ok(None)`: an anonymous client, allowed.
pub fn authenticate(
    c: &Connect,
    config: &MqttConfig,
    peer: SocketAddr,
    users: &UserStore,
) -> Result<Option<Arc<User>>, ReasonCode> {
    if c.properties.authentication_method.is_some() {
        // Enhanced authentication (§4.12) is not offered: [MQTT-4.12.0-1] wants 0x8C.
        return Err(ReasonCode::BadAuthenticationMethod);
    }
    let Some(name) = &c.username else {
        return if config.allow_anonymous {
            Ok(None)
        } else {
            Err(ReasonCode::NotAuthorized)
        };
    };
    let password = c
        .password
        .as_ref()
        .map(|p| std::str::from_utf8(p).map_err(|_| ReasonCode::BadUserNameOrPassword))
        .transpose()?
        .unwrap_or("");
    let user = users
        .authenticate(name, password)
        .map_err(|_| ReasonCode::BadUserNameOrPassword)?;
    // RabbitMQ's rule for `guest`, kept for every protocol: loopback only.
    if user.loopback_only && !peer.ip().is_loopback() {
        return Err(ReasonCode::NotAuthorized);
    }
    if user.permission(&config.vhost).is_none() {
        return Err(ReasonCode::NotAuthorized);
    }
    Ok(Some(user))
}

/// The client id the session uses and whether we assigned it. The codec has already
/// refused what the spec forbids (an empty id without clean session in 3.1.1, 3.1's
/// length limit); an empty id otherwise gets a unique one ([MQTT-3.1.3-6]), also in
/// 5.0 without Clean Start, as Mosquitto does.
pub fn client_id(c: &Connect, conn: ConnectionId, salt: u64) -> (String, bool) {
    if c.client_id.is_empty() {
        (format!("trident-{:x}-{salt:x}", conn.0), true)
    } else {
        (c.client_id.clone(), false)
    }
}

/// The keep alive enforced, and the Server Keep Alive a v5 CONNACK announces when it
/// differs from the client's: a client asking for more than `max` (or for none) gets
/// `max`. A 3.x client cannot be told, so its own value holds.
pub fn keep_alive(requested: u16, max: u16, version: ProtocolVersion) -> (u16, Option<u16>) {
    if version.is_v5() && max > 0 && (requested == 0 || requested > max) {
        (max, Some(max))
    } else {
        (requested, None)
    }
}

/// The session expiry used (seconds; u32::MAX = never) and the one a v5 CONNACK
/// announces when it differs from the client's (§3.2.2.3.2).
pub fn session_expiry(c: &Connect, max: u32) -> (u32, Option<u32>) {
    if !c.version.is_v5() {
        return (if c.clean_start { 0 } else { u32::MAX }, None);
    }
    let asked = c.properties.session_expiry_interval.unwrap_or(0);
    let used = asked.min(max);
    (used, (used != asked).then_some(used))
}

fn salt() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0)
}

impl Session {
    /// Accepts (or refuses) a CONNECT and sets the session up; the CONNACK is in the
    /// session's output when this returns `Some`.
    pub(crate) async fn open(
        shared: Arc<Shared>,
        id: ConnectionId,
        peer: SocketAddr,
        c: Connect,
        io: &mut Io,
    ) -> Option<Box<Session>> {
        let v = c.version;
        let config = &shared.config;
        if let Err(code) = authenticate(&c, config, peer, shared.engine.users()) {
            tracing::debug!(%peer, code = code.name(), "MQTT CONNECT refused");
            let mut ack = ConnAck::new(if v.is_v5() { code } else { v3_refusal(code) }, false);
            if v.is_v5() && c.properties.request_problem_information != Some(false) {
                ack.properties.reason_string = Some(refusal_text(code).into());
            }
            refuse(io, v, ack).await;
            return None;
        }
        let (cid, assigned) = client_id(&c, id, salt());
        let (ka, server_keep_alive) = keep_alive(c.keep_alive, config.max_keep_alive, v);
        let (expiry, announced_expiry) = session_expiry(&c, config.max_session_expiry);
        let claim = shared.registry.claim(&cid, id);
        if let Some(previous) = claim.previous {
            // The old connection is told to close (DISCONNECT 0x8E in 5.0); its
            // session is ours once it has let go (sent, or dropped if it died).
            let _ = tokio::time::timeout(TAKEOVER_WAIT, previous).await;
        }
        let queue_name = names::session_queue(&cid);
        let existing = queue_name
            .as_ref()
            .and_then(|n| shared.vhost.queue(n))
            .filter(|q| q.def().durable);
        let (existing, kept) = if c.clean_start {
            shared.registry.discard(&cid);
            if let Some(store) = &shared.store {
                session_store::forget(store, &cid).await;
            }
            if let Some(q) = existing {
                let _ = shared
                    .vhost
                    .delete_queue(q.name(), false, false, None)
                    .await;
            }
            (None, None)
        } else {
            (existing, shared.registry.take_kept(&cid))
        };
        // After a restart the registry is empty; the adapter store still has the QoS 2
        // ids a persistent session had routed and not released.
        let stored: Vec<(u16, Option<trident_core::PublisherSeq>)> =
            match (&shared.store, c.clean_start || kept.is_some()) {
                (Some(store), false) => session_store::pending_release(store, &cid),
                _ => Vec::new(),
            };
        let session_present = existing.is_some() || kept.is_some() || !stored.is_empty();
        let peer_limits = PeerLimits {
            receive_maximum: c
                .properties
                .receive_maximum
                .unwrap_or(u16::MAX)
                .min(config.max_inflight.max(1)),
            max_packet_size: c.properties.maximum_packet_size,
            problem_information: c.properties.request_problem_information.unwrap_or(true),
        };
        // Boxed: the connection's future then holds a pointer, not the whole state.
        let mut session = Box::new(Session {
            shared: shared.clone(),
            id,
            client_id: cid.as_str().into(),
            version: v,
            decoder: Decoder::server(v).with_max_packet_size(config.max_packet_size),
            expiry,
            durable: expiry > 0 || existing.is_some(),
            queue: None,
            tag: format!("mqtt:{}", id.0).into(),
            subs: Vec::new(),
            shared_subs: Vec::new(),
            peer: peer_limits,
            out: Output::new(config.output_high_water, v, peer_limits.max_packet_size),
            liveness: Liveness::new(ka),
            outbound: PacketIds::default(),
            waiting: Default::default(),
            unflushed: Vec::new(),
            unreceived: Default::default(),
            released: Default::default(),
            inbound: Inbound::default(),
            aliases: Default::default(),
            aliases_out: OutAliases::new(c.properties.topic_alias_maximum.unwrap_or(0))
                .map(Box::new),
            will: c.will.map(Box::new),
            engine: EngineLinks::default(),
            kicked: Some(claim.kicked),
            done: Some(claim.done),
            end: None,
            input_pending: false,
            shutdown: shared.shutdown.clone(),
            shutdown_live: true,
            alarm: shared.engine.alarms().subscribe(),
            alarm_live: true,
            published: false,
            held_out: None,
        });
        let mut properties = ConnAckProperties::default();
        if v.is_v5() {
            properties.session_expiry_interval = announced_expiry;
            properties.receive_maximum = Some(config.receive_maximum.max(1));
            properties.maximum_packet_size = Some(config.max_packet_size);
            properties.assigned_client_identifier = assigned.then(|| cid.clone());
            properties.topic_alias_maximum =
                (config.topic_alias_maximum > 0).then_some(config.topic_alias_maximum);
            properties.server_keep_alive = server_keep_alive;
            if c.properties.request_response_information == Some(true) {
                // A topic prefix of the client's own for response topics
                // (§4.10.1); Trident gives it no special rights.
                properties.response_information = Some(format!("response/{cid}"));
            }
        }
        let mut ack = ConnAck::new(ReasonCode::Success, session_present);
        ack.properties = properties;
        session.send(&Packet::ConnAck(Box::new(ack)));
        // Routed by the run before: whether every queue stored it is unknown, so a
        // resend is routed again with its key (ids recorded without one: acknowledged).
        session
            .inbound
            .pending_release
            .extend(stored.into_iter().map(|(id, k)| {
                let state = k.map_or(
                    crate::registry::Qos2In::Routed(None),
                    crate::registry::Qos2In::Unsure,
                );
                (id, state)
            }));
        let kept = match (kept, &shared.store) {
            (Some(k), _) => Some(k),
            // After a restart: the outgoing QoS 2 state the store kept.
            (None, Some(store)) if !c.clean_start && session.expiry > 0 => {
                let session_store::Outgoing { sent, released } =
                    session_store::outgoing(store, &cid);
                Some(Kept {
                    unreceived: sent.into_iter().collect(),
                    pubrel: released
                        .into_iter()
                        .map(|(id, pos)| (id, Some(pos)))
                        .collect(),
                    ..Kept::default()
                })
            }
            _ => None,
        };
        if let Some(kept) = kept {
            session.inbound.pending_release.extend(
                kept.pending_release
                    .into_iter()
                    .map(|(id, q)| (id, q.handed_over())),
            );
            session.unreceived = kept.unreceived;
            // [MQTT-4.4.0-1]: PUBRELs we owe are sent again, before anything new.
            for (id, position) in kept.pubrel {
                let Some(id) = crate::codec::PacketId::new(id) else {
                    continue;
                };
                let comp = OutFlight::Comp {
                    credit: None,
                    position,
                };
                if session.outbound.insert(id, comp) {
                    session.send(&Packet::PubRel(PubRel::new(id)));
                    if let Some(pos) = position {
                        session.released.insert(pos, id.get());
                    }
                }
            }
        }
        if let Some(q) = existing
            && let Err(e) = session.resume(q.name().clone()).await
        {
            tracing::warn!(client = %session.client_id, error = %e, "MQTT session not resumed");
            session.fail(e);
        }
        tracing::debug!(%peer, client = %session.client_id, version = %v, session_present, "MQTT connection open");
        Some(session)
    }

    /// Picks up a persistent session's queue and its subscriptions (its bindings).
    async fn resume(&mut self, name: trident_core::QueueName) -> crate::error::MqttResult<()> {
        let exchange = &self.shared.exchange;
        self.subs = self
            .shared
            .vhost
            .bindings()
            .iter()
            .filter(|b| {
                &b.source == exchange
                    && matches!(&b.destination, BindingDestination::Queue(q) if *q == name)
            })
            .filter_map(Subscription::from_binding)
            .collect();
        let tag = self.tag.clone();
        let q = self.consume(&name, tag).await?;
        self.queue = Some(q);
        Ok(())
    }
}

/// What a v5 client reads in the Reason String of a refused CONNACK.
fn refusal_text(code: ReasonCode) -> &'static str {
    match code {
        ReasonCode::BadAuthenticationMethod => {
            "enhanced authentication is not supported; use a user name and password"
        }
        ReasonCode::BadUserNameOrPassword => "unknown user or wrong password",
        ReasonCode::NotAuthorized => {
            "not authorized (anonymous access off, no access to the vhost, or guest from a non-loopback address)"
        }
        _ => "connection refused",
    }
}

/// The 3.1.1 return code nearest to a v5 refusal.
fn v3_refusal(code: ReasonCode) -> ReasonCode {
    if code.to_v3_connack().is_some() {
        code
    } else {
        ReasonCode::NotAuthorized
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn keep_alive_is_capped_only_where_it_can_be_said() {
        use ProtocolVersion::*;
        assert_eq!(keep_alive(30, 60, V5), (30, None));
        assert_eq!(keep_alive(90, 60, V5), (60, Some(60)));
        assert_eq!(keep_alive(0, 60, V5), (60, Some(60)));
        assert_eq!(keep_alive(90, 60, V3_1_1), (90, None));
        assert_eq!(keep_alive(0, 0, V5), (0, None));
    }

    #[test]
    fn session_expiry_by_version() {
        let mut c = Connect::new(ProtocolVersion::V3_1_1, "x");
        assert_eq!(session_expiry(&c, 100).0, 0);
        c.clean_start = false;
        assert_eq!(session_expiry(&c, 100).0, u32::MAX);
        let mut c = Connect::new(ProtocolVersion::V5, "x");
        assert_eq!(session_expiry(&c, 100), (0, None));
        c.properties.session_expiry_interval = Some(300);
        assert_eq!(session_expiry(&c, 100), (100, Some(100)));
        assert_eq!(session_expiry(&c, u32::MAX), (300, None));
    }

    #[test]
    fn empty_client_ids_are_assigned_unique_ones() {
        let c = Connect::new(ProtocolVersion::V5, "");
        let (a, assigned) = client_id(&c, ConnectionId(1), 5);
        let (b, _) = client_id(&c, ConnectionId(2), 5);
        assert!(assigned && a != b && !a.is_empty());
        let c = Connect::new(ProtocolVersion::V5, "dev");
        assert_eq!(client_id(&c, ConnectionId(1), 5), ("dev".into(), false));
    }

    #[tokio::test]
    async fn credentials_are_the_engines_users() {
        let dir = tempfile::tempdir().unwrap();
        let engine = trident_engine::Engine::open(trident_engine::EngineConfig::new(dir.path()))
            .await
            .unwrap();
        let local: SocketAddr = "127.0.0.1:1".parse().unwrap();
        let remote: SocketAddr = "10.0.0.1:1".parse().unwrap();
        let mut cfg = MqttConfig::default();
        let mut c = Connect::new(ProtocolVersion::V5, "x");
        assert!(matches!(
            authenticate(&c, &cfg, remote, engine.users()),
            Ok(None)
        ));
        cfg.allow_anonymous = false;
        assert_eq!(
            authenticate(&c, &cfg, local, engine.users()).err(),
            Some(ReasonCode::NotAuthorized)
        );
        c.username = Some("guest".into());
        c.password = Some("guest".into());
        assert!(authenticate(&c, &cfg, local, engine.users()).is_ok());
        assert_eq!(
            authenticate(&c, &cfg, remote, engine.users()).err(),
            Some(ReasonCode::NotAuthorized),
            "guest is loopback only"
        );
        c.password = Some("nope".into());
        assert_eq!(
            authenticate(&c, &cfg, local, engine.users()).err(),
            Some(ReasonCode::BadUserNameOrPassword)
        );
        c.properties.authentication_method = Some("SCRAM-SHA-1".into());
        assert_eq!(
            authenticate(&c, &cfg, local, engine.users()).err(),
            Some(ReasonCode::BadAuthenticationMethod)
        );
        engine.shutdown().await;
    }
}
