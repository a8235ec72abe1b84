//! The packet types (spec §2.1.2) and the [`Packet`] enum, one variant and one struct per
//! control packet, with the dispatch from a fixed header to the body decoders and from
//! a packet to its encoder.

use std::fmt;

use super::error::{DecodeError, EncodeError, Malformed, Violation};
use super::packets::{
    Auth, ConnAck, Connect, Disconnect, PubAck, PubComp, PubRec, PubRel, Publish, SubAck,
    Subscribe, UnsubAck, Unsubscribe,
};
use super::properties::UserProperties;
use super::version::{ProtocolVersion, QoS, Side};
use super::wire::{Reader, Sink};

/// The MQTT control packet types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PacketType {
    Connect = 1,
    ConnAck = 2,
    Publish = 3,
    PubAck = 4,
    PubRec = 5,
    PubRel = 6,
    PubComp = 7,
    Subscribe = 8,
    SubAck = 9,
    Unsubscribe = 10,
    UnsubAck = 11,
    PingReq = 12,
    PingResp = 13,
    Disconnect = 14,
    /// MQTT 5 only; type 15 is reserved in 3.x.
    Auth = 15,
}

impl PacketType {
    /// The type in the high nibble of a fixed header's first byte.
    pub fn from_first_byte(byte: u8, version: Option<ProtocolVersion>) -> Result<Self, Malformed> {
        use PacketType::*;
        Ok(match byte >> 4 {
            1 => Connect,
            2 => ConnAck,
            3 => Publish,
            4 => PubAck,
            5 => PubRec,
            6 => PubRel,
            7 => PubComp,
            8 => Subscribe,
            9 => SubAck,
            10 => Unsubscribe,
            11 => UnsubAck,
            12 => PingReq,
            13 => PingResp,
            14 => Disconnect,
            15 if version.is_none_or(ProtocolVersion::is_v5) => Auth,
            t => return Err(Malformed::ReservedPacketType(t)),
        })
    }

    /// The flags every packet but PUBLISH must carry (§2.1.3 Table 2-2): 0b0010 for
    /// PUBREL, SUBSCRIBE and UNSUBSCRIBE, 0 for the rest.
    pub(crate) const fn required_flags(self) -> Option<u8> {
        match self {
            Self::Publish => None,
            Self::PubRel | Self::Subscribe | Self::Unsubscribe => Some(0b0010),
            _ => Some(0),
        }
    }

    /// Whether `side` may receive this packet: CONNECT, SUBSCRIBE, UNSUBSCRIBE and
    /// PINGREQ only go to the server, CONNACK, SUBACK, UNSUBACK and PINGRESP only to the
    /// client; DISCONNECT goes to a 3.x client never (3.1.1 §3.14).
    pub(crate) fn received_by(self, side: Side, version: ProtocolVersion) -> bool {
        use PacketType::*;
        match self {
            Connect | Subscribe | Unsubscribe | PingReq => side == Side::Server,
            ConnAck | SubAck | UnsubAck | PingResp => side == Side::Client,
            Disconnect => side == Side::Server || version.is_v5(),
            Publish | PubAck | PubRec | PubRel | PubComp | Auth => true,
        }
    }

    pub const fn name(self) -> &'static str {
        match self {
            Self::Connect => "CONNECT",
            Self::ConnAck => "CONNACK",
            Self::Publish => "PUBLISH",
            Self::PubAck => "PUBACK",
            Self::PubRec => "PUBREC",
            Self::PubRel => "PUBREL",
            Self::PubComp => "PUBCOMP",
            Self::Subscribe => "SUBSCRIBE",
            Self::SubAck => "SUBACK",
            Self::Unsubscribe => "UNSUBSCRIBE",
            Self::UnsubAck => "UNSUBACK",
            Self::PingReq => "PINGREQ",
            Self::PingResp => "PINGRESP",
            Self::Disconnect => "DISCONNECT",
            Self::Auth => "AUTH",
        }
    }
}

impl fmt::Display for PacketType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One MQTT control packet, in either direction, for any version. The v5-only parts
/// (properties, reason codes other than the 3.x ones) stay empty or default in 3.x.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Packet {
    Connect(Box<Connect>),
    ConnAck(Box<ConnAck>),
    Publish(Publish),
    PubAck(PubAck),
    PubRec(PubRec),
    PubRel(PubRel),
    PubComp(PubComp),
    Subscribe(Subscribe),
    SubAck(SubAck),
    Unsubscribe(Unsubscribe),
    UnsubAck(UnsubAck),
    PingReq,
    PingResp,
    Disconnect(Disconnect),
    Auth(Auth),
}

impl Packet {
    pub fn packet_type(&self) -> PacketType {
        match self {
            Self::Connect(_) => PacketType::Connect,
            Self::ConnAck(_) => PacketType::ConnAck,
            Self::Publish(_) => PacketType::Publish,
            Self::PubAck(_) => PacketType::PubAck,
            Self::PubRec(_) => PacketType::PubRec,
            Self::PubRel(_) => PacketType::PubRel,
            Self::PubComp(_) => PacketType::PubComp,
            Self::Subscribe(_) => PacketType::Subscribe,
            Self::SubAck(_) => PacketType::SubAck,
            Self::Unsubscribe(_) => PacketType::Unsubscribe,
            Self::UnsubAck(_) => PacketType::UnsubAck,
            Self::PingReq => PacketType::PingReq,
            Self::PingResp => PacketType::PingResp,
            Self::Disconnect(_) => PacketType::Disconnect,
            Self::Auth(_) => PacketType::Auth,
        }
    }

    /// The Reason String and User Properties of the packets that may leave them out:
    /// CONNACK, the four publish acknowledgements, SUBACK, UNSUBACK, DISCONNECT and
    /// AUTH. `encode_within` drops them to fit the peer's Maximum Packet Size; a session
    /// clears them where the client asked for no problem information ([MQTT-3.1.2-29]:
    /// on every packet but PUBLISH, CONNACK and DISCONNECT). `None` for the others.
    pub fn diagnostics_mut(&mut self) -> Option<(&mut Option<String>, &mut UserProperties)> {
        let pair = match self {
            Self::ConnAck(p) => (
                &mut p.properties.reason_string,
                &mut p.properties.user_properties,
            ),
            Self::PubAck(p) => (
                &mut p.properties.reason_string,
                &mut p.properties.user_properties,
            ),
            Self::PubRec(p) => (
                &mut p.properties.reason_string,
                &mut p.properties.user_properties,
            ),
            Self::PubRel(p) => (
                &mut p.properties.reason_string,
                &mut p.properties.user_properties,
            ),
            Self::PubComp(p) => (
                &mut p.properties.reason_string,
                &mut p.properties.user_properties,
            ),
            Self::SubAck(p) => (
                &mut p.properties.reason_string,
                &mut p.properties.user_properties,
            ),
            Self::UnsubAck(p) => (
                &mut p.properties.reason_string,
                &mut p.properties.user_properties,
            ),
            Self::Disconnect(p) => (
                &mut p.properties.reason_string,
                &mut p.properties.user_properties,
            ),
            Self::Auth(p) => (
                &mut p.properties.reason_string,
                &mut p.properties.user_properties,
            ),
            _ => return None,
        };
        Some(pair)
    }

    /// The low nibble of the first byte.
    pub(crate) fn flags(&self) -> u8 {
        match self {
            Self::Publish(p) => p.flags(),
            other => other.packet_type().required_flags().unwrap_or(0),
        }
    }

    /// Writes the variable header and payload.
    pub(crate) fn write_body(
        &self,
        version: ProtocolVersion,
        out: &mut impl Sink,
    ) -> Result<(), EncodeError> {
        match self {
            Self::Connect(p) => p.write(out),
            Self::ConnAck(p) => p.write(version, out),
            Self::Publish(p) => p.write(version, out),
            Self::PubAck(p) => p.write(version, out),
            Self::PubRec(p) => p.write(version, out),
            Self::PubRel(p) => p.write(version, out),
            Self::PubComp(p) => p.write(version, out),
            Self::Subscribe(p) => p.write(version, out),
            Self::SubAck(p) => p.write(version, out),
            Self::Unsubscribe(p) => p.write(version, out),
            Self::UnsubAck(p) => p.write(version, out),
            Self::PingReq | Self::PingResp => Ok(()),
            Self::Disconnect(p) => p.write(version, out),
            Self::Auth(p) => p.write(version, out),
        }
    }
}

/// What a body decoder needs to know about the connection.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Context {
    pub(crate) version: ProtocolVersion,
    pub(crate) side: Side,
    /// The highest QoS the receiving server accepts in a PUBLISH.
    pub(crate) maximum_qos: QoS,
}

/// Decodes the body of a packet whose fixed header said `kind` with `flags`.
pub(crate) fn decode_body(
    kind: PacketType,
    flags: u8,
    body: Reader,
    cx: &Context,
) -> Result<Packet, DecodeError> {
    if let Some(required) = kind.required_flags()
        && flags != required
    {
        // v5 [MQTT-2.1.3-1]; 3.1.1 [MQTT-2.2.2-1], [MQTT-2.2.2-2]; for PUBREL,
        // SUBSCRIBE and UNSUBSCRIBE [MQTT-3.6.1-1], [MQTT-3.8.1-1], [MQTT-3.10.1-1].
        return Err(Malformed::BadFlags {
            packet: kind,
            flags,
        }
        .into());
    }
    if !kind.received_by(cx.side, cx.version) {
        return Err(Violation::WrongDirection(kind).into());
    }
    let mut r = body;
    let packet = match kind {
        PacketType::Connect => {
            Packet::Connect(Box::new(Connect::decode_body(&mut r).map_err(|e| e.error)?))
        }
        PacketType::ConnAck => Packet::ConnAck(Box::new(ConnAck::decode(&mut r, cx)?)),
        PacketType::Publish => Packet::Publish(Publish::decode(flags, &mut r, cx)?),
        PacketType::PubAck => Packet::PubAck(PubAck::decode(&mut r, cx)?),
        PacketType::PubRec => Packet::PubRec(PubRec::decode(&mut r, cx)?),
        PacketType::PubRel => Packet::PubRel(PubRel::decode(&mut r, cx)?),
        PacketType::PubComp => Packet::PubComp(PubComp::decode(&mut r, cx)?),
        PacketType::Subscribe => Packet::Subscribe(Subscribe::decode(&mut r, cx)?),
        PacketType::SubAck => Packet::SubAck(SubAck::decode(&mut r, cx)?),
        PacketType::Unsubscribe => Packet::Unsubscribe(Unsubscribe::decode(&mut r, cx)?),
        PacketType::UnsubAck => Packet::UnsubAck(UnsubAck::decode(&mut r, cx)?),
        PacketType::PingReq => Packet::PingReq,
        PacketType::PingResp => Packet::PingResp,
        PacketType::Disconnect => Packet::Disconnect(Disconnect::decode(&mut r, cx)?),
        PacketType::Auth => Packet::Auth(Auth::decode(&mut r, cx)?),
    };
    if !r.is_empty() {
        return Err(Malformed::TrailingBytes {
            packet: kind,
            extra: r.remaining(),
        }
        .into());
    }
    Ok(packet)
}
