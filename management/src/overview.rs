//! `/api/overview` and `/api/whoami`.

use axum::extract::State;
use axum::http::Uri;
use axum::response::Response;
use serde_json::json;
use trident_engine::Metrics;

use crate::Api;
use crate::body;
use crate::caller::Caller;
use crate::error::ApiResult;
use crate::queues::visible_vhosts;
use crate::rates::{self, Range};

pub async fn overview(State(api): State<Api>, caller: Caller, uri: Uri) -> ApiResult<Response> {
    let m = api.engine.metrics();
    let alarms = api.engine.alarms().status();
    let (mut queues, mut exchanges, mut consumers) = (0u64, 0u64, 0u64);
    let (mut ready, mut unacked) = (0u64, 0u64);
    for v in visible_vhosts(&api, &caller) {
        exchanges += v.exchanges().len() as u64;
        for q in v.queues() {
            let s = q.stats();
            queues += 1;
            consumers += u64::from(s.consumers);
            ready += s.ready;
            unacked += s.unacked;
        }
    }
    let topics = api.engine.topics();
    let partitions: usize = topics.iter().map(|t| t.partitions.len()).sum();
    let log_bytes: u64 = topics
        .iter()
        .flat_map(|t| t.partitions.iter())
        .map(|p| p.size_bytes())
        .sum();
    let connections = api
        .engine
        .connections()
        .iter()
        .filter(|c| {
            caller.is_admin()
                || caller.user.has_tag("monitoring")
                || c.user.as_deref() == Some(&caller.user.name)
        })
        .count();
    let listeners: Vec<_> = api
        .listeners
        .iter()
        .map(|l| {
            json!({
                "node": api.node,
                "protocol": l.protocol,
                "ip_address": l.addr.ip().to_string(),
                "port": l.addr.port(),
            })
        })
        .collect();
    let mut out = json!({
        "management_version": env!("CARGO_PKG_VERSION"),
        "product_name": "Trident",
        "product_version": env!("CARGO_PKG_VERSION"),
        "rabbitmq_version": "3.13.0",
        "cluster_name": api.node,
        "node": api.node,
        "listeners": listeners,
        // RabbitMQ reports these per node (/api/nodes); also here for scripts.
        "mem_alarm": alarms.mem_alarm,
        "disk_free_alarm": alarms.disk_free_alarm,
        "mem_used": alarms.mem_used,
        "mem_limit": alarms.mem_limit,
        "disk_free": alarms.disk_free,
        "disk_free_limit": alarms.disk_free_limit,
        "object_totals": {
            "connections": connections,
            "exchanges": exchanges,
            "queues": queues,
            "consumers": consumers,
            "topics": topics.len(),
            "partitions": partitions,
        },
        "queue_totals": {
            "messages": ready + unacked,
            "messages_ready": ready,
            "messages_unacknowledged": unacked,
        },
        "message_stats": {
            "publish": Metrics::get(&m.messages_published),
            "deliver_get": Metrics::get(&m.messages_delivered),
            "ack": Metrics::get(&m.messages_acked),
            "return_unroutable": Metrics::get(&m.messages_unroutable),
            "records_appended": Metrics::get(&m.records_appended),
            "records_fetched": Metrics::get(&m.records_fetched),
        },
        "log_bytes": log_bytes,
    });
    // Rates are broker-wide, as the counters beside them.
    let details = api.rates.overview(Range::from_query(uri.query()));
    rates::attach(
        &mut out,
        details,
        rates::OVERVIEW_COUNTER_FIELDS,
        Some("queue_totals"),
    );
    body::ok(&out)
}

pub async fn whoami(caller: Caller) -> ApiResult<Response> {
    body::ok(&json!({
        "name": caller.user.name,
        "tags": caller.user.tags,
    }))
}
