//! CONNECT (spec §3.1): the first packet of every connection, which fixes its version.
//!
//! The body is parsed completely before the semantic rules run (client identifier,
//! will topic, will payload format), so a packet that is both malformed and invalid
//! is reported as malformed, the more basic error.

use bytes::Bytes;

use crate::codec::error::{ConnectError, DecodeError, EncodeError, Field, Malformed, Violation};
use crate::codec::packet::PacketType;
use crate::codec::properties::{read_properties, write_properties};
use crate::codec::property_sets::{ConnectProperties, PayloadFormat, WillProperties};
use crate::codec::topic::validate_topic_name;
use crate::codec::version::{ProtocolVersion, QoS};
use crate::codec::wire::{Reader, Sink, put_binary, put_str};

/// A CONNECT packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Connect {
    /// From the protocol name and level.
    pub version: ProtocolVersion,
    /// May be empty in 3.1.1 (with clean session) and 5.0; the session assigns one.
    pub client_id: String,
    /// Clean Session in 3.x, Clean Start in 5.0.
    pub clean_start: bool,
    /// Seconds; 0 disables keep alive.
    pub keep_alive: u16,
    pub will: Option<Will>,
    pub username: Option<String>,
    /// Binary Data; in 3.x only together with a user name.
    pub password: Option<Bytes>,
    /// Empty in 3.x.
    pub properties: ConnectProperties,
}

/// The will of a CONNECT: published when the connection ends without a clean
/// DISCONNECT (after the will delay in 5.0).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Will {
    pub topic: String,
    pub payload: Bytes,
    pub qos: QoS,
    pub retain: bool,
    /// Empty in 3.x.
    pub properties: WillProperties,
}

const RESERVED: u8 = 0b0000_0001;
const CLEAN_START: u8 = 0b0000_0010;
const WILL: u8 = 0b0000_0100;
const WILL_QOS_SHIFT: u8 = 3;
const WILL_RETAIN: u8 = 0b0010_0000;
const PASSWORD: u8 = 0b0100_0000;
const USERNAME: u8 = 0b1000_0000;

/// The longest client identifier MQTT 3.1 allows (3.1 §3.1, "Client Identifier").
pub const V3_1_MAX_CLIENT_ID: usize = 23;

impl Connect {
    /// A CONNECT with a client id and everything else empty (clean start, no keep alive).
    pub fn new(version: ProtocolVersion, client_id: impl Into<String>) -> Self {
        Self {
            version,
            client_id: client_id.into(),
            clean_start: true,
            keep_alive: 0,
            will: None,
            username: None,
            password: None,
            properties: ConnectProperties::default(),
        }
    }

    /// Decodes a CONNECT body. Errors carry the version once the protocol name and
    /// level have been read, so the session can answer in the client's format.
    pub(crate) fn decode_body(r: &mut Reader) -> Result<Self, ConnectError> {
        let no_version = |error: DecodeError| ConnectError {
            version: None,
            error,
        };
        let name = r
            .string(Field::ProtocolName)
            .map_err(|e| no_version(e.into()))?;
        let level = r.u8().map_err(|e| no_version(e.into()))?;
        let Some(version) = ProtocolVersion::from_name_and_level(&name, level) else {
            let error = if name == "MQTT" || name == "MQIsdp" {
                DecodeError::UnsupportedProtocolVersion { name, level }
            } else {
                DecodeError::UnknownProtocolName(name)
            };
            return Err(no_version(error));
        };
        Self::decode_after_level(version, r).map_err(|error| ConnectError {
            version: Some(version),
            error,
        })
    }

    fn decode_after_level(version: ProtocolVersion, r: &mut Reader) -> Result<Self, DecodeError> {
        let flags = r.u8()?;
        // [MQTT-3.1.2-3] (both versions).
        if flags & RESERVED != 0 {
            return Err(Malformed::ConnectReservedFlag.into());
        }
        let has_will = flags & WILL != 0;
        let will_qos_bits = (flags >> WILL_QOS_SHIFT) & 0b11;
        let will_retain = flags & WILL_RETAIN != 0;
        // v5 [MQTT-3.1.2-12]; 3.1.1 [MQTT-3.1.2-14].
        let will_qos = QoS::from_u8(will_qos_bits).ok_or(Malformed::QoS3)?;
        // v5 [MQTT-3.1.2-11], [MQTT-3.1.2-13]; 3.1.1 [MQTT-3.1.2-11], [MQTT-3.1.2-15].
        if !has_will && (will_qos_bits != 0 || will_retain) {
            return Err(Malformed::WillFlagsWithoutWill.into());
        }
        let has_username = flags & USERNAME != 0;
        let has_password = flags & PASSWORD != 0;
        // 3.1.1 [MQTT-3.1.2-22]; 5.0 allows a password alone (§3.1.2.9).
        if !version.is_v5() && has_password && !has_username {
            return Err(Malformed::PasswordWithoutUsername.into());
        }
        let keep_alive = r.u16()?;
        let properties: ConnectProperties = if version.is_v5() {
            read_properties(r, PacketType::Connect)?
        } else {
            ConnectProperties::default()
        };
        // [MQTT-3.1.3-1]: client id, will properties, will topic, will payload, user
        // name, password, in that order, each present exactly when its flag says so
        // (v5 [MQTT-3.1.2-9], [MQTT-3.1.2-16] to [MQTT-3.1.2-19]).
        let client_id = r.string(Field::ClientId)?;
        let will = if has_will {
            let will_props: WillProperties = if version.is_v5() {
                read_properties(r, PacketType::Connect)?
            } else {
                WillProperties::default()
            };
            Some(Will {
                properties: will_props,
                topic: r.string(Field::WillTopic)?,
                payload: r.binary()?,
                qos: will_qos,
                retain: will_retain,
            })
        } else {
            None
        };
        let username = has_username
            .then(|| r.string(Field::Username))
            .transpose()?;
        let password = has_password.then(|| r.binary()).transpose()?;
        let connect = Self {
            version,
            client_id,
            clean_start: flags & CLEAN_START != 0,
            keep_alive,
            will,
            username,
            password,
            properties,
        };
        if !r.is_empty() {
            return Err(Malformed::TrailingBytes {
                packet: PacketType::Connect,
                extra: r.remaining(),
            }
            .into());
        }
        connect.check()?;
        Ok(connect)
    }

    /// The rules that apply to a well-formed CONNECT.
    fn check(&self) -> Result<(), DecodeError> {
        // §3.1.2.11.10: authentication data needs a method.
        if self.properties.authentication_data.is_some()
            && self.properties.authentication_method.is_none()
        {
            return Err(Violation::AuthDataWithoutMethod.into());
        }
        match self.version {
            // 3.1 §3.1: "between 1 and 23 characters", else return code 2.
            ProtocolVersion::V3_1
                if self.client_id.is_empty() || self.client_id.len() > V3_1_MAX_CLIENT_ID =>
            {
                return Err(DecodeError::ClientIdNotValid(
                    "MQTT 3.1 client identifiers are 1 to 23 bytes",
                ));
            }
            // 3.1.1 [MQTT-3.1.3-8]; in 5.0 an empty id with Clean Start 0 is the
            // session's policy to accept or not ([MQTT-3.1.3-6]).
            ProtocolVersion::V3_1_1 if self.client_id.is_empty() && !self.clean_start => {
                return Err(DecodeError::ClientIdNotValid(
                    "an empty client identifier needs clean session",
                ));
            }
            _ => {}
        }
        if let Some(will) = &self.will {
            // A will topic is a topic name ([MQTT-3.1.3-11], §4.7): wildcards are
            // refused with 0x90, which CONNACK allows.
            validate_topic_name(&will.topic).map_err(|reason| DecodeError::TopicNameInvalid {
                topic: will.topic.clone(),
                reason,
                publish: None,
            })?;
            check_message(&will.properties.message, &will.payload, None)?;
        }
        Ok(())
    }

    pub(crate) fn write(&self, out: &mut impl Sink) -> Result<(), EncodeError> {
        let v = self.version;
        put_str(out, "protocol name", v.protocol_name())?;
        out.put_u8(v.level());
        let mut flags = 0u8;
        if self.clean_start {
            flags |= CLEAN_START;
        }
        if let Some(will) = &self.will {
            flags |= WILL | (will.qos.as_u8() << WILL_QOS_SHIFT);
            if will.retain {
                flags |= WILL_RETAIN;
            }
        }
        if self.username.is_some() {
            flags |= USERNAME;
        }
        if self.password.is_some() {
            flags |= PASSWORD;
        }
        out.put_u8(flags);
        out.put_u16(self.keep_alive);
        if v.is_v5() {
            write_properties(&self.properties, out)?;
        }
        put_str(out, "client identifier", &self.client_id)?;
        if let Some(will) = &self.will {
            if v.is_v5() {
                write_properties(&will.properties, out)?;
            }
            put_str(out, "will topic", &will.topic)?;
            put_binary(out, "will payload", &will.payload)?;
        }
        if let Some(u) = &self.username {
            put_str(out, "user name", u)?;
        }
        if let Some(p) = &self.password {
            put_binary(out, "password", p)?;
        }
        Ok(())
    }
}

/// The rules shared by a PUBLISH and a will: a response topic is a topic name
/// ([MQTT-3.3.2-14]), and a payload said to be UTF-8 must be (§3.3.2.3.2, §3.1.3.2.3:
/// the receiver MAY check, and we do, as Mosquitto does).
pub(crate) fn check_message(
    props: &crate::codec::property_sets::MessageProperties,
    payload: &[u8],
    publish: Option<crate::codec::error::PublishRef>,
) -> Result<(), DecodeError> {
    if let Some(topic) = &props.response_topic {
        validate_topic_name(topic).map_err(|reason| Violation::InvalidResponseTopic {
            topic: topic.clone(),
            reason,
        })?;
    }
    if props.payload_format == Some(PayloadFormat::Utf8) && std::str::from_utf8(payload).is_err() {
        return Err(DecodeError::PayloadFormatInvalid { publish });
    }
    Ok(())
}
