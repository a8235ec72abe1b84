//! Property tests of the codec: every valid packet of every type survives encode then
//! decode unchanged (3.1, 3.1.1 and 5.0 with properties, both directions), in one piece
//! or cut into arbitrary chunks; arbitrary and mutated bytes never panic the decoders,
//! and what they accept re-encodes to the same packet; a decoder never holds more than
//! the bytes it was given, whatever length the bytes claim.
//!
//! The case count is proptest's (256, or PROPTEST_CASES: CI sets 64), so no test here
//! fixes its own.

mod support;

use bytes::BytesMut;
use proptest::prelude::*;
use support::{any_packet, connect, version};
use trident_mqtt::codec::{
    DecodeError, Decoder, EncodeError, MAX_PACKET_SIZE, Packet, ProtocolVersion, Side,
    decode_connect, encode, encode_within, encoded_len, peek_header,
};

fn encode_to_vec(packet: &Packet, version: ProtocolVersion) -> Vec<u8> {
    let mut buf = BytesMut::new();
    let n = encode(packet, version, &mut buf).expect("a valid packet encodes");
    assert_eq!(n, buf.len());
    assert_eq!(encoded_len(packet, version).expect("measures"), n);
    buf.to_vec()
}

/// Decodes everything in `buf` with `decoder` until it wants more bytes or fails.
fn decode_all(decoder: &Decoder, buf: &mut BytesMut) -> (Vec<Packet>, Option<DecodeError>) {
    let mut out = Vec::new();
    loop {
        match decoder.decode(buf) {
            Ok(Some(p)) => out.push(p),
            Ok(None) => return (out, None),
            Err(e) => return (out, Some(e)),
        }
    }
}

/// The heap a decoded packet owns, in bytes (capacities, not lengths). Payloads and
/// binary fields are slices of the read buffer and own nothing.
fn owned_heap(packet: &Packet) -> usize {
    use std::mem::size_of;
    let s = |x: &String| x.capacity();
    let os = |x: &Option<String>| x.as_ref().map_or(0, String::capacity);
    let users = |u: &Vec<(String, String)>| {
        u.capacity() * size_of::<(String, String)>()
            + u.iter().map(|(a, b)| s(a) + s(b)).sum::<usize>()
    };
    match packet {
        Packet::Connect(c) => {
            s(&c.client_id)
                + os(&c.username)
                + users(&c.properties.user_properties)
                + os(&c.properties.authentication_method)
                + c.will.as_ref().map_or(0, |w| {
                    s(&w.topic)
                        + users(&w.properties.message.user_properties)
                        + os(&w.properties.message.content_type)
                        + os(&w.properties.message.response_topic)
                })
                + size_of::<trident_mqtt::codec::Connect>()
        }
        Packet::ConnAck(c) => {
            let p = &c.properties;
            users(&p.user_properties)
                + os(&p.assigned_client_identifier)
                + os(&p.reason_string)
                + os(&p.response_information)
                + os(&p.server_reference)
                + os(&p.authentication_method)
                + size_of::<trident_mqtt::codec::ConnAck>()
        }
        Packet::Publish(p) => {
            let m = &p.properties.message;
            s(&p.topic)
                + users(&m.user_properties)
                + os(&m.content_type)
                + os(&m.response_topic)
                + p.properties.subscription_identifiers.capacity() * size_of::<u32>()
        }
        Packet::PubAck(a) => os(&a.properties.reason_string) + users(&a.properties.user_properties),
        Packet::PubRec(a) => os(&a.properties.reason_string) + users(&a.properties.user_properties),
        Packet::PubRel(a) => os(&a.properties.reason_string) + users(&a.properties.user_properties),
        Packet::PubComp(a) => {
            os(&a.properties.reason_string) + users(&a.properties.user_properties)
        }
        Packet::Subscribe(p) => {
            p.subscriptions.capacity() * size_of::<trident_mqtt::codec::Subscription>()
                + p.subscriptions.iter().map(|x| s(&x.filter)).sum::<usize>()
                + users(&p.properties.user_properties)
        }
        Packet::SubAck(p) => {
            p.reason_codes.capacity()
                + os(&p.properties.reason_string)
                + users(&p.properties.user_properties)
        }
        Packet::Unsubscribe(p) => {
            p.filters.capacity() * size_of::<String>()
                + p.filters.iter().map(s).sum::<usize>()
                + users(&p.properties.user_properties)
        }
        Packet::UnsubAck(p) => {
            p.reason_codes.capacity()
                + os(&p.properties.reason_string)
                + users(&p.properties.user_properties)
        }
        Packet::PingReq | Packet::PingResp => 0,
        Packet::Disconnect(d) => {
            os(&d.properties.reason_string)
                + os(&d.properties.server_reference)
                + users(&d.properties.user_properties)
        }
        Packet::Auth(a) => {
            os(&a.properties.authentication_method)
                + os(&a.properties.reason_string)
                + users(&a.properties.user_properties)
        }
    }
}

/// What a decoder may own per byte of packet: a list of tiny entries in a `Vec` that
/// doubled is the worst case (an UNSUBSCRIBE filter is a 24-byte `String` for 3 bytes
/// of wire, a user property 48 bytes of tuple for 5), about 16 per byte; twice that
/// leaves room, and still says the heap follows the bytes, not a claimed length.
const HEAP_PER_WIRE_BYTE: usize = 32;

fn assert_heap_bounded(packet: &Packet, wire_len: usize) {
    let heap = owned_heap(packet);
    assert!(
        heap <= HEAP_PER_WIRE_BYTE * wire_len + 512,
        "{heap} bytes of heap for a {wire_len}-byte packet: {packet:?}"
    );
}

proptest! {
    /// decode(encode(p)) == p for every packet type after CONNECT, each version, both
    /// sides; the decoder consumes exactly the packet.
    #[test]
    fn packets_round_trip((version, side, packet) in any_packet()) {
        let bytes = encode_to_vec(&packet, version);
        let mut buf = BytesMut::from(&bytes[..]);
        let decoded = Decoder::new(side, version).decode(&mut buf);
        prop_assert_eq!(decoded, Ok(Some(packet)));
        prop_assert!(buf.is_empty());
    }

    /// CONNECT goes through `decode_connect`, which finds the version by itself.
    #[test]
    fn connect_round_trips(c in version().prop_flat_map(connect)) {
        let packet = Packet::Connect(Box::new(c.clone()));
        let bytes = encode_to_vec(&packet, c.version);
        let mut buf = BytesMut::from(&bytes[..]);
        prop_assert_eq!(decode_connect(&mut buf, MAX_PACKET_SIZE), Ok(Some(c)));
        prop_assert!(buf.is_empty());
    }

    /// Under a peer's Maximum Packet Size a packet is written whole if it fits; else
    /// (5.0) it loses its Reason String, then its User Properties, and nothing else; else
    /// nothing is written ([MQTT-3.1.2-24], [MQTT-3.4.2-2], [MQTT-3.4.2-3] and the
    /// like). What is written fits and decodes to the packet less what was dropped.
    #[test]
    fn encode_within_fits_or_writes_nothing(
        (version, side, packet) in any_packet(),
        max in 2u32..160,
    ) {
        let full = encoded_len(&packet, version).expect("measures");
        let mut out = BytesMut::new();
        match encode_within(&packet, version, Some(max), &mut out) {
            Ok(fitted) => {
                prop_assert_eq!(fitted.len, out.len());
                prop_assert!(out.len() <= max as usize);
                let mut expected = packet.clone();
                if let Some((reason, users)) = expected.diagnostics_mut() {
                    if fitted.dropped_reason_string {
                        *reason = None;
                    }
                    if fitted.dropped_user_properties {
                        users.clear();
                    }
                }
                let dropped = fitted.dropped_reason_string || fitted.dropped_user_properties;
                prop_assert_eq!(dropped, full > max as usize);
                prop_assert!(!dropped || version.is_v5());
                let decoded = Decoder::new(side, version).decode(&mut out);
                prop_assert_eq!(decoded, Ok(Some(expected)));
            }
            Err(EncodeError::PacketTooLarge { size, .. }) => {
                prop_assert_eq!(size, full);
                prop_assert!(full > max as usize);
                prop_assert!(out.is_empty());
            }
            Err(e) => prop_assert!(false, "{}", e),
        }
    }

    /// A stream of packets delivered in arbitrary pieces decodes to the same packets:
    /// an incomplete packet is `None` and takes nothing off the buffer.
    #[test]
    fn chunked_stream_decodes_the_same(
        (version, side, packets) in (version(), prop::sample::select(vec![Side::Server, Side::Client]))
            .prop_flat_map(|(v, side)| {
                prop::collection::vec(support::packet_after_connect(v, side), 1..6)
                    .prop_map(move |ps| (v, side, ps))
            }),
        cuts in prop::collection::vec(1usize..40, 0..20),
    ) {
        let stream: Vec<u8> = packets.iter().flat_map(|p| encode_to_vec(p, version)).collect();
        let decoder = Decoder::new(side, version);
        let mut buf = BytesMut::new();
        let mut got = Vec::new();
        let mut at = 0usize;
        for step in cuts.into_iter().chain(std::iter::once(usize::MAX)) {
            let end = at.saturating_add(step).min(stream.len());
            buf.extend_from_slice(&stream[at..end]);
            at = end;
            let before = buf.len();
            let (ps, err) = decode_all(&decoder, &mut buf);
            prop_assert!(err.is_none(), "{:?}", err);
            if ps.is_empty() {
                prop_assert_eq!(buf.len(), before, "an incomplete packet took bytes");
            }
            got.extend(ps);
            if at == stream.len() {
                break;
            }
        }
        prop_assert!(buf.is_empty());
        prop_assert_eq!(got, packets);
    }

    /// Arbitrary bytes, for every version and side, with a small and with no packet
    /// limit: no panic, an error or a packet, never holding more than was given.
    #[test]
    fn arbitrary_bytes_never_panic(
        bytes in prop::collection::vec(any::<u8>(), 0..600),
        version in version(),
        server in any::<bool>(),
        small_limit in any::<bool>(),
    ) {
        let side = if server { Side::Server } else { Side::Client };
        let max = if small_limit { 128 } else { MAX_PACKET_SIZE };
        let decoder = Decoder::new(side, version).with_max_packet_size(max);
        let mut buf = BytesMut::from(&bytes[..]);
        let (packets, _) = decode_all(&decoder, &mut buf);
        for p in &packets {
            assert_heap_bounded(p, bytes.len());
        }
        let mut buf = BytesMut::from(&bytes[..]);
        if let Ok(Some(c)) = decode_connect(&mut buf, max) {
            assert_heap_bounded(&Packet::Connect(Box::new(c)), bytes.len());
        }
    }

    /// Valid packets with a few bytes changed, cut short or extended: no panic, and a
    /// packet the decoder still accepts is one it can re-encode and decode to itself
    /// (the decoder accepts nothing the encoder cannot say).
    #[test]
    fn mutated_packets_decode_to_re_encodable_packets(
        (version, side, packet) in any_packet(),
        edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..4),
        cut in prop::option::of(any::<prop::sample::Index>()),
        tail in prop::collection::vec(any::<u8>(), 0..3),
    ) {
        let mut bytes = encode_to_vec(&packet, version);
        for (at, b) in edits {
            let i = at.index(bytes.len());
            bytes[i] = b;
        }
        if let Some(cut) = cut {
            bytes.truncate(cut.index(bytes.len() + 1));
        }
        bytes.extend(tail);
        let decoder = Decoder::new(side, version);
        let mut buf = BytesMut::from(&bytes[..]);
        let (packets, _) = decode_all(&decoder, &mut buf);
        for p in packets {
            assert_heap_bounded(&p, bytes.len());
            let again = encode_to_vec(&p, version);
            let mut buf = BytesMut::from(&again[..]);
            prop_assert_eq!(decoder.decode(&mut buf), Ok(Some(p)));
        }
    }

    /// The same for CONNECT, where a mutation can also change the version.
    #[test]
    fn mutated_connects_decode_to_re_encodable_connects(
        c in version().prop_flat_map(connect),
        edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..4),
    ) {
        let version = c.version;
        let mut bytes = encode_to_vec(&Packet::Connect(Box::new(c)), version);
        for (at, b) in edits {
            let i = at.index(bytes.len());
            bytes[i] = b;
        }
        let mut buf = BytesMut::from(&bytes[..]);
        match decode_connect(&mut buf, MAX_PACKET_SIZE) {
            Ok(Some(c)) => {
                let version = c.version;
                let again = encode_to_vec(&Packet::Connect(Box::new(c.clone())), version);
                let mut buf = BytesMut::from(&again[..]);
                prop_assert_eq!(decode_connect(&mut buf, MAX_PACKET_SIZE), Ok(Some(c)));
            }
            Ok(None) => {}
            // Whatever the error, the CONNACK it asks for exists in its version.
            Err(e) => {
                if let Some(refusal) = e.connack()
                    && !refusal.version.is_v5()
                {
                    prop_assert!(refusal.code.to_v3_connack().is_some(), "{:?}", e);
                }
            }
        }
    }

    /// A fixed header announcing more than the limit is refused from the header alone,
    /// and one announcing a packet that has not fully arrived waits: in both cases the
    /// caller's buffer is left exactly as it was (nothing reserved for the claim).
    #[test]
    fn length_claims_reserve_nothing(
        first in 0x10u8..=0xff,
        claimed in 0u32..=268_435_455,
        present in prop::collection::vec(any::<u8>(), 0..64),
        limit in 2u32..=4096,
        version in version(),
    ) {
        let mut wire = vec![first];
        let mut v = claimed;
        loop {
            let b = (v & 0x7f) as u8;
            v >>= 7;
            if v == 0 { wire.push(b); break; }
            wire.push(b | 0x80);
        }
        let header_len = wire.len();
        let body = present.len().min(claimed as usize);
        wire.extend_from_slice(&present[..body]);
        let mut buf = BytesMut::from(&wire[..]);
        let capacity = buf.capacity();
        let decoder = Decoder::server(version).with_max_packet_size(limit);
        let result = decoder.decode(&mut buf);
        let size = header_len as u64 + u64::from(claimed);
        if size > u64::from(limit) {
            let refused_early = matches!(
                result,
                Err(DecodeError::PacketTooLarge { .. } | DecodeError::Malformed(_))
            );
            prop_assert!(refused_early, "{:?}", result);
            prop_assert_eq!(&buf[..], &wire[..]);
            prop_assert_eq!(buf.capacity(), capacity);
        } else if (body as u32) < claimed {
            let waits = matches!(result, Ok(None) | Err(DecodeError::Malformed(_)));
            prop_assert!(waits, "{:?}", result);
            prop_assert_eq!(&buf[..], &wire[..]);
            prop_assert_eq!(buf.capacity(), capacity);
        }
        // The header alone agrees with the decoder on what the packet weighs.
        if let Ok(Some(h)) = peek_header(&wire, Some(version), MAX_PACKET_SIZE) {
            prop_assert_eq!(h.packet_size() as u64, size);
        }
    }
}
