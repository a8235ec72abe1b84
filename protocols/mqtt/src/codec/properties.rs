//! MQTT 5 properties (spec §2.2.2): a variable-byte length, then identifier/value
//! pairs. This file reads and writes them generically and enforces the rules that hold
//! for every packet: an identifier not valid for the packet type is malformed (§2.2.2.2),
//! a property that may appear once and appears twice is a protocol error (each
//! property's own section), and values outside their range are protocol errors (a
//! boolean byte other than 0 or 1; Receive Maximum, Maximum Packet Size, Topic Alias
//! or Subscription Identifier of 0, [MQTT-3.3.2-8]). The per-packet structures are in
//! `property_sets.rs`.

use bytes::Bytes;

use super::error::{DecodeError, EncodeError, Field, Malformed, Violation};
use super::packet::PacketType;
use super::wire::{Counter, Reader, Sink, put_binary, put_str, put_var_int};

/// Name/value pairs, in the order they arrived: the server must forward them unaltered
/// and in order ([MQTT-3.3.2-17], [MQTT-3.3.2-18]). A name may repeat.
pub type UserProperties = Vec<(String, String)>;

/// Property identifiers (spec Table 2-4).
pub(crate) mod id {
    pub const PAYLOAD_FORMAT_INDICATOR: u8 = 0x01;
    pub const MESSAGE_EXPIRY_INTERVAL: u8 = 0x02;
    pub const CONTENT_TYPE: u8 = 0x03;
    pub const RESPONSE_TOPIC: u8 = 0x08;
    pub const CORRELATION_DATA: u8 = 0x09;
    pub const SUBSCRIPTION_IDENTIFIER: u8 = 0x0B;
    pub const SESSION_EXPIRY_INTERVAL: u8 = 0x11;
    pub const ASSIGNED_CLIENT_IDENTIFIER: u8 = 0x12;
    pub const SERVER_KEEP_ALIVE: u8 = 0x13;
    pub const AUTHENTICATION_METHOD: u8 = 0x15;
    pub const AUTHENTICATION_DATA: u8 = 0x16;
    pub const REQUEST_PROBLEM_INFORMATION: u8 = 0x17;
    pub const WILL_DELAY_INTERVAL: u8 = 0x18;
    pub const REQUEST_RESPONSE_INFORMATION: u8 = 0x19;
    pub const RESPONSE_INFORMATION: u8 = 0x1A;
    pub const SERVER_REFERENCE: u8 = 0x1C;
    pub const REASON_STRING: u8 = 0x1F;
    pub const RECEIVE_MAXIMUM: u8 = 0x21;
    pub const TOPIC_ALIAS_MAXIMUM: u8 = 0x22;
    pub const TOPIC_ALIAS: u8 = 0x23;
    pub const MAXIMUM_QOS: u8 = 0x24;
    pub const RETAIN_AVAILABLE: u8 = 0x25;
    pub const USER_PROPERTY: u8 = 0x26;
    pub const MAXIMUM_PACKET_SIZE: u8 = 0x27;
    pub const WILDCARD_SUBSCRIPTION_AVAILABLE: u8 = 0x28;
    pub const SUBSCRIPTION_IDENTIFIER_AVAILABLE: u8 = 0x29;
    pub const SHARED_SUBSCRIPTION_AVAILABLE: u8 = 0x2A;
}

/// A set of property identifiers (all are below 64).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct IdSet(u64);

impl IdSet {
    pub(crate) const EMPTY: Self = Self(0);

    pub(crate) const fn of(ids: &[u8]) -> Self {
        let mut bits = 0u64;
        let mut i = 0;
        while i < ids.len() {
            bits |= 1 << ids[i];
            i += 1;
        }
        Self(bits)
    }

    /// The identifiers of `ids` whose flag is set.
    pub(crate) const fn of_flagged(ids: &[(u8, bool)]) -> Self {
        let mut bits = 0u64;
        let mut i = 0;
        while i < ids.len() {
            if ids[i].1 {
                bits |= 1 << ids[i].0;
            }
            i += 1;
        }
        Self(bits)
    }

    pub(crate) const fn union(self, other: Self) -> Self {
        Self(self.0 | other.0)
    }

    const fn contains(self, id: u8) -> bool {
        id < 64 && self.0 & (1 << id) != 0
    }

    fn insert(&mut self, id: u8) {
        self.0 |= 1 << id;
    }
}

/// How a property's value is encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Byte,
    U16,
    U32,
    VarInt,
    Str,
    Bin,
    Pair,
}

fn kind_of(property: u8) -> Option<Kind> {
    use id::*;
    Some(match property {
        PAYLOAD_FORMAT_INDICATOR
        | REQUEST_PROBLEM_INFORMATION
        | REQUEST_RESPONSE_INFORMATION
        | MAXIMUM_QOS
        | RETAIN_AVAILABLE
        | WILDCARD_SUBSCRIPTION_AVAILABLE
        | SUBSCRIPTION_IDENTIFIER_AVAILABLE
        | SHARED_SUBSCRIPTION_AVAILABLE => Kind::Byte,
        SERVER_KEEP_ALIVE | RECEIVE_MAXIMUM | TOPIC_ALIAS_MAXIMUM | TOPIC_ALIAS => Kind::U16,
        MESSAGE_EXPIRY_INTERVAL
        | SESSION_EXPIRY_INTERVAL
        | WILL_DELAY_INTERVAL
        | MAXIMUM_PACKET_SIZE => Kind::U32,
        SUBSCRIPTION_IDENTIFIER => Kind::VarInt,
        CONTENT_TYPE
        | RESPONSE_TOPIC
        | ASSIGNED_CLIENT_IDENTIFIER
        | AUTHENTICATION_METHOD
        | RESPONSE_INFORMATION
        | SERVER_REFERENCE
        | REASON_STRING => Kind::Str,
        CORRELATION_DATA | AUTHENTICATION_DATA => Kind::Bin,
        USER_PROPERTY => Kind::Pair,
        _ => return None,
    })
}

/// Byte properties whose only values are 0 and 1 (each section says "It is a Protocol
/// Error to ... have a value other than 0 or 1"; Maximum QoS is 0 or 1 too).
const BOOLEAN_BYTES: IdSet = IdSet::of(&[
    id::PAYLOAD_FORMAT_INDICATOR,
    id::REQUEST_PROBLEM_INFORMATION,
    id::REQUEST_RESPONSE_INFORMATION,
    id::MAXIMUM_QOS,
    id::RETAIN_AVAILABLE,
    id::WILDCARD_SUBSCRIPTION_AVAILABLE,
    id::SUBSCRIPTION_IDENTIFIER_AVAILABLE,
    id::SHARED_SUBSCRIPTION_AVAILABLE,
]);

/// Numeric properties for which 0 is a protocol error.
const NON_ZERO: IdSet = IdSet::of(&[
    id::RECEIVE_MAXIMUM,
    id::MAXIMUM_PACKET_SIZE,
    id::TOPIC_ALIAS,
    id::SUBSCRIPTION_IDENTIFIER,
]);

/// One decoded property value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Value {
    Byte(u8),
    U16(u16),
    /// Four-byte integers and variable byte integers.
    U32(u32),
    Str(String),
    Bin(Bytes),
    Pair(String, String),
}

/// A packet's set of properties: which identifiers it admits and how they map onto its
/// fields.
pub(crate) trait PropertySet: Default {
    /// Identifiers valid in this packet.
    const ALLOWED: IdSet;
    /// Identifiers that may appear more than once here.
    const REPEATABLE: IdSet = IdSet::of(&[id::USER_PROPERTY]);

    /// Stores one decoded property. Only identifiers of `ALLOWED` arrive here, each
    /// with the value kind its identifier has.
    fn set(&mut self, id: u8, value: Value);

    /// Writes every present property (identifier and value), without the length.
    fn write_each(&self, out: &mut impl Sink) -> Result<(), EncodeError>;
}

/// Reads a property block (length and properties) for `packet`.
pub(crate) fn read_properties<P: PropertySet>(
    r: &mut Reader,
    packet: PacketType,
) -> Result<P, DecodeError> {
    let len = r.var_int()? as usize;
    let mut block = r.sub(len)?;
    let mut props = P::default();
    let mut seen = IdSet::EMPTY;
    while !block.is_empty() {
        let raw_id = block.var_int()?;
        let Some((property, kind)) = u8::try_from(raw_id)
            .ok()
            .and_then(|i| kind_of(i).map(|k| (i, k)))
        else {
            return Err(Malformed::UnknownProperty(raw_id).into());
        };
        if !P::ALLOWED.contains(property) {
            return Err(Malformed::PropertyNotAllowed {
                id: property,
                packet,
            }
            .into());
        }
        if seen.contains(property) && !P::REPEATABLE.contains(property) {
            return Err(Violation::DuplicateProperty(property).into());
        }
        seen.insert(property);
        let value = read_value(&mut block, property, kind).map_err(|e| match e {
            // A value running past the block is the block's length being wrong.
            Malformed::Truncated { .. } => Malformed::PropertiesOverrun,
            other => other,
        })?;
        check_range(property, &value)?;
        props.set(property, value);
    }
    Ok(props)
}

fn read_value(r: &mut Reader, property: u8, kind: Kind) -> Result<Value, Malformed> {
    Ok(match kind {
        Kind::Byte => Value::Byte(r.u8()?),
        Kind::U16 => Value::U16(r.u16()?),
        Kind::U32 => Value::U32(r.u32()?),
        Kind::VarInt => Value::U32(r.var_int()?),
        Kind::Str => Value::Str(r.string(Field::Property(property))?),
        Kind::Bin => Value::Bin(r.binary()?),
        Kind::Pair => Value::Pair(
            r.string(Field::UserPropertyName)?,
            r.string(Field::UserPropertyValue)?,
        ),
    })
}

fn check_range(property: u8, value: &Value) -> Result<(), Violation> {
    let number = match *value {
        Value::Byte(b) => u32::from(b),
        Value::U16(v) => u32::from(v),
        Value::U32(v) => v,
        _ => return Ok(()),
    };
    let bad = (BOOLEAN_BYTES.contains(property) && number > 1)
        || (NON_ZERO.contains(property) && number == 0);
    if bad {
        return Err(Violation::InvalidPropertyValue {
            id: property,
            value: number,
        });
    }
    Ok(())
}

/// Writes a property block: its length, then the properties.
pub(crate) fn write_properties(
    props: &impl PropertySet,
    out: &mut impl Sink,
) -> Result<(), EncodeError> {
    let mut len = Counter::default();
    props.write_each(&mut len)?;
    put_var_int(out, u32::try_from(len.0).unwrap_or(u32::MAX))?;
    props.write_each(out)
}

/// How a Rust type holds one property's value: which [`Value`] it is read from and how
/// it is written after its identifier (which decides the wire form of a `u32`).
pub(crate) trait PropertyValue: Sized {
    /// `None` when the decoder hands over another kind (it never does: the identifier
    /// fixed the kind it read).
    fn from_value(v: Value) -> Option<Self>;
    fn put(&self, property: u8, out: &mut impl Sink) -> Result<(), EncodeError>;
}

impl PropertyValue for bool {
    fn from_value(v: Value) -> Option<Self> {
        u8::from_value(v).map(|b| b == 1)
    }

    fn put(&self, _: u8, out: &mut impl Sink) -> Result<(), EncodeError> {
        out.put_u8(u8::from(*self));
        Ok(())
    }
}

impl PropertyValue for u8 {
    fn from_value(v: Value) -> Option<Self> {
        match v {
            Value::Byte(b) => Some(b),
            _ => None,
        }
    }

    fn put(&self, _: u8, out: &mut impl Sink) -> Result<(), EncodeError> {
        out.put_u8(*self);
        Ok(())
    }
}

impl PropertyValue for u16 {
    fn from_value(v: Value) -> Option<Self> {
        match v {
            Value::U16(x) => Some(x),
            _ => None,
        }
    }

    fn put(&self, _: u8, out: &mut impl Sink) -> Result<(), EncodeError> {
        out.put_u16(*self);
        Ok(())
    }
}

impl PropertyValue for u32 {
    fn from_value(v: Value) -> Option<Self> {
        match v {
            Value::U32(x) => Some(x),
            _ => None,
        }
    }

    /// Four bytes, but for the one variable byte integer property.
    fn put(&self, property: u8, out: &mut impl Sink) -> Result<(), EncodeError> {
        if kind_of(property) == Some(Kind::VarInt) {
            put_var_int(out, *self)
        } else {
            out.put_u32(*self);
            Ok(())
        }
    }
}

impl PropertyValue for String {
    fn from_value(v: Value) -> Option<Self> {
        match v {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    fn put(&self, _: u8, out: &mut impl Sink) -> Result<(), EncodeError> {
        put_str(out, "string property", self)
    }
}

impl PropertyValue for Bytes {
    fn from_value(v: Value) -> Option<Self> {
        match v {
            Value::Bin(b) => Some(b),
            _ => None,
        }
    }

    fn put(&self, _: u8, out: &mut impl Sink) -> Result<(), EncodeError> {
        put_binary(out, "binary property", self)
    }
}

/// A field of a property set: an optional value, or a list for the properties that
/// may repeat (user properties, subscription identifiers in PUBLISH).
pub(crate) trait PropertyField {
    /// Whether the property may appear more than once.
    const REPEATABLE: bool;
    fn set(&mut self, v: Value);
    fn write(&self, property: u8, out: &mut impl Sink) -> Result<(), EncodeError>;
}

impl<T: PropertyValue> PropertyField for Option<T> {
    const REPEATABLE: bool = false;

    fn set(&mut self, v: Value) {
        *self = T::from_value(v);
    }

    fn write(&self, property: u8, out: &mut impl Sink) -> Result<(), EncodeError> {
        if let Some(v) = self {
            out.put_u8(property);
            v.put(property, out)?;
        }
        Ok(())
    }
}

impl PropertyField for UserProperties {
    const REPEATABLE: bool = true;

    fn set(&mut self, v: Value) {
        if let Value::Pair(n, x) = v {
            self.push((n, x));
        }
    }

    fn write(&self, property: u8, out: &mut impl Sink) -> Result<(), EncodeError> {
        for (name, value) in self {
            out.put_u8(property);
            put_str(out, "user property name", name)?;
            put_str(out, "user property value", value)?;
        }
        Ok(())
    }
}

/// The subscription identifiers of a PUBLISH (the single one of SUBSCRIBE is an
/// `Option<u32>`).
impl PropertyField for Vec<u32> {
    const REPEATABLE: bool = true;

    fn set(&mut self, v: Value) {
        self.extend(u32::from_value(v));
    }

    fn write(&self, property: u8, out: &mut impl Sink) -> Result<(), EncodeError> {
        for v in self {
            out.put_u8(property);
            v.put(property, out)?;
        }
        Ok(())
    }
}

/// Declares a packet's property set: the struct, one public field per property in the
/// order they are written, and its [`PropertySet`] impl (the identifiers it admits,
/// those that repeat, where each is stored and how it is written), all from one list
/// of `field: Type = IDENTIFIER` lines. A set may start with `..field: Set,`, another
/// set it embeds whole: its properties are admitted and written too (first).
macro_rules! property_set {
    (
        $(#[$meta:meta])*
        pub struct $name:ident {
            $( ..$embed:ident: $embed_ty:ty, )?
            $( $(#[$field_meta:meta])* $field:ident: $ty:ty = $id:ident, )+
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Default, PartialEq, Eq)]
        pub struct $name {
            $( pub $embed: $embed_ty, )?
            $( $(#[$field_meta])* pub $field: $ty, )+
        }

        impl $crate::codec::properties::PropertySet for $name {
            const ALLOWED: $crate::codec::properties::IdSet =
                $crate::codec::properties::IdSet::of(&[$($crate::codec::properties::id::$id),+])
                $( .union(<$embed_ty as $crate::codec::properties::PropertySet>::ALLOWED) )?;
            const REPEATABLE: $crate::codec::properties::IdSet =
                $crate::codec::properties::IdSet::of_flagged(&[$((
                    $crate::codec::properties::id::$id,
                    <$ty as $crate::codec::properties::PropertyField>::REPEATABLE,
                )),+])
                $( .union(<$embed_ty as $crate::codec::properties::PropertySet>::REPEATABLE) )?;

            fn set(&mut self, property: u8, value: $crate::codec::properties::Value) {
                match property {
                    $( $crate::codec::properties::id::$id => {
                        $crate::codec::properties::PropertyField::set(&mut self.$field, value)
                    } )+
                    _ => { $(
                        $crate::codec::properties::PropertySet::set(
                            &mut self.$embed, property, value,
                        );
                    )? }
                }
            }

            fn write_each(
                &self,
                out: &mut impl $crate::codec::wire::Sink,
            ) -> Result<(), $crate::codec::error::EncodeError> {
                $( $crate::codec::properties::PropertySet::write_each(&self.$embed, out)?; )?
                $( $crate::codec::properties::PropertyField::write(
                    &self.$field,
                    $crate::codec::properties::id::$id,
                    out,
                )?; )+
                Ok(())
            }
        }
    };
}
pub(crate) use property_set;

#[cfg(test)]
mod tests {
    use super::*;

    property_set! {
        /// A property set with the session expiry interval and user properties only.
        pub struct Probe {
            expiry: Option<u32> = SESSION_EXPIRY_INTERVAL,
            users: UserProperties = USER_PROPERTY,
        }
    }

    fn read(bytes: &'static [u8]) -> Result<Probe, DecodeError> {
        read_properties(
            &mut Reader::new(Bytes::from_static(bytes)),
            PacketType::Disconnect,
        )
    }

    #[test]
    fn round_trip_keeps_order_and_repeats() {
        let p = Probe {
            expiry: Some(30),
            users: vec![
                ("a".into(), "1".into()),
                ("a".into(), "2".into()),
                ("b".into(), "".into()),
            ],
        };
        let mut out = bytes::BytesMut::new();
        write_properties(&p, &mut out).expect("encodes");
        let back: Probe = read_properties(&mut Reader::new(out.freeze()), PacketType::Disconnect)
            .expect("decodes");
        assert_eq!(back, p);
    }

    #[test]
    fn rules_for_every_packet() {
        // Not valid in this packet: malformed (§2.2.2.2).
        assert_eq!(
            read(&[3, id::TOPIC_ALIAS_MAXIMUM, 0, 1]),
            Err(Malformed::PropertyNotAllowed {
                id: id::TOPIC_ALIAS_MAXIMUM,
                packet: PacketType::Disconnect
            }
            .into())
        );
        // Unknown identifier: malformed.
        assert_eq!(
            read(&[2, 0x7f, 0]),
            Err(Malformed::UnknownProperty(0x7f).into())
        );
        // Twice: protocol error.
        assert_eq!(
            read(&[10, 0x11, 0, 0, 0, 1, 0x11, 0, 0, 0, 2]),
            Err(Violation::DuplicateProperty(0x11).into())
        );
        // Block length beyond the packet.
        assert!(matches!(
            read(&[9, 0x11, 0, 0, 0, 1]),
            Err(DecodeError::Malformed(Malformed::Truncated { .. }))
        ));
        // A value running past the block's own length.
        assert_eq!(
            read(&[3, 0x11, 0, 0, 0, 1]),
            Err(Malformed::PropertiesOverrun.into())
        );
    }

    #[test]
    fn value_ranges() {
        assert_eq!(
            check_range(id::RECEIVE_MAXIMUM, &Value::U16(0)),
            Err(Violation::InvalidPropertyValue {
                id: id::RECEIVE_MAXIMUM,
                value: 0
            })
        );
        assert!(check_range(id::MAXIMUM_PACKET_SIZE, &Value::U32(0)).is_err());
        assert!(check_range(id::TOPIC_ALIAS, &Value::U16(0)).is_err());
        assert!(check_range(id::SUBSCRIPTION_IDENTIFIER, &Value::U32(0)).is_err());
        assert!(check_range(id::PAYLOAD_FORMAT_INDICATOR, &Value::Byte(2)).is_err());
        assert!(check_range(id::MAXIMUM_QOS, &Value::Byte(2)).is_err());
        assert!(check_range(id::MAXIMUM_QOS, &Value::Byte(1)).is_ok());
        assert!(check_range(id::SESSION_EXPIRY_INTERVAL, &Value::U32(0)).is_ok());
    }
}
