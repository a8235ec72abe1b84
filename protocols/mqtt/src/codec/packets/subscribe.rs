//! SUBSCRIBE and SUBACK (spec §3.8, §3.9).

use super::listed::{read_filter_list, read_head, read_reason_codes, write_head};
use crate::codec::error::{DecodeError, EncodeError, Malformed, Violation};
use crate::codec::packet::{Context, PacketType};
use crate::codec::property_sets::{AckProperties, SubscribeProperties};
use crate::codec::reason::ReasonCode;
use crate::codec::topic::parse_shared;
use crate::codec::version::{PacketId, ProtocolVersion, QoS};
use crate::codec::wire::{Reader, Sink, put_str};

/// When a subscription gets the retained messages (§3.8.3.1, bits 4 and 5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum RetainHandling {
    /// 0: send retained messages at subscribe time.
    #[default]
    SendAtSubscribe,
    /// 1: send them only if the subscription did not exist.
    SendIfNew,
    /// 2: never send them at subscribe time.
    DoNotSend,
}

impl RetainHandling {
    const fn from_bits(b: u8) -> Option<Self> {
        match b {
            0 => Some(Self::SendAtSubscribe),
            1 => Some(Self::SendIfNew),
            2 => Some(Self::DoNotSend),
            _ => None,
        }
    }

    const fn bits(self) -> u8 {
        match self {
            Self::SendAtSubscribe => 0,
            Self::SendIfNew => 1,
            Self::DoNotSend => 2,
        }
    }
}

/// The options byte of one subscription. In 3.x only `qos` exists; the others stay at
/// their defaults and are not written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SubscriptionOptions {
    /// The maximum QoS the client asks for.
    pub qos: QoS,
    /// Not to receive one's own publications ([MQTT-3.8.3-3]); not on shared
    /// subscriptions ([MQTT-3.8.3-4]).
    pub no_local: bool,
    pub retain_as_published: bool,
    pub retain_handling: RetainHandling,
}

impl SubscriptionOptions {
    pub fn new(qos: QoS) -> Self {
        Self {
            qos,
            no_local: false,
            retain_as_published: false,
            retain_handling: RetainHandling::SendAtSubscribe,
        }
    }

    fn decode(byte: u8, version: ProtocolVersion) -> Result<Self, DecodeError> {
        let qos_bits = byte & 0b11;
        if !version.is_v5() {
            // 3.1.1 [MQTT-3-8.3-4]: reserved bits or QoS 3 are malformed.
            if byte & 0b1111_1100 != 0 {
                return Err(Malformed::SubscriptionOptionsReserved(byte).into());
            }
            return Ok(Self::new(QoS::from_u8(qos_bits).ok_or(Malformed::QoS3)?));
        }
        // [MQTT-3.8.3-5].
        if byte & 0b1100_0000 != 0 {
            return Err(Malformed::SubscriptionOptionsReserved(byte).into());
        }
        // §3.8.3.1: QoS 3 and Retain Handling 3 are protocol errors in 5.0.
        let qos = QoS::from_u8(qos_bits).ok_or(Violation::SubscriptionQoS3)?;
        let retain_handling =
            RetainHandling::from_bits((byte >> 4) & 0b11).ok_or(Violation::RetainHandling3)?;
        Ok(Self {
            qos,
            no_local: byte & 0b0100 != 0,
            retain_as_published: byte & 0b1000 != 0,
            retain_handling,
        })
    }

    fn encode(&self, version: ProtocolVersion) -> u8 {
        let mut b = self.qos.as_u8();
        if version.is_v5() {
            b |= u8::from(self.no_local) << 2;
            b |= u8::from(self.retain_as_published) << 3;
            b |= self.retain_handling.bits() << 4;
        }
        b
    }
}

/// One topic filter of a SUBSCRIBE.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscription {
    /// Validated, possibly a `$share/{ShareName}/{filter}` (see
    /// [`crate::codec::parse_shared`]).
    pub filter: String,
    pub options: SubscriptionOptions,
}

/// A SUBSCRIBE packet (client to server); fixed header flags 0b0010 ([MQTT-3.8.1-1]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscribe {
    pub packet_id: PacketId,
    /// At least one (v5 [MQTT-3.8.3-2]; 3.1.1 [MQTT-3.8.3-3]).
    pub subscriptions: Vec<Subscription>,
    /// Empty in 3.x.
    pub properties: SubscribeProperties,
}

impl Subscribe {
    pub(crate) fn decode(r: &mut Reader, cx: &Context) -> Result<Self, DecodeError> {
        let (packet_id, properties) = read_head(r, cx, PacketType::Subscribe)?;
        let subscriptions = read_filter_list(
            r,
            PacketType::Subscribe,
            |r, filter| {
                let options = SubscriptionOptions::decode(r.u8()?, cx.version)?;
                Ok(Subscription { filter, options })
            },
            |s| &s.filter,
        )?;
        for s in &subscriptions {
            // [MQTT-3.8.3-4]; the filter list has validated a shared filter already.
            if s.options.no_local && matches!(parse_shared(&s.filter), Ok(Some(_))) {
                return Err(Violation::NoLocalOnShared(s.filter.clone()).into());
            }
        }
        Ok(Self {
            packet_id,
            subscriptions,
            properties,
        })
    }

    pub(crate) fn write(
        &self,
        version: ProtocolVersion,
        out: &mut impl Sink,
    ) -> Result<(), EncodeError> {
        write_head(self.packet_id, &self.properties, version, out)?;
        for s in &self.subscriptions {
            put_str(out, "topic filter", &s.filter)?;
            out.put_u8(s.options.encode(version));
        }
        Ok(())
    }
}

/// A SUBACK packet: one reason code per subscription, in order ([MQTT-3.9.3-1]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubAck {
    pub packet_id: PacketId,
    /// In 3.x written as the granted QoS or 0x80 ([`ReasonCode::to_v3_suback`]).
    pub reason_codes: Vec<ReasonCode>,
    /// Empty in 3.x.
    pub properties: AckProperties,
}

impl SubAck {
    pub(crate) fn decode(r: &mut Reader, cx: &Context) -> Result<Self, DecodeError> {
        let (packet_id, properties) = read_head(r, cx, PacketType::SubAck)?;
        let reason_codes = read_reason_codes(r, cx.version, PacketType::SubAck)?;
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
        for c in &self.reason_codes {
            out.put_u8(if version.is_v5() {
                c.as_u8()
            } else {
                c.to_v3_suback()
            });
        }
        Ok(())
    }
}
