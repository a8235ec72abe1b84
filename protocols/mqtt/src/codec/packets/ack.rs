//! PUBACK, PUBREC, PUBREL and PUBCOMP (spec §3.4 to §3.7): a packet identifier, and in
//! 5.0 a reason code and properties. The four share one layout and one decoder; each is
//! its own type so that a PUBREL can never be passed where a PUBACK is meant.
//!
//! 5.0 allows short forms: without properties the property length may be left out,
//! and with reason 0x00 as well the reason code (remaining length 2). The encoder
//! writes the shortest form; the decoder reads all three.

use crate::codec::error::{DecodeError, EncodeError, Malformed, Violation};
use crate::codec::packet::{Context, PacketType};
use crate::codec::properties::{read_properties, write_properties};
use crate::codec::property_sets::AckProperties;
use crate::codec::reason::{ReasonCode, ReasonContext};
use crate::codec::version::{PacketId, ProtocolVersion};
use crate::codec::wire::{Reader, Sink};

/// The fields of the four publish acknowledgements.
type Fields = (PacketId, ReasonCode, AckProperties);

fn decode_fields(
    r: &mut Reader,
    cx: &Context,
    packet: PacketType,
    table: ReasonContext,
) -> Result<Fields, DecodeError> {
    // A zero identifier cannot name a PUBLISH in flight (§2.2.1); Mosquitto refuses it
    // as a protocol error too.
    let id = PacketId::new(r.u16()?).ok_or(Violation::ZeroPacketId(packet))?;
    if !cx.version.is_v5() || r.is_empty() {
        return Ok((id, ReasonCode::Success, AckProperties::default()));
    }
    let raw = r.u8()?;
    let reason =
        ReasonCode::from_u8(raw).ok_or(Malformed::UnknownReasonCode { code: raw, packet })?;
    // [MQTT-3.4.2-1], [MQTT-3.5.2-1], [MQTT-3.6.2-1], [MQTT-3.7.2-1].
    if !reason.allowed_in(table) {
        return Err(Violation::ReasonCodeNotAllowed {
            code: reason,
            packet,
        }
        .into());
    }
    let properties = if r.is_empty() {
        AckProperties::default()
    } else {
        read_properties(r, packet)?
    };
    Ok((id, reason, properties))
}

fn write_fields(
    (id, reason, properties): (PacketId, ReasonCode, &AckProperties),
    version: ProtocolVersion,
    out: &mut impl Sink,
) -> Result<(), EncodeError> {
    out.put_u16(id.get());
    if !version.is_v5() || (reason == ReasonCode::Success && properties.is_empty()) {
        return Ok(());
    }
    out.put_u8(reason.as_u8());
    if properties.is_empty() {
        return Ok(());
    }
    write_properties(properties, out)
}

macro_rules! publish_ack {
    ($(#[$doc:meta])* $name:ident, $packet:expr, $table:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq)]
        pub struct $name {
            pub packet_id: PacketId,
            /// Always 0x00 in 3.x, which has no reason codes (others are not sent).
            pub reason: ReasonCode,
            /// Empty in 3.x.
            pub properties: AckProperties,
        }

        impl $name {
            /// A success acknowledgement without properties.
            pub fn new(packet_id: PacketId) -> Self {
                Self::with_reason(packet_id, ReasonCode::Success)
            }

            pub fn with_reason(packet_id: PacketId, reason: ReasonCode) -> Self {
                Self {
                    packet_id,
                    reason,
                    properties: AckProperties::default(),
                }
            }

            pub(crate) fn decode(r: &mut Reader, cx: &Context) -> Result<Self, DecodeError> {
                let (packet_id, reason, properties) = decode_fields(r, cx, $packet, $table)?;
                Ok(Self {
                    packet_id,
                    reason,
                    properties,
                })
            }

            pub(crate) fn write(
                &self,
                version: ProtocolVersion,
                out: &mut impl Sink,
            ) -> Result<(), EncodeError> {
                write_fields((self.packet_id, self.reason, &self.properties), version, out)
            }
        }
    };
}

publish_ack!(
    /// PUBACK: the answer to a QoS 1 PUBLISH.
    PubAck,
    PacketType::PubAck,
    ReasonContext::PubAckOrRec
);
publish_ack!(
    /// PUBREC: the first answer to a QoS 2 PUBLISH.
    PubRec,
    PacketType::PubRec,
    ReasonContext::PubAckOrRec
);
publish_ack!(
    /// PUBREL: the QoS 2 sender's release; fixed header flags 0b0010 ([MQTT-3.6.1-1]).
    PubRel,
    PacketType::PubRel,
    ReasonContext::PubRelOrComp
);
publish_ack!(
    /// PUBCOMP: the end of a QoS 2 exchange.
    PubComp,
    PacketType::PubComp,
    ReasonContext::PubRelOrComp
);
