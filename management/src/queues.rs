//! `/api/queues`: list, show, declare (PUT), delete, purge (DELETE .../contents).

use axum::body::Body;
use axum::extract::State;
use axum::http::Uri;
use axum::response::Response;
use serde::Deserialize;
use serde_json::{Value, json};
use trident_core::{QueueDef, QueueName};
use trident_engine::{QueueRef, Topic, Vhost};

use crate::Api;
use crate::args;
use crate::body::{self, P};
use crate::caller::Caller;
use crate::error::{ApiError, ApiResult};
use crate::rates::{self, Range};

/// A vhost the caller may see, or a 404.
pub(crate) fn vhost(api: &Api, caller: &Caller, name: &str) -> ApiResult<Vhost> {
    caller.require_visible(name)?;
    api.engine
        .vhost(name)
        .map_err(|_| ApiError::not_found(format!("no vhost '{name}'")))
}

/// Vhosts the caller may see, sorted.
pub(crate) fn visible_vhosts(api: &Api, caller: &Caller) -> Vec<Vhost> {
    let mut names = api.engine.vhost_names();
    names.sort();
    names
        .into_iter()
        .filter(|n| caller.can_see(n.as_str()))
        .filter_map(|n| api.engine.vhost(n.as_str()).ok())
        .collect()
}

pub(crate) fn queue_json(api: &Api, vhost: &str, q: &QueueRef) -> Value {
    queue_json_in(api, vhost, q, None)
}

/// A queue with its rates, and their samples over `range` when asked for.
pub(crate) fn queue_json_in(api: &Api, vhost: &str, q: &QueueRef, range: Option<Range>) -> Value {
    let d = q.def();
    let s = q.stats();
    let mut out = json!({
        "name": q.name().as_str(),
        "vhost": vhost,
        "durable": d.durable,
        "auto_delete": d.auto_delete,
        "exclusive": d.exclusive,
        "arguments": args::queue_args_json(&d.args),
        "messages": s.ready + s.unacked,
        "messages_ready": s.ready,
        "messages_unacknowledged": s.unacked,
        "message_bytes_ready": s.ready_bytes,
        "consumers": s.consumers,
        "state": "running",
        "type": if d.args.stream { "stream" } else { "classic" },
        "node": api.node,
        "message_stats": {
            "publish": s.published,
            "deliver_get": s.delivered,
            "ack": s.acked,
        },
    });
    let details = api.rates.queue(vhost, q.name().as_str(), range);
    rates::attach(&mut out, details, rates::QUEUE_COUNTER_FIELDS, None);
    out
}

/// A stream queue (a topic, seen from vhost `/`), shaped as RabbitMQ lists streams:
/// `messages` is the records kept, and nothing is ever unacknowledged in the queue.
fn stream_json(api: &Api, vhost: &str, t: &Topic) -> Value {
    let arguments = args::stream_args_json(&t.config);
    let records = t.record_count();
    let bytes: u64 = t.partitions.iter().map(|p| p.size_bytes()).sum();
    json!({
        "name": t.name.as_str(),
        "vhost": vhost,
        "durable": true,
        "auto_delete": false,
        "exclusive": false,
        "arguments": Value::Object(arguments),
        "messages": records,
        "messages_ready": records,
        "messages_unacknowledged": 0,
        "message_bytes_ready": bytes,
        "consumers": t.reader_count(),
        "state": "running",
        "type": "stream",
        "node": api.node,
    })
}

/// The queues of a vhost, stream queues among them, sorted by name.
fn listed(api: &Api, v: &Vhost) -> Vec<Value> {
    let mut out: Vec<(String, Value)> = v
        .queues()
        .iter()
        .map(|q| (q.name().to_string(), queue_json(api, v.name().as_str(), q)))
        .collect();
    for t in api.engine.topics() {
        if let Ok(name) = QueueName::new(t.name.as_str())
            && v.stream_queue(&name).is_some()
        {
            out.push((t.name.to_string(), stream_json(api, v.name().as_str(), &t)));
        }
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out.into_iter().map(|(_, j)| j).collect()
}

pub async fn list_all(State(api): State<Api>, caller: Caller) -> ApiResult<Response> {
    let mut out = Vec::new();
    for v in visible_vhosts(&api, &caller) {
        out.extend(listed(&api, &v));
    }
    body::ok(&out)
}

pub async fn list_vhost(
    State(api): State<Api>,
    caller: Caller,
    P(name): P<String>,
) -> ApiResult<Response> {
    let v = vhost(&api, &caller, &name)?;
    body::ok(&listed(&api, &v))
}

fn queue(v: &Vhost, name: &str) -> ApiResult<QueueRef> {
    let qn = QueueName::new(name)?;
    v.queue(&qn)
        .ok_or_else(|| ApiError::not_found(format!("no queue '{name}' in vhost '{}'", v.name())))
}

pub async fn show(
    State(api): State<Api>,
    caller: Caller,
    P((vh, name)): P<(String, String)>,
    uri: Uri,
) -> ApiResult<Response> {
    let v = vhost(&api, &caller, &vh)?;
    if let Ok(qn) = QueueName::new(&name)
        && let Some(t) = v.stream_queue(&qn)
    {
        return body::ok(&stream_json(&api, &vh, &t));
    }
    let q = queue(&v, &name)?;
    let range = Range::from_query(uri.query());
    body::ok(&queue_json_in(&api, &vh, &q, range))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct DeclareBody {
    #[serde(default = "yes")]
    durable: bool,
    #[serde(default)]
    auto_delete: bool,
    #[serde(default)]
    exclusive: bool,
    #[serde(default)]
    arguments: Option<Value>,
    /// rabbitmqadmin sends these; they mean nothing here.
    #[serde(default)]
    #[allow(dead_code)]
    node: Option<Value>,
    #[serde(default, rename = "type")]
    #[allow(dead_code)]
    kind: Option<Value>,
}

fn yes() -> bool {
    true
}

/// The definition a declaration body describes (shared with definitions import).
pub(crate) fn queue_def(
    name: &str,
    durable: bool,
    auto_delete: bool,
    arguments: Option<&Value>,
) -> ApiResult<QueueDef> {
    if name.is_empty() {
        return Err(ApiError::bad_request("a queue needs a name"));
    }
    let mut def = QueueDef::new(QueueName::new(name)?);
    def.durable = durable;
    def.auto_delete = auto_delete;
    def.args = args::queue_args(&args::object(arguments)?)?;
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
    if b.exclusive {
        return Err(ApiError::bad_request(
            "exclusive queues belong to a client connection; they cannot be declared over HTTP",
        ));
    }
    let def = queue_def(&name, b.durable, b.auto_delete, b.arguments.as_ref())?;
    if def.args.stream {
        // A stream is a topic, declared with the arguments RabbitMQ takes for one.
        let existed = v.stream_queue(&def.name).is_some();
        let spec = args::stream_spec(&args::object(b.arguments.as_ref())?)?;
        api.engine
            .declare_stream_queue(&v, &def.name, &spec)
            .await?;
        return body::created(!existed);
    }
    let existed = v.queue(&def.name).is_some();
    v.declare_queue(def, api.engine.next_connection_id())
        .await?;
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
    if let Ok(qn) = QueueName::new(&name)
        && v.stream_queue(&qn).is_some()
    {
        api.engine.delete_stream_queue(&v, &qn).await?;
        return body::no_content();
    }
    let q = queue(&v, &name)?;
    let if_empty = body::query_flag(uri.query(), "if-empty");
    let if_unused = body::query_flag(uri.query(), "if-unused");
    v.delete_queue(q.name(), if_unused, if_empty, None).await?;
    body::no_content()
}

pub async fn purge(
    State(api): State<Api>,
    caller: Caller,
    P((vh, name)): P<(String, String)>,
) -> ApiResult<Response> {
    let v = vhost(&api, &caller, &vh)?;
    // RabbitMQ checks read permission for purge; an operator purging is configuring.
    caller.require_configure(&vh, &name)?;
    let q = queue(&v, &name)?;
    v.purge_queue(q.name(), api.engine.next_connection_id())
        .await?;
    body::no_content()
}
