use bytes::Bytes;
use proptest::prelude::*;
use trident_core::{DeliveryMode, FieldValue, Message, MqttProperties};

use super::*;
use crate::record::{self, NewRecord};

/// A message as the MQTT adapter builds it from a v5 PUBLISH (see its `inbound`).
fn from_mqtt(props: MqttProperties) -> Message {
    let mut m = Message::new("payload");
    m.timestamp_ms = 1_000_000;
    m.delivery_mode = DeliveryMode::Persistent;
    m.headers.insert(MQTT_PUBLISH_QOS, FieldValue::U8(1));
    m.properties.content_type.clone_from(&props.content_type);
    m.properties.reply_to = props
        .response_topic
        .as_deref()
        .map(|t| reply_to_of_response_topic(t, TOPIC_EXCHANGE));
    m.mqtt = Some(Box::new(props));
    m
}

/// The message an AMQP client republishes with what it was shown.
fn as_amqp(m: &Message) -> Message {
    let (p, h) = amqp_view(m).unwrap_or_else(|| (m.properties.clone(), m.headers.clone()));
    let mut out = Message::new(m.body.clone());
    out.timestamp_ms = m.timestamp_ms;
    out.properties = p;
    out.headers = h;
    out
}

#[test]
fn addresses() {
    assert_eq!(resolve_default_publish("/topic/a.b"), ("amq.topic", "a.b"));
    assert_eq!(resolve_default_publish("/exchange/x/a.b"), ("x", "a.b"));
    assert_eq!(resolve_default_publish("/exchange/x"), ("x", ""));
    assert_eq!(resolve_default_publish("/queue/q"), ("", "q"));
    assert_eq!(resolve_default_publish("/amq/queue/q/r"), ("", "q/r"));
    assert_eq!(resolve_default_publish("plain"), ("", "plain"));
    assert_eq!(
        mqtt_publish_target("a/b.c", "amq.topic"),
        ("amq.topic", "a.b/c".into())
    );
    assert_eq!(
        mqtt_publish_target("$queue/replies", "amq.topic"),
        ("", "replies".into())
    );
    assert_eq!(
        mqtt_publish_target("$queue//topic/r.1", "mx"),
        ("amq.topic", "r.1".into())
    );
}

#[test]
fn reply_addresses_both_ways() {
    assert_eq!(
        reply_to_of_response_topic("resp/c1", "amq.topic"),
        "/topic/resp.c1"
    );
    assert_eq!(
        reply_to_of_response_topic("resp/c1", "mqtt"),
        "/exchange/mqtt/resp.c1"
    );
    assert_eq!(reply_to_of_response_topic("$queue/rq", "amq.topic"), "rq");
    assert_eq!(
        response_topic_of_reply_to("/topic/resp.c1", "amq.topic"),
        "resp/c1"
    );
    assert_eq!(
        response_topic_of_reply_to("/exchange/mqtt/a.b", "mqtt"),
        "a/b"
    );
    assert_eq!(
        response_topic_of_reply_to("amq.gen-1", "amq.topic"),
        "$queue/amq.gen-1"
    );
    // Another exchange's address is reached through the default exchange.
    assert_eq!(
        response_topic_of_reply_to("/topic/a", "mqtt"),
        "$queue//topic/a"
    );
    assert_eq!(
        mqtt_publish_target("$queue//topic/a", "mqtt"),
        ("amq.topic", "a".into())
    );
}

#[test]
fn mqtt_message_as_amqp_sees_it() {
    let m = from_mqtt(MqttProperties {
        payload_format_utf8: Some(true),
        message_expiry_secs: Some(30),
        content_type: Some("text/plain".into()),
        response_topic: Some("resp/c1".into()),
        correlation_data: Some(Bytes::from_static(b"\x00\xff")),
        user_properties: vec![("k".into(), "v".into()), ("k".into(), "w".into())],
    });
    let (p, h) = amqp_view(&m).unwrap_or_default();
    assert_eq!(p.content_type.as_deref(), Some("text/plain"));
    assert_eq!(p.reply_to.as_deref(), Some("/topic/resp.c1"));
    assert_eq!(p.expiration.as_deref(), Some("30000"));
    assert_eq!(p.correlation_id, None, "not UTF-8: a header");
    let names: Vec<_> = h.iter().map(|(k, _)| k).collect();
    assert_eq!(
        names,
        [
            MQTT_PUBLISH_QOS,
            X_CORRELATION_ID,
            X_REPLY_TO_TOPIC,
            rec::PAYLOAD_FORMAT,
            "k",
            "k"
        ]
    );
    assert_eq!(
        h.get(X_CORRELATION_ID),
        Some(&FieldValue::Bytes(Bytes::from_static(b"\x00\xff")))
    );
    assert_eq!(h.get_str(X_REPLY_TO_TOPIC), Some("resp.c1"));

    let text = from_mqtt(MqttProperties {
        correlation_data: Some(Bytes::from_static(b"req-1")),
        ..MqttProperties::default()
    });
    assert_eq!(
        amqp_view(&text)
            .unwrap_or_default()
            .0
            .correlation_id
            .as_deref(),
        Some("req-1")
    );
    assert_eq!(
        amqp_view(&Message::new("amqp")),
        None,
        "nothing to fill: no copy"
    );
}

#[test]
fn amqp_message_as_mqtt_sees_it() {
    let mut m = Message::new("x");
    m.timestamp_ms = 1_000_000;
    m.headers.insert("s", FieldValue::LongString("v".into()));
    m.headers.insert("n", FieldValue::I32(-5));
    m.headers
        .insert("b", FieldValue::Bytes(Bytes::from_static(b"\xff\x00")));
    m.headers.insert("t", FieldValue::Bool(true));
    m.properties.reply_to = Some("replies".into());
    m.properties.correlation_id = Some("c-9".into());
    m.properties.expiration = Some("5000".into());
    m.properties.content_type = Some("application/json".into());
    m.properties.message_id = Some("m-1".into());
    m.properties.timestamp = Some(1_700_000_000);
    let v = mqtt_view(&m, 1_001_500, "amq.topic").unwrap_or_default();
    assert_eq!(v.response_topic.as_deref(), Some("$queue/replies"));
    assert_eq!(v.correlation_data.as_deref(), Some(&b"c-9"[..]));
    assert_eq!(v.message_expiry_secs, Some(4), "what is left, rounded up");
    assert_eq!(v.content_type.as_deref(), Some("application/json"));
    let user: Vec<(&str, &str)> = v
        .user_properties
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    assert_eq!(
        user,
        [
            ("s", "v"),
            ("n", "-5"),
            ("b", "/wA="),
            ("t", "true"),
            (rec::MESSAGE_ID, "m-1"),
            (rec::AMQP_TIMESTAMP, "1700000000"),
        ]
    );
    assert_eq!(mqtt_view(&m, 1_005_000, "amq.topic"), None, "expired");
}

#[test]
fn an_mqtt_message_delivered_to_mqtt_is_unchanged() {
    let props = MqttProperties {
        payload_format_utf8: Some(false),
        message_expiry_secs: Some(60),
        content_type: Some("c".into()),
        response_topic: Some("r/t".into()),
        correlation_data: Some(Bytes::from_static(b"\x01")),
        user_properties: vec![("a".into(), "1".into()), ("a".into(), "2".into())],
    };
    let m = from_mqtt(props.clone());
    assert_eq!(mqtt_view(&m, m.timestamp_ms, "amq.topic"), Some(props));
}

fn topic() -> impl Strategy<Value = String> {
    // Topic names: levels of printable text without wildcards.
    proptest::collection::vec("[a-z0-9.$ -]{0,6}", 1..4).prop_map(|l| l.join("/"))
}

proptest! {
    /// MQTT request -> AMQP consumer -> republished by AMQP -> MQTT subscriber: every
    /// MQTT 5 property comes back as it was sent.
    #[test]
    fn mqtt_properties_survive_an_amqp_hop(
        topic in topic(),
        corr in proptest::collection::vec(any::<u8>(), 0..8),
        expiry in proptest::option::of(1u32..100_000),
        ct in proptest::option::of("[a-z/]{1,12}"),
        utf8 in proptest::option::of(any::<bool>()),
        user in proptest::collection::vec(("[a-z]{1,4}", "[ -~]{0,6}"), 0..4),
    ) {
        let props = MqttProperties {
            payload_format_utf8: utf8,
            message_expiry_secs: expiry,
            content_type: ct,
            response_topic: (!topic.starts_with('$')).then_some(topic),
            correlation_data: Some(Bytes::from(corr)),
            user_properties: user,
        };
        let m = from_mqtt(props.clone());
        let back = mqtt_view(&as_amqp(&m), m.timestamp_ms, TOPIC_EXCHANGE);
        prop_assert_eq!(back, Some(props));
    }

    #[test]
    fn reply_to_round_trips_through_mqtt(name in "[a-zA-Z0-9._-]{1,20}", topic in topic()) {
        let rt = response_topic_of_reply_to(&name, TOPIC_EXCHANGE);
        prop_assert_eq!(reply_to_of_response_topic(&rt, TOPIC_EXCHANGE), name);
        let r = reply_to_of_response_topic(&topic, "mx");
        prop_assert_eq!(response_topic_of_reply_to(&r, "mx"), topic);
    }

    #[test]
    fn header_names_escape_reversibly(raw in proptest::collection::vec(any::<u8>(), 0..16)) {
        let name = header_name_from_bytes(&raw);
        prop_assert_eq!(&*header_name_bytes(&name), &raw[..]);
        prop_assert_eq!(header_name_from_bytes(&header_name_bytes(&name)), name);
    }
}

#[test]
fn a_record_with_a_binary_header_name_decodes_and_encodes_back() {
    let nr = NewRecord {
        timestamp: 5,
        key: None,
        value: Some(Bytes::from_static(b"v")),
        headers: vec![("ok".into(), None)],
    };
    let mut batch = record::encode(&[nr], None)
        .map(|b| b.to_vec())
        .unwrap_or_default();
    // Turn the header name "ok" into bytes that are not UTF-8, and fix the CRC.
    let at = batch
        .windows(2)
        .rposition(|w| w == b"ok")
        .unwrap_or_default();
    batch[at] = 0xff;
    let crc = crc32c::crc32c(&batch[crate::batch::CRC_START..]);
    batch[crate::batch::CRC_START - 4..crate::batch::CRC_START].copy_from_slice(&crc.to_be_bytes());
    let recs = record::decode(&Bytes::from(batch.clone()), 0).unwrap_or_default();
    assert_eq!(recs[0].headers[0].0, "trident-b64:/2s=");
    let again = record::encode(
        &[NewRecord {
            timestamp: 5,
            key: None,
            value: recs[0].value.clone(),
            headers: recs[0].headers.clone(),
        }],
        None,
    )
    .map(|b| b.to_vec())
    .unwrap_or_default();
    assert_eq!(again, batch);
}
