use super::*;
use proptest::prelude::*;
use std::sync::Arc;
use trident_core::{Arrival, FieldTable, FieldValue, MatchedBindings};

fn arb_string() -> impl Strategy<Value = String> {
    prop_oneof![Just(String::new()), ".{0,12}"]
}

fn arb_bytes() -> impl Strategy<Value = Bytes> {
    proptest::collection::vec(any::<u8>(), 0..40).prop_map(Bytes::from)
}

fn arb_value() -> impl Strategy<Value = FieldValue> {
    let leaf = prop_oneof![
        Just(FieldValue::Void),
        any::<bool>().prop_map(FieldValue::Bool),
        any::<i8>().prop_map(FieldValue::I8),
        any::<u8>().prop_map(FieldValue::U8),
        any::<i16>().prop_map(FieldValue::I16),
        any::<u16>().prop_map(FieldValue::U16),
        any::<i32>().prop_map(FieldValue::I32),
        any::<u32>().prop_map(FieldValue::U32),
        any::<i64>().prop_map(FieldValue::I64),
        any::<u64>().prop_map(FieldValue::U64),
        // NaN != NaN would fail the equality check; NaN bits get their own test.
        proptest::num::f32::NORMAL.prop_map(FieldValue::F32),
        proptest::num::f64::NORMAL.prop_map(FieldValue::F64),
        (any::<u8>(), any::<u32>()).prop_map(|(scale, value)| FieldValue::Decimal { scale, value }),
        arb_string().prop_map(FieldValue::ShortString),
        arb_string().prop_map(FieldValue::LongString),
        arb_bytes().prop_map(FieldValue::Bytes),
        any::<u64>().prop_map(FieldValue::Timestamp),
    ];
    leaf.prop_recursive(4, 32, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6).prop_map(FieldValue::Array),
            proptest::collection::vec((arb_string(), inner), 0..6)
                .prop_map(|v| FieldValue::Table(FieldTable(v))),
        ]
    })
}

fn arb_opt_string() -> impl Strategy<Value = Option<String>> {
    proptest::option::of(arb_string())
}

prop_compose! {
    fn arb_properties()(
        s in proptest::collection::vec(arb_opt_string(), 10),
        delivery_mode in proptest::option::of(any::<u8>()),
        priority in proptest::option::of(any::<u8>()),
        timestamp in proptest::option::of(any::<u64>()),
    ) -> Properties {
        let mut s = s.into_iter();
        let mut n = || s.next().flatten();
        Properties {
            content_type: n(), content_encoding: n(), delivery_mode, priority,
            correlation_id: n(), reply_to: n(), expiration: n(), message_id: n(),
            timestamp, kind: n(), user_id: n(), app_id: n(), cluster_id: n(),
        }
    }
}

prop_compose! {
    fn arb_mqtt()(
        payload_format_utf8 in proptest::option::of(any::<bool>()),
        message_expiry_secs in proptest::option::of(any::<u32>()),
        content_type in arb_opt_string(),
        response_topic in arb_opt_string(),
        correlation_data in proptest::option::of(arb_bytes()),
        user_properties in proptest::collection::vec((arb_string(), arb_string()), 0..4),
    ) -> MqttProperties {
        MqttProperties { payload_format_utf8, message_expiry_secs, content_type, response_topic, correlation_data, user_properties }
    }
}

prop_compose! {
    fn arb_message()(
        body in arb_bytes(),
        key in proptest::option::of(arb_bytes()),
        headers in proptest::collection::vec((arb_string(), arb_value()), 0..6),
        properties in arb_properties(),
        mqtt in proptest::option::of(arb_mqtt()),
        timestamp_ms in any::<i64>(),
        persistent in any::<bool>(),
        exchange in arb_string(),
        routing_key in arb_string(),
        origin in arb_opt_string(),
    ) -> Message {
        Message {
            body, key, headers: FieldTable(headers), properties, mqtt: mqtt.map(Box::new), timestamp_ms,
            delivery_mode: if persistent { DeliveryMode::Persistent } else { DeliveryMode::Transient },
            exchange, routing_key, origin: origin.map(Arc::from),
        }
    }
}

prop_compose! {
    fn arb_arrival()(
        tables in proptest::collection::vec(
            proptest::collection::vec((arb_string(), arb_value()), 0..4), 0..4),
        replayed in any::<bool>(),
    ) -> Arrival {
        Arrival {
            matched: MatchedBindings::from_tables(
                tables.into_iter().map(|t| Arc::new(FieldTable(t)))),
            replayed,
        }
    }
}

fn encode(m: &Message) -> Bytes {
    let mut v = Vec::new();
    encode_message(m, &mut v);
    Bytes::from(v)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn round_trip(m in arb_message()) {
        let enc = encode(&m);
        let dec = decode_message(&enc).unwrap();
        prop_assert_eq!(&dec, &m);
    }

    #[test]
    fn arrival_round_trip(a in arb_arrival(), tail in arb_bytes()) {
        let mut v = Vec::new();
        encode_arrival(&a, &mut v);
        let used = v.len();
        v.extend_from_slice(&tail);
        let (dec, n) = decode_arrival(&Bytes::from(v)).unwrap();
        prop_assert_eq!(n, used);
        prop_assert_eq!(dec, a);
    }

    #[test]
    fn arbitrary_arrivals_never_panic(data in proptest::collection::vec(any::<u8>(), 0..128)) {
        let _ = decode_arrival(&Bytes::from(data));
    }

    #[test]
    fn arbitrary_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..256)) {
        let _ = decode_message(&Bytes::from(data));
    }

    #[test]
    fn mutated_encodings_never_panic(m in arb_message(), at in any::<usize>(), x in 1u8..=255, cut in any::<usize>()) {
        let mut v = encode(&m).to_vec();
        let i = at % v.len();
        v[i] ^= x;
        let _ = decode_message(&Bytes::from(v.clone()));
        v.truncate(cut % (v.len() + 1));
        let _ = decode_message(&Bytes::from(v));
    }
}

#[test]
fn key_none_and_empty_differ() {
    let a = Message {
        key: None,
        ..Message::default()
    };
    let b = Message {
        key: Some(Bytes::new()),
        ..Message::default()
    };
    assert_ne!(encode(&a), encode(&b));
    assert_eq!(decode_message(&encode(&a)).unwrap().key, None);
    assert_eq!(decode_message(&encode(&b)).unwrap().key, Some(Bytes::new()));
}

#[test]
fn nan_bits_survive() {
    let nan = f64::from_bits(0x7ff8_dead_beef_0001);
    let mut m = Message::default();
    m.headers.insert("n", FieldValue::F64(nan));
    m.headers
        .insert("f", FieldValue::F32(f32::from_bits(0x7fc0_1234)));
    let d = decode_message(&encode(&m)).unwrap();
    match (d.headers.get("n"), d.headers.get("f")) {
        (Some(FieldValue::F64(x)), Some(FieldValue::F32(y))) => {
            assert_eq!(x.to_bits(), nan.to_bits());
            assert_eq!(y.to_bits(), 0x7fc0_1234);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn deep_nesting_is_refused_not_overflowed() {
    let mut v = FieldValue::Void;
    for _ in 0..(MAX_DEPTH + 5) {
        v = FieldValue::Array(vec![v]);
    }
    let mut m = Message::default();
    m.headers.insert("deep", v);
    assert_eq!(decode_message(&encode(&m)), Err(CodecError::TooDeep));
    // A hand-made input claiming huge nesting: tag 18, count 1, repeated.
    let mut raw = vec![VERSION, 0];
    raw.extend_from_slice(&0i64.to_le_bytes());
    raw.extend_from_slice(&[0, 0]); // empty exchange and routing key
    raw.extend_from_slice(&0u16.to_le_bytes());
    raw.extend_from_slice(&[1, 1, b'x']);
    for _ in 0..100_000 {
        raw.extend_from_slice(&[18, 1]);
    }
    assert_eq!(decode_message(&Bytes::from(raw)), Err(CodecError::TooDeep));
}

#[test]
fn huge_counts_do_not_allocate() {
    let mut raw = vec![VERSION, 0];
    raw.extend_from_slice(&0i64.to_le_bytes());
    raw.extend_from_slice(&[0, 0]); // empty exchange and routing key
    raw.extend_from_slice(&0u16.to_le_bytes());
    raw.extend_from_slice(&[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f]);
    assert_eq!(
        decode_message(&Bytes::from(raw)),
        Err(CodecError::Truncated)
    );
}

#[test]
fn trailing_bytes_are_rejected() {
    let mut v = encode(&Message::new("x")).to_vec();
    v.push(0);
    assert_eq!(
        decode_message(&Bytes::from(v)),
        Err(CodecError::Trailing(1))
    );
}

#[test]
fn messages_without_origin_keep_the_first_layout() {
    let mut m = Message::new("body");
    m.routing_key = "rk".into();
    let enc = encode(&m);
    assert_eq!(enc[0], 1);
    // Bytes an older build wrote: version 1, flags 0, timestamp 5, exchange "",
    // routing key "k", no properties, no headers, body "b".
    let mut old = vec![1, 0];
    old.extend_from_slice(&5i64.to_le_bytes());
    old.extend_from_slice(&[0, 1, b'k', 0, 0, 0, 1, b'b']);
    let d = decode_message(&Bytes::from(old)).unwrap();
    assert_eq!(
        (d.timestamp_ms, d.routing_key.as_str(), &d.body[..]),
        (5, "k", &b"b"[..])
    );
    assert_eq!(d.origin, None);

    m.origin = Some(Arc::from("client-7"));
    let enc = encode(&m);
    assert_eq!(enc[0], 2);
    assert_eq!(
        decode_message(&enc).unwrap().origin.as_deref(),
        Some("client-7")
    );
    // Version 1 cannot carry the origin flag.
    let mut bad = enc.to_vec();
    bad[0] = 1;
    assert_eq!(
        decode_message(&Bytes::from(bad)),
        Err(CodecError::Invalid("flags"))
    );
}
