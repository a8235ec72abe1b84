//! `/api/vhosts`.

use axum::body::Body;
use axum::extract::State;
use axum::response::Response;
use serde_json::{Value, json};

use crate::Api;
use crate::body::{self, P};
use crate::caller::Caller;
use crate::error::{ApiError, ApiResult};
use crate::queues::{vhost, visible_vhosts};

fn vhost_json(v: &trident_engine::Vhost) -> Value {
    let (mut ready, mut unacked) = (0u64, 0u64);
    for q in v.queues() {
        let s = q.stats();
        ready += s.ready;
        unacked += s.unacked;
    }
    json!({
        "name": v.name().as_str(),
        "messages": ready + unacked,
        "messages_ready": ready,
        "messages_unacknowledged": unacked,
        "tracing": false,
    })
}

pub async fn list(State(api): State<Api>, caller: Caller) -> ApiResult<Response> {
    let out: Vec<Value> = visible_vhosts(&api, &caller)
        .iter()
        .map(vhost_json)
        .collect();
    body::ok(&out)
}

pub async fn show(
    State(api): State<Api>,
    caller: Caller,
    P(name): P<String>,
) -> ApiResult<Response> {
    body::ok(&vhost_json(&vhost(&api, &caller, &name)?))
}

pub async fn create(
    State(api): State<Api>,
    caller: Caller,
    P(name): P<String>,
    req: Body,
) -> ApiResult<Response> {
    caller.require_admin()?;
    // The body (description, tags, default queue type in RabbitMQ) carries nothing
    // Trident keeps, but it must still be JSON.
    let _: Value = body::read_json(req).await?;
    let new = api.engine.create_vhost(&name).await?;
    if new {
        // As RabbitMQ's API does: whoever creates a vhost may use it at once.
        api.engine.users().set_permission(
            &caller.user.name,
            &name,
            trident_engine::Permission::all(),
        )?;
    }
    body::created(new)
}

pub async fn delete(
    State(api): State<Api>,
    caller: Caller,
    P(name): P<String>,
) -> ApiResult<Response> {
    caller.require_admin()?;
    if !api.engine.has_vhost(&name) {
        return Err(ApiError::not_found(format!("no vhost '{name}'")));
    }
    api.engine.delete_vhost(&name).await?;
    body::no_content()
}
