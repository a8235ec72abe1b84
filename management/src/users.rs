//! `/api/users`, `/api/permissions`, `/api/topic-permissions`. Administrators only,
//! except that anyone may read their own permissions.

use axum::body::Body;
use axum::extract::State;
use axum::response::Response;
use serde::Deserialize;
use serde_json::{Value, json};
use trident_engine::{Permission, TopicPermission, User};

use crate::Api;
use crate::body::{self, P};
use crate::caller::Caller;
use crate::error::{ApiError, ApiResult};

pub(crate) fn user_json(u: &User) -> Value {
    json!({
        "name": u.name,
        "tags": u.tags,
        "loopback_only": u.loopback_only,
        "limits": {},
    })
}

pub async fn list(State(api): State<Api>, caller: Caller) -> ApiResult<Response> {
    caller.require_admin()?;
    let out: Vec<Value> = api
        .engine
        .users()
        .all()
        .iter()
        .map(|u| user_json(u))
        .collect();
    body::ok(&out)
}

fn user(api: &Api, name: &str) -> ApiResult<std::sync::Arc<User>> {
    api.engine
        .users()
        .get(name)
        .ok_or_else(|| ApiError::not_found(format!("no user '{name}'")))
}

pub async fn show(
    State(api): State<Api>,
    caller: Caller,
    P(name): P<String>,
) -> ApiResult<Response> {
    caller.require_admin()?;
    let u = user(&api, &name)?;
    body::ok(&user_json(&u))
}

/// Tags as RabbitMQ accepts them: a comma-separated string or a list. `none` (or
/// nothing) is no tag.
pub(crate) fn parse_tags(v: Option<&Value>) -> ApiResult<Vec<String>> {
    let raw: Vec<String> = match v {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::String(s)) => s.split(',').map(|t| t.trim().to_string()).collect(),
        Some(Value::Array(items)) => items
            .iter()
            .map(|i| {
                i.as_str()
                    .map(|s| s.trim().to_string())
                    .ok_or_else(|| ApiError::bad_request("'tags' must hold strings"))
            })
            .collect::<ApiResult<_>>()?,
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "'tags' must be a string or a list, got {other}"
            )));
        }
    };
    let mut tags = Vec::new();
    for t in raw {
        if t.is_empty() || t == "none" {
            continue;
        }
        if t.len() > 64
            || !t
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        {
            return Err(ApiError::bad_request(format!(
                "invalid tag {t:?}: letters, digits, '-' and '_' only"
            )));
        }
        if !tags.contains(&t) {
            tags.push(t);
        }
    }
    Ok(tags)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PutUser {
    #[serde(default)]
    password: Option<String>,
    #[serde(default)]
    tags: Option<Value>,
    /// RabbitMQ's hash formats cannot be verified here; refused with a reason.
    #[serde(default)]
    password_hash: Option<String>,
    #[serde(default)]
    hashing_algorithm: Option<String>,
    #[serde(default)]
    loopback_only: Option<bool>,
    #[serde(default)]
    limits: Option<Value>,
}

pub async fn put(
    State(api): State<Api>,
    caller: Caller,
    P(name): P<String>,
    req: Body,
) -> ApiResult<Response> {
    caller.require_admin()?;
    let b: PutUser = body::read_json(req).await?;
    let _ = (&b.hashing_algorithm, &b.limits);
    if b.password_hash.is_some() {
        return Err(ApiError::bad_request(
            "password_hash is not supported: give 'password' (or import Trident definitions, which carry credentials)",
        ));
    }
    if b.password.as_deref() == Some("") {
        return Err(ApiError::bad_request("the password must not be empty"));
    }
    let tags = parse_tags(b.tags.as_ref())?;
    let users = api.engine.users();
    let new = users.get(&name).is_none();
    if new {
        let password = b
            .password
            .as_deref()
            .ok_or_else(|| ApiError::bad_request("a new user needs a 'password'"))?;
        let mut u = User::new(&name, password)?;
        u.tags = tags;
        u.loopback_only = b.loopback_only.unwrap_or(false);
        users.put(u)?;
        tracing::info!(user = %name, by = %caller.user.name, "created user");
    } else {
        users.update(&name, |u| {
            if let Some(p) = &b.password {
                u.set_password(p)?;
            }
            if b.tags.is_some() {
                u.tags = tags;
            }
            if let Some(l) = b.loopback_only {
                u.loopback_only = l;
            }
            Ok(())
        })?;
        tracing::info!(user = %name, by = %caller.user.name, "updated user");
    }
    body::created(new)
}

pub async fn delete(
    State(api): State<Api>,
    caller: Caller,
    P(name): P<String>,
) -> ApiResult<Response> {
    caller.require_admin()?;
    if name == caller.user.name {
        return Err(ApiError::bad_request(
            "refusing to delete the user making the request",
        ));
    }
    if !api.engine.users().delete(&name)? {
        return Err(ApiError::not_found(format!("no user '{name}'")));
    }
    tracing::info!(user = %name, by = %caller.user.name, "deleted user");
    body::no_content()
}

// --------------------------------------------------------------- permissions

fn permission_json(user: &str, vhost: &str, p: &Permission) -> Value {
    json!({
        "user": user,
        "vhost": vhost,
        "configure": p.configure,
        "write": p.write,
        "read": p.read,
    })
}

pub(crate) fn all_permissions(api: &Api) -> Vec<Value> {
    let mut out = Vec::new();
    for u in api.engine.users().all() {
        let mut vhosts: Vec<_> = u.permissions.iter().collect();
        vhosts.sort_by(|a, b| a.0.cmp(b.0));
        for (vhost, p) in vhosts {
            out.push(permission_json(&u.name, vhost, p));
        }
    }
    out
}

pub async fn permissions(State(api): State<Api>, caller: Caller) -> ApiResult<Response> {
    caller.require_admin()?;
    body::ok(&all_permissions(&api))
}

/// Own permissions are readable by their owner; everything else needs administrator.
fn may_read_permissions_of(caller: &Caller, user: &str) -> ApiResult<()> {
    if caller.user.name == user {
        Ok(())
    } else {
        caller.require_admin()
    }
}

pub async fn permission(
    State(api): State<Api>,
    caller: Caller,
    P((vhost, name)): P<(String, String)>,
) -> ApiResult<Response> {
    may_read_permissions_of(&caller, &name)?;
    let u = user(&api, &name)?;
    let p = u.permission(&vhost).ok_or_else(|| {
        ApiError::not_found(format!(
            "user '{name}' has no permissions in vhost '{vhost}'"
        ))
    })?;
    body::ok(&permission_json(&name, &vhost, p))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct PermissionBody {
    pub configure: String,
    pub write: String,
    pub read: String,
}

fn require_vhost(api: &Api, vhost: &str) -> ApiResult<()> {
    if api.engine.has_vhost(vhost) {
        Ok(())
    } else {
        Err(ApiError::not_found(format!("no vhost '{vhost}'")))
    }
}

pub async fn set_permission(
    State(api): State<Api>,
    caller: Caller,
    P((vhost, name)): P<(String, String)>,
    req: Body,
) -> ApiResult<Response> {
    caller.require_admin()?;
    let b: PermissionBody = body::read_json(req).await?;
    require_vhost(&api, &vhost)?;
    let new = user(&api, &name)?.permission(&vhost).is_none();
    api.engine.users().set_permission(
        &name,
        &vhost,
        Permission {
            configure: b.configure,
            write: b.write,
            read: b.read,
        },
    )?;
    body::created(new)
}

pub async fn clear_permission(
    State(api): State<Api>,
    caller: Caller,
    P((vhost, name)): P<(String, String)>,
) -> ApiResult<Response> {
    caller.require_admin()?;
    user(&api, &name)?;
    if !api.engine.users().clear_permission(&name, &vhost)? {
        return Err(ApiError::not_found(format!(
            "user '{name}' has no permissions in vhost '{vhost}'"
        )));
    }
    body::no_content()
}

// --------------------------------------------------------- topic permissions

fn topic_permission_json(user: &str, t: &TopicPermission) -> Value {
    json!({
        "user": user,
        "vhost": t.vhost,
        "exchange": t.exchange,
        "write": t.write,
        "read": t.read,
    })
}

pub(crate) fn all_topic_permissions(api: &Api) -> Vec<Value> {
    let mut out = Vec::new();
    for u in api.engine.users().all() {
        for t in &u.topic_permissions {
            out.push(topic_permission_json(&u.name, t));
        }
    }
    out
}

pub async fn topic_permissions(State(api): State<Api>, caller: Caller) -> ApiResult<Response> {
    caller.require_admin()?;
    body::ok(&all_topic_permissions(&api))
}

pub async fn topic_permission(
    State(api): State<Api>,
    caller: Caller,
    P((vhost, name)): P<(String, String)>,
) -> ApiResult<Response> {
    may_read_permissions_of(&caller, &name)?;
    let u = user(&api, &name)?;
    let out: Vec<Value> = u
        .topic_permissions
        .iter()
        .filter(|t| t.vhost == vhost)
        .map(|t| topic_permission_json(&name, t))
        .collect();
    if out.is_empty() {
        return Err(ApiError::not_found(format!(
            "user '{name}' has no topic permissions in vhost '{vhost}'"
        )));
    }
    body::ok(&out)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TopicPermissionBody {
    exchange: String,
    write: String,
    read: String,
}

pub async fn set_topic_permission(
    State(api): State<Api>,
    caller: Caller,
    P((vhost, name)): P<(String, String)>,
    req: Body,
) -> ApiResult<Response> {
    caller.require_admin()?;
    let b: TopicPermissionBody = body::read_json(req).await?;
    require_vhost(&api, &vhost)?;
    user(&api, &name)?;
    api.engine.users().set_topic_permission(
        &name,
        TopicPermission {
            vhost,
            exchange: b.exchange,
            write: b.write,
            read: b.read,
        },
    )?;
    body::created(true)
}

pub async fn clear_topic_permission(
    State(api): State<Api>,
    caller: Caller,
    P((vhost, name)): P<(String, String)>,
) -> ApiResult<Response> {
    caller.require_admin()?;
    user(&api, &name)?;
    if api
        .engine
        .users()
        .clear_topic_permissions(&name, &vhost, None)?
        == 0
    {
        return Err(ApiError::not_found(format!(
            "user '{name}' has no topic permissions in vhost '{vhost}'"
        )));
    }
    body::no_content()
}
