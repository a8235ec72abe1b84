//! Writing packets, and fitting them under the peer's Maximum Packet Size.
//!
//! A packet is measured before it is written (a counting pass over the same code), so
//! the remaining length is known up front, a packet that cannot be encoded leaves the
//! output untouched, and the session can learn a packet's size without encoding it.

use bytes::BytesMut;

use super::error::EncodeError;
use super::packet::Packet;
use super::version::ProtocolVersion;
use super::wire::{Counter, MAX_VAR_INT, Sink, put_var_int, var_int_len};

/// Appends `packet`, encoded for `version`, to `out`; returns the bytes written.
pub fn encode(
    packet: &Packet,
    version: ProtocolVersion,
    out: &mut BytesMut,
) -> Result<usize, EncodeError> {
    let body = body_len(packet, version)?;
    let total = 1 + var_int_len(body) + body as usize;
    out.reserve(total);
    let start = out.len();
    out.put_u8(((packet.packet_type() as u8) << 4) | packet.flags());
    put_var_int(out, body)?;
    packet.write_body(version, out)?;
    debug_assert_eq!(out.len() - start, total, "measured and written sizes agree");
    Ok(total)
}

/// The size `packet` has on the wire for `version`, fixed header included (what a
/// peer's Maximum Packet Size is compared with).
pub fn encoded_len(packet: &Packet, version: ProtocolVersion) -> Result<usize, EncodeError> {
    let body = body_len(packet, version)?;
    Ok(1 + var_int_len(body) + body as usize)
}

fn body_len(packet: &Packet, version: ProtocolVersion) -> Result<u32, EncodeError> {
    if packet.packet_type() == super::packet::PacketType::Auth && !version.is_v5() {
        return Err(EncodeError::NotInVersion {
            packet: packet.packet_type(),
            version,
        });
    }
    let mut count = Counter::default();
    packet.write_body(version, &mut count)?;
    u32::try_from(count.0)
        .ok()
        .filter(|&n| n <= MAX_VAR_INT)
        .ok_or(EncodeError::RemainingLengthTooLarge(count.0))
}

/// What [`encode_within`] had to leave out to fit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Fitted {
    /// Bytes written.
    pub len: usize,
    pub dropped_reason_string: bool,
    pub dropped_user_properties: bool,
}

/// Encodes `packet` so that it is no larger than the peer's Maximum Packet Size
/// (`None`: the peer set none). In 5.0 a too large acknowledgement, CONNACK,
/// DISCONNECT or AUTH first loses its Reason String, then its User Properties, as the
/// spec requires of each ([MQTT-3.2.2-19], [MQTT-3.2.2-20], [MQTT-3.4.2-2],
/// [MQTT-3.4.2-3] and their PUBREC, PUBREL, PUBCOMP, SUBACK, UNSUBACK, DISCONNECT and
/// AUTH counterparts). A packet still too large, and any too large PUBLISH, is
/// [`EncodeError::PacketTooLarge`] and nothing is written: the server then drops it and
/// behaves as if it had been sent ([MQTT-3.1.2-24], [MQTT-3.1.2-25]).
pub fn encode_within(
    packet: &Packet,
    version: ProtocolVersion,
    max_packet_size: Option<u32>,
    out: &mut BytesMut,
) -> Result<Fitted, EncodeError> {
    let Some(max) = max_packet_size else {
        let len = encode(packet, version, out)?;
        return Ok(Fitted {
            len,
            ..Fitted::default()
        });
    };
    let fits = |p: &Packet| -> Result<Option<usize>, EncodeError> {
        let len = encoded_len(p, version)?;
        Ok((len as u64 <= u64::from(max)).then_some(len))
    };
    let size = encoded_len(packet, version)?;
    if size as u64 <= u64::from(max) {
        let len = encode(packet, version, out)?;
        return Ok(Fitted {
            len,
            ..Fitted::default()
        });
    }
    let too_large = EncodeError::PacketTooLarge { size, max };
    if !version.is_v5() {
        return Err(too_large);
    }
    let mut trimmed = packet.clone();
    let mut fitted = Fitted::default();
    {
        let Some((reason_string, _)) = trimmed.diagnostics_mut() else {
            return Err(too_large);
        };
        fitted.dropped_reason_string = reason_string.take().is_some();
    }
    if fits(&trimmed)?.is_none() {
        if let Some((_, users)) = trimmed.diagnostics_mut() {
            fitted.dropped_user_properties = !users.is_empty();
            users.clear();
        }
        if fits(&trimmed)?.is_none() {
            return Err(too_large);
        }
    }
    fitted.len = encode(&trimmed, version, out)?;
    Ok(fitted)
}
