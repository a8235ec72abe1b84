//! Content headers (spec §4.2.6.1) of the basic class: body size and the fourteen
//! basic properties, announced by a 16-bit flag word (first property in bit 15).

use bytes::{BufMut, BytesMut};
use trident_core::{DeliveryMode, FieldTable, Message, Properties};

use super::frame::{FRAME_HEADER, begin_frame, end_frame};
use super::table::{put_table, read_table};
use super::wire::{DecodeError, Reader, put_short_str};
use trident_engine::crossing;

pub const CLASS_BASIC: u16 = 60;

const CONTENT_TYPE: u16 = 1 << 15;
const CONTENT_ENCODING: u16 = 1 << 14;
const HEADERS: u16 = 1 << 13;
const DELIVERY_MODE: u16 = 1 << 12;
const PRIORITY: u16 = 1 << 11;
const CORRELATION_ID: u16 = 1 << 10;
const REPLY_TO: u16 = 1 << 9;
const EXPIRATION: u16 = 1 << 8;
const MESSAGE_ID: u16 = 1 << 7;
const TIMESTAMP: u16 = 1 << 6;
const KIND: u16 = 1 << 5;
const USER_ID: u16 = 1 << 4;
const APP_ID: u16 = 1 << 3;
const CLUSTER_ID: u16 = 1 << 2;
const CONTINUATION: u16 = 1;

/// A decoded content header.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ContentHeader {
    pub class_id: u16,
    pub body_size: u64,
    pub properties: Properties,
    /// The `headers` property, kept apart because the core message model holds
    /// headers outside `Properties` (they are shared with Kafka and MQTT).
    pub headers: FieldTable,
}

impl ContentHeader {
    /// Persistent when the publisher asked for delivery mode 2.
    pub fn delivery_mode(&self) -> DeliveryMode {
        if self.properties.delivery_mode == Some(2) {
            DeliveryMode::Persistent
        } else {
            DeliveryMode::Transient
        }
    }
}

pub fn decode_content_header(payload: &[u8]) -> Result<ContentHeader, DecodeError> {
    let mut r = Reader::new(payload);
    let class_id = r.u16()?;
    let _weight = r.u16()?;
    let body_size = r.u64()?;
    let flags = r.u16()?;
    if flags & CONTINUATION != 0 {
        return Err(DecodeError::PropertyContinuation);
    }
    let mut p = Properties::default();
    let mut headers = FieldTable::new();
    let has = |bit: u16| flags & bit != 0;
    if has(CONTENT_TYPE) {
        p.content_type = Some(r.short_str()?);
    }
    if has(CONTENT_ENCODING) {
        p.content_encoding = Some(r.short_str()?);
    }
    if has(HEADERS) {
        headers = read_table(&mut r)?;
    }
    if has(DELIVERY_MODE) {
        p.delivery_mode = Some(r.u8()?);
    }
    if has(PRIORITY) {
        p.priority = Some(r.u8()?);
    }
    if has(CORRELATION_ID) {
        p.correlation_id = Some(r.short_str()?);
    }
    if has(REPLY_TO) {
        p.reply_to = Some(r.short_str()?);
    }
    if has(EXPIRATION) {
        p.expiration = Some(r.short_str()?);
    }
    if has(MESSAGE_ID) {
        p.message_id = Some(r.short_str()?);
    }
    if has(TIMESTAMP) {
        p.timestamp = Some(r.u64()?);
    }
    if has(KIND) {
        p.kind = Some(r.short_str()?);
    }
    if has(USER_ID) {
        p.user_id = Some(r.short_str()?);
    }
    if has(APP_ID) {
        p.app_id = Some(r.short_str()?);
    }
    if has(CLUSTER_ID) {
        p.cluster_id = Some(r.short_str()?);
    }
    Ok(ContentHeader {
        class_id,
        body_size,
        properties: p,
        headers,
    })
}

/// Writes a complete content header frame for `message`.
pub fn put_content_header(out: &mut BytesMut, channel: u16, message: &Message) {
    let at = begin_frame(out, FRAME_HEADER, channel);
    out.put_u16(CLASS_BASIC);
    out.put_u16(0);
    out.put_u64(message.body.len() as u64);
    // A message from MQTT 5 is shown with its MQTT properties in AMQP terms (the one
    // mapping, `crossing`); any other message as it is, without a copy.
    let view = crossing::amqp_view(message);
    let (p, headers) = match &view {
        Some((p, h)) => (p, h),
        None => (&message.properties, &message.headers),
    };
    // A message published over another protocol has no AMQP delivery mode of its own;
    // report persistence the way an AMQP publisher would have asked for it.
    let delivery_mode = p
        .delivery_mode
        .or_else(|| message.is_persistent().then_some(2));
    let mut flags = 0u16;
    let mut flag = |present: bool, bit: u16| {
        if present {
            flags |= bit;
        }
    };
    flag(p.content_type.is_some(), CONTENT_TYPE);
    flag(p.content_encoding.is_some(), CONTENT_ENCODING);
    flag(!headers.is_empty(), HEADERS);
    flag(delivery_mode.is_some(), DELIVERY_MODE);
    flag(p.priority.is_some(), PRIORITY);
    flag(p.correlation_id.is_some(), CORRELATION_ID);
    flag(p.reply_to.is_some(), REPLY_TO);
    flag(p.expiration.is_some(), EXPIRATION);
    flag(p.message_id.is_some(), MESSAGE_ID);
    flag(p.timestamp.is_some(), TIMESTAMP);
    flag(p.kind.is_some(), KIND);
    flag(p.user_id.is_some(), USER_ID);
    flag(p.app_id.is_some(), APP_ID);
    flag(p.cluster_id.is_some(), CLUSTER_ID);
    out.put_u16(flags);
    let s = |out: &mut BytesMut, v: &Option<String>| {
        if let Some(v) = v {
            put_short_str(out, v);
        }
    };
    s(out, &p.content_type);
    s(out, &p.content_encoding);
    if !headers.is_empty() {
        put_table(out, headers);
    }
    if let Some(m) = delivery_mode {
        out.put_u8(m);
    }
    if let Some(v) = p.priority {
        out.put_u8(v);
    }
    s(out, &p.correlation_id);
    s(out, &p.reply_to);
    s(out, &p.expiration);
    s(out, &p.message_id);
    if let Some(t) = p.timestamp {
        out.put_u64(t);
    }
    s(out, &p.kind);
    s(out, &p.user_id);
    s(out, &p.app_id);
    s(out, &p.cluster_id);
    end_frame(out, at);
}

#[cfg(test)]
mod tests {
    use super::*;
    use trident_core::FieldValue;

    #[test]
    fn roundtrip_all_properties() {
        let mut m = Message::new(&b"body"[..]);
        m.properties = Properties {
            content_type: Some("text/plain".into()),
            content_encoding: Some("gzip".into()),
            delivery_mode: Some(2),
            priority: Some(7),
            correlation_id: Some("c1".into()),
            reply_to: Some("amq.rabbitmq.reply-to".into()),
            expiration: Some("60000".into()),
            message_id: Some("m1".into()),
            timestamp: Some(1_700_000_000),
            kind: Some("t".into()),
            user_id: Some("guest".into()),
            app_id: Some("app".into()),
            cluster_id: Some("c".into()),
        };
        m.headers.insert("x", FieldValue::I64(1));
        let mut out = BytesMut::new();
        put_content_header(&mut out, 5, &m);
        // Skip the 7-byte frame header and the frame end.
        let h = decode_content_header(&out[7..out.len() - 1]);
        let h = h.unwrap_or_default();
        assert_eq!(h.class_id, CLASS_BASIC);
        assert_eq!(h.body_size, 4);
        assert_eq!(h.properties, m.properties);
        assert_eq!(h.headers, m.headers);
        assert_eq!(h.delivery_mode(), DeliveryMode::Persistent);
    }

    #[test]
    fn empty_properties() {
        let m = Message::new(&b""[..]);
        let mut out = BytesMut::new();
        put_content_header(&mut out, 1, &m);
        let h = decode_content_header(&out[7..out.len() - 1]).unwrap_or_default();
        assert_eq!(h.properties, Properties::default());
        assert_eq!(h.delivery_mode(), DeliveryMode::Transient);
    }
}
