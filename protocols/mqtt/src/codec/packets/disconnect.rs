//! DISCONNECT (spec §3.14) and AUTH (§3.15).
//!
//! Both have a short form in 5.0: with reason 0x00 and no properties the body is
//! empty; DISCONNECT may also stop after its reason code. The decoder reads every form.
//! The encoder writes AUTH's short form, but a 5.0 DISCONNECT always in full (reason
//! code and property length): rumqttc 0.25, the client of the end-to-end tests,
//! refuses both short forms, and a client that cannot read the DISCONNECT never learns
//! why it was dropped (0x8E session taken over, 0x8B server shutting down). Two bytes
//! once per connection buy that. In 3.x DISCONNECT has no body (and goes only from
//! client to server), and AUTH does not exist.

use crate::codec::error::{DecodeError, EncodeError, Malformed, Violation};
use crate::codec::packet::{Context, PacketType};
use crate::codec::properties::{read_properties, write_properties};
use crate::codec::property_sets::{AuthProperties, DisconnectProperties};
use crate::codec::reason::{ReasonCode, ReasonContext};
use crate::codec::version::{ProtocolVersion, Side};
use crate::codec::wire::{Reader, Sink};

/// A DISCONNECT packet.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Disconnect {
    /// 0x00 (Normal disconnection) in 3.x.
    pub reason: ReasonCode,
    /// Empty in 3.x.
    pub properties: DisconnectProperties,
}

impl Disconnect {
    pub fn new(reason: ReasonCode) -> Self {
        Self {
            reason,
            properties: DisconnectProperties::default(),
        }
    }

    pub(crate) fn decode(r: &mut Reader, cx: &Context) -> Result<Self, DecodeError> {
        if !cx.version.is_v5() || r.is_empty() {
            return Ok(Self::default());
        }
        let reason = read_reason(r, PacketType::Disconnect, ReasonContext::Disconnect)?;
        let properties: DisconnectProperties = if r.is_empty() {
            DisconnectProperties::default()
        } else {
            read_properties(r, PacketType::Disconnect)?
        };
        // [MQTT-3.14.2-2].
        if cx.side == Side::Client && properties.session_expiry_interval.is_some() {
            return Err(Violation::SessionExpiryFromServer.into());
        }
        Ok(Self { reason, properties })
    }

    pub(crate) fn write(
        &self,
        version: ProtocolVersion,
        out: &mut impl Sink,
    ) -> Result<(), EncodeError> {
        if !version.is_v5() {
            return Ok(());
        }
        out.put_u8(self.reason.as_u8());
        write_properties(&self.properties, out)
    }
}

/// An AUTH packet (5.0 only).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Auth {
    /// 0x00, 0x18 (Continue authentication) or 0x19 (Re-authenticate).
    pub reason: ReasonCode,
    pub properties: AuthProperties,
}

impl Auth {
    pub(crate) fn decode(r: &mut Reader, _cx: &Context) -> Result<Self, DecodeError> {
        if r.is_empty() {
            return Ok(Self::default());
        }
        let reason = read_reason(r, PacketType::Auth, ReasonContext::Auth)?;
        let properties: AuthProperties = if r.is_empty() {
            AuthProperties::default()
        } else {
            read_properties(r, PacketType::Auth)?
        };
        // §3.15.2.2.2: omitting the method is a protocol error (except in the empty
        // short form, which has no properties at all).
        if properties.authentication_method.is_none() {
            return Err(Violation::AuthWithoutMethod.into());
        }
        Ok(Self { reason, properties })
    }

    pub(crate) fn write(
        &self,
        version: ProtocolVersion,
        out: &mut impl Sink,
    ) -> Result<(), EncodeError> {
        if !version.is_v5() {
            return Err(EncodeError::NotInVersion {
                packet: PacketType::Auth,
                version,
            });
        }
        if self.reason == ReasonCode::Success && self.properties.is_empty() {
            return Ok(());
        }
        out.put_u8(self.reason.as_u8());
        write_properties(&self.properties, out)
    }
}

fn read_reason(
    r: &mut Reader,
    packet: PacketType,
    table: ReasonContext,
) -> Result<ReasonCode, DecodeError> {
    let raw = r.u8()?;
    let code =
        ReasonCode::from_u8(raw).ok_or(Malformed::UnknownReasonCode { code: raw, packet })?;
    // [MQTT-3.14.2-1], [MQTT-3.15.2-1].
    if !code.allowed_in(table) {
        return Err(Violation::ReasonCodeNotAllowed { code, packet }.into());
    }
    Ok(code)
}
