//! What can go wrong decoding and encoding, each with the reason code the session
//! answers with. Spec §4.13 sorts receive errors into Malformed Packet (the bytes cannot
//! be parsed as the spec says: 0x81) and Protocol Error (parsed, but not allowed: 0x82),
//! and gives a few more precise codes; the variants follow that split.

use std::fmt;

use super::packet::PacketType;
use super::reason::{ConnectReturnCode, ReasonCode};
use super::topic::TopicError;
use super::version::{PacketId, ProtocolVersion, QoS};

/// The string or binary field a problem was found in, for readable messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    ProtocolName,
    ClientId,
    WillTopic,
    Username,
    TopicName,
    TopicFilter,
    /// A string-valued property; the number is its identifier.
    Property(u8),
    UserPropertyName,
    UserPropertyValue,
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::ProtocolName => f.write_str("protocol name"),
            Self::ClientId => f.write_str("client identifier"),
            Self::WillTopic => f.write_str("will topic"),
            Self::Username => f.write_str("user name"),
            Self::TopicName => f.write_str("topic name"),
            Self::TopicFilter => f.write_str("topic filter"),
            Self::Property(id) => write!(f, "property {id:#04x}"),
            Self::UserPropertyName => f.write_str("user property name"),
            Self::UserPropertyValue => f.write_str("user property value"),
        }
    }
}

/// Why a packet could not be parsed (reason 0x81 Malformed Packet).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Malformed {
    #[error("variable byte integer longer than four bytes")]
    VarIntTooLong,
    #[error("packet ends {needed} bytes early")]
    Truncated { needed: usize },
    #[error("{extra} bytes after the end of the {packet} packet")]
    TrailingBytes { packet: PacketType, extra: usize },
    #[error("reserved packet type {0}")]
    ReservedPacketType(u8),
    #[error("invalid fixed header flags {flags:#06b} for {packet}")]
    BadFlags { packet: PacketType, flags: u8 },
    #[error("QoS 3 is not a quality of service")]
    QoS3,
    #[error("DUP set on a QoS 0 PUBLISH")]
    DupOnQoS0,
    #[error("{0} is not valid UTF-8")]
    InvalidUtf8(Field),
    #[error("{0} contains U+0000")]
    NullCharacter(Field),
    #[error("{field} contains the disallowed code point U+{code_point:04X}")]
    DisallowedCodePoint { field: Field, code_point: u32 },
    #[error("reserved bit 0 of the CONNECT flags is set")]
    ConnectReservedFlag,
    #[error("will QoS or will retain set without the will flag")]
    WillFlagsWithoutWill,
    #[error("password flag set without the user name flag")]
    PasswordWithoutUsername,
    #[error("reserved bits of the CONNACK acknowledge flags are set")]
    ConnAckReservedFlags,
    #[error("unknown property identifier {0:#04x}")]
    UnknownProperty(u32),
    #[error("property {id:#04x} is not allowed in {packet}")]
    PropertyNotAllowed { id: u8, packet: PacketType },
    #[error("properties run past their declared length")]
    PropertiesOverrun,
    #[error("reserved bits of the subscription options {0:#010b} are set")]
    SubscriptionOptionsReserved(u8),
    #[error("undefined reason code {code:#04x} in {packet}")]
    UnknownReasonCode { code: u8, packet: PacketType },
}

/// Parsed fine, but not allowed (reason 0x82 Protocol Error).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Violation {
    #[error("{0} is not sent in this direction")]
    WrongDirection(PacketType),
    #[error("{0} does not exist in this protocol version")]
    NotInVersion(PacketType),
    #[error("packet identifier 0 in {0}")]
    ZeroPacketId(PacketType),
    #[error("property {0:#04x} appears more than once")]
    DuplicateProperty(u8),
    #[error("property {id:#04x} has the invalid value {value}")]
    InvalidPropertyValue { id: u8, value: u32 },
    #[error("authentication data without an authentication method")]
    AuthDataWithoutMethod,
    #[error("AUTH without an authentication method")]
    AuthWithoutMethod,
    #[error("{0} carries no topic filter")]
    EmptyPayload(PacketType),
    #[error("PUBLISH with an empty topic name and no topic alias")]
    EmptyTopicWithoutAlias,
    #[error("PUBLISH from a client carries a subscription identifier")]
    SubscriptionIdFromClient,
    #[error("subscription options ask for QoS 3")]
    SubscriptionQoS3,
    #[error("retain handling 3 is not defined")]
    RetainHandling3,
    #[error("no local set on the shared subscription {0:?}")]
    NoLocalOnShared(String),
    #[error("reason code {code} is not allowed in {packet}")]
    ReasonCodeNotAllowed {
        code: ReasonCode,
        packet: PacketType,
    },
    #[error("response topic {topic:?} is not a valid topic name: {reason}")]
    InvalidResponseTopic { topic: String, reason: TopicError },
    #[error("the server sent a session expiry interval in DISCONNECT")]
    SessionExpiryFromServer,
}

/// Which PUBLISH an error is about, so that the session can answer it with a PUBACK or
/// PUBREC carrying the reason code instead of closing the connection, where the spec
/// allows that (0x90 Topic Name invalid, 0x99 Payload format invalid).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PublishRef {
    pub qos: QoS,
    /// `None` at QoS 0.
    pub packet_id: Option<PacketId>,
}

/// Why a received packet was refused. Each variant maps to a reason code
/// ([`DecodeError::reason_code`]): a v5 session sends it in DISCONNECT (or CONNACK for
/// the first packet) and closes; a 3.x session closes. A packet rejected after its
/// fixed header was complete has been removed from the buffer, so the stream is still
/// in sync when the session chooses to answer a per-packet error instead (see
/// [`DecodeError::publish`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("malformed packet: {0}")]
    Malformed(#[from] Malformed),
    #[error("protocol error: {0}")]
    Protocol(#[from] Violation),
    #[error("packet of {size} bytes exceeds the maximum packet size of {max} bytes")]
    PacketTooLarge { size: u64, max: u32 },
    #[error("invalid topic name {topic:?}: {reason}")]
    TopicNameInvalid {
        topic: String,
        reason: TopicError,
        /// The PUBLISH it came in; `None` for a will topic.
        publish: Option<PublishRef>,
    },
    #[error("invalid topic filter {filter:?}: {reason}")]
    TopicFilterInvalid { filter: String, reason: TopicError },
    #[error("payload format indicator says UTF-8 but the payload is not")]
    PayloadFormatInvalid {
        /// The PUBLISH it came in; `None` for a will payload.
        publish: Option<PublishRef>,
    },
    #[error("{requested} exceeds the maximum QoS {maximum} of this server")]
    QoSNotSupported { requested: QoS, maximum: QoS },
    #[error("unsupported protocol level {level} for protocol name {name:?}")]
    UnsupportedProtocolVersion { name: String, level: u8 },
    #[error("unknown protocol name {0:?}")]
    UnknownProtocolName(String),
    #[error("client identifier rejected: {0}")]
    ClientIdNotValid(&'static str),
    #[error("the first packet must be CONNECT, not {0}")]
    FirstPacketNotConnect(PacketType),
}

impl DecodeError {
    /// The MQTT 5 reason code for this error.
    pub fn reason_code(&self) -> ReasonCode {
        match self {
            Self::Malformed(_) => ReasonCode::MalformedPacket,
            Self::Protocol(_) | Self::FirstPacketNotConnect(_) => ReasonCode::ProtocolError,
            Self::PacketTooLarge { .. } => ReasonCode::PacketTooLarge,
            Self::TopicNameInvalid { .. } => ReasonCode::TopicNameInvalid,
            Self::TopicFilterInvalid { .. } => ReasonCode::TopicFilterInvalid,
            Self::PayloadFormatInvalid { .. } => ReasonCode::PayloadFormatInvalid,
            Self::QoSNotSupported { .. } => ReasonCode::QoSNotSupported,
            Self::UnsupportedProtocolVersion { .. } | Self::UnknownProtocolName(_) => {
                ReasonCode::UnsupportedProtocolVersion
            }
            Self::ClientIdNotValid(_) => ReasonCode::ClientIdentifierNotValid,
        }
    }

    /// The PUBLISH a per-packet error is about. The packet has been consumed; a v5
    /// session may answer it with PUBACK/PUBREC carrying [`Self::reason_code`] and go
    /// on, or disconnect with that code.
    pub fn publish(&self) -> Option<PublishRef> {
        match self {
            Self::TopicNameInvalid { publish, .. } | Self::PayloadFormatInvalid { publish } => {
                *publish
            }
            _ => None,
        }
    }
}

/// A refused first packet, with the version it named when it got that far, so that
/// the session can answer in the client's own CONNACK format.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{error}")]
pub struct ConnectError {
    /// `None` when the error came before the protocol name and level were read.
    pub version: Option<ProtocolVersion>,
    pub error: DecodeError,
}

/// The CONNACK to send before closing a refused connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectRefusal {
    /// The version to encode the CONNACK for.
    pub version: ProtocolVersion,
    /// For a 3.x client, encode it as [`ReasonCode::to_v3_connack`] of this code.
    pub code: ReasonCode,
}

impl ConnectError {
    /// The CONNACK the server answers with before it closes, or `None` to close
    /// without one.
    ///
    /// - An unsupported level: CONNACK 0x01 in the 3.1.1 format (the one every MQTT
    ///   version can read: 3.1.1 [MQTT-3.1.2-2]), whatever the level, as Mosquitto does;
    ///   v5 [MQTT-3.1.2-2] allows a server to answer an unknown level as it likes.
    /// - An unknown protocol name: no CONNACK; the peer may not speak MQTT at all.
    /// - v5 errors: a CONNACK with the error's reason code ([MQTT-3.1.4-1] permits it).
    /// - 3.x errors: only those with a 3.1.1 return code (the identifier rules,
    ///   [MQTT-3.1.3-8] / 3.1 §3.1); malformed packets close without a CONNACK
    ///   (3.1.1 [MQTT-3.1.4-1]).
    pub fn connack(&self) -> Option<ConnectRefusal> {
        match (&self.error, self.version) {
            (DecodeError::UnsupportedProtocolVersion { .. }, _) => Some(ConnectRefusal {
                version: ProtocolVersion::V3_1_1,
                code: ReasonCode::UnsupportedProtocolVersion,
            }),
            (DecodeError::UnknownProtocolName(_), _) | (_, None) => None,
            (e, Some(ProtocolVersion::V5)) => Some(ConnectRefusal {
                version: ProtocolVersion::V5,
                code: e.reason_code(),
            }),
            (e @ DecodeError::ClientIdNotValid(_), Some(v)) => {
                debug_assert!(e.reason_code().to_v3_connack().is_some());
                Some(ConnectRefusal {
                    version: v,
                    code: ReasonCode::ClientIdentifierNotValid,
                })
            }
            (_, Some(_)) => None,
        }
    }

    /// The 3.x return code of [`Self::connack`], for sessions that encode it by hand.
    pub fn v3_return_code(&self) -> Option<ConnectReturnCode> {
        self.connack().and_then(|r| r.code.to_v3_connack())
    }
}

/// Why a packet could not be encoded. These are bugs or limits of the caller (a string
/// longer than the wire allows, a QoS 1 PUBLISH without a packet identifier, a packet
/// larger than the peer accepts), never the peer's fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EncodeError {
    #[error("{field} is {len} bytes, more than the 65535 a length prefix can say")]
    FieldTooLong { field: &'static str, len: usize },
    #[error("packet body of {0} bytes exceeds the 268435455 a remaining length can say")]
    RemainingLengthTooLarge(usize),
    #[error("value {0} does not fit a variable byte integer")]
    VarIntTooLarge(u32),
    #[error("{packet} does not exist in {version}")]
    NotInVersion {
        packet: PacketType,
        version: ProtocolVersion,
    },
    #[error("a PUBLISH carries a packet identifier if and only if its QoS is above 0")]
    PacketIdMismatch,
    #[error("CONNACK code {0} has no MQTT 3.1.1 return code")]
    NoV3ReturnCode(ReasonCode),
    #[error("packet of {size} bytes exceeds the peer's maximum packet size of {max} bytes")]
    PacketTooLarge { size: usize, max: u32 },
}
