//! The properties of each packet type (spec §3.x.2.2 and §3.1.3.2), as typed fields.
//! Absent properties are `None` (or empty), so a decoded packet re-encodes byte for
//! byte; the defaults the spec gives for absent values are documented per field. In
//! MQTT 3.x every set stays empty and nothing of it is written.
//!
//! Each set is one `property_set!` list (field, type, identifier): what a packet
//! admits, stores and writes cannot drift apart. The rules every packet shares (unknown
//! or misplaced identifiers, duplicates, value ranges) are in `properties.rs`.

use bytes::Bytes;

use super::error::EncodeError;
use super::properties::{PropertyValue, UserProperties, Value, property_set};
use super::version::QoS;
use super::wire::Sink;

/// The Payload Format Indicator (0x01).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PayloadFormat {
    /// 0: unspecified bytes, as if the property were absent.
    Unspecified,
    /// 1: UTF-8 encoded character data; the decoder checks the payload.
    Utf8,
}

impl PropertyValue for PayloadFormat {
    fn from_value(v: Value) -> Option<Self> {
        // The range check has refused anything but 0 and 1.
        bool::from_value(v).map(|utf8| if utf8 { Self::Utf8 } else { Self::Unspecified })
    }

    fn put(&self, property: u8, out: &mut impl Sink) -> Result<(), EncodeError> {
        (*self == Self::Utf8).put(property, out)
    }
}

/// Maximum QoS (0x24) is 0 or 1 on the wire (the range check refuses 2).
impl PropertyValue for QoS {
    fn from_value(v: Value) -> Option<Self> {
        u8::from_value(v).and_then(QoS::from_u8)
    }

    fn put(&self, property: u8, out: &mut impl Sink) -> Result<(), EncodeError> {
        self.as_u8().put(property, out)
    }
}

property_set! {
    /// What an application message carries besides its topic and payload: the same six
    /// properties in a PUBLISH and in a will, forwarded unaltered to subscribers
    /// ([MQTT-3.3.2-4], [MQTT-3.3.2-16] to [MQTT-3.3.2-20]).
    pub struct MessageProperties {
        payload_format: Option<PayloadFormat> = PAYLOAD_FORMAT_INDICATOR,
        /// Seconds; absent means the message does not expire.
        message_expiry_interval: Option<u32> = MESSAGE_EXPIRY_INTERVAL,
        content_type: Option<String> = CONTENT_TYPE,
        /// A topic name (no wildcards, [MQTT-3.3.2-14]).
        response_topic: Option<String> = RESPONSE_TOPIC,
        correlation_data: Option<Bytes> = CORRELATION_DATA,
        user_properties: UserProperties = USER_PROPERTY,
    }
}

property_set! {
    /// Properties of a PUBLISH (§3.3.2.3): the message's, a topic alias and the
    /// subscription identifiers.
    pub struct PublishProperties {
        ..message: MessageProperties,
        /// Non-zero ([MQTT-3.3.2-8]); checking it against the negotiated maximum
        /// ([MQTT-3.3.2-9] to [MQTT-3.3.2-12]) and resolving it is the session's job.
        topic_alias: Option<u16> = TOPIC_ALIAS,
        /// Only from the server, possibly several ([MQTT-3.3.4-4], [MQTT-3.3.4-6]); each
        /// in 1..=268435455.
        subscription_identifiers: Vec<u32> = SUBSCRIPTION_IDENTIFIER,
    }
}

property_set! {
    /// Will Properties of a CONNECT (§3.1.3.2): the message's and the will delay.
    pub struct WillProperties {
        ..message: MessageProperties,
        /// Seconds to wait after the connection closes; absent means 0.
        will_delay_interval: Option<u32> = WILL_DELAY_INTERVAL,
    }
}

property_set! {
    /// Properties of a CONNECT (§3.1.2.11).
    pub struct ConnectProperties {
        /// Seconds; absent means 0 (the session ends with the connection); 0xFFFFFFFF
        /// never.
        session_expiry_interval: Option<u32> = SESSION_EXPIRY_INTERVAL,
        /// Non-zero; absent means 65535.
        receive_maximum: Option<u16> = RECEIVE_MAXIMUM,
        /// Non-zero; the largest packet the client accepts. Absent: no limit.
        maximum_packet_size: Option<u32> = MAXIMUM_PACKET_SIZE,
        /// Absent means 0: the server must not send topic aliases ([MQTT-3.1.2-27]).
        topic_alias_maximum: Option<u16> = TOPIC_ALIAS_MAXIMUM,
        /// Absent means false.
        request_response_information: Option<bool> = REQUEST_RESPONSE_INFORMATION,
        /// Absent means true.
        request_problem_information: Option<bool> = REQUEST_PROBLEM_INFORMATION,
        user_properties: UserProperties = USER_PROPERTY,
        authentication_method: Option<String> = AUTHENTICATION_METHOD,
        /// Only with an authentication method (a protocol error otherwise,
        /// §3.1.2.11.10).
        authentication_data: Option<Bytes> = AUTHENTICATION_DATA,
    }
}

property_set! {
    /// Properties of a CONNACK (§3.2.2.3).
    pub struct ConnAckProperties {
        /// The interval the server uses, when it differs from the client's.
        session_expiry_interval: Option<u32> = SESSION_EXPIRY_INTERVAL,
        /// Non-zero; absent means 65535.
        receive_maximum: Option<u16> = RECEIVE_MAXIMUM,
        /// 0 or 1 only; absent means 2.
        maximum_qos: Option<QoS> = MAXIMUM_QOS,
        /// Absent means true.
        retain_available: Option<bool> = RETAIN_AVAILABLE,
        maximum_packet_size: Option<u32> = MAXIMUM_PACKET_SIZE,
        /// Sent when the client connected with an empty client id ([MQTT-3.1.3-7]).
        assigned_client_identifier: Option<String> = ASSIGNED_CLIENT_IDENTIFIER,
        /// Absent means 0.
        topic_alias_maximum: Option<u16> = TOPIC_ALIAS_MAXIMUM,
        reason_string: Option<String> = REASON_STRING,
        user_properties: UserProperties = USER_PROPERTY,
        /// Absent means true.
        wildcard_subscription_available: Option<bool> = WILDCARD_SUBSCRIPTION_AVAILABLE,
        /// Absent means true.
        subscription_identifiers_available: Option<bool> = SUBSCRIPTION_IDENTIFIER_AVAILABLE,
        /// Absent means true.
        shared_subscription_available: Option<bool> = SHARED_SUBSCRIPTION_AVAILABLE,
        /// Overrides the client's keep alive ([MQTT-3.2.2-21]).
        server_keep_alive: Option<u16> = SERVER_KEEP_ALIVE,
        response_information: Option<String> = RESPONSE_INFORMATION,
        server_reference: Option<String> = SERVER_REFERENCE,
        authentication_method: Option<String> = AUTHENTICATION_METHOD,
        authentication_data: Option<Bytes> = AUTHENTICATION_DATA,
    }
}

property_set! {
    /// Properties of PUBACK, PUBREC, PUBREL, PUBCOMP, SUBACK and UNSUBACK: a reason
    /// string and user properties, both of which a sender drops rather than exceed the
    /// receiver's maximum packet size ([MQTT-3.4.2-2], [MQTT-3.4.2-3] and the like).
    pub struct AckProperties {
        reason_string: Option<String> = REASON_STRING,
        user_properties: UserProperties = USER_PROPERTY,
    }
}

property_set! {
    /// Properties of a SUBSCRIBE (§3.8.2.1).
    pub struct SubscribeProperties {
        /// 1..=268435455, at most once.
        subscription_identifier: Option<u32> = SUBSCRIPTION_IDENTIFIER,
        user_properties: UserProperties = USER_PROPERTY,
    }
}

property_set! {
    /// Properties of an UNSUBSCRIBE (§3.10.2.1).
    pub struct UnsubscribeProperties {
        user_properties: UserProperties = USER_PROPERTY,
    }
}

property_set! {
    /// Properties of a DISCONNECT (§3.14.2.2).
    pub struct DisconnectProperties {
        /// Client only ([MQTT-3.14.2-2]); the decoder refuses it from a server.
        session_expiry_interval: Option<u32> = SESSION_EXPIRY_INTERVAL,
        reason_string: Option<String> = REASON_STRING,
        user_properties: UserProperties = USER_PROPERTY,
        server_reference: Option<String> = SERVER_REFERENCE,
    }
}

property_set! {
    /// Properties of an AUTH (§3.15.2.2).
    pub struct AuthProperties {
        /// Required whenever the packet has properties (§3.15.2.2.2).
        authentication_method: Option<String> = AUTHENTICATION_METHOD,
        authentication_data: Option<Bytes> = AUTHENTICATION_DATA,
        reason_string: Option<String> = REASON_STRING,
        user_properties: UserProperties = USER_PROPERTY,
    }
}

impl AckProperties {
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}

impl DisconnectProperties {
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}

impl AuthProperties {
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::properties::{IdSet, PropertySet, id};

    /// The lists give the sets of identifiers the spec's Table 2-4 gives per packet.
    #[test]
    fn each_packet_admits_its_properties() {
        use id::*;
        let message = [
            PAYLOAD_FORMAT_INDICATOR,
            MESSAGE_EXPIRY_INTERVAL,
            CONTENT_TYPE,
            RESPONSE_TOPIC,
            CORRELATION_DATA,
            USER_PROPERTY,
        ];
        let with = |extra: &[u8]| {
            let mut all = message.to_vec();
            all.extend_from_slice(extra);
            IdSet::of(&all)
        };
        assert_eq!(
            PublishProperties::ALLOWED,
            with(&[TOPIC_ALIAS, SUBSCRIPTION_IDENTIFIER])
        );
        assert_eq!(
            PublishProperties::REPEATABLE,
            IdSet::of(&[USER_PROPERTY, SUBSCRIPTION_IDENTIFIER])
        );
        assert_eq!(WillProperties::ALLOWED, with(&[WILL_DELAY_INTERVAL]));
        assert_eq!(WillProperties::REPEATABLE, IdSet::of(&[USER_PROPERTY]));
        assert_eq!(
            SubscribeProperties::REPEATABLE,
            IdSet::of(&[USER_PROPERTY]),
            "one subscription identifier per SUBSCRIBE"
        );
        assert_eq!(
            AckProperties::ALLOWED,
            IdSet::of(&[REASON_STRING, USER_PROPERTY])
        );
        assert_eq!(
            ConnAckProperties::ALLOWED,
            IdSet::of(&[
                SESSION_EXPIRY_INTERVAL,
                RECEIVE_MAXIMUM,
                MAXIMUM_QOS,
                RETAIN_AVAILABLE,
                MAXIMUM_PACKET_SIZE,
                ASSIGNED_CLIENT_IDENTIFIER,
                TOPIC_ALIAS_MAXIMUM,
                REASON_STRING,
                USER_PROPERTY,
                WILDCARD_SUBSCRIPTION_AVAILABLE,
                SUBSCRIPTION_IDENTIFIER_AVAILABLE,
                SHARED_SUBSCRIPTION_AVAILABLE,
                SERVER_KEEP_ALIVE,
                RESPONSE_INFORMATION,
                SERVER_REFERENCE,
                AUTHENTICATION_METHOD,
                AUTHENTICATION_DATA,
            ])
        );
    }

    #[test]
    fn subscription_identifiers_are_variable_byte_integers() {
        let p = PublishProperties {
            subscription_identifiers: vec![1, 268_435_455],
            ..PublishProperties::default()
        };
        let mut out = bytes::BytesMut::new();
        p.write_each(&mut out).expect("encodes");
        assert_eq!(&out[..], &[0x0B, 0x01, 0x0B, 0xFF, 0xFF, 0xFF, 0x7F]);
    }
}
