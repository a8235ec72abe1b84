//! The sans-io MQTT codec for MQTT 3.1, 3.1.1 and 5.0: bytes in, packets out; packets
//! in, bytes out. No I/O, no tokio, no engine types.
//!
//! A connection's first packet goes through [`decode_connect`], which must find a
//! CONNECT and reports its [`ProtocolVersion`] (or why it refused it, with the CONNACK
//! to answer: [`ConnectError::connack`]). Every later packet goes through a
//! [`Decoder`] made for that version and for the receiving [`Side`]. Sizes are checked
//! from the fixed header before anything is buffered; payloads and binary fields are
//! slices of the read buffer.
//!
//! What the spec lets a codec check is checked here (UTF-8 and code points, reserved
//! bits and flags, QoS 3, packet identifier 0, topic names and filters, which
//! properties each packet admits and how often, property values); each
//! [`DecodeError`] carries the reason code the session answers with. What needs
//! connection or session state (topic alias maxima, packet identifiers in flight,
//! receive maximum, a second CONNECT, session expiry after a zero one) is left to the
//! session. docs/protocols/mqtt.md lists the spec statements and where each is met.

mod decoder;
mod encode;
mod error;
mod packet;
mod packets;
mod properties;
mod property_sets;
mod reason;
mod topic;
mod version;
mod wire;

pub use decoder::{Decoder, FixedHeader, MAX_PACKET_SIZE, decode_connect, peek_header};
pub use encode::{Fitted, encode, encode_within, encoded_len};
pub use error::{
    ConnectError, ConnectRefusal, DecodeError, EncodeError, Field, Malformed, PublishRef, Violation,
};
pub use packet::{Packet, PacketType};
pub use packets::{
    Auth, ConnAck, Connect, Disconnect, PubAck, PubComp, PubRec, PubRel, Publish, RetainHandling,
    SubAck, Subscribe, Subscription, SubscriptionOptions, UnsubAck, Unsubscribe,
    V3_1_MAX_CLIENT_ID, Will,
};
pub use properties::UserProperties;
pub use property_sets::{
    AckProperties, AuthProperties, ConnAckProperties, ConnectProperties, DisconnectProperties,
    MessageProperties, PayloadFormat, PublishProperties, SubscribeProperties,
    UnsubscribeProperties, WillProperties,
};
pub use reason::{ConnectReturnCode, ReasonCode, ReasonContext};
pub use topic::{
    SHARE_PREFIX, SharedFilter, TopicError, parse_shared, validate_topic_filter,
    validate_topic_name,
};
pub use version::{PacketId, ProtocolVersion, QoS, Side};
pub use wire::MAX_VAR_INT;
