//! The properties of each packet type (spec §3.x.2.2 and §3.1.3.2), as typed fields.
//! Absent properties are `None` (or empty), so a decoded packet re-encodes byte for
//! byte; the defaults the spec gives for absent values are documented per field. In
//! MQTT 3.x every set stays empty and nothing of it is written.

use bytes::Bytes;

use super::error::EncodeError;
use super::properties::{
    IdSet, PropertySet, UserProperties, Value, as_bool, as_byte, as_u16, as_u32, id, into_bytes,
    into_string, push_pair, put_bin, put_bool, put_byte, put_string, put_u16, put_u32,
    put_user_properties, put_var,
};
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

/// What an application message carries besides its topic and payload: the same six
/// properties in a PUBLISH and in a will, forwarded unaltered to subscribers
/// ([MQTT-3.3.2-4], [MQTT-3.3.2-16] to [MQTT-3.3.2-20]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MessageProperties {
    pub payload_format: Option<PayloadFormat>,
    /// Seconds; absent means the message does not expire.
    pub message_expiry_interval: Option<u32>,
    pub content_type: Option<String>,
    /// A topic name (no wildcards, [MQTT-3.3.2-14]).
    pub response_topic: Option<String>,
    pub correlation_data: Option<Bytes>,
    pub user_properties: UserProperties,
}

impl MessageProperties {
    fn set(&mut self, property: u8, value: Value) {
        match property {
            id::PAYLOAD_FORMAT_INDICATOR => {
                self.payload_format = as_byte(&value).map(|b| match b {
                    1 => PayloadFormat::Utf8,
                    _ => PayloadFormat::Unspecified,
                });
            }
            id::MESSAGE_EXPIRY_INTERVAL => self.message_expiry_interval = as_u32(&value),
            id::CONTENT_TYPE => self.content_type = into_string(value),
            id::RESPONSE_TOPIC => self.response_topic = into_string(value),
            id::CORRELATION_DATA => self.correlation_data = into_bytes(value),
            id::USER_PROPERTY => push_pair(&mut self.user_properties, value),
            _ => {}
        }
    }

    fn write_each(&self, out: &mut impl Sink) -> Result<(), EncodeError> {
        put_byte(
            out,
            id::PAYLOAD_FORMAT_INDICATOR,
            self.payload_format.map(|f| match f {
                PayloadFormat::Unspecified => 0,
                PayloadFormat::Utf8 => 1,
            }),
        );
        put_u32(
            out,
            id::MESSAGE_EXPIRY_INTERVAL,
            self.message_expiry_interval,
        );
        put_string(out, id::CONTENT_TYPE, self.content_type.as_deref())?;
        put_string(out, id::RESPONSE_TOPIC, self.response_topic.as_deref())?;
        put_bin(out, id::CORRELATION_DATA, self.correlation_data.as_ref())?;
        put_user_properties(out, &self.user_properties)
    }
}

const MESSAGE_IDS: [u8; 6] = [
    id::PAYLOAD_FORMAT_INDICATOR,
    id::MESSAGE_EXPIRY_INTERVAL,
    id::CONTENT_TYPE,
    id::RESPONSE_TOPIC,
    id::CORRELATION_DATA,
    id::USER_PROPERTY,
];

/// Properties of a PUBLISH (§3.3.2.3).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PublishProperties {
    pub message: MessageProperties,
    /// Non-zero ([MQTT-3.3.2-8]); checking it against the negotiated maximum
    /// ([MQTT-3.3.2-9] to [MQTT-3.3.2-12]) and resolving it is the session's job.
    pub topic_alias: Option<u16>,
    /// Only from the server, possibly several ([MQTT-3.3.4-4], [MQTT-3.3.4-6]); each in
    /// 1..=268435455.
    pub subscription_identifiers: Vec<u32>,
}

impl PropertySet for PublishProperties {
    const ALLOWED: IdSet = IdSet::of(&[
        MESSAGE_IDS[0],
        MESSAGE_IDS[1],
        MESSAGE_IDS[2],
        MESSAGE_IDS[3],
        MESSAGE_IDS[4],
        MESSAGE_IDS[5],
        id::TOPIC_ALIAS,
        id::SUBSCRIPTION_IDENTIFIER,
    ]);
    const REPEATABLE: IdSet = IdSet::of(&[id::USER_PROPERTY, id::SUBSCRIPTION_IDENTIFIER]);

    fn set(&mut self, property: u8, value: Value) {
        match property {
            id::TOPIC_ALIAS => self.topic_alias = as_u16(&value),
            id::SUBSCRIPTION_IDENTIFIER => self.subscription_identifiers.extend(as_u32(&value)),
            _ => self.message.set(property, value),
        }
    }

    fn write_each(&self, out: &mut impl Sink) -> Result<(), EncodeError> {
        self.message.write_each(out)?;
        put_u16(out, id::TOPIC_ALIAS, self.topic_alias);
        for &s in &self.subscription_identifiers {
            put_var(out, id::SUBSCRIPTION_IDENTIFIER, s)?;
        }
        Ok(())
    }
}

/// Will Properties of a CONNECT (§3.1.3.2).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WillProperties {
    /// Seconds to wait after the connection closes; absent means 0.
    pub will_delay_interval: Option<u32>,
    pub message: MessageProperties,
}

impl PropertySet for WillProperties {
    const ALLOWED: IdSet = IdSet::of(&[
        MESSAGE_IDS[0],
        MESSAGE_IDS[1],
        MESSAGE_IDS[2],
        MESSAGE_IDS[3],
        MESSAGE_IDS[4],
        MESSAGE_IDS[5],
        id::WILL_DELAY_INTERVAL,
    ]);

    fn set(&mut self, property: u8, value: Value) {
        match property {
            id::WILL_DELAY_INTERVAL => self.will_delay_interval = as_u32(&value),
            _ => self.message.set(property, value),
        }
    }

    fn write_each(&self, out: &mut impl Sink) -> Result<(), EncodeError> {
        put_u32(out, id::WILL_DELAY_INTERVAL, self.will_delay_interval);
        self.message.write_each(out)
    }
}

/// Properties of a CONNECT (§3.1.2.11).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConnectProperties {
    /// Seconds; absent means 0 (the session ends with the connection); 0xFFFFFFFF never.
    pub session_expiry_interval: Option<u32>,
    /// Non-zero; absent means 65535.
    pub receive_maximum: Option<u16>,
    /// Non-zero; the largest packet the client accepts. Absent: no limit.
    pub maximum_packet_size: Option<u32>,
    /// Absent means 0: the server must not send topic aliases ([MQTT-3.1.2-27]).
    pub topic_alias_maximum: Option<u16>,
    /// Absent means false.
    pub request_response_information: Option<bool>,
    /// Absent means true.
    pub request_problem_information: Option<bool>,
    pub user_properties: UserProperties,
    pub authentication_method: Option<String>,
    /// Only with an authentication method (a protocol error otherwise, §3.1.2.11.10).
    pub authentication_data: Option<Bytes>,
}

impl PropertySet for ConnectProperties {
    const ALLOWED: IdSet = IdSet::of(&[
        id::SESSION_EXPIRY_INTERVAL,
        id::RECEIVE_MAXIMUM,
        id::MAXIMUM_PACKET_SIZE,
        id::TOPIC_ALIAS_MAXIMUM,
        id::REQUEST_RESPONSE_INFORMATION,
        id::REQUEST_PROBLEM_INFORMATION,
        id::USER_PROPERTY,
        id::AUTHENTICATION_METHOD,
        id::AUTHENTICATION_DATA,
    ]);

    fn set(&mut self, property: u8, value: Value) {
        match property {
            id::SESSION_EXPIRY_INTERVAL => self.session_expiry_interval = as_u32(&value),
            id::RECEIVE_MAXIMUM => self.receive_maximum = as_u16(&value),
            id::MAXIMUM_PACKET_SIZE => self.maximum_packet_size = as_u32(&value),
            id::TOPIC_ALIAS_MAXIMUM => self.topic_alias_maximum = as_u16(&value),
            id::REQUEST_RESPONSE_INFORMATION => {
                self.request_response_information = as_bool(&value);
            }
            id::REQUEST_PROBLEM_INFORMATION => self.request_problem_information = as_bool(&value),
            id::USER_PROPERTY => push_pair(&mut self.user_properties, value),
            id::AUTHENTICATION_METHOD => self.authentication_method = into_string(value),
            id::AUTHENTICATION_DATA => self.authentication_data = into_bytes(value),
            _ => {}
        }
    }

    fn write_each(&self, out: &mut impl Sink) -> Result<(), EncodeError> {
        put_u32(
            out,
            id::SESSION_EXPIRY_INTERVAL,
            self.session_expiry_interval,
        );
        put_u16(out, id::RECEIVE_MAXIMUM, self.receive_maximum);
        put_u32(out, id::MAXIMUM_PACKET_SIZE, self.maximum_packet_size);
        put_u16(out, id::TOPIC_ALIAS_MAXIMUM, self.topic_alias_maximum);
        put_bool(
            out,
            id::REQUEST_RESPONSE_INFORMATION,
            self.request_response_information,
        );
        put_bool(
            out,
            id::REQUEST_PROBLEM_INFORMATION,
            self.request_problem_information,
        );
        put_user_properties(out, &self.user_properties)?;
        put_string(
            out,
            id::AUTHENTICATION_METHOD,
            self.authentication_method.as_deref(),
        )?;
        put_bin(
            out,
            id::AUTHENTICATION_DATA,
            self.authentication_data.as_ref(),
        )
    }
}

/// Properties of a CONNACK (§3.2.2.3).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConnAckProperties {
    /// The interval the server uses, when it differs from the client's.
    pub session_expiry_interval: Option<u32>,
    /// Non-zero; absent means 65535.
    pub receive_maximum: Option<u16>,
    /// 0 or 1 only; absent means 2.
    pub maximum_qos: Option<QoS>,
    /// Absent means true.
    pub retain_available: Option<bool>,
    pub maximum_packet_size: Option<u32>,
    /// Sent when the client connected with an empty client id ([MQTT-3.1.3-7]).
    pub assigned_client_identifier: Option<String>,
    /// Absent means 0.
    pub topic_alias_maximum: Option<u16>,
    pub reason_string: Option<String>,
    pub user_properties: UserProperties,
    /// Absent means true.
    pub wildcard_subscription_available: Option<bool>,
    /// Absent means true.
    pub subscription_identifiers_available: Option<bool>,
    /// Absent means true.
    pub shared_subscription_available: Option<bool>,
    /// Overrides the client's keep alive ([MQTT-3.2.2-21]).
    pub server_keep_alive: Option<u16>,
    pub response_information: Option<String>,
    pub server_reference: Option<String>,
    pub authentication_method: Option<String>,
    pub authentication_data: Option<Bytes>,
}

impl PropertySet for ConnAckProperties {
    const ALLOWED: IdSet = IdSet::of(&[
        id::SESSION_EXPIRY_INTERVAL,
        id::RECEIVE_MAXIMUM,
        id::MAXIMUM_QOS,
        id::RETAIN_AVAILABLE,
        id::MAXIMUM_PACKET_SIZE,
        id::ASSIGNED_CLIENT_IDENTIFIER,
        id::TOPIC_ALIAS_MAXIMUM,
        id::REASON_STRING,
        id::USER_PROPERTY,
        id::WILDCARD_SUBSCRIPTION_AVAILABLE,
        id::SUBSCRIPTION_IDENTIFIER_AVAILABLE,
        id::SHARED_SUBSCRIPTION_AVAILABLE,
        id::SERVER_KEEP_ALIVE,
        id::RESPONSE_INFORMATION,
        id::SERVER_REFERENCE,
        id::AUTHENTICATION_METHOD,
        id::AUTHENTICATION_DATA,
    ]);

    fn set(&mut self, property: u8, value: Value) {
        match property {
            id::SESSION_EXPIRY_INTERVAL => self.session_expiry_interval = as_u32(&value),
            id::RECEIVE_MAXIMUM => self.receive_maximum = as_u16(&value),
            id::MAXIMUM_QOS => self.maximum_qos = as_byte(&value).and_then(QoS::from_u8),
            id::RETAIN_AVAILABLE => self.retain_available = as_bool(&value),
            id::MAXIMUM_PACKET_SIZE => self.maximum_packet_size = as_u32(&value),
            id::ASSIGNED_CLIENT_IDENTIFIER => self.assigned_client_identifier = into_string(value),
            id::TOPIC_ALIAS_MAXIMUM => self.topic_alias_maximum = as_u16(&value),
            id::REASON_STRING => self.reason_string = into_string(value),
            id::USER_PROPERTY => push_pair(&mut self.user_properties, value),
            id::WILDCARD_SUBSCRIPTION_AVAILABLE => {
                self.wildcard_subscription_available = as_bool(&value);
            }
            id::SUBSCRIPTION_IDENTIFIER_AVAILABLE => {
                self.subscription_identifiers_available = as_bool(&value);
            }
            id::SHARED_SUBSCRIPTION_AVAILABLE => {
                self.shared_subscription_available = as_bool(&value);
            }
            id::SERVER_KEEP_ALIVE => self.server_keep_alive = as_u16(&value),
            id::RESPONSE_INFORMATION => self.response_information = into_string(value),
            id::SERVER_REFERENCE => self.server_reference = into_string(value),
            id::AUTHENTICATION_METHOD => self.authentication_method = into_string(value),
            id::AUTHENTICATION_DATA => self.authentication_data = into_bytes(value),
            _ => {}
        }
    }

    fn write_each(&self, out: &mut impl Sink) -> Result<(), EncodeError> {
        put_u32(
            out,
            id::SESSION_EXPIRY_INTERVAL,
            self.session_expiry_interval,
        );
        put_u16(out, id::RECEIVE_MAXIMUM, self.receive_maximum);
        put_byte(out, id::MAXIMUM_QOS, self.maximum_qos.map(QoS::as_u8));
        put_bool(out, id::RETAIN_AVAILABLE, self.retain_available);
        put_u32(out, id::MAXIMUM_PACKET_SIZE, self.maximum_packet_size);
        put_string(
            out,
            id::ASSIGNED_CLIENT_IDENTIFIER,
            self.assigned_client_identifier.as_deref(),
        )?;
        put_u16(out, id::TOPIC_ALIAS_MAXIMUM, self.topic_alias_maximum);
        put_string(out, id::REASON_STRING, self.reason_string.as_deref())?;
        put_user_properties(out, &self.user_properties)?;
        put_bool(
            out,
            id::WILDCARD_SUBSCRIPTION_AVAILABLE,
            self.wildcard_subscription_available,
        );
        put_bool(
            out,
            id::SUBSCRIPTION_IDENTIFIER_AVAILABLE,
            self.subscription_identifiers_available,
        );
        put_bool(
            out,
            id::SHARED_SUBSCRIPTION_AVAILABLE,
            self.shared_subscription_available,
        );
        put_u16(out, id::SERVER_KEEP_ALIVE, self.server_keep_alive);
        put_string(
            out,
            id::RESPONSE_INFORMATION,
            self.response_information.as_deref(),
        )?;
        put_string(out, id::SERVER_REFERENCE, self.server_reference.as_deref())?;
        put_string(
            out,
            id::AUTHENTICATION_METHOD,
            self.authentication_method.as_deref(),
        )?;
        put_bin(
            out,
            id::AUTHENTICATION_DATA,
            self.authentication_data.as_ref(),
        )
    }
}

/// Properties of PUBACK, PUBREC, PUBREL, PUBCOMP, SUBACK and UNSUBACK: a reason string
/// and user properties, both of which a sender drops rather than exceed the receiver's
/// maximum packet size ([MQTT-3.4.2-2], [MQTT-3.4.2-3] and the like).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AckProperties {
    pub reason_string: Option<String>,
    pub user_properties: UserProperties,
}

impl AckProperties {
    pub fn is_empty(&self) -> bool {
        self.reason_string.is_none() && self.user_properties.is_empty()
    }
}

impl PropertySet for AckProperties {
    const ALLOWED: IdSet = IdSet::of(&[id::REASON_STRING, id::USER_PROPERTY]);

    fn set(&mut self, property: u8, value: Value) {
        match property {
            id::REASON_STRING => self.reason_string = into_string(value),
            _ => push_pair(&mut self.user_properties, value),
        }
    }

    fn write_each(&self, out: &mut impl Sink) -> Result<(), EncodeError> {
        put_string(out, id::REASON_STRING, self.reason_string.as_deref())?;
        put_user_properties(out, &self.user_properties)
    }
}

/// Properties of a SUBSCRIBE (§3.8.2.1).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SubscribeProperties {
    /// 1..=268435455, at most once.
    pub subscription_identifier: Option<u32>,
    pub user_properties: UserProperties,
}

impl PropertySet for SubscribeProperties {
    const ALLOWED: IdSet = IdSet::of(&[id::SUBSCRIPTION_IDENTIFIER, id::USER_PROPERTY]);

    fn set(&mut self, property: u8, value: Value) {
        match property {
            id::SUBSCRIPTION_IDENTIFIER => self.subscription_identifier = as_u32(&value),
            _ => push_pair(&mut self.user_properties, value),
        }
    }

    fn write_each(&self, out: &mut impl Sink) -> Result<(), EncodeError> {
        if let Some(s) = self.subscription_identifier {
            put_var(out, id::SUBSCRIPTION_IDENTIFIER, s)?;
        }
        put_user_properties(out, &self.user_properties)
    }
}

/// Properties of an UNSUBSCRIBE (§3.10.2.1).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UnsubscribeProperties {
    pub user_properties: UserProperties,
}

impl PropertySet for UnsubscribeProperties {
    const ALLOWED: IdSet = IdSet::of(&[id::USER_PROPERTY]);

    fn set(&mut self, _: u8, value: Value) {
        push_pair(&mut self.user_properties, value);
    }

    fn write_each(&self, out: &mut impl Sink) -> Result<(), EncodeError> {
        put_user_properties(out, &self.user_properties)
    }
}

/// Properties of a DISCONNECT (§3.14.2.2).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DisconnectProperties {
    /// Client only ([MQTT-3.14.2-2]); the decoder refuses it from a server.
    pub session_expiry_interval: Option<u32>,
    pub reason_string: Option<String>,
    pub user_properties: UserProperties,
    pub server_reference: Option<String>,
}

impl DisconnectProperties {
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}

impl PropertySet for DisconnectProperties {
    const ALLOWED: IdSet = IdSet::of(&[
        id::SESSION_EXPIRY_INTERVAL,
        id::REASON_STRING,
        id::USER_PROPERTY,
        id::SERVER_REFERENCE,
    ]);

    fn set(&mut self, property: u8, value: Value) {
        match property {
            id::SESSION_EXPIRY_INTERVAL => self.session_expiry_interval = as_u32(&value),
            id::REASON_STRING => self.reason_string = into_string(value),
            id::SERVER_REFERENCE => self.server_reference = into_string(value),
            _ => push_pair(&mut self.user_properties, value),
        }
    }

    fn write_each(&self, out: &mut impl Sink) -> Result<(), EncodeError> {
        put_u32(
            out,
            id::SESSION_EXPIRY_INTERVAL,
            self.session_expiry_interval,
        );
        put_string(out, id::REASON_STRING, self.reason_string.as_deref())?;
        put_user_properties(out, &self.user_properties)?;
        put_string(out, id::SERVER_REFERENCE, self.server_reference.as_deref())
    }
}

/// Properties of an AUTH (§3.15.2.2).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuthProperties {
    /// Required whenever the packet has properties (§3.15.2.2.2).
    pub authentication_method: Option<String>,
    pub authentication_data: Option<Bytes>,
    pub reason_string: Option<String>,
    pub user_properties: UserProperties,
}

impl AuthProperties {
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}

impl PropertySet for AuthProperties {
    const ALLOWED: IdSet = IdSet::of(&[
        id::AUTHENTICATION_METHOD,
        id::AUTHENTICATION_DATA,
        id::REASON_STRING,
        id::USER_PROPERTY,
    ]);

    fn set(&mut self, property: u8, value: Value) {
        match property {
            id::AUTHENTICATION_METHOD => self.authentication_method = into_string(value),
            id::AUTHENTICATION_DATA => self.authentication_data = into_bytes(value),
            id::REASON_STRING => self.reason_string = into_string(value),
            _ => push_pair(&mut self.user_properties, value),
        }
    }

    fn write_each(&self, out: &mut impl Sink) -> Result<(), EncodeError> {
        put_string(
            out,
            id::AUTHENTICATION_METHOD,
            self.authentication_method.as_deref(),
        )?;
        put_bin(
            out,
            id::AUTHENTICATION_DATA,
            self.authentication_data.as_ref(),
        )?;
        put_string(out, id::REASON_STRING, self.reason_string.as_deref())?;
        put_user_properties(out, &self.user_properties)
    }
}
