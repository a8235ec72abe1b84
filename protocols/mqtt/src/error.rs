//! Why a connection ends or a request is refused, with the MQTT 5 reason code that
//! says so (a 3.x session closes instead, or uses the 3.x code where one exists).

use trident_core::{Error, ErrorKind};

use crate::codec::{DecodeError, ReasonCode};

/// An error that ends the connection: sent as DISCONNECT to a v5 client, then the
/// socket is closed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{} (0x{:02X}): {text}", code.name(), code.as_u8())]
pub struct MqttError {
    pub code: ReasonCode,
    pub text: String,
}

pub type MqttResult<T> = Result<T, MqttError>;

impl MqttError {
    pub fn new(code: ReasonCode, text: impl Into<String>) -> Self {
        Self {
            code,
            text: text.into(),
        }
    }

    pub fn protocol(text: impl Into<String>) -> Self {
        Self::new(ReasonCode::ProtocolError, text)
    }
}

impl From<DecodeError> for MqttError {
    fn from(e: DecodeError) -> Self {
        Self::new(e.reason_code(), e.to_string())
    }
}

/// The reason code an engine error is reported with.
pub fn engine_code(e: &Error) -> ReasonCode {
    if matches!(e, Error::MessageTooLarge { .. }) {
        return ReasonCode::PacketTooLarge;
    }
    match e.kind() {
        ErrorKind::AccessRefused => ReasonCode::NotAuthorized,
        ErrorKind::ResourceExhausted => ReasonCode::QuotaExceeded,
        ErrorKind::Unavailable => ReasonCode::ServerUnavailable,
        _ => ReasonCode::ImplementationSpecificError,
    }
}

impl From<Error> for MqttError {
    fn from(e: Error) -> Self {
        Self::new(engine_code(&e), e.to_string())
    }
}
