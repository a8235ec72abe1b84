//! Errors as RabbitMQ's API shapes them: a status and `{"error": .., "reason": ..}`.
//! Every refusal of bad input is a 4xx with such a body; 5xx is left for the broker's
//! own failures (storage), never for what a client sent.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use trident_core::{Error, ErrorKind};

#[derive(Debug, thiserror::Error)]
#[error("{status}: {reason}")]
pub struct ApiError {
    pub status: StatusCode,
    pub reason: String,
}

pub type ApiResult<T> = Result<T, ApiError>;

impl ApiError {
    pub fn new(status: StatusCode, reason: impl Into<String>) -> Self {
        Self {
            status,
            reason: reason.into(),
        }
    }

    pub fn bad_request(reason: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, reason)
    }

    pub fn not_found(reason: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, reason)
    }

    pub fn forbidden(reason: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, reason)
    }

    pub fn unauthorized(reason: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, reason)
    }

    /// RabbitMQ's `error` words for the statuses it uses.
    fn error_word(&self) -> &'static str {
        match self.status {
            StatusCode::BAD_REQUEST => "bad_request",
            StatusCode::UNAUTHORIZED => "not_authorised",
            StatusCode::FORBIDDEN => "access_refused",
            StatusCode::NOT_FOUND => "not_found",
            StatusCode::METHOD_NOT_ALLOWED => "method_not_allowed",
            StatusCode::CONFLICT => "conflict",
            StatusCode::PAYLOAD_TOO_LARGE => "payload_too_large",
            StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported_media_type",
            StatusCode::SERVICE_UNAVAILABLE => "unavailable",
            _ => "internal_server_error",
        }
    }
}

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        let status = match e.kind() {
            ErrorKind::NotFound => StatusCode::NOT_FOUND,
            ErrorKind::ResourceLocked => StatusCode::CONFLICT,
            ErrorKind::PreconditionFailed | ErrorKind::InvalidArgument => StatusCode::BAD_REQUEST,
            ErrorKind::AccessRefused => StatusCode::FORBIDDEN,
            ErrorKind::ResourceExhausted | ErrorKind::Unavailable => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            ErrorKind::Storage => StatusCode::INTERNAL_SERVER_ERROR,
        };
        let status = match &e {
            Error::MessageTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            _ => status,
        };
        Self::new(status, e.to_string())
    }
}

impl From<trident_core::NameError> for ApiError {
    fn from(e: trident_core::NameError) -> Self {
        Self::bad_request(e.to_string())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if self.status.is_server_error() {
            tracing::warn!(status = %self.status, reason = %self.reason, "management API failure");
        }
        let body = serde_json::json!({ "error": self.error_word(), "reason": self.reason });
        let mut resp = crate::body::json(self.status, &body);
        if self.status == StatusCode::UNAUTHORIZED {
            // Browsers and curl prompt for credentials on this header, as RabbitMQ's.
            resp.headers_mut().insert(
                axum::http::header::WWW_AUTHENTICATE,
                axum::http::HeaderValue::from_static("Basic realm=\"Trident Management\""),
            );
        }
        resp
    }
}
