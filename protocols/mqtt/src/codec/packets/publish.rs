//! PUBLISH (spec §3.3).

use bytes::Bytes;

use super::connect::check_message;
use crate::codec::error::{DecodeError, EncodeError, Field, Malformed, PublishRef, Violation};
use crate::codec::packet::{Context, PacketType};
use crate::codec::properties::{read_properties, write_properties};
use crate::codec::property_sets::PublishProperties;
use crate::codec::topic::{TopicError, validate_topic_name};
use crate::codec::version::{PacketId, ProtocolVersion, QoS, Side};
use crate::codec::wire::{Reader, Sink, put_str};

/// A PUBLISH packet. The payload shares the connection's read buffer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Publish {
    pub dup: bool,
    pub qos: QoS,
    pub retain: bool,
    /// Empty only in 5.0, when `properties.topic_alias` stands for it.
    pub topic: String,
    /// Present exactly when `qos` is above 0 ([MQTT-2.2.1-2]).
    pub packet_id: Option<PacketId>,
    /// Empty in 3.x.
    pub properties: PublishProperties,
    pub payload: Bytes,
}

const DUP: u8 = 0b1000;
const RETAIN: u8 = 0b0001;

impl Publish {
    /// A QoS 0 PUBLISH without properties.
    pub fn new(topic: impl Into<String>, payload: impl Into<Bytes>) -> Self {
        Self {
            dup: false,
            qos: QoS::AtMostOnce,
            retain: false,
            topic: topic.into(),
            packet_id: None,
            properties: PublishProperties::default(),
            payload: payload.into(),
        }
    }

    /// What an error about this PUBLISH refers to.
    pub fn reference(&self) -> PublishRef {
        PublishRef {
            qos: self.qos,
            packet_id: self.packet_id,
        }
    }

    pub(crate) fn flags(&self) -> u8 {
        let mut f = self.qos.as_u8() << 1;
        if self.dup {
            f |= DUP;
        }
        if self.retain {
            f |= RETAIN;
        }
        f
    }

    pub(crate) fn decode(flags: u8, r: &mut Reader, cx: &Context) -> Result<Self, DecodeError> {
        // [MQTT-3.3.1-4] (both versions).
        let qos = QoS::from_u8((flags >> 1) & 0b11).ok_or(Malformed::QoS3)?;
        let dup = flags & DUP != 0;
        // [MQTT-3.3.1-2] binds the sender; Mosquitto treats a QoS 0 DUP as malformed.
        if dup && qos == QoS::AtMostOnce {
            return Err(Malformed::DupOnQoS0.into());
        }
        let topic = r.string(Field::TopicName)?;
        let packet_id = if qos == QoS::AtMostOnce {
            None
        } else {
            // v5 [MQTT-2.2.1-3], [MQTT-2.2.1-4]; 3.1.1 [MQTT-2.3.1-1].
            Some(PacketId::new(r.u16()?).ok_or(Violation::ZeroPacketId(PacketType::Publish))?)
        };
        let properties: PublishProperties = if cx.version.is_v5() {
            read_properties(r, PacketType::Publish)?
        } else {
            PublishProperties::default()
        };
        let publish = Self {
            dup,
            qos,
            retain: flags & RETAIN != 0,
            topic,
            packet_id,
            properties,
            payload: r.rest(),
        };
        publish.check(cx)?;
        Ok(publish)
    }

    fn check(&self, cx: &Context) -> Result<(), DecodeError> {
        if cx.side == Side::Server {
            // §3.2.2.3.4: above the server's Maximum QoS is 0x9B.
            if self.qos > cx.maximum_qos {
                return Err(DecodeError::QoSNotSupported {
                    requested: self.qos,
                    maximum: cx.maximum_qos,
                });
            }
            // [MQTT-3.3.4-6].
            if !self.properties.subscription_identifiers.is_empty() {
                return Err(Violation::SubscriptionIdFromClient.into());
            }
        }
        let invalid = |reason| DecodeError::TopicNameInvalid {
            topic: self.topic.clone(),
            reason,
            publish: Some(self.reference()),
        };
        if self.topic.is_empty() {
            // §3.3.2.1: an empty name needs a topic alias; 3.x has none
            // ([MQTT-4.7.3-1]).
            if !cx.version.is_v5() {
                return Err(invalid(TopicError::Empty));
            }
            if self.properties.topic_alias.is_none() {
                return Err(Violation::EmptyTopicWithoutAlias.into());
            }
        } else {
            // [MQTT-3.3.2-2], v5 [MQTT-4.7.0-1] / 3.1.1 [MQTT-4.7.1-1].
            validate_topic_name(&self.topic).map_err(invalid)?;
        }
        check_message(
            &self.properties.message,
            &self.payload,
            Some(self.reference()),
        )
    }

    pub(crate) fn write(
        &self,
        version: ProtocolVersion,
        out: &mut impl Sink,
    ) -> Result<(), EncodeError> {
        if (self.qos == QoS::AtMostOnce) != self.packet_id.is_none() {
            return Err(EncodeError::PacketIdMismatch);
        }
        put_str(out, "topic name", &self.topic)?;
        if let Some(id) = self.packet_id {
            out.put_u16(id.get());
        }
        if version.is_v5() {
            write_properties(&self.properties, out)?;
        }
        out.put_slice(&self.payload);
        Ok(())
    }
}
