//! The spec statements the codec enforces, one test each (or one per group of statements
//! that say the same for different packets), fed as raw bytes. Names carry the 5.0
//! statement number; the 3.1.1 number is in the comment where it differs.
//! docs/protocols/mqtt.md lists every statement with the test that shows it.

use bytes::{Bytes, BytesMut};
use trident_mqtt::codec::{
    AckProperties, ConnectError, DecodeError, Decoder, EncodeError, Field, Malformed, Packet,
    PacketId, PacketType, ProtocolVersion, PubAck, Publish, QoS, ReasonCode, Side, TopicError,
    Violation, decode_connect, encode, encode_within,
};

const V31: ProtocolVersion = ProtocolVersion::V3_1;
const V311: ProtocolVersion = ProtocolVersion::V3_1_1;
const V5: ProtocolVersion = ProtocolVersion::V5;

/// A length-prefixed string or binary field.
fn lp(s: &[u8]) -> Vec<u8> {
    let mut v = u16::try_from(s.len())
        .expect("short")
        .to_be_bytes()
        .to_vec();
    v.extend_from_slice(s);
    v
}

/// A property block (shorter than 128 bytes).
fn props(p: &[u8]) -> Vec<u8> {
    let mut v = vec![u8::try_from(p.len()).expect("short")];
    v.extend_from_slice(p);
    v
}

fn cat(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}

/// A packet: the first byte, the remaining length, the body.
fn frame(first: u8, body: &[u8]) -> BytesMut {
    let mut out = BytesMut::new();
    out.extend_from_slice(&[first]);
    let mut len = body.len();
    loop {
        let b = (len & 0x7f) as u8;
        len >>= 7;
        if len == 0 {
            out.extend_from_slice(&[b]);
            break;
        }
        out.extend_from_slice(&[b | 0x80]);
    }
    out.extend_from_slice(body);
    out
}

fn decode(
    side: Side,
    version: ProtocolVersion,
    first: u8,
    body: &[u8],
) -> Result<Packet, DecodeError> {
    let mut buf = frame(first, body);
    let packet = Decoder::new(side, version)
        .decode(&mut buf)?
        .expect("a whole packet");
    assert!(buf.is_empty());
    Ok(packet)
}

fn to_server(version: ProtocolVersion, first: u8, body: &[u8]) -> Result<Packet, DecodeError> {
    decode(Side::Server, version, first, body)
}

fn to_client(version: ProtocolVersion, first: u8, body: &[u8]) -> Result<Packet, DecodeError> {
    decode(Side::Client, version, first, body)
}

/// A CONNECT with this level's name, `flags`, keep alive 60, the properties (5.0 only)
/// and the payload as given.
fn connect(version: ProtocolVersion, flags: u8, properties: &[u8], payload: &[u8]) -> BytesMut {
    let mut body = lp(version.protocol_name().as_bytes());
    body.extend_from_slice(&[version.level(), flags, 0, 60]);
    if version.is_v5() {
        body.extend(props(properties));
    }
    body.extend_from_slice(payload);
    frame(0x10, &body)
}

fn refused(mut buf: BytesMut) -> ConnectError {
    decode_connect(&mut buf, u32::MAX).expect_err("refused")
}

fn accepted(mut buf: BytesMut) -> trident_mqtt::codec::Connect {
    decode_connect(&mut buf, u32::MAX)
        .expect("accepted")
        .expect("whole")
}

const CLEAN: u8 = 0b0000_0010;

// ---------------------------------------------------------------------------------------
// 1.5 Data representation

/// [MQTT-1.5.4-1] (3.1.1 [MQTT-1.5.3-1]): ill-formed UTF-8 and encoded surrogates.
#[test]
fn mqtt_1_5_4_1_ill_formed_utf8_is_malformed() {
    for version in [V311, V5] {
        for bad in [&[0xC3, 0x28][..], &[0xED, 0xA0, 0x80], &[0xFF]] {
            let mut body = lp(bad);
            if version.is_v5() {
                body.push(0);
            }
            assert_eq!(
                to_server(version, 0x30, &body),
                Err(Malformed::InvalidUtf8(Field::TopicName).into()),
                "{version} {bad:x?}"
            );
        }
    }
}

/// [MQTT-1.5.4-2] (3.1.1 [MQTT-1.5.3-2]), in a client id, a filter and a user property.
#[test]
fn mqtt_1_5_4_2_null_character_is_malformed_in_every_string() {
    let e = refused(connect(V5, CLEAN, &[], &lp(b"a\0")));
    assert_eq!(e.error, Malformed::NullCharacter(Field::ClientId).into());
    assert_eq!(
        e.connack().map(|c| c.code),
        Some(ReasonCode::MalformedPacket)
    );
    // 3.1.1 has no return code for a malformed CONNECT: close without CONNACK
    // (3.1.1 [MQTT-3.1.4-1]).
    let e = refused(connect(V311, CLEAN, &[], &lp(b"a\0")));
    assert_eq!(e.connack(), None);
    assert_eq!(
        to_server(V5, 0x82, &cat(&[&[0, 1, 0], &lp(b"a/\0"), &[0]])),
        Err(Malformed::NullCharacter(Field::TopicFilter).into())
    );
    let user = cat(&[&[0x26], &lp(b"k\0"), &lp(b"v")]);
    assert_eq!(
        to_server(V5, 0x30, &cat(&[&lp(b"t"), &props(&user)])),
        Err(Malformed::NullCharacter(Field::UserPropertyName).into())
    );
}

/// [MQTT-1.5.4-3]: a BOM is kept, not stripped.
#[test]
fn mqtt_1_5_4_3_bom_is_kept() {
    let Ok(Packet::Publish(p)) = to_server(V311, 0x30, &lp("\u{feff}t".as_bytes())) else {
        panic!("decodes");
    };
    assert_eq!(p.topic, "\u{feff}t");
}

/// §1.5.4: a receiver MAY refuse the disallowed code points; Mosquitto does, so do we.
#[test]
fn disallowed_code_points_are_refused() {
    for (s, cp) in [("a\u{7}", 7), ("a\u{7f}", 0x7f), ("\u{fffe}", 0xfffe)] {
        assert_eq!(
            to_server(V311, 0x30, &lp(s.as_bytes())),
            Err(Malformed::DisallowedCodePoint {
                field: Field::TopicName,
                code_point: cp
            }
            .into())
        );
    }
}

/// [MQTT-1.5.7-1]: both strings of a user property are UTF-8 Encoded Strings.
#[test]
fn mqtt_1_5_7_1_user_property_strings_are_checked() {
    let user = cat(&[&[0x26], &lp(b"k"), &lp(&[0xFF])]);
    assert_eq!(
        to_server(V5, 0x30, &cat(&[&lp(b"t"), &props(&user)])),
        Err(Malformed::InvalidUtf8(Field::UserPropertyValue).into())
    );
}

/// §1.5.5, §2.1.4 (3.1.1 §2.2.3): at most four bytes, in the remaining length and in a
/// property length; a longer one is malformed without waiting for more. A non-minimal
/// encoding is read ([MQTT-1.5.5-1] binds the sender) and never written.
#[test]
fn mqtt_1_5_5_1_variable_byte_integers() {
    let mut buf = BytesMut::from(&[0x30, 0xFF, 0xFF, 0xFF, 0x80][..]);
    assert_eq!(
        Decoder::server(V5).decode(&mut buf),
        Err(Malformed::VarIntTooLong.into())
    );
    assert_eq!(
        to_server(
            V5,
            0x30,
            &cat(&[&lp(b"t"), &[0xFF, 0xFF, 0xFF, 0xFF, 0x01]])
        ),
        Err(Malformed::VarIntTooLong.into())
    );
    // Remaining length 4 written in two bytes.
    let mut buf = BytesMut::from(&[0x30, 0x84, 0x00, 0x00, 0x01, b'a', b'x'][..]);
    let Ok(Some(Packet::Publish(p))) = Decoder::server(V311).decode(&mut buf) else {
        panic!("non-minimal length is read");
    };
    assert_eq!((p.topic.as_str(), &p.payload[..]), ("a", &b"x"[..]));
    let mut out = BytesMut::new();
    encode(&Packet::Publish(p), V311, &mut out).expect("encodes");
    assert_eq!(&out[..], &[0x30, 0x04, 0x00, 0x01, b'a', b'x']);
}

// ---------------------------------------------------------------------------------------
// 2 Control packet format

/// [MQTT-2.1.3-1] (3.1.1 [MQTT-2.2.2-1], [MQTT-2.2.2-2]), and per packet [MQTT-3.6.1-1],
/// [MQTT-3.8.1-1], [MQTT-3.10.1-1], [MQTT-3.14.1-1], [MQTT-3.15.1-1].
#[test]
fn mqtt_2_1_3_1_reserved_flags_are_malformed() {
    let cases: [(Side, ProtocolVersion, u8, &[u8]); 14] = [
        (Side::Client, V5, 0x21, &[0, 0, 0]),
        (Side::Server, V5, 0x41, &[0, 1]),
        (Side::Server, V5, 0x51, &[0, 1]),
        (Side::Server, V5, 0x60, &[0, 1]),
        (Side::Server, V311, 0x63, &[0, 1]),
        (Side::Server, V5, 0x79, &[0, 1]),
        (Side::Server, V311, 0x80, &[0, 1, 0, 1, b'a', 0]),
        (Side::Client, V311, 0x9F, &[0, 1, 0]),
        (Side::Server, V311, 0xA0, &[0, 1, 0, 1, b'a']),
        (Side::Client, V311, 0xB2, &[0, 1]),
        (Side::Server, V311, 0xC1, &[]),
        (Side::Client, V311, 0xD8, &[]),
        (Side::Server, V311, 0xE1, &[]),
        (Side::Server, V5, 0xF1, &[]),
    ];
    for (side, version, first, body) in cases {
        let result = decode(side, version, first, body);
        assert!(
            matches!(
                result,
                Err(DecodeError::Malformed(Malformed::BadFlags { flags, .. })) if flags == first & 0x0f
            ),
            "{first:#04x}: {result:?}"
        );
    }
    let mut buf = connect(V311, CLEAN, &[], &lp(b"c"));
    buf[0] = 0x12;
    assert_eq!(
        refused(buf).error,
        Malformed::BadFlags {
            packet: PacketType::Connect,
            flags: 2
        }
        .into()
    );
}

/// Type 0 is reserved in every version, type 15 (AUTH) in 3.x.
#[test]
fn reserved_packet_types_are_malformed() {
    for version in [V31, V311, V5] {
        assert_eq!(
            to_server(version, 0x00, &[]),
            Err(Malformed::ReservedPacketType(0).into())
        );
    }
    assert_eq!(
        to_server(V311, 0xF0, &[]),
        Err(Malformed::ReservedPacketType(15).into())
    );
}

/// Packets that only flow the other way (CONNACK to a server, SUBSCRIBE to a client,
/// DISCONNECT to a 3.1.1 client) are protocol errors.
#[test]
fn packets_in_the_wrong_direction_are_protocol_errors() {
    assert_eq!(
        to_server(V5, 0x20, &[0, 0, 0]),
        Err(Violation::WrongDirection(PacketType::ConnAck).into())
    );
    assert_eq!(
        to_client(V311, 0x82, &[0, 1, 0, 1, b'a', 0]),
        Err(Violation::WrongDirection(PacketType::Subscribe).into())
    );
    assert_eq!(
        to_client(V311, 0xE0, &[]),
        Err(Violation::WrongDirection(PacketType::Disconnect).into())
    );
}

/// [MQTT-2.2.1-3], [MQTT-2.2.1-4] (3.1.1 [MQTT-2.3.1-1]): no packet identifier is 0.
#[test]
fn mqtt_2_2_1_3_packet_identifier_zero_is_a_protocol_error() {
    let cases: [(Side, ProtocolVersion, u8, &[u8], PacketType); 6] = [
        (
            Side::Server,
            V5,
            0x82,
            &[0, 0, 0, 0, 1, b'a', 0],
            PacketType::Subscribe,
        ),
        (
            Side::Server,
            V311,
            0xA2,
            &[0, 0, 0, 1, b'a'],
            PacketType::Unsubscribe,
        ),
        (Side::Server, V311, 0x40, &[0, 0], PacketType::PubAck),
        (Side::Server, V5, 0x62, &[0, 0], PacketType::PubRel),
        (
            Side::Client,
            V5,
            0x34,
            &[0, 1, b'a', 0, 0, 0],
            PacketType::Publish,
        ),
        (Side::Client, V311, 0x90, &[0, 0, 0], PacketType::SubAck),
    ];
    for (side, version, first, body, packet) in cases {
        assert_eq!(
            decode(side, version, first, body),
            Err(Violation::ZeroPacketId(packet).into()),
            "{packet}"
        );
    }
}

/// [MQTT-2.2.1-2] (3.1.1 [MQTT-2.3.1-5]): a QoS 0 PUBLISH has no packet identifier. The
/// decoder reads none at QoS 0; the encoder refuses a PUBLISH whose identifier and QoS
/// disagree, either way.
#[test]
fn mqtt_2_2_1_2_qos_0_carries_no_packet_identifier() {
    let mut p = Publish::new("t", Bytes::new());
    p.packet_id = PacketId::new(1);
    assert_eq!(
        encode(&Packet::Publish(p.clone()), V311, &mut BytesMut::new()),
        Err(EncodeError::PacketIdMismatch)
    );
    p.qos = QoS::AtLeastOnce;
    p.packet_id = None;
    assert_eq!(
        encode(&Packet::Publish(p), V5, &mut BytesMut::new()),
        Err(EncodeError::PacketIdMismatch)
    );
    // At QoS 0 the two bytes after the topic are payload, not an identifier.
    let Ok(Packet::Publish(p)) = to_server(V311, 0x30, &cat(&[&lp(b"t"), &[0, 0]])) else {
        panic!("decodes");
    };
    assert_eq!((p.packet_id, &p.payload[..]), (None, &[0u8, 0][..]));
}

/// §2.2.2.2: an identifier not defined for the packet is malformed; §3.x.2.2: a
/// property given twice (but User Property) is a protocol error.
#[test]
fn properties_not_of_the_packet_or_repeated_are_refused() {
    // Topic Alias in a SUBSCRIBE.
    assert_eq!(
        to_server(
            V5,
            0x82,
            &cat(&[&[0, 1], &props(&[0x23, 0, 1]), &lp(b"a"), &[0]])
        ),
        Err(Malformed::PropertyNotAllowed {
            id: 0x23,
            packet: PacketType::Subscribe
        }
        .into())
    );
    // Will Delay Interval among the CONNECT properties, Session Expiry among the will's.
    let e = refused(connect(V5, CLEAN, &[0x18, 0, 0, 0, 1], &lp(b"c")));
    assert!(matches!(
        e.error,
        DecodeError::Malformed(Malformed::PropertyNotAllowed { id: 0x18, .. })
    ));
    let will = cat(&[&lp(b"c"), &props(&[0x11, 0, 0, 0, 1]), &lp(b"w"), &lp(b"x")]);
    let e = refused(connect(V5, CLEAN | 0x04, &[], &will));
    assert!(matches!(
        e.error,
        DecodeError::Malformed(Malformed::PropertyNotAllowed { id: 0x11, .. })
    ));
    // Message Expiry Interval twice; two user properties are fine and keep their order
    // ([MQTT-3.3.2-18]).
    assert_eq!(
        to_server(
            V5,
            0x30,
            &cat(&[&lp(b"t"), &props(&[2, 0, 0, 0, 1, 2, 0, 0, 0, 2])])
        ),
        Err(Violation::DuplicateProperty(2).into())
    );
    let users = cat(&[&[0x26], &lp(b"k"), &lp(b"2"), &[0x26], &lp(b"k"), &lp(b"1")]);
    let Ok(Packet::Publish(p)) = to_server(V5, 0x30, &cat(&[&lp(b"t"), &props(&users)])) else {
        panic!("decodes");
    };
    assert_eq!(
        p.properties.message.user_properties,
        vec![("k".into(), "2".into()), ("k".into(), "1".into())]
    );
}

// ---------------------------------------------------------------------------------------
// 3.1 CONNECT

/// [MQTT-3.1.2-1], [MQTT-3.1.2-2] (both versions): an unknown name closes without a
/// CONNACK; a known name at an unsupported level gets CONNACK 0x01 in the 3.1.1 format.
#[test]
fn mqtt_3_1_2_1_protocol_name_and_level() {
    let mut body = lp(b"MQTX");
    body.extend_from_slice(&[4, CLEAN, 0, 60]);
    body.extend(lp(b"c"));
    let e = refused(frame(0x10, &body));
    assert_eq!(e.error, DecodeError::UnknownProtocolName("MQTX".into()));
    assert_eq!(e.connack(), None);
    for (name, level) in [(&b"MQTT"[..], 6), (b"MQTT", 3), (b"MQIsdp", 4)] {
        let mut body = lp(name);
        body.extend_from_slice(&[level, CLEAN, 0, 60]);
        body.extend(lp(b"c"));
        let e = refused(frame(0x10, &body));
        assert!(
            matches!(e.error, DecodeError::UnsupportedProtocolVersion { .. }),
            "{e:?}"
        );
        let refusal = e.connack().expect("a CONNACK");
        assert_eq!(refusal.version, V311);
        assert_eq!(e.v3_return_code().map(|c| c.as_u8()), Some(0x01));
    }
}

/// [MQTT-3.1.2-3] (both versions).
#[test]
fn mqtt_3_1_2_3_connect_reserved_flag_is_malformed() {
    for version in [V311, V5] {
        let e = refused(connect(version, CLEAN | 1, &[], &lp(b"c")));
        assert_eq!(e.error, Malformed::ConnectReservedFlag.into());
    }
}

/// 5.0 [MQTT-3.1.2-11], [MQTT-3.1.2-13]; 3.1.1 [MQTT-3.1.2-11], [MQTT-3.1.2-15].
#[test]
fn mqtt_3_1_2_11_will_qos_and_retain_need_the_will_flag() {
    for version in [V311, V5] {
        for flags in [CLEAN | 0x08, CLEAN | 0x10, CLEAN | 0x20] {
            let e = refused(connect(version, flags, &[], &lp(b"c")));
            assert_eq!(
                e.error,
                Malformed::WillFlagsWithoutWill.into(),
                "{flags:#x}"
            );
        }
    }
}

/// 5.0 [MQTT-3.1.2-12]; 3.1.1 [MQTT-3.1.2-14].
#[test]
fn mqtt_3_1_2_12_will_qos_3_is_malformed() {
    let will_v311 = cat(&[&lp(b"c"), &lp(b"w"), &lp(b"x")]);
    let e = refused(connect(V311, CLEAN | 0x04 | 0x18, &[], &will_v311));
    assert_eq!(e.error, Malformed::QoS3.into());
    let will_v5 = cat(&[&lp(b"c"), &[0], &lp(b"w"), &lp(b"x")]);
    let e = refused(connect(V5, CLEAN | 0x04 | 0x18, &[], &will_v5));
    assert_eq!(e.error, Malformed::QoS3.into());
}

/// 5.0 [MQTT-3.1.2-9], [MQTT-3.1.2-16] to [MQTT-3.1.2-19] and [MQTT-3.1.3-1] (3.1.1
/// [MQTT-3.1.2-9], [MQTT-3.1.2-18] to [MQTT-3.1.2-21], [MQTT-3.1.3-1]): each payload
/// field is there exactly when its flag says so, in order.
#[test]
fn mqtt_3_1_2_9_payload_fields_follow_their_flags() {
    for version in [V311, V5] {
        // User name flag without a user name: the packet ends early.
        let e = refused(connect(version, CLEAN | 0x80, &[], &lp(b"c")));
        assert!(
            matches!(e.error, DecodeError::Malformed(Malformed::Truncated { .. })),
            "{e:?}"
        );
        // A user name without its flag: bytes left over.
        let e = refused(connect(version, CLEAN, &[], &cat(&[&lp(b"c"), &lp(b"u")])));
        assert!(
            matches!(
                e.error,
                DecodeError::Malformed(Malformed::TrailingBytes { .. })
            ),
            "{e:?}"
        );
    }
    let c = accepted(connect(
        V311,
        CLEAN | 0x80 | 0x40,
        &[],
        &cat(&[&lp(b"c"), &lp(b"u"), &lp(b"p")]),
    ));
    assert_eq!(
        (c.username.as_deref(), c.password.as_deref()),
        (Some("u"), Some(&b"p"[..]))
    );
}

/// 3.1.1 [MQTT-3.1.2-22]: no password without a user name; 5.0 allows it (§3.1.2.9).
#[test]
fn password_without_user_name() {
    let e = refused(connect(
        V311,
        CLEAN | 0x40,
        &[],
        &cat(&[&lp(b"c"), &lp(b"p")]),
    ));
    assert_eq!(e.error, Malformed::PasswordWithoutUsername.into());
    let c = accepted(connect(
        V5,
        CLEAN | 0x40,
        &[],
        &cat(&[&lp(b"c"), &lp(b"p")]),
    ));
    assert_eq!(
        (c.username, c.password),
        (None, Some(Bytes::from_static(b"p")))
    );
}

/// §3.1.2.11: the CONNECT properties' own rules (Receive Maximum and Maximum Packet
/// Size not 0, booleans 0 or 1, Authentication Data only with a method) are protocol
/// errors, answered with CONNACK 0x82.
#[test]
fn connect_properties_are_validated() {
    for (p, expected) in [
        (
            &[0x21, 0, 0][..],
            Violation::InvalidPropertyValue { id: 0x21, value: 0 },
        ),
        (
            &[0x27, 0, 0, 0, 0],
            Violation::InvalidPropertyValue { id: 0x27, value: 0 },
        ),
        (
            &[0x17, 2],
            Violation::InvalidPropertyValue { id: 0x17, value: 2 },
        ),
        (
            &[0x19, 7],
            Violation::InvalidPropertyValue { id: 0x19, value: 7 },
        ),
        (
            &[0x11, 0, 0, 0, 1, 0x11, 0, 0, 0, 1],
            Violation::DuplicateProperty(0x11),
        ),
        (&[0x16, 0, 1, 9], Violation::AuthDataWithoutMethod),
    ] {
        let e = refused(connect(V5, CLEAN, p, &lp(b"c")));
        assert_eq!(e.error, expected.into(), "{p:x?}");
        assert_eq!(e.connack().map(|c| c.code), Some(ReasonCode::ProtocolError));
    }
}

/// [MQTT-3.1.3-5]: 1 to 23 alphanumerics are always accepted; longer ones too in 3.1.1
/// and 5.0, not in 3.1 (3.1 §3.1: identifier rejected, return code 2).
#[test]
fn mqtt_3_1_3_5_client_identifier_lengths() {
    let id23 = b"abcdefghijklmnopqrstuvw";
    for version in [V31, V311, V5] {
        assert_eq!(
            accepted(connect(version, CLEAN, &[], &lp(id23)))
                .client_id
                .len(),
            23
        );
    }
    let long = [b'x'; 64];
    assert_eq!(
        accepted(connect(V311, CLEAN, &[], &lp(&long)))
            .client_id
            .len(),
        64
    );
    let e = refused(connect(V31, CLEAN, &[], &lp(&long)));
    assert!(matches!(e.error, DecodeError::ClientIdNotValid(_)));
    assert_eq!(e.v3_return_code().map(|c| c.as_u8()), Some(0x02));
}

/// 3.1.1 [MQTT-3.1.3-8]: an empty client id without clean session is refused with 0x02.
/// In 5.0 that is the server's choice ([MQTT-3.1.3-6], [MQTT-3.1.3-8]): the codec passes
/// it on.
#[test]
fn mqtt_3_1_3_8_empty_client_id() {
    let e = refused(connect(V311, 0, &[], &lp(b"")));
    assert!(matches!(e.error, DecodeError::ClientIdNotValid(_)));
    assert_eq!(e.v3_return_code().map(|c| c.as_u8()), Some(0x02));
    assert!(
        accepted(connect(V311, CLEAN, &[], &lp(b"")))
            .client_id
            .is_empty()
    );
    assert!(!accepted(connect(V5, 0, &[], &lp(b""))).clean_start);
}

/// 5.0 [MQTT-3.1.3-11] (3.1.1 [MQTT-3.1.3-10]): the will topic is a topic name, refused
/// with CONNACK 0x90; a will payload said to be UTF-8 must be (0x99).
#[test]
fn mqtt_3_1_3_11_will_topic_and_payload() {
    let will = cat(&[&lp(b"c"), &[0], &lp(b"a/+"), &lp(b"x")]);
    let e = refused(connect(V5, CLEAN | 0x04, &[], &will));
    assert!(
        matches!(e.error, DecodeError::TopicNameInvalid { publish: None, .. }),
        "{e:?}"
    );
    assert_eq!(
        e.connack().map(|c| c.code),
        Some(ReasonCode::TopicNameInvalid)
    );
    let will = cat(&[&lp(b"c"), &props(&[0x01, 1]), &lp(b"w"), &lp(&[0xFF])]);
    let e = refused(connect(V5, CLEAN | 0x04, &[], &will));
    assert_eq!(e.error, DecodeError::PayloadFormatInvalid { publish: None });
    assert_eq!(
        e.connack().map(|c| c.code),
        Some(ReasonCode::PayloadFormatInvalid)
    );
    let will = cat(&[&lp(b"c"), &lp(&[b'w', 0xFF]), &lp(b"x")]);
    let e = refused(connect(V311, CLEAN | 0x04, &[], &will));
    assert_eq!(e.error, Malformed::InvalidUtf8(Field::WillTopic).into());
}

/// 5.0 [MQTT-3.1.3-12] (3.1.1 [MQTT-3.1.3-11]).
#[test]
fn mqtt_3_1_3_12_user_name_is_utf8() {
    for version in [V311, V5] {
        let e = refused(connect(
            version,
            CLEAN | 0x80,
            &[],
            &cat(&[&lp(b"c"), &lp(&[0xFF])]),
        ));
        assert_eq!(e.error, Malformed::InvalidUtf8(Field::Username).into());
    }
}

// ---------------------------------------------------------------------------------------
// 3.2 CONNACK (what a client decodes) and its encoding

/// [MQTT-3.2.2-1] (3.1.1 §3.2.2.1): reserved acknowledge flags; [MQTT-3.2.2-8]: the
/// CONNACK reason codes; Maximum QoS is 0 or 1 (§3.2.2.3.4).
#[test]
fn mqtt_3_2_2_1_connack_is_checked() {
    for version in [V311, V5] {
        let body: &[u8] = if version.is_v5() {
            &[0x02, 0, 0]
        } else {
            &[0x02, 0]
        };
        assert_eq!(
            to_client(version, 0x20, body),
            Err(Malformed::ConnAckReservedFlags.into())
        );
    }
    assert_eq!(
        to_client(V5, 0x20, &[0, 0x8E, 0]),
        Err(Violation::ReasonCodeNotAllowed {
            code: ReasonCode::SessionTakenOver,
            packet: PacketType::ConnAck
        }
        .into())
    );
    assert_eq!(
        to_client(V311, 0x20, &[0, 6]),
        Err(Malformed::UnknownReasonCode {
            code: 6,
            packet: PacketType::ConnAck
        }
        .into())
    );
    assert_eq!(
        to_client(V5, 0x20, &[0, 0, 2, 0x24, 2]),
        Err(Violation::InvalidPropertyValue { id: 0x24, value: 2 }.into())
    );
}

/// 3.1.1 [MQTT-3.2.2-6]: a refusal without a 3.1.1 return code cannot be encoded for a
/// 3.x client (the server closes without CONNACK instead).
#[test]
fn v3_connack_needs_a_v3_return_code() {
    let connack = Packet::ConnAck(Box::new(trident_mqtt::codec::ConnAck::new(
        ReasonCode::PacketTooLarge,
        false,
    )));
    assert_eq!(
        encode(&connack, V311, &mut BytesMut::new()),
        Err(EncodeError::NoV3ReturnCode(ReasonCode::PacketTooLarge))
    );
}

// ---------------------------------------------------------------------------------------
// 3.3 PUBLISH

/// [MQTT-3.3.1-2]: DUP is 0 at QoS 0; the receiver refuses it as Mosquitto does.
#[test]
fn mqtt_3_3_1_2_dup_on_qos_0_is_malformed() {
    assert_eq!(
        to_server(V311, 0x38, &lp(b"t")),
        Err(Malformed::DupOnQoS0.into())
    );
}

/// [MQTT-3.3.1-4] at every version (bad_input.rs has 3.1.1).
#[test]
fn mqtt_3_3_1_4_qos_3_is_malformed() {
    for version in [V31, V5] {
        assert_eq!(
            to_server(version, 0x36, &[0, 1, b'a', 0, 1, 0]),
            Err(Malformed::QoS3.into())
        );
    }
}

/// [MQTT-3.3.2-2], [MQTT-4.7.0-1] (3.1.1 [MQTT-3.3.2-2], [MQTT-4.7.1-1]), [MQTT-4.7.3-1]:
/// no wildcard, not empty; refused with 0x90 and the PUBLISH named, so a 5.0 session
/// can answer with PUBACK/PUBREC 0x90.
#[test]
fn mqtt_3_3_2_2_topic_names() {
    let Err(e) = to_server(V5, 0x32, &[0, 3, b'a', b'/', b'#', 0, 9, 0]) else {
        panic!("refused");
    };
    assert_eq!(e.reason_code(), ReasonCode::TopicNameInvalid);
    assert_eq!(e.publish().and_then(|p| p.packet_id), PacketId::new(9));
    assert!(matches!(
        to_server(V311, 0x30, &lp(b"")),
        Err(DecodeError::TopicNameInvalid {
            reason: TopicError::Empty,
            ..
        })
    ));
}

/// §3.3.2.3.4, [MQTT-3.3.2-8]: an empty topic name needs a Topic Alias, which is not 0.
#[test]
fn mqtt_3_3_2_8_topic_alias() {
    assert_eq!(
        to_server(V5, 0x30, &cat(&[&lp(b""), &[0]])),
        Err(Violation::EmptyTopicWithoutAlias.into())
    );
    assert_eq!(
        to_server(V5, 0x30, &cat(&[&lp(b"t"), &props(&[0x23, 0, 0])])),
        Err(Violation::InvalidPropertyValue { id: 0x23, value: 0 }.into())
    );
    let Ok(Packet::Publish(p)) = to_server(V5, 0x30, &cat(&[&lp(b""), &props(&[0x23, 0, 5])]))
    else {
        panic!("decodes");
    };
    assert_eq!((p.topic.as_str(), p.properties.topic_alias), ("", Some(5)));
}

/// [MQTT-3.3.2-14]: a Response Topic is a topic name.
#[test]
fn mqtt_3_3_2_14_response_topic_has_no_wildcards() {
    let rt = cat(&[&[0x08], &lp(b"reply/#")]);
    assert!(matches!(
        to_server(V5, 0x30, &cat(&[&lp(b"t"), &props(&rt)])),
        Err(DecodeError::Protocol(
            Violation::InvalidResponseTopic { .. }
        ))
    ));
}

/// [MQTT-3.3.4-6]: a client's PUBLISH carries no Subscription Identifier; a server's may
/// carry several ([MQTT-3.3.4-4]).
#[test]
fn mqtt_3_3_4_6_subscription_identifier_only_from_the_server() {
    let body = cat(&[&lp(b"t"), &props(&[0x0B, 1, 0x0B, 2])]);
    assert_eq!(
        to_server(V5, 0x30, &body),
        Err(Violation::SubscriptionIdFromClient.into())
    );
    let Ok(Packet::Publish(p)) = to_client(V5, 0x30, &body) else {
        panic!("decodes");
    };
    assert_eq!(p.properties.subscription_identifiers, vec![1, 2]);
}

/// §3.3.2.3.2: a payload said to be UTF-8 must be (0x99, answered per PUBLISH).
#[test]
fn payload_format_indicator_is_checked() {
    let Err(e) = to_server(
        V5,
        0x32,
        &cat(&[&lp(b"t"), &[0, 4], &props(&[0x01, 1]), &[0xC3]]),
    ) else {
        panic!("refused");
    };
    assert_eq!(e.reason_code(), ReasonCode::PayloadFormatInvalid);
    assert_eq!(e.publish().map(|p| p.qos), Some(QoS::AtLeastOnce));
}

/// §3.2.2.3.4 ([MQTT-3.2.2-11] binds the client): above the server's Maximum QoS is
/// 0x9B.
#[test]
fn qos_above_the_maximum_is_refused() {
    let mut buf = frame(0x34, &[0, 1, b't', 0, 1, 0]);
    let result = Decoder::server(V5)
        .with_maximum_qos(QoS::AtLeastOnce)
        .decode(&mut buf);
    assert_eq!(
        result.map_err(|e| e.reason_code()),
        Err(ReasonCode::QoSNotSupported)
    );
}

// ---------------------------------------------------------------------------------------
// 3.4 to 3.7 publish acknowledgements

/// [MQTT-3.4.2-1], [MQTT-3.5.2-1], [MQTT-3.6.2-1], [MQTT-3.7.2-1]: each has its own
/// reason codes; the short forms (no properties, no reason code) are read.
#[test]
fn mqtt_3_4_2_1_acknowledgement_reason_codes() {
    assert_eq!(
        to_server(V5, 0x40, &[0, 1, 0x92]),
        Err(Violation::ReasonCodeNotAllowed {
            code: ReasonCode::PacketIdentifierNotFound,
            packet: PacketType::PubAck
        }
        .into())
    );
    assert_eq!(
        to_server(V5, 0x62, &[0, 1, 0x10]),
        Err(Violation::ReasonCodeNotAllowed {
            code: ReasonCode::NoMatchingSubscribers,
            packet: PacketType::PubRel
        }
        .into())
    );
    assert_eq!(
        to_server(V5, 0x50, &[0, 1, 0x03]),
        Err(Malformed::UnknownReasonCode {
            code: 3,
            packet: PacketType::PubRec
        }
        .into())
    );
    for body in [&[0, 1][..], &[0, 1, 0x10], &[0, 1, 0x10, 0]] {
        assert!(
            matches!(to_server(V5, 0x40, body), Ok(Packet::PubAck(_))),
            "{body:x?}"
        );
    }
}

/// [MQTT-3.4.2-2], [MQTT-3.4.2-3] (and the same for PUBREC, PUBREL, PUBCOMP, SUBACK,
/// UNSUBACK, DISCONNECT, AUTH, CONNACK [MQTT-3.2.2-19], [MQTT-3.2.2-20]): a packet too
/// large for the peer loses its Reason String, then its User Properties; a PUBLISH that
/// does not fit is not sent ([MQTT-3.1.2-24], [MQTT-3.1.2-25]), and nothing is written.
#[test]
fn mqtt_3_4_2_2_too_large_packets_shed_diagnostics_or_are_not_sent() {
    let ack = Packet::PubAck(PubAck {
        packet_id: PacketId::new(1).expect("non-zero"),
        reason: ReasonCode::QuotaExceeded,
        properties: AckProperties {
            reason_string: Some("x".repeat(40)),
            user_properties: vec![("k".into(), "v".repeat(20))],
        },
    });
    let mut out = BytesMut::new();
    let fitted = encode_within(&ack, V5, Some(40), &mut out).expect("fits without the string");
    assert!(fitted.dropped_reason_string && !fitted.dropped_user_properties);
    assert!(out.len() <= 40);
    let mut out = BytesMut::new();
    let fitted = encode_within(&ack, V5, Some(8), &mut out).expect("fits bare");
    assert!(fitted.dropped_reason_string && fitted.dropped_user_properties);
    assert_eq!(&out[..], &[0x40, 0x03, 0, 1, 0x97]);
    let publish = Packet::Publish(Publish::new("t", Bytes::from(vec![0; 100])));
    let mut out = BytesMut::new();
    assert!(matches!(
        encode_within(&publish, V5, Some(64), &mut out),
        Err(EncodeError::PacketTooLarge { max: 64, .. })
    ));
    assert!(out.is_empty());
}

// ---------------------------------------------------------------------------------------
// 3.8 to 3.11 SUBSCRIBE, SUBACK, UNSUBSCRIBE, UNSUBACK

/// 5.0 [MQTT-3.8.3-2], [MQTT-3.10.3-2] (3.1.1 [MQTT-3.8.3-3], [MQTT-3.10.3-2]), and
/// for the answers §3.9.3, §3.11.3: the lists are not empty.
#[test]
fn mqtt_3_8_3_2_lists_are_not_empty() {
    assert_eq!(
        to_server(V311, 0x82, &[0, 1]),
        Err(Violation::EmptyPayload(PacketType::Subscribe).into())
    );
    assert_eq!(
        to_server(V5, 0xA2, &[0, 1, 0]),
        Err(Violation::EmptyPayload(PacketType::Unsubscribe).into())
    );
    assert_eq!(
        to_client(V5, 0x90, &[0, 1, 0]),
        Err(Violation::EmptyPayload(PacketType::SubAck).into())
    );
}

/// 5.0 [MQTT-3.8.3-5], §3.8.3.1; 3.1.1 [MQTT-3-8.3-4]: the subscription options byte.
#[test]
fn mqtt_3_8_3_5_subscription_options() {
    let sub = |version: ProtocolVersion, options: u8| {
        let mut body = vec![0, 1];
        if version.is_v5() {
            body.push(0);
        }
        body.extend(lp(b"a"));
        body.push(options);
        to_server(version, 0x82, &body)
    };
    assert_eq!(
        sub(V5, 0x40),
        Err(Malformed::SubscriptionOptionsReserved(0x40).into())
    );
    assert_eq!(sub(V5, 0x03), Err(Violation::SubscriptionQoS3.into()));
    assert_eq!(sub(V5, 0x30), Err(Violation::RetainHandling3.into()));
    assert_eq!(
        sub(V311, 0x04),
        Err(Malformed::SubscriptionOptionsReserved(0x04).into())
    );
    assert_eq!(sub(V311, 0x03), Err(Malformed::QoS3.into()));
    let Ok(Packet::Subscribe(s)) = sub(V5, 0b0010_1110) else {
        panic!("decodes");
    };
    let o = s.subscriptions[0].options;
    assert!(o.no_local && o.retain_as_published && o.qos == QoS::ExactlyOnce);
}

/// [MQTT-3.8.3-4]: No Local on a shared subscription.
#[test]
fn mqtt_3_8_3_4_no_local_on_a_shared_subscription() {
    let body = cat(&[&[0, 1, 0], &lp(b"$share/g/a"), &[0x04]]);
    assert_eq!(
        to_server(V5, 0x82, &body),
        Err(Violation::NoLocalOnShared("$share/g/a".into()).into())
    );
}

/// §3.8.2.1.2: a Subscription Identifier is 1 to 268,435,455 and appears once.
#[test]
fn subscription_identifier_in_subscribe() {
    let sub = |p: &[u8]| to_server(V5, 0x82, &cat(&[&[0, 1], &props(p), &lp(b"a"), &[0]]));
    assert_eq!(
        sub(&[0x0B, 0]),
        Err(Violation::InvalidPropertyValue { id: 0x0B, value: 0 }.into())
    );
    assert_eq!(
        sub(&[0x0B, 1, 0x0B, 2]),
        Err(Violation::DuplicateProperty(0x0B).into())
    );
    let Ok(Packet::Subscribe(s)) = sub(&[0x0B, 0xFF, 0xFF, 0xFF, 0x7F]) else {
        panic!("decodes");
    };
    assert_eq!(s.properties.subscription_identifier, Some(268_435_455));
}

/// 5.0 [MQTT-4.7.1-1], [MQTT-4.7.1-2], [MQTT-4.7.3-1], [MQTT-4.8.2-1], [MQTT-4.8.2-2]
/// (3.1.1 [MQTT-4.7.1-2], [MQTT-4.7.1-3], [MQTT-4.7.3-1]) in SUBSCRIBE and UNSUBSCRIBE:
/// refused with 0x8F.
#[test]
fn mqtt_4_7_1_1_topic_filters() {
    for (filter, reason) in [
        (&b"a/#/b"[..], TopicError::MultiLevelMisplaced),
        (b"a#", TopicError::MultiLevelMisplaced),
        (b"a/b+", TopicError::SingleLevelMisplaced),
        (b"", TopicError::Empty),
        (b"$share//a", TopicError::EmptyShareName),
        (b"$share/g+/a", TopicError::WildcardInShareName),
        (b"$share/g", TopicError::MissingSharedFilter),
    ] {
        let sub = to_server(V311, 0x82, &cat(&[&[0, 1], &lp(filter), &[0]]));
        let unsub = to_server(V5, 0xA2, &cat(&[&[0, 1, 0], &lp(filter)]));
        for result in [sub, unsub] {
            let Err(DecodeError::TopicFilterInvalid { reason: got, .. }) = result else {
                panic!("{filter:?}: {result:?}");
            };
            assert_eq!(got, reason);
        }
    }
}

/// [MQTT-3.9.3-2], [MQTT-3.11.3-2]: the SUBACK and UNSUBACK reason codes (3.1.1: 0x00,
/// 0x01, 0x02, 0x80 only).
#[test]
fn mqtt_3_9_3_2_suback_and_unsuback_codes() {
    assert_eq!(
        to_client(V5, 0x90, &[0, 1, 0, 0x11]),
        Err(Violation::ReasonCodeNotAllowed {
            code: ReasonCode::NoSubscriptionExisted,
            packet: PacketType::SubAck
        }
        .into())
    );
    assert_eq!(
        to_client(V311, 0x90, &[0, 1, 0x83]),
        Err(Malformed::UnknownReasonCode {
            code: 0x83,
            packet: PacketType::SubAck
        }
        .into())
    );
    assert_eq!(
        to_client(V5, 0xB0, &[0, 1, 0, 0x01]),
        Err(Violation::ReasonCodeNotAllowed {
            code: ReasonCode::GrantedQoS1,
            packet: PacketType::UnsubAck
        }
        .into())
    );
}

// ---------------------------------------------------------------------------------------
// 3.12 to 3.15 PINGREQ, DISCONNECT, AUTH

/// PINGREQ and a 3.x DISCONNECT have no body.
#[test]
fn bodiless_packets_have_no_body() {
    assert!(matches!(
        to_server(V311, 0xC0, &[0]),
        Err(DecodeError::Malformed(Malformed::TrailingBytes { .. }))
    ));
    assert!(matches!(
        to_server(V311, 0xE0, &[0]),
        Err(DecodeError::Malformed(Malformed::TrailingBytes { .. }))
    ));
}

/// [MQTT-3.14.2-1]: the DISCONNECT reason codes; [MQTT-3.14.2-2]: a server sends no
/// Session Expiry Interval.
#[test]
fn mqtt_3_14_2_1_disconnect() {
    assert_eq!(
        to_server(V5, 0xE0, &[0x8C, 0]),
        Err(Violation::ReasonCodeNotAllowed {
            code: ReasonCode::BadAuthenticationMethod,
            packet: PacketType::Disconnect
        }
        .into())
    );
    let expiry = cat(&[&[0], &props(&[0x11, 0, 0, 0, 9])]);
    assert!(matches!(
        to_server(V5, 0xE0, &expiry),
        Ok(Packet::Disconnect(_))
    ));
    assert_eq!(
        to_client(V5, 0xE0, &expiry),
        Err(Violation::SessionExpiryFromServer.into())
    );
}

/// [MQTT-3.15.2-1]: the AUTH reason codes; §3.15.2.2.2: the method is required.
#[test]
fn mqtt_3_15_2_1_auth() {
    assert_eq!(
        to_server(V5, 0xF0, &[0x87, 0]),
        Err(Violation::ReasonCodeNotAllowed {
            code: ReasonCode::NotAuthorized,
            packet: PacketType::Auth
        }
        .into())
    );
    assert_eq!(
        to_server(V5, 0xF0, &[0x18, 0]),
        Err(Violation::AuthWithoutMethod.into())
    );
    let method = cat(&[&[0x18], &props(&cat(&[&[0x15], &lp(b"SCRAM-SHA-1")]))]);
    assert!(matches!(to_server(V5, 0xF0, &method), Ok(Packet::Auth(_))));
    assert!(matches!(to_server(V5, 0xF0, &[]), Ok(Packet::Auth(_))));
}

// ---------------------------------------------------------------------------------------
// Maximum Packet Size

/// §3.2.2.3.6 ([MQTT-3.2.2-15] binds the client): a packet above the server's Maximum
/// Packet Size is refused with 0x95 from its fixed header; the limit counts the whole
/// packet, so one of exactly the limit is accepted.
#[test]
fn maximum_packet_size_counts_the_whole_packet() {
    let packet = frame(0x30, &cat(&[&lp(b"t"), &[0], &[7; 20]]));
    let size = u32::try_from(packet.len()).expect("small");
    let mut buf = packet.clone();
    assert!(matches!(
        Decoder::server(V5)
            .with_max_packet_size(size)
            .decode(&mut buf),
        Ok(Some(Packet::Publish(_)))
    ));
    let mut buf = packet.clone();
    let result = Decoder::server(V5)
        .with_max_packet_size(size - 1)
        .decode(&mut buf);
    assert_eq!(
        result.map_err(|e| e.reason_code()),
        Err(ReasonCode::PacketTooLarge)
    );
    // The first packet too: a CONNECT above the limit.
    let connect = connect(V5, CLEAN, &[], &lp(&[b'c'; 40]));
    let mut buf = connect.clone();
    let e = decode_connect(&mut buf, 20).expect_err("too large");
    assert!(matches!(
        e.error,
        DecodeError::PacketTooLarge { max: 20, .. }
    ));
}
