//! Proptest strategies for valid MQTT packets, shared by the codec property tests and the
//! rumqttc cross-check. Every packet a strategy yields is one the spec lets its sender
//! send, so decoding it must give it back: strings avoid U+0000 and the disallowed code
//! points, topics and filters follow the wildcard rules, packet identifiers are not 0,
//! reason codes come from their packet's table, property values are in range, and the
//! v5-only parts stay empty in 3.x.

#![allow(dead_code)] // each test binary uses its own part of this module

use bytes::Bytes;
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::select;
use trident_mqtt::codec::{
    AckProperties, Auth, AuthProperties, ConnAck, ConnAckProperties, Connect, ConnectProperties,
    Disconnect, DisconnectProperties, MessageProperties, Packet, PacketId, PayloadFormat,
    ProtocolVersion, PubAck, PubComp, PubRec, PubRel, Publish, PublishProperties, QoS, ReasonCode,
    ReasonContext, RetainHandling, Side, SubAck, Subscribe, SubscribeProperties, Subscription,
    SubscriptionOptions, UnsubAck, Unsubscribe, UnsubscribeProperties, V3_1_MAX_CLIENT_ID, Will,
    WillProperties,
};

pub const VERSIONS: [ProtocolVersion; 3] = [
    ProtocolVersion::V3_1,
    ProtocolVersion::V3_1_1,
    ProtocolVersion::V5,
];

pub fn version() -> impl Strategy<Value = ProtocolVersion> {
    select(VERSIONS.to_vec())
}

/// A character a UTF-8 Encoded String may hold: mostly printable ASCII, and some of
/// every UTF-8 length, without U+0000, the control characters, the noncharacters and
/// (by construction of `char`) the surrogates.
pub fn text_char() -> impl Strategy<Value = char> {
    prop_oneof![
        8 => proptest::char::range(' ', '~'),
        1 => proptest::char::range('\u{a0}', '\u{7ff}'),
        1 => proptest::char::range('\u{800}', '\u{fdcf}'),
        1 => proptest::char::range('\u{10000}', '\u{1fffd}'),
    ]
}

pub fn text(max: usize) -> impl Strategy<Value = String> {
    vec(text_char(), 0..=max).prop_map(String::from_iter)
}

/// A topic level without wildcards or separators.
fn level() -> impl Strategy<Value = String> {
    vec(
        text_char().prop_filter("not a wildcard or separator", |c| {
            !matches!(c, '+' | '#' | '/')
        }),
        0..6,
    )
    .prop_map(String::from_iter)
}

/// A non-empty topic name: levels joined by `/`, no `+` or `#`.
pub fn topic_name() -> impl Strategy<Value = String> {
    vec(level(), 1..5).prop_map(|levels| {
        let t = levels.join("/");
        if t.is_empty() { "t".to_owned() } else { t }
    })
}

/// A topic filter: whole-level `+`, an optional trailing `#`, sometimes shared.
pub fn topic_filter() -> impl Strategy<Value = String> {
    let plain = (
        vec(prop_oneof![3 => level(), 1 => Just("+".to_owned())], 0..4),
        any::<bool>(),
    )
        .prop_map(|(mut levels, multi)| {
            if multi || levels.is_empty() {
                levels.push("#".to_owned());
            }
            let f = levels.join("/");
            if f.is_empty() { "#".to_owned() } else { f }
        })
        // A generated first level of exactly "$share" would make a plain filter look
        // shared (and its next level a share name): leave it out.
        .prop_filter("accidental $share prefix", |f| !f.starts_with("$share/"));
    (plain, prop::option::weighted(0.2, share_name())).prop_map(|(f, share)| match share {
        Some(name) => format!("$share/{name}/{f}"),
        None => f,
    })
}

fn share_name() -> impl Strategy<Value = String> {
    level().prop_map(|l| if l.is_empty() { "g".to_owned() } else { l })
}

pub fn binary(max: usize) -> impl Strategy<Value = Bytes> {
    vec(any::<u8>(), 0..=max).prop_map(Bytes::from)
}

pub fn packet_id() -> impl Strategy<Value = PacketId> {
    (1..=u16::MAX).prop_map(|n| PacketId::new(n).expect("non-zero"))
}

pub fn qos() -> impl Strategy<Value = QoS> {
    select(vec![QoS::AtMostOnce, QoS::AtLeastOnce, QoS::ExactlyOnce])
}

pub fn reason(ctx: ReasonContext) -> impl Strategy<Value = ReasonCode> {
    let codes: Vec<ReasonCode> = ReasonCode::ALL
        .iter()
        .copied()
        .filter(|c| c.allowed_in(ctx))
        .collect();
    select(codes)
}

pub fn user_properties() -> impl Strategy<Value = Vec<(String, String)>> {
    vec((text(6), text(6)), 0..3)
}

fn opt<T: std::fmt::Debug + Clone>(
    s: impl Strategy<Value = T>,
) -> impl Strategy<Value = Option<T>> {
    prop::option::of(s)
}

fn non_zero_u16() -> impl Strategy<Value = u16> {
    1..=u16::MAX
}

fn non_zero_u32() -> impl Strategy<Value = u32> {
    1..=u32::MAX
}

/// The largest Subscription Identifier, the largest variable byte integer.
pub const MAX_SUBSCRIPTION_ID: u32 = 268_435_455;

/// Message properties and a payload that agrees with its format indicator.
pub fn message() -> impl Strategy<Value = (MessageProperties, Bytes)> {
    (
        opt(select(vec![
            PayloadFormat::Unspecified,
            PayloadFormat::Utf8,
        ])),
        opt(any::<u32>()),
        opt(text(10)),
        opt(topic_name()),
        opt(binary(8)),
        user_properties(),
        binary(24),
        text(12),
    )
        .prop_map(
            |(payload_format, expiry, content_type, response_topic, correlation, users, raw, s)| {
                let payload = if payload_format == Some(PayloadFormat::Utf8) {
                    Bytes::from(s)
                } else {
                    raw
                };
                let props = MessageProperties {
                    payload_format,
                    message_expiry_interval: expiry,
                    content_type,
                    response_topic,
                    correlation_data: correlation,
                    user_properties: users,
                };
                (props, payload)
            },
        )
}

/// A PUBLISH as `side` receives it: only a server's carry subscription identifiers
/// ([MQTT-3.3.4-6]).
pub fn publish(version: ProtocolVersion, side: Side) -> impl Strategy<Value = Publish> {
    let v5 = version.is_v5();
    (
        qos(),
        any::<bool>(),
        any::<bool>(),
        topic_name(),
        packet_id(),
        message(),
        binary(32),
        opt(non_zero_u16()),
        vec(1..=MAX_SUBSCRIPTION_ID, 0..3),
        any::<bool>(),
    )
        .prop_map(
            move |(
                qos,
                dup,
                retain,
                topic,
                id,
                (message, v5_payload),
                payload,
                alias,
                ids,
                aliased,
            )| {
                let at_least_once = qos != QoS::AtMostOnce;
                let mut p = Publish {
                    dup: dup && at_least_once,
                    qos,
                    retain,
                    topic,
                    packet_id: at_least_once.then_some(id),
                    properties: PublishProperties::default(),
                    payload,
                };
                if v5 {
                    p.payload = v5_payload;
                    p.properties = PublishProperties {
                        message,
                        topic_alias: alias,
                        subscription_identifiers: if side == Side::Client {
                            ids
                        } else {
                            Vec::new()
                        },
                    };
                    // With a topic alias the name may be left out (§3.3.2.3.4).
                    if alias.is_some() && aliased {
                        p.topic.clear();
                    }
                }
                p
            },
        )
}

pub fn ack_properties(version: ProtocolVersion) -> BoxedStrategy<AckProperties> {
    if !version.is_v5() {
        return Just(AckProperties::default()).boxed();
    }
    (opt(text(10)), user_properties())
        .prop_map(|(reason_string, user_properties)| AckProperties {
            reason_string,
            user_properties,
        })
        .boxed()
}

/// PUBACK, PUBREC, PUBREL or PUBCOMP.
pub fn publish_ack(version: ProtocolVersion) -> impl Strategy<Value = Packet> {
    let v5 = version.is_v5();
    let code = move |ctx| {
        if v5 {
            reason(ctx).boxed()
        } else {
            Just(ReasonCode::Success).boxed()
        }
    };
    (
        0..4u8,
        packet_id(),
        code(ReasonContext::PubAckOrRec),
        code(ReasonContext::PubRelOrComp),
        ack_properties(version),
    )
        .prop_map(
            |(kind, packet_id, ack_code, rel_code, properties)| match kind {
                0 => Packet::PubAck(PubAck {
                    packet_id,
                    reason: ack_code,
                    properties,
                }),
                1 => Packet::PubRec(PubRec {
                    packet_id,
                    reason: ack_code,
                    properties,
                }),
                2 => Packet::PubRel(PubRel {
                    packet_id,
                    reason: rel_code,
                    properties,
                }),
                _ => Packet::PubComp(PubComp {
                    packet_id,
                    reason: rel_code,
                    properties,
                }),
            },
        )
}

pub fn connect_properties() -> impl Strategy<Value = ConnectProperties> {
    (
        opt(any::<u32>()),
        opt(non_zero_u16()),
        opt(non_zero_u32()),
        opt(any::<u16>()),
        opt(any::<bool>()),
        opt(any::<bool>()),
        user_properties(),
        opt((text(8), opt(binary(8)))),
    )
        .prop_map(
            |(expiry, receive_max, max_packet, alias_max, rri, rpi, users, auth)| {
                let (authentication_method, authentication_data) = match auth {
                    Some((m, d)) => (Some(m), d),
                    None => (None, None),
                };
                ConnectProperties {
                    session_expiry_interval: expiry,
                    receive_maximum: receive_max,
                    maximum_packet_size: max_packet,
                    topic_alias_maximum: alias_max,
                    request_response_information: rri,
                    request_problem_information: rpi,
                    user_properties: users,
                    authentication_method,
                    authentication_data,
                }
            },
        )
}

pub fn will(version: ProtocolVersion) -> impl Strategy<Value = Will> {
    let v5 = version.is_v5();
    (
        topic_name(),
        binary(16),
        qos(),
        any::<bool>(),
        opt(any::<u32>()),
        message(),
    )
        .prop_map(
            move |(topic, payload, qos, retain, delay, (message, v5_payload))| {
                let mut w = Will {
                    topic,
                    payload,
                    qos,
                    retain,
                    properties: WillProperties::default(),
                };
                if v5 {
                    w.payload = v5_payload;
                    w.properties = WillProperties {
                        will_delay_interval: delay,
                        message,
                    };
                }
                w
            },
        )
}

pub fn connect(version: ProtocolVersion) -> impl Strategy<Value = Connect> {
    let client_id = if version == ProtocolVersion::V3_1 {
        // 3.1: 1 to 23 bytes; ASCII keeps the byte count equal to the char count.
        "[a-zA-Z0-9]{1,23}".boxed()
    } else {
        text(24).boxed()
    };
    (
        client_id,
        any::<bool>(),
        any::<u16>(),
        opt(will(version)),
        opt(text(10)),
        opt(binary(10)),
        connect_properties(),
    )
        .prop_map(
            move |(client_id, clean_start, keep_alive, will, username, password, props)| {
                debug_assert!(
                    client_id.len() <= V3_1_MAX_CLIENT_ID || version != ProtocolVersion::V3_1
                );
                let mut c = Connect {
                    version,
                    client_id,
                    clean_start,
                    keep_alive,
                    will,
                    username,
                    password,
                    properties: ConnectProperties::default(),
                };
                if version.is_v5() {
                    c.properties = props;
                } else {
                    // 3.x: a password only with a user name ([MQTT-3.1.2-22]); an
                    // empty client id only with clean session ([MQTT-3.1.3-8]).
                    if c.username.is_none() {
                        c.password = None;
                    }
                    if c.client_id.is_empty() {
                        c.clean_start = true;
                    }
                }
                c
            },
        )
}

/// The six codes of a 3.1.1 CONNACK, as reason codes.
pub const V3_CONNACK_CODES: [ReasonCode; 6] = [
    ReasonCode::Success,
    ReasonCode::UnsupportedProtocolVersion,
    ReasonCode::ClientIdentifierNotValid,
    ReasonCode::ServerUnavailable,
    ReasonCode::BadUserNameOrPassword,
    ReasonCode::NotAuthorized,
];

pub fn connack_properties() -> impl Strategy<Value = ConnAckProperties> {
    (
        (
            opt(any::<u32>()),
            opt(non_zero_u16()),
            opt(select(vec![QoS::AtMostOnce, QoS::AtLeastOnce])),
            opt(any::<bool>()),
            opt(non_zero_u32()),
            opt(text(12)),
            opt(any::<u16>()),
            opt(text(10)),
        ),
        (
            user_properties(),
            opt(any::<bool>()),
            opt(any::<bool>()),
            opt(any::<bool>()),
            opt(any::<u16>()),
            opt(text(10)),
            opt(text(10)),
            opt((text(8), opt(binary(8)))),
        ),
    )
        .prop_map(|(a, b)| {
            let (expiry, receive_max, max_qos, retain, max_packet, assigned, alias_max, rs) = a;
            let (users, wildcard, sub_ids, shared, keep_alive, resp_info, server_ref, auth) = b;
            let (authentication_method, authentication_data) = match auth {
                Some((m, d)) => (Some(m), d),
                None => (None, None),
            };
            ConnAckProperties {
                session_expiry_interval: expiry,
                receive_maximum: receive_max,
                maximum_qos: max_qos,
                retain_available: retain,
                maximum_packet_size: max_packet,
                assigned_client_identifier: assigned,
                topic_alias_maximum: alias_max,
                reason_string: rs,
                user_properties: users,
                wildcard_subscription_available: wildcard,
                subscription_identifiers_available: sub_ids,
                shared_subscription_available: shared,
                server_keep_alive: keep_alive,
                response_information: resp_info,
                server_reference: server_ref,
                authentication_method,
                authentication_data,
            }
        })
}

pub fn connack(version: ProtocolVersion) -> impl Strategy<Value = ConnAck> {
    let code = if version.is_v5() {
        reason(ReasonContext::ConnAck).boxed()
    } else {
        select(V3_CONNACK_CODES.to_vec()).boxed()
    };
    (code, any::<bool>(), connack_properties()).prop_map(move |(code, present, props)| {
        ConnAck {
            // 3.1 has no session present flag.
            session_present: present && version != ProtocolVersion::V3_1,
            code,
            properties: if version.is_v5() {
                props
            } else {
                ConnAckProperties::default()
            },
        }
    })
}

pub fn subscription_options(
    version: ProtocolVersion,
) -> impl Strategy<Value = SubscriptionOptions> {
    (
        qos(),
        any::<bool>(),
        any::<bool>(),
        select(vec![
            RetainHandling::SendAtSubscribe,
            RetainHandling::SendIfNew,
            RetainHandling::DoNotSend,
        ]),
    )
        .prop_map(move |(qos, no_local, rap, rh)| {
            if version.is_v5() {
                SubscriptionOptions {
                    qos,
                    no_local,
                    retain_as_published: rap,
                    retain_handling: rh,
                }
            } else {
                SubscriptionOptions::new(qos)
            }
        })
}

pub fn subscribe(version: ProtocolVersion) -> impl Strategy<Value = Subscribe> {
    let v5 = version.is_v5();
    (
        packet_id(),
        vec((topic_filter(), subscription_options(version)), 1..4),
        opt(1..=MAX_SUBSCRIPTION_ID),
        user_properties(),
    )
        .prop_map(move |(packet_id, subs, id, users)| Subscribe {
            packet_id,
            subscriptions: subs
                .into_iter()
                .map(|(filter, mut options)| {
                    // No Local is a protocol error on a shared subscription
                    // ([MQTT-3.8.3-4]).
                    if filter.starts_with("$share/") {
                        options.no_local = false;
                    }
                    Subscription { filter, options }
                })
                .collect(),
            properties: if v5 {
                SubscribeProperties {
                    subscription_identifier: id,
                    user_properties: users,
                }
            } else {
                SubscribeProperties::default()
            },
        })
}

pub fn suback(version: ProtocolVersion) -> impl Strategy<Value = SubAck> {
    let code = if version.is_v5() {
        reason(ReasonContext::SubAck).boxed()
    } else {
        // 3.1.1 [MQTT-3.9.3-2]: a granted QoS or 0x80 (Failure).
        select(vec![
            ReasonCode::Success,
            ReasonCode::GrantedQoS1,
            ReasonCode::GrantedQoS2,
            ReasonCode::UnspecifiedError,
        ])
        .boxed()
    };
    (packet_id(), vec(code, 1..5), ack_properties(version)).prop_map(
        |(packet_id, reason_codes, properties)| SubAck {
            packet_id,
            reason_codes,
            properties,
        },
    )
}

pub fn unsubscribe(version: ProtocolVersion) -> impl Strategy<Value = Unsubscribe> {
    let v5 = version.is_v5();
    (packet_id(), vec(topic_filter(), 1..4), user_properties()).prop_map(
        move |(packet_id, filters, users)| Unsubscribe {
            packet_id,
            filters,
            properties: if v5 {
                UnsubscribeProperties {
                    user_properties: users,
                }
            } else {
                UnsubscribeProperties::default()
            },
        },
    )
}

pub fn unsuback(version: ProtocolVersion) -> impl Strategy<Value = UnsubAck> {
    let v5 = version.is_v5();
    (
        packet_id(),
        vec(reason(ReasonContext::UnsubAck), 1..5),
        ack_properties(version),
    )
        .prop_map(move |(packet_id, codes, properties)| UnsubAck {
            packet_id,
            // 3.x UNSUBACK carries only the packet identifier.
            reason_codes: if v5 { codes } else { Vec::new() },
            properties,
        })
}

/// A DISCONNECT as `side` receives it: a server's carries no session expiry
/// ([MQTT-3.14.2-2]).
pub fn disconnect(version: ProtocolVersion, side: Side) -> BoxedStrategy<Disconnect> {
    if !version.is_v5() {
        return Just(Disconnect::default()).boxed();
    }
    (
        reason(ReasonContext::Disconnect),
        opt(any::<u32>()),
        opt(text(10)),
        user_properties(),
        opt(text(10)),
    )
        .prop_map(move |(reason, expiry, rs, users, server_ref)| Disconnect {
            reason,
            properties: DisconnectProperties {
                session_expiry_interval: if side == Side::Server { expiry } else { None },
                reason_string: rs,
                user_properties: users,
                server_reference: server_ref,
            },
        })
        .boxed()
}

/// An AUTH: the empty short form, or a reason code with an authentication method
/// (required whenever there are properties, §3.15.2.2.2).
pub fn auth() -> impl Strategy<Value = Auth> {
    prop_oneof![
        1 => Just(Auth::default()),
        4 => (
            reason(ReasonContext::Auth),
            text(8),
            opt(binary(8)),
            opt(text(10)),
            user_properties(),
        )
            .prop_map(|(reason, method, data, rs, users)| Auth {
                reason,
                properties: AuthProperties {
                    authentication_method: Some(method),
                    authentication_data: data,
                    reason_string: rs,
                    user_properties: users,
                },
            }),
    ]
}

/// Any packet after CONNECT that `side` may receive in `version`.
pub fn packet_after_connect(version: ProtocolVersion, side: Side) -> BoxedStrategy<Packet> {
    let mut kinds: Vec<BoxedStrategy<Packet>> = vec![
        publish(version, side).prop_map(Packet::Publish).boxed(),
        publish_ack(version).boxed(),
    ];
    match side {
        Side::Server => {
            kinds.push(subscribe(version).prop_map(Packet::Subscribe).boxed());
            kinds.push(unsubscribe(version).prop_map(Packet::Unsubscribe).boxed());
            kinds.push(Just(Packet::PingReq).boxed());
            kinds.push(
                disconnect(version, side)
                    .prop_map(Packet::Disconnect)
                    .boxed(),
            );
        }
        Side::Client => {
            kinds.push(
                connack(version)
                    .prop_map(|c| Packet::ConnAck(Box::new(c)))
                    .boxed(),
            );
            kinds.push(suback(version).prop_map(Packet::SubAck).boxed());
            kinds.push(unsuback(version).prop_map(Packet::UnsubAck).boxed());
            kinds.push(Just(Packet::PingResp).boxed());
            if version.is_v5() {
                kinds.push(
                    disconnect(version, side)
                        .prop_map(Packet::Disconnect)
                        .boxed(),
                );
            }
        }
    }
    if version.is_v5() {
        kinds.push(auth().prop_map(Packet::Auth).boxed());
    }
    proptest::strategy::Union::new(kinds).boxed()
}

/// A version, a receiving side, and a packet that side may receive in that version.
pub fn any_packet() -> impl Strategy<Value = (ProtocolVersion, Side, Packet)> {
    (version(), select(vec![Side::Server, Side::Client]))
        .prop_flat_map(|(v, side)| packet_after_connect(v, side).prop_map(move |p| (v, side, p)))
}
