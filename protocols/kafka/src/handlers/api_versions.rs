//! ApiVersions: exactly the table in `codec::api`.

use crate::codec::api::APIS;
use crate::codec::{Frame, Wire, Writer};
use crate::error_code as ec;
use crate::messages::api_versions::{ApiVersionRange, ApiVersionsResponse};

fn table() -> Vec<ApiVersionRange> {
    APIS.iter()
        .map(|a| ApiVersionRange {
            api_key: a.key,
            min_version: a.min,
            max_version: a.max,
        })
        .collect()
}

pub fn handle() -> ApiVersionsResponse {
    ApiVersionsResponse {
        error_code: ec::NONE,
        api_keys: table(),
        throttle_time_ms: 0,
    }
}

/// The answer to an ApiVersions request of a version we do not serve: UNSUPPORTED_VERSION
/// with our table, in v0 so that any client can read it (KIP-511).
pub fn unsupported_version(correlation_id: i32) -> Frame {
    let mut w = Writer::response(correlation_id, false, false);
    ApiVersionsResponse {
        error_code: ec::UNSUPPORTED_VERSION,
        api_keys: table(),
        throttle_time_ms: 0,
    }
    .write(&mut w, 0);
    w.finish()
}
