//! Request and response headers.

use bytes::BytesMut;

use super::api;
use super::reader::{DecodeResult, Reader};

/// A request header (v1, or v2 with tagged fields for flexible versions).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestHeader {
    pub api_key: i16,
    pub api_version: i16,
    pub correlation_id: i32,
    /// Kafka keeps the client id in the old int16-length encoding even in header v2, so
    /// that a broker can read it before knowing whether the version is flexible.
    pub client_id: Option<String>,
}

/// What the header says about the body that follows.
#[derive(Debug)]
pub struct ParsedRequest {
    pub header: RequestHeader,
    /// The API, when we serve this key at all.
    pub spec: Option<&'static api::ApiSpec>,
    /// The body, positioned after the header; `None` when the version is not served
    /// (then the header's tagged fields, if any, were not read).
    pub body: Option<Reader>,
}

/// Splits a frame into its header and a reader over the body.
pub fn parse_request(frame: BytesMut) -> DecodeResult<ParsedRequest> {
    let mut r = Reader::new(frame, false);
    let api_key = r.i16()?;
    let api_version = r.i16()?;
    let correlation_id = r.i32()?;
    let client_id = r.nullable_string()?;
    let header = RequestHeader {
        api_key,
        api_version,
        correlation_id,
        client_id,
    };
    let spec = api::spec(api_key);
    let body = match spec {
        Some(s) if s.supports(api_version) => {
            let flexible = s.is_flexible(api_version);
            r.set_flexible(flexible);
            if s.request_header_v2(api_version) {
                r.tagged_fields()?;
            }
            Some(r)
        }
        _ => None,
    };
    Ok(ParsedRequest { header, spec, body })
}

/// Encodes a request header (tests and the fuzz corpus build requests with it).
pub fn write_request_header(w: &mut super::writer::Writer, h: &RequestHeader) {
    w.i16(h.api_key);
    w.i16(h.api_version);
    w.i32(h.correlation_id);
    // The client id is never compact, even when the writer is.
    let len = h.client_id.as_ref().map_or(-1, |c| c.len() as i16);
    w.i16(len);
    if let Some(c) = &h.client_id {
        w.raw(c.as_bytes());
    }
    if api::spec(h.api_key).is_some_and(|s| s.request_header_v2(h.api_version)) {
        w.raw(&[0]);
    }
}
