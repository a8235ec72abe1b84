//! AMQP reply codes and the error a handler returns: a code, a text, the method that
//! caused it, and whether it closes the channel or the whole connection.

use trident_core::{Error, ErrorKind};

use crate::codec::{DecodeError, FrameError, MethodError};

/// Reply codes (spec §1.2 "constants", plus RabbitMQ's use of them).
pub mod code {
    pub const REPLY_SUCCESS: u16 = 200;
    pub const NO_ROUTE: u16 = 312;
    pub const CONNECTION_FORCED: u16 = 320;
    pub const ACCESS_REFUSED: u16 = 403;
    pub const NOT_FOUND: u16 = 404;
    pub const RESOURCE_LOCKED: u16 = 405;
    pub const PRECONDITION_FAILED: u16 = 406;
    pub const FRAME_ERROR: u16 = 501;
    pub const SYNTAX_ERROR: u16 = 502;
    pub const COMMAND_INVALID: u16 = 503;
    pub const CHANNEL_ERROR: u16 = 504;
    pub const UNEXPECTED_FRAME: u16 = 505;
    pub const RESOURCE_ERROR: u16 = 506;
    pub const NOT_ALLOWED: u16 = 530;
    pub const NOT_IMPLEMENTED: u16 = 540;
    pub const INTERNAL_ERROR: u16 = 541;

    /// The symbolic name RabbitMQ puts in front of reply texts; clients and operators
    /// grep logs for these.
    pub fn name(code: u16) -> &'static str {
        match code {
            REPLY_SUCCESS => "OK",
            NO_ROUTE => "NO_ROUTE",
            CONNECTION_FORCED => "CONNECTION_FORCED",
            ACCESS_REFUSED => "ACCESS_REFUSED",
            NOT_FOUND => "NOT_FOUND",
            RESOURCE_LOCKED => "RESOURCE_LOCKED",
            PRECONDITION_FAILED => "PRECONDITION_FAILED",
            FRAME_ERROR => "FRAME_ERROR",
            SYNTAX_ERROR => "SYNTAX_ERROR",
            COMMAND_INVALID => "COMMAND_INVALID",
            CHANNEL_ERROR => "CHANNEL_ERROR",
            UNEXPECTED_FRAME => "UNEXPECTED_FRAME",
            RESOURCE_ERROR => "RESOURCE_ERROR",
            NOT_ALLOWED => "NOT_ALLOWED",
            NOT_IMPLEMENTED => "NOT_IMPLEMENTED",
            INTERNAL_ERROR => "INTERNAL_ERROR",
            _ => "ERROR",
        }
    }
}

/// Whether an error closes one channel (a "soft" error) or the connection ("hard").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    Channel,
    Connection,
}

/// An error to report to the client with `channel.close` or `connection.close`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{} - {text}", code::name(*code))]
pub struct AmqpError {
    pub scope: Scope,
    pub code: u16,
    pub text: String,
    pub class_id: u16,
    pub method_id: u16,
}

pub type AmqpResult<T> = Result<T, AmqpError>;

impl AmqpError {
    pub fn channel(code: u16, text: impl Into<String>) -> Self {
        Self {
            scope: Scope::Channel,
            code,
            text: text.into(),
            class_id: 0,
            method_id: 0,
        }
    }

    pub fn connection(code: u16, text: impl Into<String>) -> Self {
        Self {
            scope: Scope::Connection,
            code,
            text: text.into(),
            class_id: 0,
            method_id: 0,
        }
    }

    pub fn precondition(text: impl Into<String>) -> Self {
        Self::channel(code::PRECONDITION_FAILED, text)
    }

    pub fn access_refused(text: impl Into<String>) -> Self {
        Self::channel(code::ACCESS_REFUSED, text)
    }

    pub fn not_found(text: impl Into<String>) -> Self {
        Self::channel(code::NOT_FOUND, text)
    }

    pub fn command_invalid(text: impl Into<String>) -> Self {
        Self::connection(code::COMMAND_INVALID, text)
    }

    pub fn not_allowed(text: impl Into<String>) -> Self {
        Self::connection(code::NOT_ALLOWED, text)
    }

    pub fn not_implemented(text: impl Into<String>) -> Self {
        Self::connection(code::NOT_IMPLEMENTED, text)
    }

    pub fn unexpected_frame(text: impl Into<String>) -> Self {
        Self::connection(code::UNEXPECTED_FRAME, text)
    }

    pub fn channel_error(text: impl Into<String>) -> Self {
        Self::connection(code::CHANNEL_ERROR, text)
    }

    /// Records the method that failed, unless a more specific one was recorded.
    pub fn during(mut self, (class_id, method_id): (u16, u16)) -> Self {
        if self.class_id == 0 {
            self.class_id = class_id;
            self.method_id = method_id;
        }
        self
    }

    /// The reply text as sent: `CODE_NAME - detail`, truncated to a short string.
    pub fn reply_text(&self) -> String {
        let t = format!("{} - {}", code::name(self.code), self.text);
        crate::codec::wire::truncate_str(&t, 255).to_string()
    }
}

/// Engine errors on a channel's behalf. The mapping follows where RabbitMQ raises the
/// same conditions: refusals are channel errors, broken internals end the connection.
impl From<Error> for AmqpError {
    fn from(e: Error) -> Self {
        let text = e.to_string();
        match e.kind() {
            ErrorKind::NotFound => AmqpError::channel(code::NOT_FOUND, text),
            ErrorKind::ResourceLocked => AmqpError::channel(code::RESOURCE_LOCKED, text),
            ErrorKind::PreconditionFailed | ErrorKind::InvalidArgument => {
                AmqpError::channel(code::PRECONDITION_FAILED, text)
            }
            ErrorKind::AccessRefused => AmqpError::channel(code::ACCESS_REFUSED, text),
            // A queue whose task went away between lookup and use was deleted under us:
            // to the client that is the same as not finding it.
            ErrorKind::Unavailable => AmqpError::channel(code::NOT_FOUND, text),
            ErrorKind::ResourceExhausted => AmqpError::connection(code::RESOURCE_ERROR, text),
            ErrorKind::Storage => AmqpError::connection(code::INTERNAL_ERROR, text),
        }
    }
}

impl From<FrameError> for AmqpError {
    fn from(e: FrameError) -> Self {
        AmqpError::connection(code::FRAME_ERROR, e.to_string())
    }
}

impl From<MethodError> for AmqpError {
    fn from(e: MethodError) -> Self {
        let ids = e.ids();
        match e {
            MethodError::Unknown { .. } => AmqpError::not_implemented(e.to_string()),
            MethodError::Syntax { .. } => AmqpError::connection(code::SYNTAX_ERROR, e.to_string()),
        }
        .during(ids)
    }
}

impl From<DecodeError> for AmqpError {
    fn from(e: DecodeError) -> Self {
        AmqpError::connection(code::SYNTAX_ERROR, e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn engine_errors_map_to_rabbitmq_codes() {
        let e: AmqpError = Error::not_found("queue", "q", "/").into();
        assert_eq!((e.code, e.scope), (404, Scope::Channel));
        assert_eq!(e.reply_text(), "NOT_FOUND - no queue 'q' in vhost '/'");
        let e: AmqpError = Error::locked("queue", "q", "/").into();
        assert_eq!(e.code, 405);
        let e: AmqpError = Error::Storage("disk".into()).into();
        assert_eq!((e.code, e.scope), (541, Scope::Connection));
    }

    #[test]
    fn long_texts_fit_a_short_string() {
        let e = AmqpError::precondition("x".repeat(1000));
        assert_eq!(e.reply_text().len(), 255);
    }
}
