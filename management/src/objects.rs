//! `/api/connections`: the open client connections of every protocol; DELETE closes
//! one (AMQP clients are told 320 CONNECTION_FORCED with the reason, as RabbitMQ does).

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use serde_json::{Value, json};
use trident_engine::ConnectionInfo;

use crate::Api;
use crate::body::{self, P};
use crate::caller::Caller;
use crate::error::{ApiError, ApiResult};

fn connection_json(api: &Api, c: &ConnectionInfo) -> Value {
    json!({
        "name": c.id.0.to_string(),
        "protocol": c.protocol,
        "peer_host": c.peer.ip().to_string(),
        "peer_port": c.peer.port(),
        "user": c.user,
        "vhost": c.vhost,
        "client": c.client,
        "connected_at": c.connected_at_ms,
        "node": api.node,
        "state": "running",
    })
}

/// Administrators and monitors see every connection; others their own (RabbitMQ).
fn visible(caller: &Caller, c: &ConnectionInfo) -> bool {
    caller.is_admin()
        || caller.user.has_tag("monitoring")
        || c.user.as_deref() == Some(caller.user.name.as_str())
}

pub async fn connections(State(api): State<Api>, caller: Caller) -> ApiResult<Response> {
    let out: Vec<Value> = api
        .engine
        .connections()
        .iter()
        .filter(|c| visible(&caller, c))
        .map(|c| connection_json(&api, c))
        .collect();
    body::ok(&out)
}

fn find(api: &Api, caller: &Caller, id: &str) -> ApiResult<ConnectionInfo> {
    id.parse::<u64>()
        .ok()
        .and_then(|id| api.engine.connection(id))
        .filter(|c| visible(caller, c))
        .ok_or_else(|| ApiError::not_found(format!("no connection '{id}'")))
}

pub async fn connection(
    State(api): State<Api>,
    caller: Caller,
    P(id): P<String>,
) -> ApiResult<Response> {
    let c = find(&api, &caller, &id)?;
    body::ok(&connection_json(&api, &c))
}

pub async fn close_connection(
    State(api): State<Api>,
    caller: Caller,
    P(id): P<String>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let c = find(&api, &caller, &id)?;
    let own = c.user.as_deref() == Some(caller.user.name.as_str());
    let allowed = caller.is_admin() || (own && caller.user.has_tag("management"));
    if !allowed {
        return Err(ApiError::forbidden(format!(
            "user '{}' may not close connection '{id}'",
            caller.user.name
        )));
    }
    // RabbitMQ takes the reason from this header.
    let reason = headers
        .get("x-reason")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("Closed via management API")
        .to_string();
    api.engine.close_connection(c.id.0, &reason);
    body::no_content()
}
