//! UNSUBSCRIBE and UNSUBACK (spec §3.10, §3.11).

use super::listed::{read_filter_list, read_head, read_reason_codes, write_head};
use crate::codec::error::{DecodeError, EncodeError};
use crate::codec::packet::{Context, PacketType};
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
        let (packet_id, properties) = read_head(r, cx, PacketType::Unsubscribe)?;
        let filters = read_filter_list(
            r,
            PacketType::Unsubscribe,
            |_, filter| Ok(filter),
            String::as_str,
        )?;
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
        write_head(self.packet_id, &self.properties, version, out)?;
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
        let (packet_id, properties) = read_head(r, cx, PacketType::UnsubAck)?;
        // 3.x: the packet identifier is all there is.
        let reason_codes = if cx.version.is_v5() {
            read_reason_codes(r, cx.version, PacketType::UnsubAck)?
        } else {
            Vec::new()
        };
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
        write_head(self.packet_id, &self.properties, version, out)?;
        if version.is_v5() {
            for c in &self.reason_codes {
                out.put_u8(c.as_u8());
            }
        }
        Ok(())
    }
}
