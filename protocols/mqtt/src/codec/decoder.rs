//! Taking packets off a connection's read buffer.
//!
//! The fixed header is judged on its own first: the packet type (a reserved type is
//! malformed at once), the remaining length (a fourth byte with the continuation bit is
//! malformed without waiting for a fifth) and the packet size against the connection's
//! maximum. Only then does the decoder wait for the rest, and an incomplete packet
//! returns `None` having allocated nothing. A complete packet is split off the buffer
//! (so binary fields and the payload are slices of it, no copy) before its body is
//! parsed; a body error therefore leaves the stream in sync.

use bytes::BytesMut;

use super::error::{ConnectError, DecodeError, Malformed};
use super::packet::{Context, Packet, PacketType, decode_body};
use super::packets::Connect;
use super::version::{ProtocolVersion, QoS, Side};
use super::wire::{MAX_VAR_INT, Reader, VarInt, read_var_int};

/// The largest packet MQTT can express: one type byte, four length bytes and the
/// largest remaining length.
pub const MAX_PACKET_SIZE: u32 = 1 + 4 + MAX_VAR_INT;

/// A complete, acceptable fixed header at the front of a buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FixedHeader {
    pub packet_type: PacketType,
    /// The low nibble of the first byte.
    pub flags: u8,
    /// The first byte and the remaining length: 2 to 5 bytes.
    pub header_len: usize,
    pub remaining_length: u32,
}

impl FixedHeader {
    /// The whole packet's size, the measure Maximum Packet Size uses (§2.1.4).
    pub fn packet_size(&self) -> usize {
        self.header_len + self.remaining_length as usize
    }
}

/// Reads the fixed header at the front of `buf` without consuming anything. `Ok(None)`
/// when the header itself is incomplete. `version` is `None` before CONNECT (type 15,
/// AUTH, is then judged later). `max_packet_size` counts the whole packet.
pub fn peek_header(
    buf: &[u8],
    version: Option<ProtocolVersion>,
    max_packet_size: u32,
) -> Result<Option<FixedHeader>, DecodeError> {
    let Some(&first) = buf.first() else {
        return Ok(None);
    };
    let packet_type = PacketType::from_first_byte(first, version)?;
    let (remaining_length, len_bytes) = match read_var_int(&buf[1..])? {
        VarInt::Complete { value, len } => (value, len),
        VarInt::Incomplete => return Ok(None),
    };
    let header = FixedHeader {
        packet_type,
        flags: first & 0x0f,
        header_len: 1 + len_bytes,
        remaining_length,
    };
    let size = header.packet_size() as u64;
    if size > u64::from(max_packet_size) {
        return Err(DecodeError::PacketTooLarge {
            size,
            max: max_packet_size,
        });
    }
    Ok(Some(header))
}

/// Decodes the packets of one connection after its CONNECT, for the version that
/// CONNECT named and for the side that receives them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decoder {
    side: Side,
    version: ProtocolVersion,
    max_packet_size: u32,
    maximum_qos: QoS,
}

impl Decoder {
    /// No limit but the protocol's, every QoS accepted.
    pub fn new(side: Side, version: ProtocolVersion) -> Self {
        Self {
            side,
            version,
            max_packet_size: MAX_PACKET_SIZE,
            maximum_qos: QoS::ExactlyOnce,
        }
    }

    /// What the broker uses: decodes what clients send.
    pub fn server(version: ProtocolVersion) -> Self {
        Self::new(Side::Server, version)
    }

    /// What a client uses: decodes what the broker sends.
    pub fn client(version: ProtocolVersion) -> Self {
        Self::new(Side::Client, version)
    }

    /// The largest packet accepted, fixed header included: the server's configured
    /// limit (announced as Maximum Packet Size in a v5 CONNACK), or the limit a client
    /// sent in CONNECT. Larger packets are refused from their fixed header alone.
    pub fn with_max_packet_size(mut self, max: u32) -> Self {
        self.max_packet_size = max.min(MAX_PACKET_SIZE);
        self
    }

    /// The highest QoS a server accepts in PUBLISH (its CONNACK Maximum QoS); above it
    /// is [`DecodeError::QoSNotSupported`]. Ignored on the client side.
    pub fn with_maximum_qos(mut self, qos: QoS) -> Self {
        self.maximum_qos = qos;
        self
    }

    pub fn version(&self) -> ProtocolVersion {
        self.version
    }

    pub fn side(&self) -> Side {
        self.side
    }

    pub fn max_packet_size(&self) -> u32 {
        self.max_packet_size
    }

    /// Takes the next packet off the front of `buf`. `Ok(None)` means more bytes are
    /// needed ([`peek_header`] tells how many, to reserve them in one go).
    ///
    /// A CONNECT is decoded like any other packet: the session treats it as the
    /// protocol error a second CONNECT is ([MQTT-3.1.0-2]).
    pub fn decode(&self, buf: &mut BytesMut) -> Result<Option<Packet>, DecodeError> {
        let Some(header) = peek_header(buf, Some(self.version), self.max_packet_size)? else {
            return Ok(None);
        };
        let size = header.packet_size();
        if buf.len() < size {
            return Ok(None);
        }
        let frame = buf.split_to(size).freeze();
        let cx = Context {
            version: self.version,
            side: self.side,
            maximum_qos: self.maximum_qos,
        };
        decode_body(
            header.packet_type,
            header.flags,
            Reader::new(frame.slice(header.header_len..)),
            &cx,
        )
        .map(Some)
    }
}

/// Takes a connection's first packet off `buf`: it must be a CONNECT
/// ([MQTT-3.1.0-1]), and it tells the version for the [`Decoder`] of everything after
/// it. `max_packet_size` is the server's limit. Errors name the version when the
/// protocol name and level were read, so that [`ConnectError::connack`] can say which
/// CONNACK to answer with.
pub fn decode_connect(
    buf: &mut BytesMut,
    max_packet_size: u32,
) -> Result<Option<Connect>, ConnectError> {
    let no_version = |error: DecodeError| ConnectError {
        version: None,
        error,
    };
    let Some(header) = peek_header(buf, None, max_packet_size).map_err(no_version)? else {
        return Ok(None);
    };
    if header.packet_type != PacketType::Connect {
        return Err(no_version(DecodeError::FirstPacketNotConnect(
            header.packet_type,
        )));
    }
    if header.flags != 0 {
        return Err(no_version(
            Malformed::BadFlags {
                packet: PacketType::Connect,
                flags: header.flags,
            }
            .into(),
        ));
    }
    let size = header.packet_size();
    if buf.len() < size {
        return Ok(None);
    }
    let frame = buf.split_to(size).freeze();
    Connect::decode_body(&mut Reader::new(frame.slice(header.header_len..))).map(Some)
}
