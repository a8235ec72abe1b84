//! `/api/definitions`: everything an operator declared, as one JSON document in
//! RabbitMQ's layout (users, vhosts, permissions, topic_permissions, queues,
//! exchanges, bindings) plus Trident's `topics`.
//!
//! Import is all or nothing as far as the input goes: the whole document is parsed and
//! every object validated (names, patterns, credentials, references, and agreement
//! with what already exists) before anything is applied. Only a storage failure while
//! applying can leave part of it in place; re-importing the same file is idempotent.

use std::collections::HashSet;

use axum::body::Body;
use axum::extract::State;
use axum::response::Response;
use serde::Deserialize;
use serde_json::{Value, json};
use trident_core::QueueName;
use trident_core::{
    Binding, BindingDestination, ExchangeDef, QueueDef, TopicConfig, TopicName, VhostName,
};
use trident_engine::{Credentials, Permission, StreamSpec, TopicPermission, User};

use crate::Api;
use crate::args;
use crate::body;
use crate::caller::Caller;
use crate::error::{ApiError, ApiResult};
use crate::exchanges::{binding_json, destination, exchange_def, exchange_json};
use crate::queues::queue_def;
use crate::topics::{TopicBody, config_json, topic_config};
use crate::users::parse_tags;

pub async fn export(State(api): State<Api>, caller: Caller) -> ApiResult<Response> {
    caller.require_admin()?;
    body::ok(&export_value(&api))
}

fn export_value(api: &Api) -> Value {
    let users: Vec<Value> = api
        .engine
        .users()
        .all()
        .iter()
        .map(|u| {
            json!({
                "name": u.name,
                "tags": u.tags,
                "loopback_only": u.loopback_only,
                "trident_credentials": u.credentials(),
            })
        })
        .collect();
    let mut vhost_names = api.engine.vhost_names();
    vhost_names.sort();
    let (mut vhosts, mut queues, mut exchanges, mut bindings) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for name in &vhost_names {
        vhosts.push(json!({ "name": name.as_str() }));
        let Ok(v) = api.engine.vhost(name.as_str()) else {
            continue;
        };
        let mut qs = v.queues();
        qs.sort_by(|a, b| a.name().cmp(b.name()));
        for q in qs.iter().filter(|q| !q.def().exclusive) {
            let d = q.def();
            queues.push(json!({
                "name": d.name.as_str(),
                "vhost": name.as_str(),
                "durable": d.durable,
                "auto_delete": d.auto_delete,
                "arguments": args::queue_args_json(&d.args),
            }));
        }
        // Stream queues (the topics vhost `/` shows as queues), as RabbitMQ exports its
        // streams, so that RabbitMQ tooling sees them; `topics` below lists them too.
        for t in api.engine.topics() {
            if let Ok(qn) = trident_core::QueueName::new(t.name.as_str())
                && v.stream_queue(&qn).is_some()
            {
                queues.push(json!({
                    "name": t.name.as_str(),
                    "vhost": name.as_str(),
                    "durable": true,
                    "auto_delete": false,
                    "arguments": Value::Object(args::stream_args_json(&t.config)),
                }));
            }
        }
        let mut xs = v.exchanges();
        xs.sort_by(|a, b| a.name.cmp(&b.name));
        for x in xs
            .iter()
            .filter(|x| !x.name.is_default() && !x.name.is_reserved())
        {
            exchanges.push(exchange_json(name.as_str(), x));
        }
        for b in v.bindings().iter().filter(|b| !b.source.is_default()) {
            let mut j = binding_json(name.as_str(), b);
            if let Some(o) = j.as_object_mut() {
                o.remove("properties_key");
            }
            bindings.push(j);
        }
    }
    let topics: Vec<Value> = api
        .engine
        .topics()
        .iter()
        .map(|t| {
            let mut c = config_json(&t.config);
            if let Some(o) = c.as_object_mut() {
                o.insert("partitions".into(), t.partitions.len().into());
                o.insert("name".into(), t.name.as_str().into());
            }
            c
        })
        .collect();
    json!({
        "product_name": "Trident",
        "product_version": env!("CARGO_PKG_VERSION"),
        "rabbit_version": "3.13.0",
        "users": users,
        "vhosts": vhosts,
        "permissions": crate::users::all_permissions(api),
        "topic_permissions": crate::users::all_topic_permissions(api),
        "queues": queues,
        "exchanges": exchanges,
        "bindings": bindings,
        "topics": topics,
    })
}

// ------------------------------------------------------------------- import

#[derive(Debug, Deserialize)]
struct Definitions {
    #[serde(default)]
    users: Vec<UserDef>,
    #[serde(default)]
    vhosts: Vec<NameOnly>,
    #[serde(default)]
    permissions: Vec<PermissionDef>,
    #[serde(default)]
    topic_permissions: Vec<TopicPermissionDef>,
    #[serde(default)]
    queues: Vec<QueueDefJson>,
    #[serde(default)]
    exchanges: Vec<ExchangeDefJson>,
    #[serde(default)]
    bindings: Vec<BindingDefJson>,
    #[serde(default)]
    topics: Vec<TopicDefJson>,
}

#[derive(Debug, Deserialize)]
struct NameOnly {
    name: String,
}

#[derive(Debug, Deserialize)]
struct UserDef {
    name: String,
    #[serde(default)]
    tags: Option<Value>,
    #[serde(default)]
    loopback_only: bool,
    #[serde(default)]
    password: Option<String>,
    #[serde(default)]
    trident_credentials: Option<Credentials>,
    #[serde(default)]
    password_hash: Option<String>,
}

#[derive(Debug, Deserialize)]
struct PermissionDef {
    user: String,
    vhost: String,
    configure: String,
    write: String,
    read: String,
}

#[derive(Debug, Deserialize)]
struct TopicPermissionDef {
    user: String,
    vhost: String,
    exchange: String,
    write: String,
    read: String,
}

#[derive(Debug, Deserialize)]
struct QueueDefJson {
    name: String,
    vhost: String,
    #[serde(default = "yes")]
    durable: bool,
    #[serde(default)]
    auto_delete: bool,
    #[serde(default)]
    arguments: Option<Value>,
}

#[derive(Debug, Deserialize)]
struct ExchangeDefJson {
    name: String,
    vhost: String,
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

#[derive(Debug, Deserialize)]
struct BindingDefJson {
    source: String,
    vhost: String,
    destination: String,
    destination_type: String,
    #[serde(default)]
    routing_key: String,
    #[serde(default)]
    arguments: Option<Value>,
}

#[derive(Debug, Deserialize)]
struct TopicDefJson {
    name: String,
    #[serde(flatten)]
    config: TopicBody,
}

fn yes() -> bool {
    true
}

/// Everything a document asks for, validated and typed.
struct Plan {
    vhosts: Vec<String>,
    users: Vec<User>,
    permissions: Vec<(String, String, Permission)>,
    topic_permissions: Vec<(String, TopicPermission)>,
    exchanges: Vec<(String, ExchangeDef)>,
    queues: Vec<(String, QueueDef)>,
    /// Stream queues: the topic each is, declared in vhost `/`.
    streams: Vec<(String, QueueName, StreamSpec)>,
    bindings: Vec<(String, Binding)>,
    topics: Vec<(TopicName, TopicConfig)>,
}

fn at(what: &str, i: usize, e: ApiError) -> ApiError {
    ApiError::new(e.status, format!("{what}[{i}]: {}", e.reason))
}

fn plan(api: &Api, d: Definitions) -> ApiResult<Plan> {
    let mut vhosts = Vec::new();
    for (i, v) in d.vhosts.iter().enumerate() {
        VhostName::new(&v.name).map_err(|e| at("vhosts", i, e.into()))?;
        vhosts.push(v.name.clone());
    }
    let vhost_exists = |name: &str| vhosts.iter().any(|v| v == name) || api.engine.has_vhost(name);
    let vhost = |what: &str, i: usize, name: &str| -> ApiResult<()> {
        if vhost_exists(name) {
            Ok(())
        } else {
            Err(at(
                what,
                i,
                ApiError::bad_request(format!("no vhost '{name}' (in the file or the broker)")),
            ))
        }
    };

    let mut users = Vec::new();
    for (i, u) in d.users.iter().enumerate() {
        let credentials = match (&u.trident_credentials, &u.password, &u.password_hash) {
            (Some(c), _, _) => {
                c.validate().map_err(|e| at("users", i, e.into()))?;
                c.clone()
            }
            (None, Some(p), _) if !p.is_empty() => {
                Credentials::new(p).map_err(|e| at("users", i, e.into()))?
            }
            (None, _, Some(_)) => {
                return Err(at(
                    "users",
                    i,
                    ApiError::bad_request(format!(
                        "user '{}': RabbitMQ password hashes cannot be verified by Trident; give 'password' instead",
                        u.name
                    )),
                ));
            }
            _ => {
                return Err(at(
                    "users",
                    i,
                    ApiError::bad_request(format!(
                        "user '{}' has neither 'trident_credentials' nor a non-empty 'password'",
                        u.name
                    )),
                ));
            }
        };
        trident_engine::auth::validate_user_name(&u.name).map_err(|e| at("users", i, e.into()))?;
        let mut user = User::with_credentials(&u.name, credentials);
        user.tags = parse_tags(u.tags.as_ref()).map_err(|e| at("users", i, e))?;
        user.loopback_only = u.loopback_only;
        users.push(user);
    }
    let user_names: HashSet<&str> = users.iter().map(|u| u.name.as_str()).collect();
    let user_exists =
        |name: &str| user_names.contains(name) || api.engine.users().get(name).is_some();

    let mut permissions = Vec::new();
    for (i, p) in d.permissions.iter().enumerate() {
        vhost("permissions", i, &p.vhost)?;
        if !user_exists(&p.user) {
            return Err(at(
                "permissions",
                i,
                ApiError::bad_request(format!("no user '{}'", p.user)),
            ));
        }
        let perm = Permission {
            configure: p.configure.clone(),
            write: p.write.clone(),
            read: p.read.clone(),
        };
        perm.validate()
            .map_err(|e| at("permissions", i, e.into()))?;
        permissions.push((p.user.clone(), p.vhost.clone(), perm));
    }
    let mut topic_permissions = Vec::new();
    for (i, t) in d.topic_permissions.iter().enumerate() {
        vhost("topic_permissions", i, &t.vhost)?;
        if !user_exists(&t.user) {
            return Err(at(
                "topic_permissions",
                i,
                ApiError::bad_request(format!("no user '{}'", t.user)),
            ));
        }
        let tp = TopicPermission {
            vhost: t.vhost.clone(),
            exchange: t.exchange.clone(),
            write: t.write.clone(),
            read: t.read.clone(),
        };
        tp.validate()
            .map_err(|e| at("topic_permissions", i, e.into()))?;
        topic_permissions.push((t.user.clone(), tp));
    }

    let mut exchanges = Vec::new();
    for (i, x) in d.exchanges.iter().enumerate() {
        vhost("exchanges", i, &x.vhost)?;
        let def = exchange_def(
            &x.name,
            &x.kind,
            x.durable,
            x.auto_delete,
            x.internal,
            x.arguments.as_ref(),
        )
        .map_err(|e| at("exchanges", i, e))?;
        if let Ok(v) = api.engine.vhost(&x.vhost)
            && let Some(existing) = v.exchange(&def.name)
            && !existing.equivalent(&def)
        {
            return Err(at(
                "exchanges",
                i,
                ApiError::bad_request(format!(
                    "exchange '{}' in vhost '{}' exists with different settings",
                    x.name, x.vhost
                )),
            ));
        }
        exchanges.push((x.vhost.clone(), def));
    }
    let mut queues = Vec::new();
    let mut streams = Vec::new();
    for (i, q) in d.queues.iter().enumerate() {
        vhost("queues", i, &q.vhost)?;
        let def = queue_def(&q.name, q.durable, q.auto_delete, q.arguments.as_ref())
            .map_err(|e| at("queues", i, e))?;
        if def.args.stream {
            let spec = stream_plan(api, &q.vhost, &def.name, q.arguments.as_ref())
                .map_err(|e| at("queues", i, e))?;
            streams.push((q.vhost.clone(), def.name, spec));
            continue;
        }
        if let Ok(v) = api.engine.vhost(&q.vhost)
            && let Some(existing) = v.queue(&def.name)
            && !existing.def().equivalent(&def)
        {
            return Err(at(
                "queues",
                i,
                ApiError::bad_request(format!(
                    "queue '{}' in vhost '{}' exists with different settings",
                    q.name, q.vhost
                )),
            ));
        }
        queues.push((q.vhost.clone(), def));
    }
    let mut bindings = Vec::new();
    for (i, b) in d.bindings.iter().enumerate() {
        vhost("bindings", i, &b.vhost)?;
        let dest =
            destination(&b.destination_type, &b.destination).map_err(|e| at("bindings", i, e))?;
        let source =
            trident_core::ExchangeName::new(&b.source).map_err(|e| at("bindings", i, e.into()))?;
        let live = api.engine.vhost(&b.vhost).ok();
        let exchange_known = |name: &trident_core::ExchangeName| {
            name.is_reserved()
                || exchanges
                    .iter()
                    .any(|(v, x)| v == &b.vhost && &x.name == name)
                || live.as_ref().is_some_and(|v| v.exchange(name).is_some())
        };
        let dest_known = match &dest {
            BindingDestination::Queue(q) => {
                queues.iter().any(|(v, d)| v == &b.vhost && &d.name == q)
                    || streams.iter().any(|(v, n, _)| v == &b.vhost && n == q)
                    || live
                        .as_ref()
                        .is_some_and(|v| v.queue(q).is_some() || v.stream_queue(q).is_some())
            }
            BindingDestination::Exchange(x) => exchange_known(x),
        };
        if !exchange_known(&source) || !dest_known {
            return Err(at(
                "bindings",
                i,
                ApiError::bad_request(format!(
                    "binding from '{}' to '{}' in vhost '{}' names an exchange or queue that neither the file nor the broker has",
                    b.source, b.destination, b.vhost
                )),
            ));
        }
        let arguments = args::field_table(
            &args::object(b.arguments.as_ref()).map_err(|e| at("bindings", i, e))?,
        )
        .map_err(|e| at("bindings", i, e))?;
        bindings.push((
            b.vhost.clone(),
            Binding::new(source, dest, b.routing_key.clone(), arguments),
        ));
    }
    let mut topics = Vec::new();
    for (i, t) in d.topics.iter().enumerate() {
        let name = TopicName::new(&t.name).map_err(|e| at("topics", i, e.into()))?;
        let config = topic_config(api, &t.config).map_err(|e| at("topics", i, e))?;
        topics.push((name, config));
    }
    // A stream the document also lists under `topics` (as Trident exports it) is made
    // from that fuller entry (segment age, forwarding); its queue entry was checked.
    streams.retain(|(_, n, _)| !topics.iter().any(|(t, _)| t.as_str() == n.as_str()));
    Ok(Plan {
        vhosts,
        users,
        permissions,
        topic_permissions,
        exchanges,
        queues,
        streams,
        bindings,
        topics,
    })
}

/// A stream queue of a document, checked as declaring it would check it: vhost `/`
/// only, no classic queue of that name, and no existing stream with other settings.
fn stream_plan(
    api: &Api,
    vhost: &str,
    name: &QueueName,
    arguments: Option<&Value>,
) -> ApiResult<StreamSpec> {
    let spec = args::stream_spec(&args::object(arguments)?)?;
    if vhost != trident_engine::auth::DEFAULT_VHOST {
        return Err(ApiError::bad_request(format!(
            "stream queues are topics, which live in vhost '{}' only; cannot declare stream '{name}' in vhost '{vhost}'",
            trident_engine::auth::DEFAULT_VHOST
        )));
    }
    TopicName::new(name.as_str())
        .map_err(|e| ApiError::bad_request(format!("'{name}' cannot name a stream: {e}")))?;
    if spec.partitions == Some(0) {
        return Err(ApiError::bad_request(
            "a stream needs at least one partition",
        ));
    }
    if let Ok(v) = api.engine.vhost(vhost) {
        if v.queue(name).is_some() {
            return Err(ApiError::bad_request(format!(
                "queue '{name}' in vhost '{vhost}' exists and is not a stream"
            )));
        }
        if let Some(t) = v.stream_queue(name)
            && let Some(what) = spec.differs_from(&t)
        {
            return Err(ApiError::bad_request(format!(
                "stream '{name}' in vhost '{vhost}' exists with a different {what}"
            )));
        }
    }
    Ok(spec)
}

async fn apply(api: &Api, p: Plan) -> ApiResult<Value> {
    let users = api.engine.users();
    for v in &p.vhosts {
        api.engine.create_vhost(v).await?;
    }
    for u in &p.users {
        users.put(u.clone())?;
    }
    for (user, vhost, perm) in &p.permissions {
        users.set_permission(user, vhost, perm.clone())?;
    }
    for (user, tp) in &p.topic_permissions {
        users.set_topic_permission(user, tp.clone())?;
    }
    for (vhost, x) in &p.exchanges {
        api.engine.vhost(vhost)?.declare_exchange(x.clone()).await?;
    }
    let conn = api.engine.next_connection_id();
    for (vhost, q) in &p.queues {
        api.engine
            .vhost(vhost)?
            .declare_queue(q.clone(), conn)
            .await?;
    }
    // Topics before bindings: a binding may name a stream queue, which is a topic.
    let mut topics_created = 0;
    for (name, config) in &p.topics {
        if api.engine.topic(name.as_str()).is_none() {
            api.engine
                .create_topic(name.clone(), config.clone())
                .await?;
            topics_created += 1;
        }
    }
    for (vhost, name, spec) in &p.streams {
        let v = api.engine.vhost(vhost)?;
        api.engine.declare_stream_queue(&v, name, spec).await?;
    }
    for (vhost, b) in &p.bindings {
        api.engine.vhost(vhost)?.bind(b.clone(), conn).await?;
    }
    Ok(json!({
        "vhosts": p.vhosts.len(),
        "users": p.users.len(),
        "permissions": p.permissions.len(),
        "topic_permissions": p.topic_permissions.len(),
        "exchanges": p.exchanges.len(),
        "queues": p.queues.len() + p.streams.len(),
        "bindings": p.bindings.len(),
        "topics": p.topics.len(),
        "topics_created": topics_created,
    }))
}

pub async fn import(State(api): State<Api>, caller: Caller, req: Body) -> ApiResult<Response> {
    caller.require_admin()?;
    let d: Definitions = body::read_json(req).await?;
    let plan = plan(&api, d)?;
    let summary = apply(&api, plan).await?;
    tracing::info!(by = %caller.user.name, %summary, "imported definitions");
    body::ok(&json!({ "imported": summary }))
}
