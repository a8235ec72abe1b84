//! UNSUBSCRIBE and UNSUBACK (spec §3.10, §3.11).

use super::subscribe::{check_filter, read_packet_id, read_reason_codes};
use crate::codec::error::{DecodeError, EncodeError, Field, Violation};
use crate::codec::packet::{Context, PacketType};
use crate::codec::properties::{read_properties, write_properties};
use crate::codec::property_sets::{AckProperties, UnsubscribeProperties};
use crate::codec::reason::ReasonCode;
use crate::codec::version::{PacketId, ProtocolVersion};
use crate::codec::wire::{Reader, Sink, put_str};

/// An UNSUBSCRIBE packet (client to server); fixed header flags 0b0010
/// ([MQTT-3.10.1-1]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unsubscribe {
    pub packet_id: PacketId,
    /// At least one ([MQTT-3.10.3-2] in both versions), each a valid topic filter.
    pub filters: Vec<String>,
    /// Empty in 3.x.
    pub properties: UnsubscribeProperties,
}

impl Unsubscribe {
    pub(crate) fn decode(r: &mut Reader, cx: &Context) -> Result<Self, DecodeError> {
        let packet_id = read_packet_id(r, PacketType::Unsubscribe)?;
        let properties: UnsubscribeProperties = if cx.version.is_v5() {
            read_properties(r, PacketType::Unsubscribe)?
        } else {
            UnsubscribeProperties::default()
        };
        let mut filters = Vec::new();
        while !r.is_empty() {
            filters.push(r.string(Field::TopicFilter)?);
        }
        if filters.is_empty() {
            return Err(Violation::EmptyPayload(PacketType::Unsubscribe).into());
        }
        for f in &filters {
            check_filter(f)?;
        }
        Ok(Self {
            packet_id,
            filters,
            properties,
        })
    }

    pub(crate) fn write(
        &self,
        version: ProtocolVersion,
        out: &mut impl Sink,
    ) -> Result<(), EncodeError> {
        out.put_u16(self.packet_id.get());
        if version.is_v5() {
            write_properties(&self.properties, out)?;
        }
        for f in &self.filters {
            put_str(out, "topic filter", f)?;
        }
        Ok(())
    }
}

/// An UNSUBACK packet. 3.x has only the packet identifier; in 5.0 one reason code per
/// filter, in order ([MQTT-3.11.3-1]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnsubAck {
    pub packet_id: PacketId,
    /// Empty in 3.x (and not written).
    pub reason_codes: Vec<ReasonCode>,
    /// Empty in 3.x.
    pub properties: AckProperties,
}

impl UnsubAck {
    pub(crate) fn decode(r: &mut Reader, cx: &Context) -> Result<Self, DecodeError> {
        let packet_id = read_packet_id(r, PacketType::UnsubAck)?;
        if !cx.version.is_v5() {
            return Ok(Self {
                packet_id,
                reason_codes: Vec::new(),
                properties: AckProperties::default(),
            });
        }
        let properties = read_properties(r, PacketType::UnsubAck)?;
        let reason_codes = read_reason_codes(r, cx.version, PacketType::UnsubAck)?;
        Ok(Self {
            packet_id,
            reason_codes,
            properties,
        })
    }

    pub(crate) fn write(
        &self,
        version: ProtocolVersion,
        out: &mut impl Sink,
    ) -> Result<(), EncodeError> {
        out.put_u16(self.packet_id.get());
        if version.is_v5() {
            write_properties(&self.properties, out)?;
            for c in &self.reason_codes {
                out.put_u8(c.as_u8());
            }
        }
        Ok(())
    }
}
