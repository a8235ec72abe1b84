//! CONNACK (spec §3.2).

use crate::codec::error::{DecodeError, EncodeError, Malformed, Violation};
use crate::codec::packet::{Context, PacketType};
use crate::codec::properties::{read_properties, write_properties};
use crate::codec::property_sets::ConnAckProperties;
use crate::codec::reason::{ConnectReturnCode, ReasonCode, ReasonContext};
use crate::codec::version::ProtocolVersion;
use crate::codec::wire::{Reader, Sink};

/// A CONNACK packet. In 3.x the code is written as its 3.1.1 return code
/// ([`ReasonCode::to_v3_connack`]); codes without one cannot be sent to a 3.x client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnAck {
    /// Always false in 3.1 (the byte is unused there) and with an error code
    /// ([MQTT-3.2.2-6]; 3.1.1 [MQTT-3.2.2-4]).
    pub session_present: bool,
    pub code: ReasonCode,
    /// Empty in 3.x.
    pub properties: ConnAckProperties,
}

impl ConnAck {
    pub fn new(code: ReasonCode, session_present: bool) -> Self {
        Self {
            session_present,
            code,
            properties: ConnAckProperties::default(),
        }
    }

    pub(crate) fn decode(r: &mut Reader, cx: &Context) -> Result<Self, DecodeError> {
        let flags = r.u8()?;
        // v5 [MQTT-3.2.2-1]; 3.1.1 §3.2.2.1 (not numbered there); in 3.1 the byte is
        // unused.
        if cx.version != ProtocolVersion::V3_1 && flags & 0b1111_1110 != 0 {
            return Err(Malformed::ConnAckReservedFlags.into());
        }
        let raw = r.u8()?;
        let unknown = Malformed::UnknownReasonCode {
            code: raw,
            packet: PacketType::ConnAck,
        };
        let (code, properties) = if cx.version.is_v5() {
            let code = ReasonCode::from_u8(raw).ok_or(unknown)?;
            if !code.allowed_in(ReasonContext::ConnAck) {
                return Err(Violation::ReasonCodeNotAllowed {
                    code,
                    packet: PacketType::ConnAck,
                }
                .into());
            }
            (code, read_properties(r, PacketType::ConnAck)?)
        } else {
            let code = ConnectReturnCode::from_u8(raw).ok_or(unknown)?;
            (code.to_reason_code(), ConnAckProperties::default())
        };
        Ok(Self {
            session_present: cx.version != ProtocolVersion::V3_1 && flags & 1 == 1,
            code,
            properties,
        })
    }

    pub(crate) fn write(
        &self,
        version: ProtocolVersion,
        out: &mut impl Sink,
    ) -> Result<(), EncodeError> {
        out.put_u8(u8::from(
            self.session_present && version != ProtocolVersion::V3_1,
        ));
        if version.is_v5() {
            out.put_u8(self.code.as_u8());
            write_properties(&self.properties, out)
        } else {
            let code = self
                .code
                .to_v3_connack()
                .ok_or(EncodeError::NoV3ReturnCode(self.code))?;
            out.put_u8(code.as_u8());
            Ok(())
        }
    }
}
