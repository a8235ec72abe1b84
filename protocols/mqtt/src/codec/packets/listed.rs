//! The layout SUBSCRIBE, SUBACK, UNSUBSCRIBE and UNSUBACK share (spec §3.8 to §3.11): a
//! packet identifier, properties in 5.0, then a list that must not be empty (topic
//! filters in the requests, one reason code per filter in the answers). The four
//! packet files say only what their list entries are.

use crate::codec::error::{DecodeError, EncodeError, Field, Malformed, Violation};
use crate::codec::packet::{Context, PacketType};
use crate::codec::properties::{PropertySet, read_properties, write_properties};
use crate::codec::reason::{ReasonCode, ReasonContext};
use crate::codec::topic::validate_topic_filter;
use crate::codec::version::{PacketId, ProtocolVersion};
use crate::codec::wire::{Reader, Sink};

/// The packet identifier, which must not be 0 (v5 [MQTT-2.2.1-3]; 3.1.1
/// [MQTT-2.3.1-1]), and in 5.0 the properties.
pub(crate) fn read_head<P: PropertySet>(
    r: &mut Reader,
    cx: &Context,
    packet: PacketType,
) -> Result<(PacketId, P), DecodeError> {
    let packet_id = PacketId::new(r.u16()?).ok_or(Violation::ZeroPacketId(packet))?;
    let properties = if cx.version.is_v5() {
        read_properties(r, packet)?
    } else {
        P::default()
    };
    Ok((packet_id, properties))
}

pub(crate) fn write_head(
    packet_id: PacketId,
    properties: &impl PropertySet,
    version: ProtocolVersion,
    out: &mut impl Sink,
) -> Result<(), EncodeError> {
    out.put_u16(packet_id.get());
    if version.is_v5() {
        write_properties(properties, out)?;
    }
    Ok(())
}

/// The rest of a SUBSCRIBE or UNSUBSCRIBE: entries that each start with a topic
/// filter, at least one (v5 [MQTT-3.8.3-2], [MQTT-3.10.3-2]; 3.1.1 [MQTT-3.8.3-3],
/// [MQTT-3.10.3-2]). `entry` reads what follows a filter. The filters are checked
/// after the whole list has been parsed, so a packet that is both malformed and
/// invalid is reported as malformed; an invalid one is refused with 0x8F.
pub(crate) fn read_filter_list<T>(
    r: &mut Reader,
    packet: PacketType,
    entry: impl Fn(&mut Reader, String) -> Result<T, DecodeError>,
    filter_of: impl Fn(&T) -> &str,
) -> Result<Vec<T>, DecodeError> {
    let mut entries = Vec::new();
    while !r.is_empty() {
        let filter = r.string(Field::TopicFilter)?;
        entries.push(entry(r, filter)?);
    }
    if entries.is_empty() {
        return Err(Violation::EmptyPayload(packet).into());
    }
    for e in &entries {
        let filter = filter_of(e);
        validate_topic_filter(filter).map_err(|reason| DecodeError::TopicFilterInvalid {
            filter: filter.to_owned(),
            reason,
        })?;
    }
    Ok(entries)
}

/// The reason codes of a SUBACK or UNSUBACK payload, at least one.
pub(crate) fn read_reason_codes(
    r: &mut Reader,
    version: ProtocolVersion,
    packet: PacketType,
) -> Result<Vec<ReasonCode>, DecodeError> {
    let table = if packet == PacketType::SubAck {
        ReasonContext::SubAck
    } else {
        ReasonContext::UnsubAck
    };
    let mut codes = Vec::with_capacity(r.remaining());
    while !r.is_empty() {
        let raw = r.u8()?;
        let unknown = Malformed::UnknownReasonCode { code: raw, packet };
        let code = if version.is_v5() {
            let code = ReasonCode::from_u8(raw).ok_or(unknown)?;
            // [MQTT-3.9.3-2], [MQTT-3.11.3-2].
            if !code.allowed_in(table) {
                return Err(Violation::ReasonCodeNotAllowed { code, packet }.into());
            }
            code
        } else {
            // 3.1.1 [MQTT-3.9.3-2]: 0x00, 0x01, 0x02 and 0x80 only.
            match raw {
                0..=2 => ReasonCode::from_u8(raw).ok_or(unknown)?,
                0x80 => ReasonCode::UnspecifiedError,
                _ => return Err(unknown.into()),
            }
        };
        codes.push(code);
    }
    if codes.is_empty() {
        return Err(Violation::EmptyPayload(packet).into());
    }
    Ok(codes)
}
