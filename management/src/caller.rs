//! Who is calling: HTTP basic auth against the engine's users, and what their tags let
//! them see and do.
//!
//! - `administrator`: everything.
//! - `monitoring`: reads everything (every vhost, every connection); changes nothing.
//!   (In RabbitMQ `monitoring` also has `management`'s rights to change objects it has
//!   permissions on; here it is read-only, as the task asks: see docs/management-api.md.)
//! - `management`: reads and changes only objects of vhosts it has permissions in,
//!   each change checked against its configure permission, as RabbitMQ does.
//! - anything else (`none`, no tag): not a management user, 401.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::header;
use axum::http::request::Parts;
use base64::Engine as _;
use trident_engine::{Access, User};

use crate::Api;
use crate::error::{ApiError, ApiResult};

#[derive(Debug, Clone)]
pub struct Caller {
    pub user: Arc<User>,
}

impl Caller {
    pub fn is_admin(&self) -> bool {
        self.user.has_tag("administrator")
    }

    fn sees_everything(&self) -> bool {
        self.is_admin() || self.user.has_tag("monitoring")
    }

    /// Whether objects of `vhost` appear in this caller's listings.
    pub fn can_see(&self, vhost: &str) -> bool {
        self.sees_everything() || self.user.permission(vhost).is_some()
    }

    /// 404 rather than 403 for a vhost the caller may not see, so that listings and
    /// lookups agree about what exists.
    pub fn require_visible(&self, vhost: &str) -> ApiResult<()> {
        if self.can_see(vhost) {
            Ok(())
        } else {
            Err(ApiError::not_found(format!("no vhost '{vhost}'")))
        }
    }

    pub fn require_admin(&self) -> ApiResult<()> {
        if self.is_admin() {
            Ok(())
        } else {
            Err(ApiError::forbidden(format!(
                "user '{}' is not an administrator",
                self.user.name
            )))
        }
    }

    /// May read broker-wide state (nodes, health checks): administrator or monitoring,
    /// as RabbitMQ's `/api/nodes`.
    pub fn require_monitoring(&self) -> ApiResult<()> {
        if self.sees_everything() {
            Ok(())
        } else {
            Err(ApiError::forbidden(format!(
                "user '{}' is neither an administrator nor monitoring",
                self.user.name
            )))
        }
    }

    /// May change `resource` (a queue or exchange name) in `vhost`.
    pub fn require_configure(&self, vhost: &str, resource: &str) -> ApiResult<()> {
        if self.is_admin()
            || (self.user.has_tag("management")
                && self.user.may(vhost, Access::Configure, resource))
        {
            return Ok(());
        }
        Err(ApiError::forbidden(format!(
            "user '{}' may not change '{resource}' in vhost '{vhost}'",
            self.user.name
        )))
    }

    /// May bind (write on the destination, read on the source, as AMQP's queue.bind).
    pub fn require_bind(&self, vhost: &str, source: &str, destination: &str) -> ApiResult<()> {
        if self.is_admin()
            || (self.user.has_tag("management")
                && self.user.may(vhost, Access::Write, destination)
                && self.user.may(vhost, Access::Read, source))
        {
            return Ok(());
        }
        Err(ApiError::forbidden(format!(
            "user '{}' may not bind '{source}' to '{destination}' in vhost '{vhost}'",
            self.user.name
        )))
    }
}

fn credentials(parts: &Parts) -> ApiResult<(String, String)> {
    let header = parts
        .headers
        .get(header::AUTHORIZATION)
        .ok_or_else(|| ApiError::unauthorized("authentication required (HTTP basic auth)"))?;
    let value = header
        .to_str()
        .ok()
        .and_then(|v| {
            v.strip_prefix("Basic ")
                .or_else(|| v.strip_prefix("basic "))
        })
        .ok_or_else(|| ApiError::unauthorized("only HTTP basic authentication is supported"))?;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(value.trim())
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .ok_or_else(|| ApiError::unauthorized("malformed basic credentials"))?;
    let (user, pass) = decoded
        .split_once(':')
        .ok_or_else(|| ApiError::unauthorized("malformed basic credentials"))?;
    Ok((user.to_string(), pass.to_string()))
}

impl FromRequestParts<Api> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, api: &Api) -> Result<Self, Self::Rejection> {
        let (name, password) = credentials(parts)?;
        // Without the peer address (a router used without connect info) the caller
        // counts as remote: loopback-only accounts are refused, never let through.
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(a)| a.ip())
            .unwrap_or(std::net::IpAddr::from([0, 0, 0, 0]));
        let user = api
            .engine
            .authenticate(&name, &password, peer)
            .map_err(|_| {
                tracing::info!(user = %name, %peer, "management API login refused");
                ApiError::unauthorized("login failed")
            })?;
        let caller = Caller { user };
        let management = ["administrator", "monitoring", "management"]
            .iter()
            .any(|t| caller.user.has_tag(t));
        if !management {
            return Err(ApiError::unauthorized(format!(
                "user '{name}' has no management tag (administrator, monitoring or management)"
            )));
        }
        Ok(caller)
    }
}
