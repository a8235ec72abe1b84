//! The one mapping of message fields between protocols: what an AMQP 0-9-1 consumer
//! and an MQTT 5 subscriber are shown of a [`Message`] published by any protocol, the
//! reply addresses of request/reply across protocols, and the escape for Kafka header
//! names that are not UTF-8. (The Message <-> log record mapping is
//! [`crate::message`]; this module uses its `trident-*` names, so one name means one
//! field wherever a field travels as a header.) docs/cross-protocol.md has the tables.
//!
//! Messages are stored as their publisher sent them; each protocol's view is computed
//! at delivery, so a message consumed by its own protocol is delivered unchanged. The
//! rules, in short:
//! - a field both sides can express is copied (content type, correlation id/data,
//!   expiry, reply-to/response topic, user properties/headers);
//! - a value the target cannot hold in that field travels as a header: correlation
//!   data that is no AMQP short string (UTF-8, at most 255 bytes) as `x-correlation-id`
//!   (bytes, RabbitMQ's name), AMQP properties MQTT has no slot for as user properties
//!   named as in records (`trident-message-id`, ...), the payload format indicator as
//!   `trident-payload-format`;
//! - a header value MQTT cannot hold (user properties are UTF-8 strings) is rendered as
//!   text: strings as they are, bytes as UTF-8 when valid else standard base64,
//!   numbers, booleans and timestamps in decimal, tables and arrays as JSON, void as "".

use std::borrow::Cow;

use trident_core::{FieldTable, FieldValue, Message, MqttProperties, Properties, to_routing_key};

use crate::b64;
use crate::message::{names as rec, value_bytes};

/// Header and address names of the mapping that are not `trident-*` record names.
pub mod names {
    /// An AMQP header with the MQTT correlation data when it cannot be the
    /// `correlation-id` (RabbitMQ's MQTT plugin uses the same name).
    pub const X_CORRELATION_ID: &str = "x-correlation-id";
    /// An AMQP header with the MQTT response topic in routing-key form, beside
    /// `reply-to` (the header RabbitMQ's MQTT plugin sets instead of `reply-to`).
    pub const X_REPLY_TO_TOPIC: &str = "x-reply-to-topic";
    /// The QoS an MQTT message was published with (RabbitMQ's name).
    pub const MQTT_PUBLISH_QOS: &str = "x-mqtt-publish-qos";
    /// Present (true) when an MQTT message was published with the retain flag.
    pub const MQTT_RETAIN: &str = "x-mqtt-retain";
    /// A Kafka header name that is not UTF-8 is this prefix and the name's bytes in
    /// base64 (see [`super::header_name_from_bytes`]).
    pub const ESCAPED_NAME_PREFIX: &str = "trident-b64:";
    /// An MQTT topic `$queue/<name>` publishes to the default exchange with routing
    /// key `<name>`: a queue by name, or an address (see [`super::parse_address`]).
    pub const MQTT_QUEUE_PREFIX: &str = "$queue/";
    /// The exchange `/topic/` addresses name, and the MQTT adapter's default one.
    pub const TOPIC_EXCHANGE: &str = "amq.topic";
}

use names::*;

/// The longest AMQP short string (reply-to, correlation-id, content-type, ...).
pub const SHORT_STR_MAX: usize = 255;

/// A RabbitMQ-style address in the routing key of a publish to the default exchange.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Address<'a> {
    /// `/topic/RK` (exchange `amq.topic`) or `/exchange/X/RK` (or `/exchange/X`).
    Exchange {
        exchange: &'a str,
        routing_key: &'a str,
    },
    /// `/queue/Q` or `/amq/queue/Q`.
    Queue(&'a str),
}

/// The address a default-exchange routing key spells, if it is one. These are the
/// AMQP 1.0 v1 / STOMP destination forms RabbitMQ uses for reply-to addresses; no
/// AMQP queue name starts with `/topic/`, `/exchange/`, `/queue/` or `/amq/queue/` in
/// practice, and one that does is reached as `/queue/<its name>`.
pub fn parse_address(s: &str) -> Option<Address<'_>> {
    if let Some(routing_key) = s.strip_prefix("/topic/") {
        return Some(Address::Exchange {
            exchange: TOPIC_EXCHANGE,
            routing_key,
        });
    }
    if let Some(rest) = s.strip_prefix("/exchange/") {
        let (exchange, routing_key) = rest.split_once('/').unwrap_or((rest, ""));
        return Some(Address::Exchange {
            exchange,
            routing_key,
        });
    }
    s.strip_prefix("/queue/")
        .or_else(|| s.strip_prefix("/amq/queue/"))
        .map(Address::Queue)
}

/// Where a publish to the default exchange with `routing_key` goes: (exchange,
/// routing key), `""` being the default exchange. A plain name is unchanged.
pub fn resolve_default_publish(routing_key: &str) -> (&str, &str) {
    match parse_address(routing_key) {
        Some(Address::Exchange {
            exchange,
            routing_key,
        }) => (exchange, routing_key),
        Some(Address::Queue(q)) => ("", q),
        None => ("", routing_key),
    }
}

/// Where an MQTT PUBLISH to `topic` goes when the adapter's exchange is
/// `mqtt_exchange`: (exchange, routing key). `$queue/<rest>` is a default-exchange
/// publish with routing key `<rest>` (addresses resolved); any other topic is the
/// mqtt exchange with the topic in routing-key form.
pub fn mqtt_publish_target<'a>(topic: &'a str, mqtt_exchange: &'a str) -> (&'a str, Cow<'a, str>) {
    match topic.strip_prefix(MQTT_QUEUE_PREFIX) {
        Some(rest) => {
            let (x, rk) = resolve_default_publish(rest);
            (x, Cow::Borrowed(rk))
        }
        None => (mqtt_exchange, Cow::Owned(to_routing_key(topic, '/'))),
    }
}

/// The AMQP reply-to for an MQTT response topic: `/topic/RK` when the MQTT exchange is
/// `amq.topic`, else `/exchange/X/RK` (RK the topic in routing-key form), so an AMQP
/// replier's default-exchange publish reaches the requester's subscription; a
/// `$queue/<name>` response topic is the reply-to `<name>`.
pub fn reply_to_of_response_topic(topic: &str, mqtt_exchange: &str) -> String {
    if let Some(name) = topic.strip_prefix(MQTT_QUEUE_PREFIX) {
        return name.to_string();
    }
    let rk = to_routing_key(topic, '/');
    if mqtt_exchange == TOPIC_EXCHANGE {
        format!("/topic/{rk}")
    } else {
        format!("/exchange/{mqtt_exchange}/{rk}")
    }
}

/// The MQTT response topic for an AMQP reply-to: an address of the MQTT exchange is
/// the topic it names; anything else (a queue name, another address) is
/// `$queue/<reply-to>`, which an MQTT replier publishes to as a default-exchange
/// publish with the reply-to as its routing key: what an AMQP replier would do.
pub fn response_topic_of_reply_to(reply_to: &str, mqtt_exchange: &str) -> String {
    match parse_address(reply_to) {
        Some(Address::Exchange {
            exchange,
            routing_key,
        }) if exchange == mqtt_exchange => to_routing_key(routing_key, '/'),
        _ => format!("{MQTT_QUEUE_PREFIX}{reply_to}"),
    }
}

fn long(s: &str) -> FieldValue {
    FieldValue::LongString(s.to_string())
}

fn fits_short(s: &str) -> bool {
    s.len() <= SHORT_STR_MAX
}

/// What an AMQP 0-9-1 consumer is shown of `m`: properties and headers. `None` when
/// the message carries no MQTT 5 properties: its own properties and headers are the
/// view (an AMQP or Kafka message, or MQTT without v5 properties), at no cost.
pub fn amqp_view(m: &Message) -> Option<(Properties, FieldTable)> {
    let q = m.mqtt.as_deref()?;
    let mut p = m.properties.clone();
    let mut h = m.headers.clone();
    if p.content_type.is_none()
        && let Some(ct) = &q.content_type
    {
        if fits_short(ct) {
            p.content_type = Some(ct.clone());
        } else {
            h.0.push((rec::CONTENT_TYPE.into(), long(ct)));
        }
    }
    if p.correlation_id.is_none()
        && let Some(cd) = &q.correlation_data
    {
        match std::str::from_utf8(cd) {
            Ok(s) if fits_short(s) => p.correlation_id = Some(s.to_string()),
            _ => {
                h.0.push((X_CORRELATION_ID.into(), FieldValue::Bytes(cd.clone())))
            }
        }
    }
    if let Some(rt) = &q.response_topic {
        if p.reply_to.is_none() {
            // A message from a log carries the response topic alone; amq.topic is the
            // MQTT exchange unless configured otherwise.
            let r = reply_to_of_response_topic(rt, TOPIC_EXCHANGE);
            if fits_short(&r) {
                p.reply_to = Some(r);
            }
        }
        if !rt.starts_with(MQTT_QUEUE_PREFIX) {
            h.0.push((X_REPLY_TO_TOPIC.into(), long(&to_routing_key(rt, '/'))));
        }
    }
    if p.expiration.is_none()
        && let Some(s) = q.message_expiry_secs
    {
        p.expiration = Some((u64::from(s) * 1000).to_string());
    }
    if let Some(utf8) = q.payload_format_utf8 {
        let v = if utf8 { "utf-8" } else { "bytes" };
        h.0.push((rec::PAYLOAD_FORMAT.into(), long(v)));
    }
    for (k, v) in &q.user_properties {
        h.0.push((k.clone(), long(v)));
    }
    Some((p, h))
}

/// An AMQP header value as MQTT user property text (see the module docs).
pub fn user_property_value(v: &FieldValue) -> String {
    match v {
        FieldValue::ShortString(s) | FieldValue::LongString(s) => s.clone(),
        FieldValue::Bytes(b) => match std::str::from_utf8(b) {
            Ok(s) => s.to_string(),
            Err(_) => b64::encode(b),
        },
        FieldValue::Void => String::new(),
        other => value_bytes(other)
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default(),
    }
}

fn header_bytes(v: &FieldValue) -> Option<bytes::Bytes> {
    match v {
        FieldValue::Bytes(b) => Some(b.clone()),
        FieldValue::ShortString(s) | FieldValue::LongString(s) => {
            Some(bytes::Bytes::copy_from_slice(s.as_bytes()))
        }
        _ => None,
    }
}

/// What an MQTT 5 subscriber is shown of `m` at `now_ms`, with the expiry interval
/// that is left ([MQTT-3.3.2-6]); `None` when the message has expired. For a message
/// from AMQP or a log, the AMQP fields fill the MQTT ones and the application headers
/// become user properties, in the order a record has them: headers first, then
/// AMQP-only properties, then the user properties an MQTT publisher sent.
pub fn mqtt_view(m: &Message, now_ms: i64, mqtt_exchange: &str) -> Option<MqttProperties> {
    let q = m.mqtt.as_deref();
    let p = &m.properties;
    let mut out = MqttProperties::default();
    if m.declared_ttl_ms().is_some() {
        let left = m.remaining_lifetime_secs(now_ms)?;
        if left == 0 {
            return None;
        }
        out.message_expiry_secs = Some(left);
    }
    let hdr = |name: &str| m.headers.get(name);
    out.payload_format_utf8 = q.and_then(|q| q.payload_format_utf8).or_else(|| {
        hdr(rec::PAYLOAD_FORMAT)
            .and_then(FieldValue::as_str)
            .map(|s| s == "utf-8")
    });
    out.content_type = q
        .and_then(|q| q.content_type.clone())
        .or_else(|| p.content_type.clone());
    out.response_topic = q
        .and_then(|q| q.response_topic.clone())
        .or_else(|| {
            hdr(X_REPLY_TO_TOPIC)
                .and_then(FieldValue::as_str)
                .map(|rk| to_routing_key(rk, '/'))
        })
        .or_else(|| {
            p.reply_to
                .as_deref()
                .map(|r| response_topic_of_reply_to(r, mqtt_exchange))
        });
    out.correlation_data = q
        .and_then(|q| q.correlation_data.clone())
        .or_else(|| {
            p.correlation_id
                .as_deref()
                .map(|c| bytes::Bytes::copy_from_slice(c.as_bytes()))
        })
        .or_else(|| hdr(X_CORRELATION_ID).and_then(header_bytes));
    let mut user = Vec::with_capacity(m.headers.len());
    for (k, v) in m.headers.iter() {
        // The adapter's own hop headers, and the headers consumed above.
        if matches!(
            k,
            MQTT_PUBLISH_QOS | MQTT_RETAIN | X_REPLY_TO_TOPIC | X_CORRELATION_ID
        ) || k == rec::PAYLOAD_FORMAT
        {
            continue;
        }
        user.push((k.to_string(), user_property_value(v)));
    }
    // AMQP properties MQTT has no slot for, under their record names.
    let mut put = |name: &str, v: Option<String>| {
        if let Some(v) = v {
            user.push((name.to_string(), v));
        }
    };
    put(rec::CONTENT_ENCODING, p.content_encoding.clone());
    put(rec::MESSAGE_ID, p.message_id.clone());
    put(rec::AMQP_TIMESTAMP, p.timestamp.map(|t| t.to_string()));
    put(rec::TYPE, p.kind.clone());
    put(rec::USER_ID, p.user_id.clone());
    put(rec::APP_ID, p.app_id.clone());
    put(rec::CLUSTER_ID, p.cluster_id.clone());
    put(rec::PRIORITY, p.priority.map(|t| t.to_string()));
    if let Some(q) = q {
        user.extend(q.user_properties.iter().cloned());
    }
    out.user_properties = user;
    Some(out)
}

/// A Kafka header name as a string: itself when it is UTF-8, else
/// `trident-b64:` and its bytes in standard base64.
pub fn header_name_from_bytes(raw: &[u8]) -> String {
    match std::str::from_utf8(raw) {
        Ok(s) => s.to_string(),
        Err(_) => format!("{ESCAPED_NAME_PREFIX}{}", b64::encode(raw)),
    }
}

/// The bytes a header name is written as in a record: the inverse of
/// [`header_name_from_bytes`], so an escaped name is written as the original bytes.
/// (A UTF-8 name of the escaped form whose bytes are UTF-8 is left as it is.)
pub fn header_name_bytes(name: &str) -> Cow<'_, [u8]> {
    if let Some(rest) = name.strip_prefix(ESCAPED_NAME_PREFIX)
        && let Some(raw) = b64::decode(rest)
        && std::str::from_utf8(&raw).is_err()
    {
        return Cow::Owned(raw);
    }
    Cow::Borrowed(name.as_bytes())
}

#[cfg(test)]
mod tests;
