//! A compact, versioned binary encoding of [`Message`] for the queue store.
//!
//! ```text
//! u8       version (1, or 2 when an origin is present)
//! u8       flags: bit0 key present, bit1 mqtt present, bit2 persistent,
//!          bit3 origin present (version 2 only)
//! i64 LE   timestamp_ms
//! string   exchange, then routing_key (varint length + UTF-8)
//! [origin] string (version 2, flag bit3)
//! u16 LE   mask of present Properties fields (declaration order), then those fields:
//!          strings = varint length + UTF-8; delivery_mode, priority = u8;
//!          timestamp = varint
//! table    headers: varint count, then (string name, value) pairs
//! [mqtt]   u8 mask (bit0 format present, bit1 format value, bit2 expiry, bit3
//!          content_type, bit4 response_topic, bit5 correlation_data), the present
//!          fields, then varint count + (string, string) user properties
//! [key]    varint length + bytes
//! body     varint length + bytes; must end exactly at the end of the input
//! value    u8 tag + payload; integers and floats fixed-width LE (floats as bits, so
//!          NaN payloads survive), Decimal = u8 scale + u32 value
//! ```
//!
//! A message without an origin is written as version 1, byte for byte what older
//! builds wrote and read; both versions are read.
//!
//! Varints are unsigned LEB128 (at most 10 bytes). Decoding never trusts a length: each
//! is checked against the bytes that remain before anything is allocated, element
//! counts only pre-allocate as many slots as the remaining bytes could fill, and
//! nesting deeper than [`MAX_DEPTH`] is rejected, so corrupt input yields an error,
//! never a panic, an abort or a large allocation. Byte fields (body, key, correlation
//! data, byte-array headers) are zero-copy slices of the input buffer.

mod arrival;
mod wire;

use bytes::Bytes;
use trident_core::{DeliveryMode, Message, MqttProperties, Properties};

pub use arrival::{decode_arrival, encode_arrival};
use wire::{Reader, decode_table, encode_table, put_bytes, put_varint};

/// The first layout; still written for messages without an origin.
const VERSION: u8 = 1;
/// Adds the origin.
const VERSION_ORIGIN: u8 = 2;
/// Tables and arrays nested deeper than this are refused (AMQP clients never go near
/// it; the limit only keeps a crafted input from exhausting the stack).
pub const MAX_DEPTH: usize = 32;

const F_KEY: u8 = 1;
const F_MQTT: u8 = 2;
const F_PERSISTENT: u8 = 4;
const F_ORIGIN: u8 = 8;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CodecError {
    #[error("input ends early")]
    Truncated,
    #[error("unsupported message encoding version {0}")]
    Version(u8),
    #[error("invalid {0}")]
    Invalid(&'static str),
    #[error("unknown field value tag {0}")]
    UnknownTag(u8),
    #[error("headers nested deeper than {MAX_DEPTH} levels")]
    TooDeep,
    #[error("{0} bytes left over after the message")]
    Trailing(usize),
}

/// Appends the encoding of `msg` to `out`.
pub fn encode_message(msg: &Message, out: &mut Vec<u8>) {
    out.push(if msg.origin.is_some() {
        VERSION_ORIGIN
    } else {
        VERSION
    });
    let mut flags = 0;
    if msg.key.is_some() {
        flags |= F_KEY;
    }
    if msg.mqtt.is_some() {
        flags |= F_MQTT;
    }
    if msg.delivery_mode == DeliveryMode::Persistent {
        flags |= F_PERSISTENT;
    }
    if msg.origin.is_some() {
        flags |= F_ORIGIN;
    }
    out.push(flags);
    out.extend_from_slice(&msg.timestamp_ms.to_le_bytes());
    put_bytes(out, msg.exchange.as_bytes());
    put_bytes(out, msg.routing_key.as_bytes());
    if let Some(origin) = &msg.origin {
        put_bytes(out, origin.as_bytes());
    }
    encode_properties(&msg.properties, out);
    encode_table(&msg.headers, out);
    if let Some(m) = &msg.mqtt {
        encode_mqtt(m, out);
    }
    if let Some(k) = &msg.key {
        put_bytes(out, k);
    }
    put_bytes(out, &msg.body);
}

/// Decodes a message produced by [`encode_message`]. `buf` is sliced, not copied.
pub fn decode_message(buf: &Bytes) -> Result<Message, CodecError> {
    let mut r = Reader { buf, pos: 0 };
    let version = r.u8()?;
    let known_flags = match version {
        VERSION => F_KEY | F_MQTT | F_PERSISTENT,
        VERSION_ORIGIN => F_KEY | F_MQTT | F_PERSISTENT | F_ORIGIN,
        v => return Err(CodecError::Version(v)),
    };
    let flags = r.u8()?;
    if flags & !known_flags != 0 {
        return Err(CodecError::Invalid("flags"));
    }
    let timestamp_ms = i64::from_le_bytes(r.array()?);
    let exchange = r.string()?;
    let routing_key = r.string()?;
    let origin = if flags & F_ORIGIN != 0 {
        Some(std::sync::Arc::from(r.string()?))
    } else {
        None
    };
    let properties = decode_properties(&mut r)?;
    let headers = decode_table(&mut r, 0)?;
    let mqtt = if flags & F_MQTT != 0 {
        Some(Box::new(decode_mqtt(&mut r)?))
    } else {
        None
    };
    let key = if flags & F_KEY != 0 {
        Some(r.bytes()?)
    } else {
        None
    };
    let body = r.bytes()?;
    let left = buf.len() - r.pos;
    if left != 0 {
        return Err(CodecError::Trailing(left));
    }
    Ok(Message {
        body,
        key,
        headers,
        properties,
        mqtt,
        timestamp_ms,
        delivery_mode: if flags & F_PERSISTENT != 0 {
            DeliveryMode::Persistent
        } else {
            DeliveryMode::Transient
        },
        exchange,
        routing_key,
        origin,
    })
}

fn encode_properties(p: &Properties, out: &mut Vec<u8>) {
    let strs = [
        &p.content_type,
        &p.content_encoding,
        &p.correlation_id,
        &p.reply_to,
        &p.expiration,
        &p.message_id,
        &p.kind,
        &p.user_id,
        &p.app_id,
        &p.cluster_id,
    ];
    let mut mask: u16 = 0;
    for (i, s) in strs.iter().enumerate() {
        if s.is_some() {
            mask |= 1 << i;
        }
    }
    if p.delivery_mode.is_some() {
        mask |= 1 << 10;
    }
    if p.priority.is_some() {
        mask |= 1 << 11;
    }
    if p.timestamp.is_some() {
        mask |= 1 << 12;
    }
    out.extend_from_slice(&mask.to_le_bytes());
    for s in strs.into_iter().flatten() {
        put_bytes(out, s.as_bytes());
    }
    if let Some(v) = p.delivery_mode {
        out.push(v);
    }
    if let Some(v) = p.priority {
        out.push(v);
    }
    if let Some(v) = p.timestamp {
        put_varint(out, v);
    }
}

fn decode_properties(r: &mut Reader<'_>) -> Result<Properties, CodecError> {
    let mask = u16::from_le_bytes(r.array()?);
    if mask >> 13 != 0 {
        return Err(CodecError::Invalid("property mask"));
    }
    let mut strs: [Option<String>; 10] = Default::default();
    for (i, slot) in strs.iter_mut().enumerate() {
        if mask & (1 << i) != 0 {
            *slot = Some(r.string()?);
        }
    }
    let delivery_mode = if mask & (1 << 10) != 0 {
        Some(r.u8()?)
    } else {
        None
    };
    let priority = if mask & (1 << 11) != 0 {
        Some(r.u8()?)
    } else {
        None
    };
    let timestamp = if mask & (1 << 12) != 0 {
        Some(r.varint()?)
    } else {
        None
    };
    let [
        content_type,
        content_encoding,
        correlation_id,
        reply_to,
        expiration,
        message_id,
        kind,
        user_id,
        app_id,
        cluster_id,
    ] = strs;
    Ok(Properties {
        content_type,
        content_encoding,
        delivery_mode,
        priority,
        correlation_id,
        reply_to,
        expiration,
        message_id,
        timestamp,
        kind,
        user_id,
        app_id,
        cluster_id,
    })
}

fn encode_mqtt(m: &MqttProperties, out: &mut Vec<u8>) {
    let mut mask = 0u8;
    if let Some(f) = m.payload_format_utf8 {
        mask |= 1;
        if f {
            mask |= 2;
        }
    }
    if m.message_expiry_secs.is_some() {
        mask |= 4;
    }
    if m.content_type.is_some() {
        mask |= 8;
    }
    if m.response_topic.is_some() {
        mask |= 16;
    }
    if m.correlation_data.is_some() {
        mask |= 32;
    }
    out.push(mask);
    if let Some(v) = m.message_expiry_secs {
        out.extend_from_slice(&v.to_le_bytes());
    }
    if let Some(s) = &m.content_type {
        put_bytes(out, s.as_bytes());
    }
    if let Some(s) = &m.response_topic {
        put_bytes(out, s.as_bytes());
    }
    if let Some(b) = &m.correlation_data {
        put_bytes(out, b);
    }
    put_varint(out, m.user_properties.len() as u64);
    for (k, v) in &m.user_properties {
        put_bytes(out, k.as_bytes());
        put_bytes(out, v.as_bytes());
    }
}

fn decode_mqtt(r: &mut Reader<'_>) -> Result<MqttProperties, CodecError> {
    let mask = r.u8()?;
    if mask >> 6 != 0 || (mask & 2 != 0 && mask & 1 == 0) {
        return Err(CodecError::Invalid("mqtt property mask"));
    }
    let payload_format_utf8 = (mask & 1 != 0).then_some(mask & 2 != 0);
    let message_expiry_secs = if mask & 4 != 0 {
        Some(u32::from_le_bytes(r.array()?))
    } else {
        None
    };
    let content_type = if mask & 8 != 0 {
        Some(r.string()?)
    } else {
        None
    };
    let response_topic = if mask & 16 != 0 {
        Some(r.string()?)
    } else {
        None
    };
    let correlation_data = if mask & 32 != 0 {
        Some(r.bytes()?)
    } else {
        None
    };
    // Each pair takes at least two bytes (two empty strings).
    let n = r.count(2)?;
    let mut user_properties = Vec::with_capacity(n);
    for _ in 0..n {
        user_properties.push((r.string()?, r.string()?));
    }
    Ok(MqttProperties {
        payload_format_utf8,
        message_expiry_secs,
        content_type,
        response_topic,
        correlation_data,
        user_properties,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests;
