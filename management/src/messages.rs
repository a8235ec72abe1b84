//! Test messages, RabbitMQ's `POST /api/exchanges/{vhost}/{name}/publish` and
//! `POST /api/queues/{vhost}/{name}/get`: what the dashboard's "publish" and "get
//! messages" forms call. Meant for poking at a broker by hand, as in RabbitMQ: a get
//! takes messages out of the queue (and puts them back, redelivered, with
//! `ack_requeue_true`).

use axum::body::Body;
use axum::extract::State;
use axum::response::Response;
use base64::Engine as _;
use bytes::Bytes;
use serde::Deserialize;
use serde_json::{Map, Value, json};
use trident_core::{DeliveryMode, Message, Properties, QueueName};
use trident_engine::{Access, Outcome, PublishOptions};

use crate::Api;
use crate::args;
use crate::body::{self, P};
use crate::caller::Caller;
use crate::error::{ApiError, ApiResult};
use crate::exchanges::exchange_name;
use crate::queues::vhost;

/// At most this many messages per get (the dashboard asks for a few; a script asking
/// for millions would hold them all in one response).
pub const MAX_GET_COUNT: u64 = 1000;

fn require(caller: &Caller, vhost: &str, access: Access, resource: &str) -> ApiResult<()> {
    if caller.is_admin()
        || (caller.user.has_tag("management") && caller.user.may(vhost, access, resource))
    {
        return Ok(());
    }
    let what = match access {
        Access::Write => "publish to",
        _ => "read from",
    };
    Err(ApiError::forbidden(format!(
        "user '{}' may not {what} '{resource}' in vhost '{vhost}'",
        caller.user.name
    )))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PublishBody {
    #[serde(default)]
    routing_key: String,
    #[serde(default)]
    payload: String,
    /// `string` (default) or `base64`.
    #[serde(default)]
    payload_encoding: Option<String>,
    #[serde(default)]
    properties: Option<Value>,
}

fn text(props: &Map<String, Value>, key: &str) -> ApiResult<Option<String>> {
    match props.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(other) => Err(ApiError::bad_request(format!(
            "property '{key}' must be a string, got {other}"
        ))),
    }
}

fn small(props: &Map<String, Value>, key: &str, max: u64) -> ApiResult<Option<u8>> {
    match props.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => v
            .as_u64()
            .filter(|n| *n <= max)
            .and_then(|n| u8::try_from(n).ok())
            .map(Some)
            .ok_or_else(|| {
                ApiError::bad_request(format!("property '{key}' must be an integer 0..={max}"))
            }),
    }
}

/// The message a publish body describes; unknown properties are refused by name.
fn message(b: PublishBody) -> ApiResult<Message> {
    let body = match b.payload_encoding.as_deref().unwrap_or("string") {
        "string" => Bytes::from(b.payload.into_bytes()),
        "base64" => Bytes::from(
            base64::engine::general_purpose::STANDARD
                .decode(b.payload.trim())
                .map_err(|e| ApiError::bad_request(format!("payload is not base64: {e}")))?,
        ),
        other => {
            return Err(ApiError::bad_request(format!(
                "payload_encoding must be 'string' or 'base64', got '{other}'"
            )));
        }
    };
    let props = args::object(b.properties.as_ref())?;
    const KNOWN: [&str; 13] = [
        "content_type",
        "content_encoding",
        "delivery_mode",
        "priority",
        "correlation_id",
        "reply_to",
        "expiration",
        "message_id",
        "timestamp",
        "type",
        "user_id",
        "app_id",
        "headers",
    ];
    if let Some(k) = props.keys().find(|k| !KNOWN.contains(&k.as_str())) {
        return Err(ApiError::bad_request(format!("unknown property '{k}'")));
    }
    let mut m = Message::new(body);
    let delivery_mode = small(&props, "delivery_mode", 2)?;
    if delivery_mode == Some(2) {
        m.delivery_mode = DeliveryMode::Persistent;
    }
    m.properties = Properties {
        content_type: text(&props, "content_type")?,
        content_encoding: text(&props, "content_encoding")?,
        delivery_mode,
        priority: small(&props, "priority", 255)?,
        correlation_id: text(&props, "correlation_id")?,
        reply_to: text(&props, "reply_to")?,
        expiration: text(&props, "expiration")?,
        message_id: text(&props, "message_id")?,
        timestamp: props.get("timestamp").and_then(Value::as_u64),
        kind: text(&props, "type")?,
        user_id: text(&props, "user_id")?,
        app_id: text(&props, "app_id")?,
        cluster_id: None,
    };
    m.properties
        .expiration_ms()
        .map_err(ApiError::bad_request)?;
    if let Some(h) = props.get("headers") {
        m.headers = args::field_table(&args::object(Some(h))?)?;
    }
    Ok(m)
}

pub async fn publish(
    State(api): State<Api>,
    caller: Caller,
    P((vh, name)): P<(String, String)>,
    req: Body,
) -> ApiResult<Response> {
    let v = vhost(&api, &caller, &vh)?;
    let exchange = exchange_name(&name)?;
    require(&caller, &vh, Access::Write, exchange.as_str())?;
    let mut b: PublishBody = body::read_json(req).await?;
    let routing_key = std::mem::take(&mut b.routing_key);
    let mut m = message(b)?;
    m.routing_key = routing_key;
    // Confirmed, so that "routed" means the queues hold it (durably for a persistent
    // message in a durable queue), as RabbitMQ's answer does.
    let published = v
        .publish(
            m,
            &exchange,
            PublishOptions {
                mandatory: false,
                confirm: true,
            },
        )
        .await?;
    if let Some(c) = published.confirm {
        c.wait().await.map_err(|e| {
            ApiError::new(axum::http::StatusCode::SERVICE_UNAVAILABLE, e.to_string())
        })?;
    }
    body::ok(&json!({ "routed": published.routed > 0 }))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct GetBody {
    #[serde(default = "one")]
    count: u64,
    /// `ack_requeue_true` (default), `ack_requeue_false`, `reject_requeue_true`,
    /// `reject_requeue_false`.
    #[serde(default)]
    ackmode: Option<String>,
    /// `auto` (default: text when UTF-8, else base64) or `base64`.
    #[serde(default)]
    encoding: Option<String>,
    /// Longest payload returned, in bytes; longer ones are cut.
    #[serde(default)]
    truncate: Option<usize>,
    /// Older rabbitmqadmin versions send `requeue`; `ackmode` wins.
    #[serde(default)]
    requeue: Option<bool>,
}

fn one() -> u64 {
    1
}

fn properties_json(m: &Message) -> Value {
    let p = &m.properties;
    let mut out = Map::new();
    let mut put = |k: &str, v: Option<Value>| {
        if let Some(v) = v {
            out.insert(k.into(), v);
        }
    };
    put("content_type", p.content_type.clone().map(Value::from));
    put(
        "content_encoding",
        p.content_encoding.clone().map(Value::from),
    );
    put("delivery_mode", p.delivery_mode.map(Value::from));
    put("priority", p.priority.map(Value::from));
    put("correlation_id", p.correlation_id.clone().map(Value::from));
    put("reply_to", p.reply_to.clone().map(Value::from));
    put("expiration", p.expiration.clone().map(Value::from));
    put("message_id", p.message_id.clone().map(Value::from));
    put("timestamp", p.timestamp.map(Value::from));
    put("type", p.kind.clone().map(Value::from));
    put("user_id", p.user_id.clone().map(Value::from));
    put("app_id", p.app_id.clone().map(Value::from));
    if !m.headers.is_empty() {
        put("headers", Some(args::field_table_json(&m.headers)));
    }
    Value::Object(out)
}

pub async fn get(
    State(api): State<Api>,
    caller: Caller,
    P((vh, name)): P<(String, String)>,
    req: Body,
) -> ApiResult<Response> {
    let v = vhost(&api, &caller, &vh)?;
    let qn = QueueName::new(&name)?;
    require(&caller, &vh, Access::Read, &name)?;
    let b: GetBody = body::read_json(req).await?;
    if b.count == 0 || b.count > MAX_GET_COUNT {
        return Err(ApiError::bad_request(format!(
            "'count' must be between 1 and {MAX_GET_COUNT}"
        )));
    }
    let ackmode = match (b.ackmode.as_deref(), b.requeue) {
        (Some(m), _) => m.to_string(),
        (None, Some(false)) => "ack_requeue_false".into(),
        (None, _) => "ack_requeue_true".into(),
    };
    let (no_ack, outcome) = match ackmode.as_str() {
        "ack_requeue_true" | "reject_requeue_true" => (false, Outcome::Requeue),
        "ack_requeue_false" => (true, Outcome::Ack),
        "reject_requeue_false" => (false, Outcome::Reject),
        other => {
            return Err(ApiError::bad_request(format!(
                "unknown ackmode '{other}' (ack_requeue_true, ack_requeue_false, reject_requeue_true, reject_requeue_false)"
            )));
        }
    };
    let base64_only = match b.encoding.as_deref().unwrap_or("auto") {
        "auto" => false,
        "base64" => true,
        other => {
            return Err(ApiError::bad_request(format!(
                "encoding must be 'auto' or 'base64', got '{other}'"
            )));
        }
    };
    v.queue(&qn)
        .ok_or_else(|| ApiError::not_found(format!("no queue '{name}' in vhost '{vh}'")))?;
    // One pseudo-connection for this request: the engine tracks unacknowledged
    // deliveries per connection, and closing it below releases anything left.
    let conn = api.engine.next_connection_id();
    let mut out = Vec::new();
    let mut held = Vec::new();
    let mut failure = None;
    for _ in 0..b.count {
        match v.get(&qn, no_ack, conn).await {
            Ok(Some(d)) => {
                let body = &d.message.body;
                let cut = b.truncate.map_or(body.len(), |t| t.min(body.len()));
                let shown = &body[..cut];
                let (payload, encoding) = match std::str::from_utf8(shown) {
                    Ok(s) if !base64_only => (s.to_string(), "string"),
                    _ => (
                        base64::engine::general_purpose::STANDARD.encode(shown),
                        "base64",
                    ),
                };
                out.push(json!({
                    "payload_bytes": body.len(),
                    "redelivered": d.redelivered,
                    "exchange": d.message.exchange,
                    "routing_key": d.message.routing_key,
                    "message_count": d.remaining,
                    "properties": properties_json(&d.message),
                    "payload": payload,
                    "payload_encoding": encoding,
                }));
                if !no_ack {
                    held.push(d);
                }
            }
            Ok(None) => break,
            Err(e) => {
                failure = Some(e);
                break;
            }
        }
    }
    // Settle together at the end: settling a requeue at once would hand the same
    // message back to the next get of this loop.
    if let Some(first) = held.first() {
        let q = first.queue.clone();
        let ids = held.iter().map(|d| d.id).collect();
        if let Err(e) = q.settle(ids, outcome).await {
            failure.get_or_insert(e);
        }
    }
    api.engine.connection_closed(conn).await;
    if let Some(e) = failure {
        return Err(e.into());
    }
    body::ok(&out)
}
