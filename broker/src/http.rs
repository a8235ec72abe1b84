//! The HTTP listener: `/healthz` for orchestration, `/metrics` in the Prometheus text
//! format, and the management API under `/api/` (crate `trident-management`).

use std::fmt::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use trident_engine::{Engine, Metrics};

#[derive(Clone)]
pub struct HttpState {
    pub engine: Engine,
    /// The MQTT listener's counters, when it runs.
    pub mqtt: Option<Arc<trident_mqtt::MqttStats>>,
    /// Set once every configured listener is accepting.
    pub ready: Arc<AtomicBool>,
}

/// Health and metrics (no authentication, as orchestrators and scrapers expect), and
/// the authenticated management API.
pub fn router(state: HttpState, api: trident_management::Api) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .with_state(state)
        .merge(trident_management::router(api))
}

async fn healthz(State(s): State<HttpState>) -> impl IntoResponse {
    if s.ready.load(Ordering::Acquire) {
        (StatusCode::OK, "ok\n")
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "starting\n")
    }
}

async fn metrics(State(s): State<HttpState>) -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], {
        let mut out = render_metrics(&s.engine);
        if let Some(m) = &s.mqtt {
            render_mqtt(&mut out, m);
        }
        out
    })
}

/// The MQTT listener's figures (the same ones `$SYS/broker/...` publishes, and the
/// refusals and drops the adapter counts).
pub fn render_mqtt(out: &mut String, m: &trident_mqtt::MqttStats) {
    use trident_mqtt::MqttStats as S;
    let rows: [(&str, &str, &str, u64); 10] = [
        (
            "trident_mqtt_connections",
            "gauge",
            "MQTT connections open",
            S::get(&m.connections_open),
        ),
        (
            "trident_mqtt_connections_total",
            "counter",
            "MQTT connections accepted (CONNECT)",
            S::get(&m.connections_total),
        ),
        (
            "trident_mqtt_messages_received_total",
            "counter",
            "PUBLISH packets received",
            S::get(&m.messages_received),
        ),
        (
            "trident_mqtt_messages_sent_total",
            "counter",
            "PUBLISH packets sent",
            S::get(&m.messages_sent),
        ),
        (
            "trident_mqtt_bytes_received_total",
            "counter",
            "bytes read from MQTT clients",
            S::get(&m.bytes_received),
        ),
        (
            "trident_mqtt_bytes_sent_total",
            "counter",
            "bytes written to MQTT clients",
            S::get(&m.bytes_sent),
        ),
        (
            "trident_mqtt_publishes_refused_total",
            "counter",
            "QoS 1/2 publishes refused (a full session queue, a storage failure)",
            S::get(&m.publishes_refused),
        ),
        (
            "trident_mqtt_deliveries_dropped_total",
            "counter",
            "deliveries dropped: larger than the client's maximum packet size, or expired",
            S::get(&m.deliveries_dropped),
        ),
        (
            "trident_mqtt_wills_published_total",
            "counter",
            "wills published",
            S::get(&m.wills_published),
        ),
        (
            "trident_mqtt_sessions_taken_over_total",
            "counter",
            "connections closed because another took their client id",
            S::get(&m.sessions_taken_over),
        ),
    ];
    for (name, kind, help, v) in rows {
        let _ = writeln!(
            out,
            "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {v}"
        );
    }
}

/// A gauge family: metric name, help text, and how to read it from one item.
type Gauge<T> = (&'static str, &'static str, fn(&T) -> u64);

/// Escapes a label value as the exposition format requires.
fn label(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

pub fn render_metrics(engine: &Engine) -> String {
    let m = engine.metrics();
    let mut out = String::with_capacity(4096);
    let counters: [(&str, &str, u64); 13] = [
        (
            "trident_connections_opened_total",
            "client connections accepted",
            Metrics::get(&m.connections_opened),
        ),
        (
            "trident_messages_published_total",
            "messages published to exchanges",
            Metrics::get(&m.messages_published),
        ),
        (
            "trident_bytes_published_total",
            "body bytes published to exchanges",
            Metrics::get(&m.bytes_published),
        ),
        (
            "trident_messages_unroutable_total",
            "published messages that matched no queue",
            Metrics::get(&m.messages_unroutable),
        ),
        (
            "trident_messages_delivered_total",
            "messages delivered from queues",
            Metrics::get(&m.messages_delivered),
        ),
        (
            "trident_messages_acked_total",
            "deliveries acknowledged",
            Metrics::get(&m.messages_acked),
        ),
        (
            "trident_messages_dead_lettered_total",
            "messages dead-lettered",
            Metrics::get(&m.messages_dead_lettered),
        ),
        (
            "trident_messages_expired_total",
            "messages expired by TTL",
            Metrics::get(&m.messages_expired),
        ),
        (
            "trident_records_appended_total",
            "records appended to partition logs",
            Metrics::get(&m.records_appended),
        ),
        (
            "trident_log_bytes_appended_total",
            "bytes appended to partition logs",
            Metrics::get(&m.bytes_appended),
        ),
        (
            "trident_records_fetched_total",
            "records read from partition logs",
            Metrics::get(&m.records_fetched),
        ),
        (
            "trident_meta_writes_total",
            "adapter-state and retained-message writes committed",
            Metrics::get(&m.meta_writes),
        ),
        (
            "trident_meta_commits_total",
            "fsynced commits those writes took (group commit)",
            Metrics::get(&m.meta_commits),
        ),
    ];
    for (name, help, value) in counters {
        let _ = writeln!(
            out,
            "# HELP {name} {help}\n# TYPE {name} counter\n{name} {value}"
        );
    }
    let _ = writeln!(
        out,
        "# HELP trident_connections open client connections\n# TYPE trident_connections gauge\ntrident_connections {}",
        m.connections_open()
    );
    let stats = engine.stats();
    render_overflow(&mut out, m, &stats);
    let queue_gauges: [Gauge<trident_engine::QueueStats>; 3] = [
        (
            "trident_queue_messages_ready",
            "messages ready in a queue",
            |s| s.ready,
        ),
        (
            "trident_queue_messages_unacked",
            "deliveries awaiting acknowledgement",
            |s| s.unacked,
        ),
        (
            "trident_queue_consumers",
            "consumers attached to a queue",
            |s| u64::from(s.consumers),
        ),
    ];
    for (name, help, value) in queue_gauges {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge");
        for q in &stats.queues {
            let _ = writeln!(
                out,
                "{name}{{vhost=\"{}\",queue=\"{}\"}} {}",
                label(q.vhost.as_str()),
                label(q.name.as_str()),
                value(&q.stats)
            );
        }
    }
    let log_gauges: [Gauge<trident_engine::PartitionStats>; 2] = [
        (
            "trident_log_end_offset",
            "next offset of a partition",
            |p| p.high_watermark,
        ),
        (
            "trident_log_start_offset",
            "first retained offset of a partition",
            |p| p.log_start_offset,
        ),
    ];
    for (name, help, value) in log_gauges {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge");
        for p in &stats.partitions {
            let _ = writeln!(
                out,
                "{name}{{topic=\"{}\",partition=\"{}\"}} {}",
                label(p.topic.as_str()),
                p.partition,
                value(p)
            );
        }
    }
    let disk: u64 = stats.partitions.iter().map(|p| p.size_bytes).sum();
    let _ = writeln!(
        out,
        "# HELP trident_log_bytes_on_disk bytes of partition logs on disk\n# TYPE trident_log_bytes_on_disk gauge\ntrident_log_bytes_on_disk {disk}"
    );
    // Names as RabbitMQ's Prometheus plugin (rabbitmq_alarms_*), under our prefix.
    let a = engine.alarms().status();
    for (name, help, v) in [
        (
            "trident_alarms_memory_used_watermark",
            "1 while the memory alarm is raised",
            u64::from(a.mem_alarm),
        ),
        (
            "trident_alarms_free_disk_space_watermark",
            "1 while the disk free alarm is raised",
            u64::from(a.disk_free_alarm),
        ),
        (
            "trident_process_resident_memory_bytes",
            "resident memory the alarm compares",
            a.mem_used,
        ),
        (
            "trident_resident_memory_limit_bytes",
            "memory high watermark in bytes (0 = off)",
            a.mem_limit,
        ),
        (
            "trident_disk_space_available_bytes",
            "free disk under the data directory",
            a.disk_free,
        ),
        (
            "trident_disk_space_available_limit_bytes",
            "disk free low watermark in bytes (0 = off)",
            a.disk_free_limit,
        ),
    ] {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {v}");
    }
    let name = "trident_retained_messages";
    let _ = writeln!(
        out,
        "# HELP {name} messages retained per vhost (kept last values)\n# TYPE {name} gauge"
    );
    let mut vhosts = engine.vhost_names();
    vhosts.sort();
    for vhost in vhosts {
        if let Ok(v) = engine.vhost(vhost.as_str()) {
            let _ = writeln!(
                out,
                "{name}{{vhost=\"{}\"}} {}",
                label(vhost.as_str()),
                v.retained_count()
            );
        }
    }
    out
}

/// What queues lost to their length limits, engine-wide and per queue, by reason. Per
/// queue only for queues with a limit (the others cannot lose anything this way), so
/// that thousands of unlimited queues add no series.
fn render_overflow(out: &mut String, m: &Metrics, stats: &trident_engine::EngineStats) {
    let name = "trident_messages_dropped_total";
    let _ = writeln!(
        out,
        "# HELP {name} messages queues dropped or refused at their length limit, by reason\n# TYPE {name} counter"
    );
    for (reason, value) in [
        (
            "overflow_drop_head",
            Metrics::get(&m.messages_dropped_overflow),
        ),
        (
            "overflow_reject_publish",
            Metrics::get(&m.messages_rejected_overflow),
        ),
    ] {
        let _ = writeln!(out, "{name}{{reason=\"{reason}\"}} {value}");
    }
    let name = "trident_queue_messages_dropped_total";
    let _ = writeln!(
        out,
        "# HELP {name} messages one queue dropped or refused at its length limit, by reason\n# TYPE {name} counter"
    );
    for q in stats.queues.iter().filter(|q| q.length_limited) {
        for (reason, value) in [
            ("overflow_drop_head", q.stats.dropped_overflow),
            ("overflow_reject_publish", q.stats.rejected_overflow),
        ] {
            let _ = writeln!(
                out,
                "{name}{{vhost=\"{}\",queue=\"{}\",reason=\"{reason}\"}} {value}",
                label(q.vhost.as_str()),
                label(q.name.as_str()),
            );
        }
    }
}
