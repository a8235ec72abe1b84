//! A compact, versioned binary encoding of [`Message`] for the queue store.
//!
//! ```text
//! u8       version (1)
//! u8       flags: bit0 key present, bit1 mqtt present, bit2 persistent
//! i64 LE   timestamp_ms
//! string   exchange, then routing_key (varint length + UTF-8)
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
//! Varints are unsigned LEB128 (at most 10 bytes). Decoding never trusts a length: each
//! is checked against the bytes that remain before anything is allocated, element
//! counts only pre-allocate as many slots as the remaining bytes could fill, and
//! nesting deeper than [`MAX_DEPTH`] is rejected, so corrupt input yields an error,
//! never a panic, an abort or a large allocation. Byte fields (body, key, correlation
//! data, byte-array headers) are zero-copy slices of the input buffer.

use bytes::Bytes;
use trident_core::{DeliveryMode, FieldTable, FieldValue, Message, MqttProperties, Properties};

const VERSION: u8 = 1;
/// Tables and arrays nested deeper than this are refused (AMQP clients never go near
/// it; the limit only keeps a crafted input from exhausting the stack).
pub const MAX_DEPTH: usize = 32;

const F_KEY: u8 = 1;
const F_MQTT: u8 = 2;
const F_PERSISTENT: u8 = 4;

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
    out.push(VERSION);
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
    out.push(flags);
    out.extend_from_slice(&msg.timestamp_ms.to_le_bytes());
    put_bytes(out, msg.exchange.as_bytes());
    put_bytes(out, msg.routing_key.as_bytes());
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
    if version != VERSION {
        return Err(CodecError::Version(version));
    }
    let flags = r.u8()?;
    if flags & !(F_KEY | F_MQTT | F_PERSISTENT) != 0 {
        return Err(CodecError::Invalid("flags"));
    }
    let timestamp_ms = i64::from_le_bytes(r.array()?);
    let exchange = r.string()?;
    let routing_key = r.string()?;
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
    })
}

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn put_bytes(out: &mut Vec<u8>, b: &[u8]) {
    put_varint(out, b.len() as u64);
    out.extend_from_slice(b);
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

fn encode_table(t: &FieldTable, out: &mut Vec<u8>) {
    put_varint(out, t.0.len() as u64);
    for (k, v) in &t.0 {
        put_bytes(out, k.as_bytes());
        encode_value(v, out);
    }
}

fn encode_value(v: &FieldValue, out: &mut Vec<u8>) {
    match v {
        FieldValue::Void => out.push(0),
        FieldValue::Bool(b) => out.extend_from_slice(&[1, u8::from(*b)]),
        FieldValue::I8(x) => out.extend_from_slice(&[2, *x as u8]),
        FieldValue::U8(x) => out.extend_from_slice(&[3, *x]),
        FieldValue::I16(x) => {
            out.push(4);
            out.extend_from_slice(&x.to_le_bytes());
        }
        FieldValue::U16(x) => {
            out.push(5);
            out.extend_from_slice(&x.to_le_bytes());
        }
        FieldValue::I32(x) => {
            out.push(6);
            out.extend_from_slice(&x.to_le_bytes());
        }
        FieldValue::U32(x) => {
            out.push(7);
            out.extend_from_slice(&x.to_le_bytes());
        }
        FieldValue::I64(x) => {
            out.push(8);
            out.extend_from_slice(&x.to_le_bytes());
        }
        FieldValue::U64(x) => {
            out.push(9);
            out.extend_from_slice(&x.to_le_bytes());
        }
        FieldValue::F32(x) => {
            out.push(10);
            out.extend_from_slice(&x.to_bits().to_le_bytes());
        }
        FieldValue::F64(x) => {
            out.push(11);
            out.extend_from_slice(&x.to_bits().to_le_bytes());
        }
        FieldValue::Decimal { scale, value } => {
            out.extend_from_slice(&[12, *scale]);
            out.extend_from_slice(&value.to_le_bytes());
        }
        FieldValue::ShortString(s) => {
            out.push(13);
            put_bytes(out, s.as_bytes());
        }
        FieldValue::LongString(s) => {
            out.push(14);
            put_bytes(out, s.as_bytes());
        }
        FieldValue::Bytes(b) => {
            out.push(15);
            put_bytes(out, b);
        }
        FieldValue::Timestamp(t) => {
            out.push(16);
            out.extend_from_slice(&t.to_le_bytes());
        }
        FieldValue::Table(t) => {
            out.push(17);
            encode_table(t, out);
        }
        FieldValue::Array(a) => {
            out.push(18);
            put_varint(out, a.len() as u64);
            for v in a {
                encode_value(v, out);
            }
        }
    }
}

fn decode_table(r: &mut Reader<'_>, depth: usize) -> Result<FieldTable, CodecError> {
    if depth > MAX_DEPTH {
        return Err(CodecError::TooDeep);
    }
    // An entry is at least a one-byte name length and a one-byte tag.
    let n = r.count(2)?;
    let mut entries = Vec::with_capacity(n);
    for _ in 0..n {
        let k = r.string()?;
        let v = decode_value(r, depth)?;
        entries.push((k, v));
    }
    Ok(FieldTable(entries))
}

fn decode_value(r: &mut Reader<'_>, depth: usize) -> Result<FieldValue, CodecError> {
    let tag = r.u8()?;
    Ok(match tag {
        0 => FieldValue::Void,
        1 => match r.u8()? {
            0 => FieldValue::Bool(false),
            1 => FieldValue::Bool(true),
            _ => return Err(CodecError::Invalid("bool")),
        },
        2 => FieldValue::I8(i8::from_le_bytes(r.array()?)),
        3 => FieldValue::U8(r.u8()?),
        4 => FieldValue::I16(i16::from_le_bytes(r.array()?)),
        5 => FieldValue::U16(u16::from_le_bytes(r.array()?)),
        6 => FieldValue::I32(i32::from_le_bytes(r.array()?)),
        7 => FieldValue::U32(u32::from_le_bytes(r.array()?)),
        8 => FieldValue::I64(i64::from_le_bytes(r.array()?)),
        9 => FieldValue::U64(u64::from_le_bytes(r.array()?)),
        10 => FieldValue::F32(f32::from_bits(u32::from_le_bytes(r.array()?))),
        11 => FieldValue::F64(f64::from_bits(u64::from_le_bytes(r.array()?))),
        12 => {
            let scale = r.u8()?;
            FieldValue::Decimal {
                scale,
                value: u32::from_le_bytes(r.array()?),
            }
        }
        13 => FieldValue::ShortString(r.string()?),
        14 => FieldValue::LongString(r.string()?),
        15 => FieldValue::Bytes(r.bytes()?),
        16 => FieldValue::Timestamp(u64::from_le_bytes(r.array()?)),
        17 => FieldValue::Table(decode_table(r, depth + 1)?),
        18 => {
            if depth + 1 > MAX_DEPTH {
                return Err(CodecError::TooDeep);
            }
            let n = r.count(1)?;
            let mut items = Vec::with_capacity(n);
            for _ in 0..n {
                items.push(decode_value(r, depth + 1)?);
            }
            FieldValue::Array(items)
        }
        t => return Err(CodecError::UnknownTag(t)),
    })
}

struct Reader<'a> {
    buf: &'a Bytes,
    pos: usize,
}

impl Reader<'_> {
    fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    fn take(&mut self, n: usize) -> Result<&[u8], CodecError> {
        if n > self.remaining() {
            return Err(CodecError::Truncated);
        }
        let s = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    fn u8(&mut self) -> Result<u8, CodecError> {
        Ok(self.take(1)?[0])
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], CodecError> {
        let mut a = [0u8; N];
        a.copy_from_slice(self.take(N)?);
        Ok(a)
    }

    fn varint(&mut self) -> Result<u64, CodecError> {
        let mut v: u64 = 0;
        for i in 0..10 {
            let b = self.u8()?;
            if i == 9 && b > 1 {
                return Err(CodecError::Invalid("varint overflows 64 bits"));
            }
            v |= u64::from(b & 0x7f) << (7 * i);
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err(CodecError::Invalid("varint too long"))
    }

    /// A length that must fit in the remaining input.
    fn len(&mut self) -> Result<usize, CodecError> {
        let n = self.varint()?;
        match usize::try_from(n) {
            Ok(n) if n <= self.remaining() => Ok(n),
            _ => Err(CodecError::Truncated),
        }
    }

    /// An element count, each element taking at least `min_size` bytes.
    fn count(&mut self, min_size: usize) -> Result<usize, CodecError> {
        let n = self.varint()?;
        match usize::try_from(n) {
            Ok(n) if n.saturating_mul(min_size) <= self.remaining() => Ok(n),
            _ => Err(CodecError::Truncated),
        }
    }

    fn bytes(&mut self) -> Result<Bytes, CodecError> {
        let n = self.len()?;
        let s = self.buf.slice(self.pos..self.pos + n);
        self.pos += n;
        Ok(s)
    }

    fn string(&mut self) -> Result<String, CodecError> {
        let n = self.len()?;
        let s = self.take(n)?;
        std::str::from_utf8(s)
            .map(str::to_owned)
            .map_err(|_| CodecError::Invalid("UTF-8 in string"))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use proptest::prelude::*;

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
            (any::<u8>(), any::<u32>())
                .prop_map(|(scale, value)| FieldValue::Decimal { scale, value }),
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
        ) -> Message {
            Message {
                body, key, headers: FieldTable(headers), properties, mqtt: mqtt.map(Box::new), timestamp_ms,
                delivery_mode: if persistent { DeliveryMode::Persistent } else { DeliveryMode::Transient },
                exchange, routing_key,
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
}
