//! The small value types every packet uses: the protocol version a connection speaks,
//! the side of the connection a codec runs on, QoS levels and packet identifiers.

use std::fmt;
use std::num::NonZeroU16;

/// The MQTT version of a connection. It comes from the CONNECT packet (protocol name and
/// level); every later packet of the connection is decoded and encoded for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ProtocolVersion {
    /// MQTT 3.1: protocol name "MQIsdp", level 3.
    V3_1,
    /// MQTT 3.1.1: protocol name "MQTT", level 4.
    V3_1_1,
    /// MQTT 5.0: protocol name "MQTT", level 5.
    V5,
}

impl ProtocolVersion {
    /// The protocol level byte of CONNECT.
    pub const fn level(self) -> u8 {
        match self {
            Self::V3_1 => 3,
            Self::V3_1_1 => 4,
            Self::V5 => 5,
        }
    }

    /// The protocol name of CONNECT.
    pub const fn protocol_name(self) -> &'static str {
        match self {
            Self::V3_1 => "MQIsdp",
            Self::V3_1_1 | Self::V5 => "MQTT",
        }
    }

    /// The version a CONNECT names, if we speak it.
    pub fn from_name_and_level(name: &str, level: u8) -> Option<Self> {
        match (name, level) {
            ("MQIsdp", 3) => Some(Self::V3_1),
            ("MQTT", 4) => Some(Self::V3_1_1),
            ("MQTT", 5) => Some(Self::V5),
            _ => None,
        }
    }

    /// MQTT 5 carries properties and reason codes; the 3.x versions do not.
    pub const fn is_v5(self) -> bool {
        matches!(self, Self::V5)
    }
}

impl fmt::Display for ProtocolVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::V3_1 => "MQTT 3.1",
            Self::V3_1_1 => "MQTT 3.1.1",
            Self::V5 => "MQTT 5.0",
        })
    }
}

/// Which end of the connection a decoder runs on. Some packets only flow one way
/// (CONNECT and SUBSCRIBE to the server, CONNACK and SUBACK to the client), and a few
/// properties are allowed in one direction only, so the decoder needs to know.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Side {
    /// The broker: decodes what clients send.
    Server,
    /// A client (tests, the load generator): decodes what the broker sends.
    Client,
}

/// Quality of service of a PUBLISH, a will or a subscription.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum QoS {
    AtMostOnce = 0,
    AtLeastOnce = 1,
    ExactlyOnce = 2,
}

impl QoS {
    /// `None` for 3, the value no version allows.
    pub const fn from_u8(v: u8) -> Option<Self> {
        match v {
            0 => Some(Self::AtMostOnce),
            1 => Some(Self::AtLeastOnce),
            2 => Some(Self::ExactlyOnce),
            _ => None,
        }
    }

    pub const fn as_u8(self) -> u8 {
        self as u8
    }
}

impl fmt::Display for QoS {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "QoS {}", self.as_u8())
    }
}

/// A packet identifier. Zero is never a valid identifier on the wire
/// ([MQTT-2.2.1-3], [MQTT-2.2.1-4]; 3.1.1 [MQTT-2.3.1-1]), so the type cannot hold it and
/// nothing downstream has to check again.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PacketId(NonZeroU16);

impl PacketId {
    /// `None` for 0.
    pub const fn new(id: u16) -> Option<Self> {
        match NonZeroU16::new(id) {
            Some(n) => Some(Self(n)),
            None => None,
        }
    }

    pub const fn get(self) -> u16 {
        self.0.get()
    }
}

impl fmt::Display for PacketId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.get())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_by_name_and_level() {
        for v in [
            ProtocolVersion::V3_1,
            ProtocolVersion::V3_1_1,
            ProtocolVersion::V5,
        ] {
            assert_eq!(
                ProtocolVersion::from_name_and_level(v.protocol_name(), v.level()),
                Some(v)
            );
        }
        assert_eq!(ProtocolVersion::from_name_and_level("MQIsdp", 4), None);
        assert_eq!(ProtocolVersion::from_name_and_level("MQTT", 3), None);
        assert_eq!(ProtocolVersion::from_name_and_level("mqtt", 4), None);
    }

    #[test]
    fn qos_three_and_packet_id_zero_do_not_exist() {
        assert_eq!(QoS::from_u8(3), None);
        assert_eq!(QoS::from_u8(2), Some(QoS::ExactlyOnce));
        assert_eq!(PacketId::new(0), None);
        assert_eq!(PacketId::new(7).map(PacketId::get), Some(7));
    }
}
