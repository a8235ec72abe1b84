//! `/api/exchanges` and `/api/bindings`.

use axum::body::Body;
use axum::extract::State;
use axum::http::Uri;
use axum::response::Response;
use serde::Deserialize;
use serde_json::{Value, json};
use trident_core::{
    Binding, BindingDestination, ExchangeDef, ExchangeKind, ExchangeName, QueueName,
};
use trident_engine::Vhost;

use crate::Api;
use crate::args;
use crate::body::{self, P};
use crate::caller::Caller;
use crate::error::{ApiError, ApiResult};
use crate::queues::{vhost, visible_vhosts};

/// RabbitMQ names the default exchange `amq.default` in URLs.
pub(crate) fn exchange_name(s: &str) -> ApiResult<ExchangeName> {
    let s = if s == "amq.default" { "" } else { s };
    Ok(ExchangeName::new(s)?)
}

pub(crate) fn exchange_json(vhost: &str, x: &ExchangeDef) -> Value {
    let mut arguments = serde_json::Map::new();
    if let Some(ae) = &x.alternate_exchange {
        arguments.insert("alternate-exchange".into(), ae.as_str().into());
    }
    json!({
        "name": x.name.as_str(),
        "vhost": vhost,
        "type": x.kind.as_str(),
        "durable": x.durable,
        "auto_delete": x.auto_delete,
        "internal": x.internal,
        "arguments": arguments,
    })
}

fn sorted_exchanges(v: &Vhost) -> Vec<ExchangeDef> {
    let mut xs = v.exchanges();
    xs.sort_by(|a, b| a.name.cmp(&b.name));
    xs
}

pub async fn list_all(State(api): State<Api>, caller: Caller) -> ApiResult<Response> {
    let mut out = Vec::new();
    for v in visible_vhosts(&api, &caller) {
        for x in sorted_exchanges(&v) {
            out.push(exchange_json(v.name().as_str(), &x));
        }
    }
    body::ok(&out)
}

pub async fn list_vhost(
    State(api): State<Api>,
    caller: Caller,
    P(name): P<String>,
) -> ApiResult<Response> {
    let v = vhost(&api, &caller, &name)?;
    let out: Vec<Value> = sorted_exchanges(&v)
        .iter()
        .map(|x| exchange_json(&name, x))
        .collect();
    body::ok(&out)
}

pub async fn show(
    State(api): State<Api>,
    caller: Caller,
    P((vh, name)): P<(String, String)>,
) -> ApiResult<Response> {
    let v = vhost(&api, &caller, &vh)?;
    let x = v
        .exchange(&exchange_name(&name)?)
        .ok_or_else(|| ApiError::not_found(format!("no exchange '{name}' in vhost '{vh}'")))?;
    body::ok(&exchange_json(&vh, &x))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct DeclareBody {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default = "yes")]
    durable: bool,
    #[serde(default)]
    auto_delete: bool,
    #[serde(default)]
    internal: bool,
    #[serde(default)]
    arguments: Option<Value>,
}

fn yes() -> bool {
    true
}

/// The definition a declaration describes (shared with definitions import).
pub(crate) fn exchange_def(
    name: &str,
    kind: &str,
    durable: bool,
    auto_delete: bool,
    internal: bool,
    arguments: Option<&Value>,
) -> ApiResult<ExchangeDef> {
    let kind = ExchangeKind::parse(kind).ok_or_else(|| {
        ApiError::bad_request(format!(
            "unknown exchange type '{kind}' (direct, fanout, topic or headers)"
        ))
    })?;
    let name = exchange_name(name)?;
    if name.is_default() {
        return Err(ApiError::forbidden(
            "the default exchange cannot be declared",
        ));
    }
    let mut def = ExchangeDef::new(name, kind);
    def.durable = durable;
    def.auto_delete = auto_delete;
    def.internal = internal;
    let args = args::object(arguments)?;
    def.alternate_exchange = match args.get("alternate-exchange") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(ExchangeName::new(s)?),
        Some(v) => {
            return Err(ApiError::bad_request(format!(
                "argument 'alternate-exchange' must be a string, got {v}"
            )));
        }
    };
    Ok(def)
}

pub async fn declare(
    State(api): State<Api>,
    caller: Caller,
    P((vh, name)): P<(String, String)>,
    req: Body,
) -> ApiResult<Response> {
    let v = vhost(&api, &caller, &vh)?;
    caller.require_configure(&vh, &name)?;
    let b: DeclareBody = body::read_json(req).await?;
    let def = exchange_def(
        &name,
        &b.kind,
        b.durable,
        b.auto_delete,
        b.internal,
        b.arguments.as_ref(),
    )?;
    let existed = v.exchange(&def.name).is_some();
    v.declare_exchange(def).await?;
    body::created(!existed)
}

pub async fn delete(
    State(api): State<Api>,
    caller: Caller,
    P((vh, name)): P<(String, String)>,
    uri: Uri,
) -> ApiResult<Response> {
    let v = vhost(&api, &caller, &vh)?;
    caller.require_configure(&vh, &name)?;
    let if_unused = body::query_flag(uri.query(), "if-unused");
    v.delete_exchange(&exchange_name(&name)?, if_unused).await?;
    body::no_content()
}

// ------------------------------------------------------------------ bindings

/// RabbitMQ's `properties_key`: the routing key alone when there are no arguments
/// (`~` for an empty key); with arguments, the key and a hash of them.
fn properties_key(b: &Binding) -> String {
    if b.arguments.0.is_empty() {
        if b.routing_key.is_empty() {
            "~".into()
        } else {
            b.routing_key.clone()
        }
    } else {
        let args = args::field_table_json(&b.arguments).to_string();
        let mut h: u32 = 2166136261;
        for byte in args.bytes() {
            h = (h ^ u32::from(byte)).wrapping_mul(16777619);
        }
        format!("{}~{h:08x}", b.routing_key)
    }
}

pub(crate) fn binding_json(vhost: &str, b: &Binding) -> Value {
    let (dest, kind) = match &b.destination {
        BindingDestination::Queue(q) => (q.as_str(), "queue"),
        BindingDestination::Exchange(e) => (e.as_str(), "exchange"),
    };
    json!({
        "source": b.source.as_str(),
        "vhost": vhost,
        "destination": dest,
        "destination_type": kind,
        "routing_key": b.routing_key,
        "arguments": args::field_table_json(&b.arguments),
        "properties_key": properties_key(b),
    })
}

pub async fn bindings_all(State(api): State<Api>, caller: Caller) -> ApiResult<Response> {
    let mut out = Vec::new();
    for v in visible_vhosts(&api, &caller) {
        for b in v.bindings() {
            out.push(binding_json(v.name().as_str(), &b));
        }
    }
    body::ok(&out)
}

pub async fn bindings_vhost(
    State(api): State<Api>,
    caller: Caller,
    P(name): P<String>,
) -> ApiResult<Response> {
    let v = vhost(&api, &caller, &name)?;
    let out: Vec<Value> = v
        .bindings()
        .iter()
        .map(|b| binding_json(&name, b))
        .collect();
    body::ok(&out)
}

pub(crate) fn destination(kind: &str, name: &str) -> ApiResult<BindingDestination> {
    match kind {
        "q" | "queue" => Ok(BindingDestination::Queue(QueueName::new(name)?)),
        "e" | "exchange" => Ok(BindingDestination::Exchange(exchange_name(name)?)),
        other => Err(ApiError::bad_request(format!(
            "binding destination type must be 'q' or 'e', got '{other}'"
        ))),
    }
}

pub async fn bindings_between(
    State(api): State<Api>,
    caller: Caller,
    P((vh, source, kind, dest)): P<(String, String, String, String)>,
) -> ApiResult<Response> {
    let v = vhost(&api, &caller, &vh)?;
    let source = exchange_name(&source)?;
    let dest = destination(&kind, &dest)?;
    let out: Vec<Value> = v
        .bindings()
        .iter()
        .filter(|b| b.source == source && b.destination == dest)
        .map(|b| binding_json(&vh, b))
        .collect();
    body::ok(&out)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct BindBody {
    #[serde(default)]
    routing_key: String,
    #[serde(default)]
    arguments: Option<Value>,
}

pub async fn bind(
    State(api): State<Api>,
    caller: Caller,
    P((vh, source, kind, dest)): P<(String, String, String, String)>,
    req: Body,
) -> ApiResult<Response> {
    let v = vhost(&api, &caller, &vh)?;
    caller.require_bind(&vh, &source, &dest)?;
    let b: BindBody = body::read_json(req).await?;
    let binding = Binding::new(
        exchange_name(&source)?,
        destination(&kind, &dest)?,
        b.routing_key,
        args::field_table(&args::object(b.arguments.as_ref())?)?,
    );
    v.bind(binding, api.engine.next_connection_id()).await?;
    body::created(true)
}

pub async fn unbind(
    State(api): State<Api>,
    caller: Caller,
    P((vh, source, kind, dest, props)): P<(String, String, String, String, String)>,
) -> ApiResult<Response> {
    let v = vhost(&api, &caller, &vh)?;
    caller.require_bind(&vh, &source, &dest)?;
    let source = exchange_name(&source)?;
    let dest = destination(&kind, &dest)?;
    let found = v
        .bindings()
        .into_iter()
        .find(|b| b.source == source && b.destination == dest && properties_key(b) == props)
        .ok_or_else(|| ApiError::not_found(format!("no binding with properties key '{props}'")))?;
    v.unbind(&found, api.engine.next_connection_id()).await?;
    body::no_content()
}
