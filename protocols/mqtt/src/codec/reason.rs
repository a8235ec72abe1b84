//! Reason codes: every MQTT 5 reason code (spec §2.4, Table 2-6), which packets may carry
//! which, and the MQTT 3.1.1 CONNACK return codes with the mapping between the two.

use std::fmt;

use super::version::QoS;

macro_rules! reason_codes {
    ($($(#[$doc:meta])* $name:ident = $value:literal, $text:literal;)*) => {
        /// An MQTT 5 reason code. Values below 0x80 report success, 0x80 and above
        /// failure. Several names share a value (0x00 is Success, Normal disconnection
        /// and Granted QoS 0): the extra names are associated constants.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[repr(u8)]
        pub enum ReasonCode {
            $($(#[$doc])* $name = $value,)*
        }

        impl ReasonCode {
            /// `None` for a value the spec does not define.
            pub const fn from_u8(v: u8) -> Option<Self> {
                match v {
                    $($value => Some(Self::$name),)*
                    _ => None,
                }
            }

            /// The spec's name of the code (for 0x00 to 0x02, the generic one).
            pub const fn name(self) -> &'static str {
                match self {
                    $(Self::$name => $text,)*
                }
            }

            /// Every defined code, in ascending order.
            pub const ALL: &'static [ReasonCode] = &[$(Self::$name,)*];
        }
    };
}

reason_codes! {
    /// Also Normal disconnection (DISCONNECT) and Granted QoS 0 (SUBACK).
    Success = 0x00, "Success";
    GrantedQoS1 = 0x01, "Granted QoS 1";
    GrantedQoS2 = 0x02, "Granted QoS 2";
    DisconnectWithWillMessage = 0x04, "Disconnect with Will Message";
    NoMatchingSubscribers = 0x10, "No matching subscribers";
    NoSubscriptionExisted = 0x11, "No subscription existed";
    ContinueAuthentication = 0x18, "Continue authentication";
    ReAuthenticate = 0x19, "Re-authenticate";
    UnspecifiedError = 0x80, "Unspecified error";
    MalformedPacket = 0x81, "Malformed Packet";
    ProtocolError = 0x82, "Protocol Error";
    ImplementationSpecificError = 0x83, "Implementation specific error";
    UnsupportedProtocolVersion = 0x84, "Unsupported Protocol Version";
    ClientIdentifierNotValid = 0x85, "Client Identifier not valid";
    BadUserNameOrPassword = 0x86, "Bad User Name or Password";
    NotAuthorized = 0x87, "Not authorized";
    ServerUnavailable = 0x88, "Server unavailable";
    ServerBusy = 0x89, "Server busy";
    Banned = 0x8A, "Banned";
    ServerShuttingDown = 0x8B, "Server shutting down";
    BadAuthenticationMethod = 0x8C, "Bad authentication method";
    KeepAliveTimeout = 0x8D, "Keep Alive timeout";
    SessionTakenOver = 0x8E, "Session taken over";
    TopicFilterInvalid = 0x8F, "Topic Filter invalid";
    TopicNameInvalid = 0x90, "Topic Name invalid";
    PacketIdentifierInUse = 0x91, "Packet Identifier in use";
    PacketIdentifierNotFound = 0x92, "Packet Identifier not found";
    ReceiveMaximumExceeded = 0x93, "Receive Maximum exceeded";
    TopicAliasInvalid = 0x94, "Topic Alias invalid";
    PacketTooLarge = 0x95, "Packet too large";
    MessageRateTooHigh = 0x96, "Message rate too high";
    QuotaExceeded = 0x97, "Quota exceeded";
    AdministrativeAction = 0x98, "Administrative action";
    PayloadFormatInvalid = 0x99, "Payload format invalid";
    RetainNotSupported = 0x9A, "Retain not supported";
    QoSNotSupported = 0x9B, "QoS not supported";
    UseAnotherServer = 0x9C, "Use another server";
    ServerMoved = 0x9D, "Server moved";
    SharedSubscriptionsNotSupported = 0x9E, "Shared Subscriptions not supported";
    ConnectionRateExceeded = 0x9F, "Connection rate exceeded";
    MaximumConnectTime = 0xA0, "Maximum connect time";
    SubscriptionIdentifiersNotSupported = 0xA1, "Subscription Identifiers not supported";
    WildcardSubscriptionsNotSupported = 0xA2, "Wildcard Subscriptions not supported";
}

/// Which packet a reason code travels in: each allows its own subset (spec §3.x.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ReasonContext {
    ConnAck,
    /// PUBACK and PUBREC share one table.
    PubAckOrRec,
    /// PUBREL and PUBCOMP share one table.
    PubRelOrComp,
    SubAck,
    UnsubAck,
    Disconnect,
    Auth,
}

impl ReasonCode {
    /// Normal disconnection (DISCONNECT 0x00).
    pub const NORMAL_DISCONNECTION: Self = Self::Success;
    /// Granted QoS 0 (SUBACK 0x00).
    pub const GRANTED_QOS_0: Self = Self::Success;

    pub const fn as_u8(self) -> u8 {
        self as u8
    }

    /// 0x80 and above: the operation failed.
    pub const fn is_error(self) -> bool {
        self.as_u8() >= 0x80
    }

    /// The SUBACK code granting `qos`.
    pub const fn granted(qos: QoS) -> Self {
        match qos {
            QoS::AtMostOnce => Self::Success,
            QoS::AtLeastOnce => Self::GrantedQoS1,
            QoS::ExactlyOnce => Self::GrantedQoS2,
        }
    }

    /// The QoS a SUBACK code grants, `None` for a failure.
    pub const fn granted_qos(self) -> Option<QoS> {
        match self {
            Self::Success => Some(QoS::AtMostOnce),
            Self::GrantedQoS1 => Some(QoS::AtLeastOnce),
            Self::GrantedQoS2 => Some(QoS::ExactlyOnce),
            _ => None,
        }
    }

    /// Whether the spec lets this code appear in that packet ([MQTT-3.2.2-8],
    /// [MQTT-3.4.2-1], [MQTT-3.5.2-1], [MQTT-3.6.2-1], [MQTT-3.7.2-1], [MQTT-3.9.3-2],
    /// [MQTT-3.11.3-2], [MQTT-3.14.2-1], [MQTT-3.15.2-1]).
    pub fn allowed_in(self, ctx: ReasonContext) -> bool {
        use ReasonCode as R;
        match ctx {
            ReasonContext::ConnAck => matches!(
                self,
                R::Success
                    | R::UnspecifiedError
                    | R::MalformedPacket
                    | R::ProtocolError
                    | R::ImplementationSpecificError
                    | R::UnsupportedProtocolVersion
                    | R::ClientIdentifierNotValid
                    | R::BadUserNameOrPassword
                    | R::NotAuthorized
                    | R::ServerUnavailable
                    | R::ServerBusy
                    | R::Banned
                    | R::BadAuthenticationMethod
                    | R::TopicNameInvalid
                    | R::PacketTooLarge
                    | R::QuotaExceeded
                    | R::PayloadFormatInvalid
                    | R::RetainNotSupported
                    | R::QoSNotSupported
                    | R::UseAnotherServer
                    | R::ServerMoved
                    | R::ConnectionRateExceeded
            ),
            ReasonContext::PubAckOrRec => matches!(
                self,
                R::Success
                    | R::NoMatchingSubscribers
                    | R::UnspecifiedError
                    | R::ImplementationSpecificError
                    | R::NotAuthorized
                    | R::TopicNameInvalid
                    | R::PacketIdentifierInUse
                    | R::QuotaExceeded
                    | R::PayloadFormatInvalid
            ),
            ReasonContext::PubRelOrComp => {
                matches!(self, R::Success | R::PacketIdentifierNotFound)
            }
            ReasonContext::SubAck => matches!(
                self,
                R::Success
                    | R::GrantedQoS1
                    | R::GrantedQoS2
                    | R::UnspecifiedError
                    | R::ImplementationSpecificError
                    | R::NotAuthorized
                    | R::TopicFilterInvalid
                    | R::PacketIdentifierInUse
                    | R::QuotaExceeded
                    | R::SharedSubscriptionsNotSupported
                    | R::SubscriptionIdentifiersNotSupported
                    | R::WildcardSubscriptionsNotSupported
            ),
            ReasonContext::UnsubAck => matches!(
                self,
                R::Success
                    | R::NoSubscriptionExisted
                    | R::UnspecifiedError
                    | R::ImplementationSpecificError
                    | R::NotAuthorized
                    | R::TopicFilterInvalid
                    | R::PacketIdentifierInUse
            ),
            ReasonContext::Disconnect => matches!(
                self,
                R::Success
                    | R::DisconnectWithWillMessage
                    | R::UnspecifiedError
                    | R::MalformedPacket
                    | R::ProtocolError
                    | R::ImplementationSpecificError
                    | R::NotAuthorized
                    | R::ServerBusy
                    | R::ServerShuttingDown
                    | R::KeepAliveTimeout
                    | R::SessionTakenOver
                    | R::TopicFilterInvalid
                    | R::TopicNameInvalid
                    | R::ReceiveMaximumExceeded
                    | R::TopicAliasInvalid
                    | R::PacketTooLarge
                    | R::MessageRateTooHigh
                    | R::QuotaExceeded
                    | R::AdministrativeAction
                    | R::PayloadFormatInvalid
                    | R::RetainNotSupported
                    | R::QoSNotSupported
                    | R::UseAnotherServer
                    | R::ServerMoved
                    | R::SharedSubscriptionsNotSupported
                    | R::ConnectionRateExceeded
                    | R::MaximumConnectTime
                    | R::SubscriptionIdentifiersNotSupported
                    | R::WildcardSubscriptionsNotSupported
            ),
            ReasonContext::Auth => {
                matches!(
                    self,
                    R::Success | R::ContinueAuthentication | R::ReAuthenticate
                )
            }
        }
    }

    /// The MQTT 3.1.1 CONNACK return code that says the same, for a broker that refuses a
    /// 3.x client for a reason it would give a v5 client as this code. `None` where 3.1.1
    /// has no applicable return code: the server then closes the connection without a
    /// CONNACK, as 3.1.1 [MQTT-3.2.2-6] requires. The grouping follows the meaning of
    /// the six 3.1.1 codes, as Mosquitto answers the same refusals in both versions
    /// (bad credentials, not authorized, identifier rejected, unsupported version,
    /// unavailable).
    pub const fn to_v3_connack(self) -> Option<ConnectReturnCode> {
        use ConnectReturnCode as C;
        match self {
            Self::Success => Some(C::Accepted),
            Self::UnsupportedProtocolVersion => Some(C::UnacceptableProtocolVersion),
            Self::ClientIdentifierNotValid => Some(C::IdentifierRejected),
            Self::ServerUnavailable
            | Self::ServerBusy
            | Self::ServerShuttingDown
            | Self::UseAnotherServer
            | Self::ServerMoved
            | Self::ConnectionRateExceeded
            | Self::QuotaExceeded => Some(C::ServerUnavailable),
            Self::BadUserNameOrPassword | Self::BadAuthenticationMethod => {
                Some(C::BadUserNameOrPassword)
            }
            Self::NotAuthorized | Self::Banned => Some(C::NotAuthorized),
            _ => None,
        }
    }

    /// The 3.x SUBACK return code: the granted QoS, or 0x80 (Failure) for any error.
    pub const fn to_v3_suback(self) -> u8 {
        match self.granted_qos() {
            Some(q) => q.as_u8(),
            None => 0x80,
        }
    }
}

/// 0x00: Success, Normal disconnection, Granted QoS 0.
impl Default for ReasonCode {
    fn default() -> Self {
        Self::Success
    }
}

impl fmt::Display for ReasonCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:#04x} ({})", self.as_u8(), self.name())
    }
}

/// The CONNACK return codes of MQTT 3.1 and 3.1.1 (3.1.1 §3.2.2.3, Table 3.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum ConnectReturnCode {
    Accepted = 0x00,
    UnacceptableProtocolVersion = 0x01,
    IdentifierRejected = 0x02,
    ServerUnavailable = 0x03,
    BadUserNameOrPassword = 0x04,
    NotAuthorized = 0x05,
}

impl ConnectReturnCode {
    /// `None` for the reserved values 6 to 255.
    pub const fn from_u8(v: u8) -> Option<Self> {
        Some(match v {
            0x00 => Self::Accepted,
            0x01 => Self::UnacceptableProtocolVersion,
            0x02 => Self::IdentifierRejected,
            0x03 => Self::ServerUnavailable,
            0x04 => Self::BadUserNameOrPassword,
            0x05 => Self::NotAuthorized,
            _ => return None,
        })
    }

    pub const fn as_u8(self) -> u8 {
        self as u8
    }

    /// The v5 code with the same meaning; `to_reason_code().to_v3_connack()` is the
    /// identity, so a CONNACK decoded in 3.1.1 re-encodes byte for byte.
    pub const fn to_reason_code(self) -> ReasonCode {
        match self {
            Self::Accepted => ReasonCode::Success,
            Self::UnacceptableProtocolVersion => ReasonCode::UnsupportedProtocolVersion,
            Self::IdentifierRejected => ReasonCode::ClientIdentifierNotValid,
            Self::ServerUnavailable => ReasonCode::ServerUnavailable,
            Self::BadUserNameOrPassword => ReasonCode::BadUserNameOrPassword,
            Self::NotAuthorized => ReasonCode::NotAuthorized,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_round_trips_through_its_value() {
        assert_eq!(ReasonCode::ALL.len(), 43);
        for &c in ReasonCode::ALL {
            assert_eq!(ReasonCode::from_u8(c.as_u8()), Some(c));
        }
        assert_eq!(ReasonCode::from_u8(0x03), None);
        assert_eq!(ReasonCode::from_u8(0xA3), None);
        assert_eq!(
            ReasonCode::TopicAliasInvalid.to_string(),
            "0x94 (Topic Alias invalid)"
        );
    }

    #[test]
    fn v3_connack_codes_map_both_ways() {
        for v in 0..=5 {
            let c = ConnectReturnCode::from_u8(v).expect("defined");
            assert_eq!(c.to_reason_code().to_v3_connack(), Some(c));
        }
        assert_eq!(ConnectReturnCode::from_u8(6), None);
        assert_eq!(
            ReasonCode::Banned.to_v3_connack(),
            Some(ConnectReturnCode::NotAuthorized)
        );
        // No 3.1.1 code applies: close without CONNACK.
        assert_eq!(ReasonCode::MalformedPacket.to_v3_connack(), None);
        assert_eq!(ReasonCode::PacketTooLarge.to_v3_connack(), None);
    }

    #[test]
    fn per_packet_tables() {
        use ReasonContext::*;
        assert!(ReasonCode::PacketIdentifierNotFound.allowed_in(PubRelOrComp));
        assert!(!ReasonCode::PacketIdentifierNotFound.allowed_in(PubAckOrRec));
        assert!(ReasonCode::GrantedQoS2.allowed_in(SubAck));
        assert!(!ReasonCode::GrantedQoS2.allowed_in(UnsubAck));
        assert!(ReasonCode::SessionTakenOver.allowed_in(Disconnect));
        assert!(!ReasonCode::SessionTakenOver.allowed_in(ConnAck));
        assert!(ReasonCode::ReAuthenticate.allowed_in(Auth));
        assert_eq!(ReasonCode::NotAuthorized.to_v3_suback(), 0x80);
        assert_eq!(ReasonCode::GrantedQoS1.to_v3_suback(), 1);
    }
}
