//! Property tests of the codec: no byte string panics the decoders, and our codec
//! agrees with an independent one (amq-protocol, the codec under lapin) in both
//! directions.

#![allow(clippy::unwrap_used)]

use amq_protocol::frame::{AMQPContentHeader, AMQPFrame, WriteContext, gen_frame, parse_frame};
use amq_protocol::protocol::{AMQPClass, BasicProperties, basic, exchange, queue};
use amq_protocol::types::{AMQPValue, FieldTable as AmqTable, LongString, ShortString};
use bytes::BytesMut;
use proptest::prelude::*;
use trident_amqp::codec::table::read_table;
use trident_amqp::codec::wire::Reader;
use trident_amqp::codec::{
    ClientMethod, Decoded, FrameType, ServerMethod, decode_content_header, decode_frame,
    decode_method, put_method,
};
use trident_amqp::content::{Assembler, Payload};
use trident_core::FieldValue;

/// Runs every decoder over `bytes` the way the connection would.
fn decode_everything(bytes: &[u8]) {
    let mut buf = BytesMut::from(bytes);
    let mut assembler = Assembler::default();
    while let Ok(Decoded::Frame(f)) = decode_frame(&mut buf, 131_072) {
        let _ = match f.kind {
            FrameType::Method => decode_method(&f.payload)
                .map(|m| assembler.on_method(m))
                .ok(),
            FrameType::Header => Some(assembler.on_header(&f.payload, 1 << 20)),
            FrameType::Body => Some(assembler.on_body(Payload::Shared(f.payload))),
            FrameType::Heartbeat => None,
        };
    }
    let _ = decode_method(bytes);
    let _ = decode_content_header(bytes);
    let _ = read_table(&mut Reader::new(bytes));
}

fn frame(kind: u8, ch: u16, payload: &[u8]) -> Vec<u8> {
    let mut f = vec![kind];
    f.extend_from_slice(&ch.to_be_bytes());
    f.extend_from_slice(&(payload.len() as u32).to_be_bytes());
    f.extend_from_slice(payload);
    f.push(0xCE);
    f
}

fn encode(frame: &AMQPFrame) -> Vec<u8> {
    gen_frame(frame)(WriteContext::from(Vec::new()))
        .unwrap()
        .write
}

fn name() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9._-]{0,40}"
}

fn amq_value() -> impl Strategy<Value = AMQPValue> {
    prop_oneof![
        any::<bool>().prop_map(AMQPValue::Boolean),
        any::<i8>().prop_map(AMQPValue::ShortShortInt),
        any::<u8>().prop_map(AMQPValue::ShortShortUInt),
        any::<i16>().prop_map(AMQPValue::ShortInt),
        any::<u16>().prop_map(AMQPValue::ShortUInt),
        any::<i32>().prop_map(AMQPValue::LongInt),
        any::<u32>().prop_map(AMQPValue::LongUInt),
        any::<i64>().prop_map(AMQPValue::LongLongInt),
        "[ -~]{0,20}".prop_map(|s| AMQPValue::LongString(LongString::from(s))),
        any::<u64>().prop_map(AMQPValue::Timestamp),
        Just(AMQPValue::Void),
    ]
}

fn amq_table() -> impl Strategy<Value = AmqTable> {
    proptest::collection::btree_map("[a-z]{1,8}", amq_value(), 0..6).prop_map(|m| {
        let mut t = AmqTable::default();
        for (k, v) in m {
            t.insert(ShortString::from(k), v);
        }
        t
    })
}

/// Our view of one of their values.
fn same_value(theirs: &AMQPValue, ours: &FieldValue) -> bool {
    match (theirs, ours) {
        (AMQPValue::Boolean(a), FieldValue::Bool(b)) => a == b,
        (AMQPValue::ShortShortInt(a), FieldValue::I8(b)) => a == b,
        (AMQPValue::ShortShortUInt(a), FieldValue::U8(b)) => a == b,
        (AMQPValue::ShortInt(a), FieldValue::I16(b)) => a == b,
        (AMQPValue::ShortUInt(a), FieldValue::U16(b)) => a == b,
        (AMQPValue::LongInt(a), FieldValue::I32(b)) => a == b,
        (AMQPValue::LongUInt(a), FieldValue::U32(b)) => a == b,
        (AMQPValue::LongLongInt(a), FieldValue::I64(b)) => a == b,
        (AMQPValue::LongString(a), FieldValue::LongString(b)) => a.as_bytes() == b.as_bytes(),
        (AMQPValue::Timestamp(a), FieldValue::Timestamp(b)) => a == b,
        (AMQPValue::Void, FieldValue::Void) => true,
        _ => false,
    }
}

fn same_table(theirs: &AmqTable, ours: &trident_core::FieldTable) -> bool {
    theirs.inner().len() == ours.len()
        && theirs
            .inner()
            .iter()
            .all(|(k, v)| ours.get(k.as_str()).is_some_and(|o| same_value(v, o)))
}

proptest! {
    #[test]
    fn no_byte_string_panics_the_decoders(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        decode_everything(&bytes);
    }

    #[test]
    fn no_payload_in_a_valid_frame_panics(
        frames in proptest::collection::vec(
            (prop_oneof![Just(1u8), Just(2u8), Just(3u8), Just(8u8)], 0u16..3,
             proptest::collection::vec(any::<u8>(), 0..200)),
            1..6,
        ),
        class_method in proptest::sample::select(vec![
            [0u8, 10, 0, 11], [0, 10, 0, 31], [0, 10, 0, 40], [0, 20, 0, 10], [0, 40, 0, 10],
            [0, 40, 0, 30], [0, 50, 0, 10], [0, 50, 0, 20], [0, 60, 0, 20], [0, 60, 0, 40],
            [0, 60, 0, 80], [0, 60, 0, 120], [0, 85, 0, 10],
        ]),
    ) {
        let mut stream = Vec::new();
        for (kind, ch, mut payload) in frames {
            if kind == 1 {
                // Make method frames start with a real class/method id so the argument
                // decoders, not just the id lookup, see the random bytes.
                let mut p = class_method.to_vec();
                p.append(&mut payload);
                payload = p;
            }
            stream.extend(frame(kind, ch, &payload));
        }
        decode_everything(&stream);
    }

    #[test]
    fn their_queue_declare_is_ours(
        q in name(),
        flags in any::<[bool; 5]>(),
        args in amq_table(),
    ) {
        let f = AMQPFrame::Method(1, AMQPClass::Queue(queue::AMQPMethod::Declare(queue::Declare {
            queue: ShortString::from(q.clone()),
            passive: flags[0], durable: flags[1], exclusive: flags[2], auto_delete: flags[3], nowait: flags[4],
            arguments: args.clone(),
        })));
        let bytes = encode(&f);
        let mut buf = BytesMut::from(&bytes[..]);
        let Ok(Decoded::Frame(fr)) = decode_frame(&mut buf, 131_072) else { panic!("frame") };
        match decode_method(&fr.payload).unwrap() {
            ClientMethod::QueueDeclare { queue, passive, durable, exclusive, auto_delete, nowait, arguments } => {
                prop_assert_eq!(queue, q);
                prop_assert_eq!([passive, durable, exclusive, auto_delete, nowait], flags);
                prop_assert!(same_table(&args, &arguments));
            }
            other => panic!("decoded as {other:?}"),
        }
    }

    #[test]
    fn their_exchange_declare_and_publish_are_ours(
        x in name(), kind in "[a-z]{1,8}", rk in name(),
        flags in any::<[bool; 5]>(), pubflags in any::<[bool; 2]>(), args in amq_table(),
    ) {
        let declare = AMQPFrame::Method(2, AMQPClass::Exchange(exchange::AMQPMethod::Declare(exchange::Declare {
            exchange: ShortString::from(x.clone()), kind: ShortString::from(kind.clone()),
            passive: flags[0], durable: flags[1], auto_delete: flags[2], internal: flags[3], nowait: flags[4],
            arguments: args.clone(),
        })));
        let publish = AMQPFrame::Method(2, AMQPClass::Basic(basic::AMQPMethod::Publish(basic::Publish {
            exchange: ShortString::from(x.clone()), routing_key: ShortString::from(rk.clone()),
            mandatory: pubflags[0], immediate: pubflags[1],
        })));
        let mut buf = BytesMut::from(&[encode(&declare), encode(&publish)].concat()[..]);
        let Ok(Decoded::Frame(a)) = decode_frame(&mut buf, 131_072) else { panic!("frame") };
        let Ok(Decoded::Frame(b)) = decode_frame(&mut buf, 131_072) else { panic!("frame") };
        match decode_method(&a.payload).unwrap() {
            ClientMethod::ExchangeDeclare { exchange, kind: k, passive, durable, auto_delete, internal, nowait, arguments } => {
                prop_assert_eq!(exchange, x.clone());
                prop_assert_eq!(k, kind);
                prop_assert_eq!([passive, durable, auto_delete, internal, nowait], flags);
                prop_assert!(same_table(&args, &arguments));
            }
            other => panic!("decoded as {other:?}"),
        }
        match decode_method(&b.payload).unwrap() {
            ClientMethod::BasicPublish { exchange, routing_key, mandatory, immediate } => {
                prop_assert_eq!(exchange, x);
                prop_assert_eq!(routing_key, rk);
                prop_assert_eq!([mandatory, immediate], pubflags);
            }
            other => panic!("decoded as {other:?}"),
        }
    }

    #[test]
    fn their_content_header_is_ours(
        size in any::<u64>(), ct in proptest::option::of("[a-z/]{1,20}"), mode in proptest::option::of(1u8..3),
        prio in proptest::option::of(0u8..10), corr in proptest::option::of(name()), ts in proptest::option::of(any::<u64>()),
        headers in proptest::option::of(amq_table()),
    ) {
        let mut props = BasicProperties::default();
        if let Some(ct) = &ct { props = props.with_content_type(ShortString::from(ct.clone())); }
        if let Some(m) = mode { props = props.with_delivery_mode(m); }
        if let Some(p) = prio { props = props.with_priority(p); }
        if let Some(c) = &corr { props = props.with_correlation_id(ShortString::from(c.clone())); }
        if let Some(t) = ts { props = props.with_timestamp(t); }
        if let Some(h) = &headers { props = props.with_headers(h.clone()); }
        let f = AMQPFrame::Header(1, AMQPContentHeader { class_id: 60, body_size: size, properties: props });
        let bytes = encode(&f);
        let mut buf = BytesMut::from(&bytes[..]);
        let Ok(Decoded::Frame(fr)) = decode_frame(&mut buf, 131_072) else { panic!("frame") };
        let h = decode_content_header(&fr.payload).unwrap();
        prop_assert_eq!(h.body_size, size);
        prop_assert_eq!(h.properties.content_type, ct);
        prop_assert_eq!(h.properties.delivery_mode, mode);
        prop_assert_eq!(h.properties.priority, prio);
        prop_assert_eq!(h.properties.correlation_id, corr);
        prop_assert_eq!(h.properties.timestamp, ts);
        match headers {
            Some(t) => prop_assert!(same_table(&t, &h.headers)),
            None => prop_assert!(h.headers.is_empty()),
        }
    }

    #[test]
    fn our_deliver_and_declare_ok_are_theirs(
        tag in name(), dtag in any::<u64>(), redelivered in any::<bool>(), x in name(), rk in name(),
        count in any::<u32>(),
    ) {
        let mut out = BytesMut::new();
        put_method(&mut out, 3, &ServerMethod::BasicDeliver {
            consumer_tag: &tag, delivery_tag: dtag, redelivered, exchange: &x, routing_key: &rk,
        });
        put_method(&mut out, 3, &ServerMethod::QueueDeclareOk { queue: &x, message_count: count, consumer_count: 7 });
        put_method(&mut out, 3, &ServerMethod::BasicNack { delivery_tag: dtag, multiple: redelivered, requeue: false });
        let (rest, a) = parse_frame(&out[..]).unwrap();
        let (rest, b) = parse_frame(rest).unwrap();
        let (rest, c) = parse_frame(rest).unwrap();
        prop_assert!(rest.is_empty());
        match a {
            AMQPFrame::Method(3, AMQPClass::Basic(basic::AMQPMethod::Deliver(d))) => {
                prop_assert_eq!(d.consumer_tag.as_str(), tag.as_str());
                prop_assert_eq!(d.delivery_tag, dtag);
                prop_assert_eq!(d.redelivered, redelivered);
                prop_assert_eq!(d.exchange.as_str(), x.as_str());
                prop_assert_eq!(d.routing_key.as_str(), rk.as_str());
            }
            other => panic!("parsed as {other:?}"),
        }
        match b {
            AMQPFrame::Method(3, AMQPClass::Queue(queue::AMQPMethod::DeclareOk(d))) => {
                prop_assert_eq!(d.queue.as_str(), x.as_str());
                prop_assert_eq!(d.message_count, count);
                prop_assert_eq!(d.consumer_count, 7);
            }
            other => panic!("parsed as {other:?}"),
        }
        match c {
            AMQPFrame::Method(3, AMQPClass::Basic(basic::AMQPMethod::Nack(n))) => {
                prop_assert_eq!(n.delivery_tag, dtag);
                prop_assert_eq!(n.multiple, redelivered);
                prop_assert!(!n.requeue);
            }
            other => panic!("parsed as {other:?}"),
        }
    }
}

/// Every server method we can send parses with the other codec.
#[test]
fn every_server_method_parses_elsewhere() {
    let props: trident_core::FieldTable = [("a".to_string(), FieldValue::I64(1))]
        .into_iter()
        .collect();
    let methods = [
        ServerMethod::ConnectionStart {
            server_properties: &props,
            mechanisms: "PLAIN",
            locales: "en_US",
        },
        ServerMethod::ConnectionSecure { challenge: b"x" },
        ServerMethod::ConnectionTune {
            channel_max: 1,
            frame_max: 4096,
            heartbeat: 60,
        },
        ServerMethod::ConnectionOpenOk,
        ServerMethod::ConnectionClose {
            reply_code: 320,
            reply_text: "bye",
            class_id: 0,
            method_id: 0,
        },
        ServerMethod::ConnectionCloseOk,
        ServerMethod::ConnectionBlocked {
            reason: "low on memory",
        },
        ServerMethod::ConnectionUnblocked,
        ServerMethod::ConnectionUpdateSecretOk,
        ServerMethod::ChannelOpenOk,
        ServerMethod::ChannelFlow { active: true },
        ServerMethod::ChannelFlowOk { active: true },
        ServerMethod::ChannelClose {
            reply_code: 404,
            reply_text: "no",
            class_id: 50,
            method_id: 10,
        },
        ServerMethod::ChannelCloseOk,
        ServerMethod::AccessRequestOk,
        ServerMethod::ExchangeDeclareOk,
        ServerMethod::ExchangeDeleteOk,
        ServerMethod::ExchangeBindOk,
        ServerMethod::ExchangeUnbindOk,
        ServerMethod::QueueDeclareOk {
            queue: "q",
            message_count: 1,
            consumer_count: 2,
        },
        ServerMethod::QueueBindOk,
        ServerMethod::QueuePurgeOk { message_count: 3 },
        ServerMethod::QueueDeleteOk { message_count: 4 },
        ServerMethod::QueueUnbindOk,
        ServerMethod::BasicQosOk,
        ServerMethod::BasicConsumeOk { consumer_tag: "c" },
        ServerMethod::BasicCancelOk { consumer_tag: "c" },
        ServerMethod::BasicCancel {
            consumer_tag: "c",
            nowait: true,
        },
        ServerMethod::BasicReturn {
            reply_code: 312,
            reply_text: "NO_ROUTE",
            exchange: "x",
            routing_key: "k",
        },
        ServerMethod::BasicDeliver {
            consumer_tag: "c",
            delivery_tag: 1,
            redelivered: false,
            exchange: "",
            routing_key: "q",
        },
        ServerMethod::BasicGetOk {
            delivery_tag: 1,
            redelivered: true,
            exchange: "",
            routing_key: "q",
            message_count: 0,
        },
        ServerMethod::BasicGetEmpty,
        ServerMethod::BasicAck {
            delivery_tag: 5,
            multiple: true,
        },
        ServerMethod::BasicNack {
            delivery_tag: 5,
            multiple: false,
            requeue: false,
        },
        ServerMethod::BasicRecoverOk,
        ServerMethod::ConfirmSelectOk,
        ServerMethod::TxSelectOk,
        ServerMethod::TxCommitOk,
        ServerMethod::TxRollbackOk,
    ];
    for m in &methods {
        let mut out = BytesMut::new();
        put_method(&mut out, 1, m);
        let parsed = parse_frame(&out[..]);
        assert!(
            matches!(parsed, Ok((rest, AMQPFrame::Method(1, _))) if rest.is_empty()),
            "{m:?} -> {parsed:?}"
        );
    }
}
