//! Typed header values.
//!
//! The set of types is AMQP 0-9-1's field-table types (as RabbitMQ reads them), because
//! that is the richest header model of the three protocols: Kafka headers (name -> bytes)
//! and MQTT 5 user properties (string -> string) map into it without loss, and AMQP
//! headers survive a round trip through the engine unchanged.

use bytes::Bytes;
use serde::{Deserialize, Serialize};

/// An ordered header table. Order is kept because AMQP clients can observe it and
/// because duplicate names are legal in Kafka headers and MQTT user properties.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FieldTable(pub Vec<(String, FieldValue)>);

impl FieldTable {
    pub fn new() -> Self {
        Self(Vec::new())
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// The first value stored under `name`.
    pub fn get(&self, name: &str) -> Option<&FieldValue> {
        self.0.iter().find(|(k, _)| k == name).map(|(_, v)| v)
    }

    /// Replaces the first value under `name`, or appends it.
    pub fn insert(&mut self, name: impl Into<String>, value: FieldValue) {
        let name = name.into();
        match self.0.iter_mut().find(|(k, _)| *k == name) {
            Some(slot) => slot.1 = value,
            None => self.0.push((name, value)),
        }
    }

    pub fn remove(&mut self, name: &str) -> Option<FieldValue> {
        let pos = self.0.iter().position(|(k, _)| k == name)?;
        Some(self.0.remove(pos).1)
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &FieldValue)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v))
    }

    /// A string-valued entry, accepting both short and long strings.
    pub fn get_str(&self, name: &str) -> Option<&str> {
        self.get(name).and_then(FieldValue::as_str)
    }

    /// An integer-valued entry of any width (RabbitMQ clients send `x-max-length` as
    /// whatever integer type their language prefers).
    pub fn get_i64(&self, name: &str) -> Option<i64> {
        self.get(name).and_then(FieldValue::as_i64)
    }
}

impl FromIterator<(String, FieldValue)> for FieldTable {
    fn from_iter<T: IntoIterator<Item = (String, FieldValue)>>(iter: T) -> Self {
        Self(iter.into_iter().collect())
    }
}

/// One typed value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum FieldValue {
    Bool(bool),
    I8(i8),
    U8(u8),
    I16(i16),
    U16(u16),
    I32(i32),
    U32(u32),
    I64(i64),
    U64(u64),
    F32(f32),
    F64(f64),
    /// AMQP decimal: `value / 10^scale`.
    Decimal {
        scale: u8,
        value: u32,
    },
    /// A string that fits in 255 bytes (AMQP short string).
    ShortString(String),
    /// Text of any length.
    LongString(String),
    /// Opaque bytes (AMQP byte array, Kafka header values that are not UTF-8).
    Bytes(Bytes),
    /// Seconds since the Unix epoch.
    Timestamp(u64),
    Table(FieldTable),
    Array(Vec<FieldValue>),
    Void,
}

impl FieldValue {
    pub fn as_str(&self) -> Option<&str> {
        match self {
            FieldValue::ShortString(s) | FieldValue::LongString(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_i64(&self) -> Option<i64> {
        match *self {
            FieldValue::Timestamp(v) => i64::try_from(v).ok(),
            _ => i64::try_from(self.as_i128()?).ok(),
        }
    }

    pub fn as_bool(&self) -> Option<bool> {
        match *self {
            FieldValue::Bool(b) => Some(b),
            _ => None,
        }
    }

    /// Headers-exchange equality. RabbitMQ compares values without their type tags, so
    /// integers of different widths with the same value match (clients pick widths by
    /// language, not by intent), and text matches bytes with the same content.
    pub fn matches(&self, other: &FieldValue) -> bool {
        if let (Some(a), Some(b)) = (self.as_i128(), other.as_i128()) {
            return a == b;
        }
        match (self.as_text_bytes(), other.as_text_bytes()) {
            (Some(a), Some(b)) => a == b,
            _ => self == other,
        }
    }

    /// Any integer (not timestamps, which are a distinct AMQP type), widened.
    fn as_i128(&self) -> Option<i128> {
        Some(match *self {
            FieldValue::I8(v) => v.into(),
            FieldValue::U8(v) => v.into(),
            FieldValue::I16(v) => v.into(),
            FieldValue::U16(v) => v.into(),
            FieldValue::I32(v) => v.into(),
            FieldValue::U32(v) => v.into(),
            FieldValue::I64(v) => v.into(),
            FieldValue::U64(v) => v.into(),
            _ => return None,
        })
    }

    fn as_text_bytes(&self) -> Option<&[u8]> {
        match self {
            FieldValue::ShortString(s) | FieldValue::LongString(s) => Some(s.as_bytes()),
            FieldValue::Bytes(b) => Some(b),
            _ => None,
        }
    }
}

impl From<&str> for FieldValue {
    fn from(s: &str) -> Self {
        FieldValue::LongString(s.to_string())
    }
}

impl From<String> for FieldValue {
    fn from(s: String) -> Self {
        FieldValue::LongString(s)
    }
}

impl From<i64> for FieldValue {
    fn from(v: i64) -> Self {
        FieldValue::I64(v)
    }
}

impl From<bool> for FieldValue {
    fn from(v: bool) -> Self {
        FieldValue::Bool(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_matching_ignores_type_tags_like_rabbitmq() {
        assert!(FieldValue::I32(1).matches(&FieldValue::I64(1)));
        assert!(FieldValue::U8(7).matches(&FieldValue::I16(7)));
        assert!(!FieldValue::I32(1).matches(&FieldValue::I32(2)));
        assert!(FieldValue::ShortString("a".into()).matches(&FieldValue::LongString("a".into())));
        assert!(
            FieldValue::Bytes(Bytes::from_static(b"a"))
                .matches(&FieldValue::LongString("a".into()))
        );
        assert!(!FieldValue::Bool(true).matches(&FieldValue::I8(1)));
    }
}
