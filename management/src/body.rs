//! Request bodies (bounded, JSON), responses (JSON), and path parameters whose
//! rejections are JSON errors like every other refusal.

use axum::body::Body;
use axum::extract::{FromRequestParts, Path};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::{ApiError, ApiResult};

/// Largest request body accepted: a definitions file of thousands of objects fits;
/// anything larger is refused before it is buffered.
pub const MAX_BODY_BYTES: usize = 16 * 1024 * 1024;

/// A JSON response with `status`.
pub fn json<T: Serialize + ?Sized>(status: StatusCode, value: &T) -> Response {
    match serde_json::to_vec(value) {
        Ok(bytes) => {
            let mut resp = (status, bytes).into_response();
            resp.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            resp
        }
        Err(e) => ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("encoding the response: {e}"),
        )
        .into_response(),
    }
}

/// 200 with a JSON body.
pub fn ok<T: Serialize + ?Sized>(value: &T) -> ApiResult<Response> {
    Ok(json(StatusCode::OK, value))
}

/// 201 when something was created, 204 when it existed (RabbitMQ's answers to PUT).
pub fn created(new: bool) -> ApiResult<Response> {
    Ok(if new {
        StatusCode::CREATED.into_response()
    } else {
        StatusCode::NO_CONTENT.into_response()
    })
}

pub fn no_content() -> ApiResult<Response> {
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// Reads the whole body, at most [`MAX_BODY_BYTES`], and parses it as `T`. An empty
/// body parses as `{}` (RabbitMQ accepts a bare PUT for a queue with defaults).
pub async fn read_json<T: DeserializeOwned>(body: Body) -> ApiResult<T> {
    let bytes = axum::body::to_bytes(body, MAX_BODY_BYTES)
        .await
        .map_err(|e| {
            ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("request body too large or unreadable (limit {MAX_BODY_BYTES} bytes): {e}"),
            )
        })?;
    let bytes: &[u8] = if bytes.iter().all(u8::is_ascii_whitespace) {
        b"{}"
    } else {
        &bytes
    };
    serde_json::from_slice(bytes).map_err(|e| ApiError::bad_request(format!("malformed JSON: {e}")))
}

/// Path parameters, percent-decoded; a rejection is a JSON 400.
#[derive(Debug)]
pub struct P<T>(pub T);

impl<S, T> FromRequestParts<S> for P<T>
where
    S: Send + Sync,
    T: DeserializeOwned + Send,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        Path::<T>::from_request_parts(parts, state)
            .await
            .map(|Path(v)| P(v))
            .map_err(|e| ApiError::bad_request(format!("bad path: {e}")))
    }
}

/// The query string as `key=value` pairs, percent-decoded (the few flags the API
/// takes, such as `if-empty=true`).
pub fn query_flag(parts_query: Option<&str>, key: &str) -> bool {
    parts_query.is_some_and(|q| {
        q.split('&').any(|kv| {
            let (k, v) = kv.split_once('=').unwrap_or((kv, "true"));
            k == key && (v == "true" || v == "1")
        })
    })
}
