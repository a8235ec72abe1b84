//! The management HTTP API: RabbitMQ's `/api/` where the two overlap (overview,
//! queues, exchanges, bindings, connections, vhosts, users, permissions, definitions),
//! so that existing tooling and scripts work, plus the log side (topics with their
//! partitions, consumer groups with lag) that RabbitMQ does not have.
//!
//! The crate depends on the engine's API only; the broker mounts [`router`] on its HTTP
//! listener. Reference: docs/management-api.md.

mod args;
mod body;
mod caller;
mod dashboard;
mod definitions;
mod error;
mod exchanges;
mod groups;
mod messages;
mod nodes;
mod objects;
mod overview;
mod queues;
mod rates;
mod topics;
mod users;
mod vhosts;

use axum::Router;
use axum::routing::{delete, get, post, put};
use trident_engine::Engine;

pub use body::MAX_BODY_BYTES;
pub use error::ApiError;
pub use rates::Rates;

/// A listener the broker serves, as `/api/overview` reports it.
#[derive(Debug, Clone)]
pub struct Listener {
    pub protocol: String,
    pub addr: std::net::SocketAddr,
}

/// What every handler shares.
#[derive(Debug, Clone)]
pub struct Api {
    pub engine: Engine,
    pub listeners: Vec<Listener>,
    /// The node's name in listings (RabbitMQ's `node`).
    pub node: String,
    /// Message rates over time (`Rates::start(engine)` samples the engine).
    pub rates: Rates,
}

/// The `/api/` routes and the web dashboard (`/`). Serve them with `into_make_service_with_connect_info::<SocketAddr>`
/// so that loopback-only accounts are recognised; without it every caller counts as
/// remote.
pub fn router(api: Api) -> Router {
    Router::new()
        .route("/api/overview", get(overview::overview))
        .route("/api/whoami", get(overview::whoami))
        .route("/api/nodes", get(nodes::list))
        .route("/api/nodes/{node}", get(nodes::show))
        .route(
            "/api/nodes/{node}/vm_memory_high_watermark",
            put(nodes::set_memory_watermark),
        )
        .route(
            "/api/nodes/{node}/disk_free_limit",
            put(nodes::set_disk_free_limit),
        )
        .route("/api/health/checks/alarms", get(nodes::health_alarms))
        .route("/api/queues", get(queues::list_all))
        .route("/api/queues/{vhost}", get(queues::list_vhost))
        .route(
            "/api/queues/{vhost}/{name}",
            get(queues::show)
                .put(queues::declare)
                .delete(queues::delete),
        )
        .route("/api/queues/{vhost}/{name}/contents", delete(queues::purge))
        .route("/api/queues/{vhost}/{name}/get", post(messages::get))
        .route(
            "/api/exchanges/{vhost}/{name}/publish",
            post(messages::publish),
        )
        .route("/api/exchanges", get(exchanges::list_all))
        .route("/api/exchanges/{vhost}", get(exchanges::list_vhost))
        .route(
            "/api/exchanges/{vhost}/{name}",
            get(exchanges::show)
                .put(exchanges::declare)
                .delete(exchanges::delete),
        )
        .route("/api/bindings", get(exchanges::bindings_all))
        .route("/api/bindings/{vhost}", get(exchanges::bindings_vhost))
        .route(
            "/api/bindings/{vhost}/e/{source}/{kind}/{destination}",
            get(exchanges::bindings_between).post(exchanges::bind),
        )
        .route(
            "/api/bindings/{vhost}/e/{source}/{kind}/{destination}/{props}",
            delete(exchanges::unbind),
        )
        .route("/api/connections", get(objects::connections))
        .route(
            "/api/connections/{id}",
            get(objects::connection).delete(objects::close_connection),
        )
        .route("/api/vhosts", get(vhosts::list))
        .route(
            "/api/vhosts/{name}",
            get(vhosts::show).put(vhosts::create).delete(vhosts::delete),
        )
        .route("/api/users", get(users::list))
        .route(
            "/api/users/{name}",
            get(users::show).put(users::put).delete(users::delete),
        )
        .route("/api/permissions", get(users::permissions))
        .route(
            "/api/permissions/{vhost}/{user}",
            get(users::permission)
                .put(users::set_permission)
                .delete(users::clear_permission),
        )
        .route("/api/topic-permissions", get(users::topic_permissions))
        .route(
            "/api/topic-permissions/{vhost}/{user}",
            get(users::topic_permission)
                .put(users::set_topic_permission)
                .delete(users::clear_topic_permission),
        )
        .route(
            "/api/definitions",
            get(definitions::export).post(definitions::import),
        )
        .route("/api/topics", get(topics::list))
        .route(
            "/api/topics/{name}",
            get(topics::show).put(topics::create).delete(topics::delete),
        )
        .route("/api/consumer-groups", get(groups::list))
        .route("/api/consumer-groups/{group}", get(groups::show))
        .route(
            "/api/consumer-groups/{group}/reset-offsets",
            post(groups::reset_offsets),
        )
        .merge(dashboard::routes())
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(axum::middleware::from_fn(dashboard::quiet_auth))
        .with_state(api)
}

async fn not_found() -> ApiError {
    ApiError::not_found("no such API endpoint")
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(
        axum::http::StatusCode::METHOD_NOT_ALLOWED,
        "method not allowed on this endpoint",
    )
}
