//! `/api/nodes` (RabbitMQ's node object, with its alarm fields), the run-time
//! watermarks (`PUT /api/nodes/{node}/vm_memory_high_watermark` and
//! `.../disk_free_limit`, what `rabbitmqctl set_vm_memory_high_watermark` and
//! `set_disk_free_limit` do in RabbitMQ, which has no HTTP form of them), and
//! `/api/health/checks/alarms` (RabbitMQ's health check).
//!
//! A watermark set here takes effect at once (the alarm is re-evaluated against the
//! last measurement) and lasts until the broker stops, as rabbitmqctl's: the settings
//! file stays the source of truth at the next start.

use axum::body::Body;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use serde_json::{Value, json};
use trident_engine::{AlarmStatus, DiskWatermark, MemoryWatermark};

use crate::Api;
use crate::body::{self, P};
use crate::caller::Caller;
use crate::error::{ApiError, ApiResult};

fn memory_json(w: MemoryWatermark) -> Value {
    match w {
        MemoryWatermark::Relative(f) => json!({ "relative": f }),
        MemoryWatermark::Absolute(b) => json!({ "absolute": b }),
    }
}

fn disk_json(w: DiskWatermark) -> Value {
    match w {
        DiskWatermark::Absolute(b) => json!({ "absolute": b }),
        DiskWatermark::MemRelative(m) => json!({ "mem_relative": m }),
    }
}

fn node_json(api: &Api, a: &AlarmStatus) -> Value {
    json!({
        "name": api.node,
        "type": "disc",
        "running": true,
        "mem_used": a.mem_used,
        "mem_limit": a.mem_limit,
        "mem_alarm": a.mem_alarm,
        "mem_total": a.mem_total,
        "disk_free": a.disk_free,
        "disk_free_limit": a.disk_free_limit,
        "disk_free_alarm": a.disk_free_alarm,
        // As set (RabbitMQ reports the relative figure as `mem_limit` only).
        "vm_memory_high_watermark": memory_json(a.mem_watermark),
        "disk_free_limit_setting": disk_json(a.disk_watermark),
    })
}

fn this_node(api: &Api, name: &str) -> ApiResult<()> {
    if name == api.node {
        Ok(())
    } else {
        Err(ApiError::not_found(format!(
            "no node '{name}' (this broker is '{}')",
            api.node
        )))
    }
}

pub async fn list(State(api): State<Api>, caller: Caller) -> ApiResult<Response> {
    caller.require_monitoring()?;
    body::ok(&[node_json(&api, &api.engine.alarms().status())])
}

pub async fn show(
    State(api): State<Api>,
    caller: Caller,
    P(name): P<String>,
) -> ApiResult<Response> {
    caller.require_monitoring()?;
    this_node(&api, &name)?;
    body::ok(&node_json(&api, &api.engine.alarms().status()))
}

/// `{"relative": 0.4}` or `{"absolute": 1073741824}` (rabbitmq.conf's
/// `vm_memory_high_watermark.relative` / `.absolute`); `{"mem_relative": 1.5}` for the
/// disk limit (`disk_free_limit.relative`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct WatermarkBody {
    relative: Option<f64>,
    absolute: Option<u64>,
    mem_relative: Option<f64>,
}

async fn read_body(req: Body) -> ApiResult<WatermarkBody> {
    body::read_json(req).await
}

pub async fn set_memory_watermark(
    State(api): State<Api>,
    caller: Caller,
    P(name): P<String>,
    req: Body,
) -> ApiResult<Response> {
    caller.require_admin()?;
    this_node(&api, &name)?;
    let w = match read_body(req).await? {
        WatermarkBody {
            relative: Some(f),
            absolute: None,
            mem_relative: None,
        } => MemoryWatermark::Relative(f),
        WatermarkBody {
            relative: None,
            absolute: Some(b),
            mem_relative: None,
        } => MemoryWatermark::Absolute(b),
        _ => {
            return Err(ApiError::bad_request(
                "give exactly one of {\"relative\": FRACTION} or {\"absolute\": BYTES}",
            ));
        }
    };
    api.engine
        .alarms()
        .set_memory_watermark(w)
        .map_err(|e| ApiError::bad_request(e.to_string()))?;
    tracing::info!(user = %caller.user.name, watermark = ?w, "memory watermark changed through the API");
    body::no_content()
}

pub async fn set_disk_free_limit(
    State(api): State<Api>,
    caller: Caller,
    P(name): P<String>,
    req: Body,
) -> ApiResult<Response> {
    caller.require_admin()?;
    this_node(&api, &name)?;
    let w = match read_body(req).await? {
        WatermarkBody {
            relative: None,
            absolute: Some(b),
            mem_relative: None,
        } => DiskWatermark::Absolute(b),
        WatermarkBody {
            relative: None,
            absolute: None,
            mem_relative: Some(m),
        } => DiskWatermark::MemRelative(m),
        _ => {
            return Err(ApiError::bad_request(
                "give exactly one of {\"absolute\": BYTES} or {\"mem_relative\": MULTIPLE}",
            ));
        }
    };
    api.engine
        .alarms()
        .set_disk_watermark(w)
        .map_err(|e| ApiError::bad_request(e.to_string()))?;
    tracing::info!(user = %caller.user.name, limit = ?w, "disk free limit changed through the API");
    body::no_content()
}

/// RabbitMQ's `/api/health/checks/alarms`: 200 `{"status":"ok"}` without alarms, 503
/// with the alarms in effect otherwise (load balancers and probes read the status).
pub async fn health_alarms(State(api): State<Api>, caller: Caller) -> ApiResult<Response> {
    caller.require_monitoring()?;
    let a = api.engine.alarms().status();
    let mut alarms = Vec::new();
    if a.mem_alarm {
        alarms.push(json!({ "node": api.node, "resource": "memory" }));
    }
    if a.disk_free_alarm {
        alarms.push(json!({ "node": api.node, "resource": "disk" }));
    }
    if alarms.is_empty() {
        return body::ok(&json!({ "status": "ok" }));
    }
    Ok(body::json(
        StatusCode::SERVICE_UNAVAILABLE,
        &json!({
            "status": "failed",
            "reason": "There are alarms in effect in the cluster",
            "alarms": alarms,
        }),
    ))
}
