//! Wiring: open the engine, bind every listener, serve until a signal, shut down in
//! order (stop accepting, let connections finish, flush the engine).

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::Context;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinSet;
use trident_config::{Config, DurabilitySetting};
use trident_core::{Durability, TopicConfig};
use trident_engine::{Engine, EngineConfig};

use crate::http;

/// How long connections get to finish after a shutdown signal.
const DRAIN: Duration = Duration::from_secs(10);

fn engine_config(c: &Config) -> EngineConfig {
    let mut e = EngineConfig::new(&c.data_dir);
    e.durability = match c.durability {
        DurabilitySetting::Fsync => Durability::Fsync,
        DurabilitySetting::Interval => Durability::Interval {
            interval_ms: c.fsync_interval_ms,
        },
        DurabilitySetting::Never => Durability::Never,
    };
    // Unset limits keep the engine's defaults (defined once, in the engine).
    let size = |v: u64| usize::try_from(v).unwrap_or(usize::MAX);
    if let Some(v) = c.limits.max_message_bytes {
        e.max_message_bytes = size(v);
    }
    if let Some(v) = c.limits.queue_memory_bytes {
        e.queue_memory_bytes = size(v);
    }
    if let Some(v) = c.limits.queue_memory_messages {
        e.queue_memory_messages = size(v);
    }
    e.auto_create_topics = c.kafka.auto_create_topics;
    e.retention_check_ms = c.topics.retention_check_ms;
    e.default_user = trident_engine::DefaultUser {
        name: c.auth.default_user.clone(),
        password: c.auth.default_pass.clone(),
    };
    e.default_topic = TopicConfig {
        partitions: c.topics.default_partitions,
        retention_ms: (c.topics.retention_ms >= 0).then_some(c.topics.retention_ms),
        retention_bytes: u64::try_from(c.topics.retention_bytes).ok(),
        segment_bytes: c.topics.segment_bytes,
        ..TopicConfig::default()
    };
    e
}

async fn bind(key: &str, addr: &str) -> anyhow::Result<TcpListener> {
    let addr: SocketAddr = addr
        .parse()
        .with_context(|| format!("setting '{key}' = {addr:?} is not an address"))?;
    TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen on {addr} (setting '{key}')"))
}

pub async fn run(config: Config) -> anyhow::Result<()> {
    let engine = Engine::open(engine_config(&config))
        .await
        .with_context(|| format!("opening the data directory {}", config.data_dir.display()))?;
    let (shutdown_tx, shutdown_rx) = watch::channel(false);
    let ready = Arc::new(AtomicBool::new(false));
    let mut tasks: JoinSet<()> = JoinSet::new();
    tasks.spawn(crate::alarms::monitor(
        engine.clone(),
        config.alarms.clone(),
        config.data_dir.clone(),
        shutdown_rx.clone(),
    ));
    // What /api/overview lists.
    let mut listeners: Vec<trident_management::Listener> = Vec::new();
    // Read before any port opens, so that a bad certificate stops the start cleanly.
    let tls = crate::tls::server_configs(&config)?;
    let tls_listener = |key: &'static str, addr: &Option<String>, http: bool| {
        let addr = addr.clone();
        let cfg = tls.as_ref().map(|t| {
            if http {
                t.http.clone()
            } else {
                t.protocols.clone()
            }
        });
        async move {
            match (addr, cfg) {
                (Some(a), Some(cfg)) => {
                    let l = trident_transport::Listener::tls(bind(key, &a).await?, cfg);
                    anyhow::Ok(Some(l))
                }
                _ => anyhow::Ok(None),
            }
        }
    };

    if config.amqp.enabled {
        let listener = bind("amqp.listen", &config.amqp.listen).await?;
        tracing::info!(addr = %listener.local_addr()?, "AMQP 0-9-1 listening");
        listeners.push(trident_management::Listener {
            protocol: "amqp".into(),
            addr: listener.local_addr()?,
        });
        let amqp = amqp_config(&config.amqp);
        if let Some(l) = tls_listener("amqp.tls_listen", &config.amqp.tls_listen, false).await? {
            let addr = l.local_addr()?;
            tracing::info!(%addr, "AMQPS (AMQP 0-9-1 over TLS) listening");
            listeners.push(trident_management::Listener {
                protocol: "amqp/ssl".into(),
                addr,
            });
            let (engine, rx, amqp) = (engine.clone(), shutdown_rx.clone(), amqp.clone());
            tasks.spawn(async move { trident_amqp::serve(l, engine, amqp, rx).await });
        }
        let (engine, rx) = (engine.clone(), shutdown_rx.clone());
        tasks.spawn(async move { trident_amqp::serve(listener, engine, amqp, rx).await });
    }
    if config.kafka.enabled {
        let listener = bind("kafka.listen", &config.kafka.listen).await?;
        let local = listener.local_addr()?;
        tracing::info!(addr = %local, "Kafka protocol listening");
        listeners.push(trident_management::Listener {
            protocol: "kafka".into(),
            addr: local,
        });
        let kafka = trident_kafka::KafkaConfig {
            advertised_host: config.kafka.advertised_host.clone(),
            advertised_port: if config.kafka.advertised_port == 0 {
                local.port()
            } else {
                config.kafka.advertised_port
            },
            sasl_required: config.kafka.sasl_required,
            ..trident_kafka::KafkaConfig::default()
        };
        let kafka = apply_kafka_knobs(kafka, &config.kafka);
        let tls_l = tls_listener("kafka.tls_listen", &config.kafka.tls_listen, false).await?;
        let mut shared = trident_kafka::Shared::new(engine.clone(), kafka, local.port());
        if let Some(l) = &tls_l {
            let addr = l.local_addr()?;
            shared.tls_port = if config.kafka.tls_advertised_port == 0 {
                addr.port()
            } else {
                config.kafka.tls_advertised_port
            };
            tracing::info!(%addr, "Kafka protocol over TLS (SSL / SASL_SSL) listening");
            listeners.push(trident_management::Listener {
                protocol: "kafka/ssl".into(),
                addr,
            });
        }
        let shared = Arc::new(shared);
        if let Some(l) = tls_l {
            let (shared, rx) = (shared.clone(), shutdown_rx.clone());
            tasks.spawn(async move { trident_kafka::serve_more(l, shared, rx).await });
        }
        let rx = shutdown_rx.clone();
        tasks.spawn(async move { trident_kafka::serve_with(listener, shared, rx).await });
    }
    let mut mqtt_stats = None;
    if config.mqtt.enabled {
        let listener = bind("mqtt.listen", &config.mqtt.listen).await?;
        tracing::info!(addr = %listener.local_addr()?, "MQTT 3.1/3.1.1/5.0 listening");
        listeners.push(trident_management::Listener {
            protocol: "mqtt".into(),
            addr: listener.local_addr()?,
        });
        let mqtt = apply_mqtt_knobs(trident_mqtt::MqttConfig::default(), &config.mqtt);
        let mut all = vec![trident_transport::Listener::plain(listener)];
        if let Some(l) = tls_listener("mqtt.tls_listen", &config.mqtt.tls_listen, false).await? {
            tracing::info!(addr = %l.local_addr()?, "MQTT over TLS listening");
            all.push(l);
        }
        let server = trident_mqtt::MqttServer::new(engine.clone(), mqtt);
        mqtt_stats = Some(server.stats());
        let rx = shutdown_rx.clone();
        tasks.spawn(async move {
            if let Err(e) = server.serve_all(all, rx).await {
                tracing::error!(error = %e, "MQTT listener stopped");
            }
        });
    }
    if config.http.enabled {
        let listener = bind("http.listen", &config.http.listen).await?;
        let local = listener.local_addr()?;
        tracing::info!(addr = %local, "HTTP (/healthz, /metrics, /api/) listening");
        listeners.push(trident_management::Listener {
            protocol: "http".into(),
            addr: local,
        });
        let api = trident_management::Api {
            engine: engine.clone(),
            listeners: listeners.clone(),
            node: format!("trident@{}", hostname()),
            rates: trident_management::Rates::start(engine.clone()),
        };
        let app = http::router(
            http::HttpState {
                engine: engine.clone(),
                mqtt: mqtt_stats.clone(),
                ready: ready.clone(),
            },
            api,
        )
        // The peer address decides loopback-only logins.
        .into_make_service_with_connect_info::<SocketAddr>();
        if let Some(l) = tls_listener("http.tls_listen", &config.http.tls_listen, true).await? {
            let addr = l.local_addr()?;
            tracing::info!(%addr, "HTTPS (/healthz, /metrics, /api/) listening");
            let https = crate::tls::HttpsListener::spawn(l, shutdown_rx.clone())?;
            let app = app.clone();
            let mut rx = shutdown_rx.clone();
            tasks.spawn(async move {
                let stop = async move {
                    let _ = rx.wait_for(|stop| *stop).await;
                };
                // tap_io: what gives a custom listener's peer address to ConnectInfo.
                let https = axum::serve::ListenerExt::tap_io(https, |_| {});
                if let Err(e) = axum::serve(https, app).with_graceful_shutdown(stop).await {
                    tracing::error!(error = %e, "HTTPS server failed");
                }
            });
        }
        let mut rx = shutdown_rx.clone();
        tasks.spawn(async move {
            let stop = async move {
                let _ = rx.wait_for(|stop| *stop).await;
            };
            if let Err(e) = axum::serve(listener, app)
                .with_graceful_shutdown(stop)
                .await
            {
                tracing::error!(error = %e, "HTTP server failed");
            }
        });
    }
    ready.store(true, Ordering::Release);
    tracing::info!(data_dir = %config.data_dir.display(), "trident ready");

    wait_for_signal().await;
    tracing::info!("shutting down: no new connections, draining");
    ready.store(false, Ordering::Release);
    let _ = shutdown_tx.send(true);
    if tokio::time::timeout(DRAIN, async { while tasks.join_next().await.is_some() {} })
        .await
        .is_err()
    {
        tracing::warn!("some connections did not finish in time; closing them");
        tasks.abort_all();
    }
    engine.shutdown().await;
    tracing::info!("trident stopped");
    Ok(())
}

/// The machine's name for the node name (`trident@host`), without a dependency: the
/// kernel's, else the environment's, else `localhost`.
fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "localhost".into())
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot watch SIGTERM; only Ctrl-C stops the broker");
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// Lays the AMQP settings given in the configuration over the adapter's defaults (which
/// are defined once, in the adapter).
fn amqp_config(s: &trident_config::AmqpSettings) -> trident_amqp::AmqpConfig {
    let mut a = trident_amqp::AmqpConfig::default();
    if let Some(v) = s.frame_max {
        a.frame_max = v;
    }
    if let Some(v) = s.channel_max {
        a.channel_max = v;
    }
    if let Some(v) = s.heartbeat_secs {
        a.heartbeat_secs = v;
    }
    if let Some(v) = s.max_connections {
        a.max_connections = usize::try_from(v).unwrap_or(usize::MAX);
    }
    if let Some(v) = s.flow_backlog {
        a.flow_backlog = v;
    }
    a
}

/// Lays the Kafka settings given in the configuration over the adapter's defaults
/// (which are defined once, in the adapter).
fn apply_kafka_knobs(
    mut k: trident_kafka::KafkaConfig,
    s: &trident_config::KafkaSettings,
) -> trident_kafka::KafkaConfig {
    let ms = std::time::Duration::from_millis;
    if let Some(n) = s.max_in_flight {
        k.max_in_flight = n as usize;
    }
    if let Some(n) = s.max_request_bytes {
        k.max_frame_bytes = n as usize;
    }
    if let Some(id) = s.node_id {
        k.node_id = id;
    }
    if let Some(id) = &s.cluster_id {
        k.cluster_id = id.clone();
    }
    if let Some(v) = s.group_initial_rebalance_delay_ms {
        k.groups.initial_rebalance_delay = ms(v);
    }
    if let Some(v) = s.group_min_session_timeout_ms {
        k.groups.min_session_timeout = ms(v);
    }
    if let Some(v) = s.group_max_session_timeout_ms {
        k.groups.max_session_timeout = ms(v);
    }
    k
}

/// Lays the MQTT settings given in the configuration over the adapter's defaults.
fn apply_mqtt_knobs(
    mut m: trident_mqtt::MqttConfig,
    s: &trident_config::MqttSettings,
) -> trident_mqtt::MqttConfig {
    if let Some(v) = &s.vhost {
        m.vhost.clone_from(v);
    }
    if let Some(v) = &s.exchange {
        m.exchange.clone_from(v);
    }
    if let Some(v) = s.max_packet_size {
        m.max_packet_size = v;
    }
    if let Some(v) = s.max_keep_alive_secs {
        m.max_keep_alive = v;
    }
    if let Some(v) = s.max_session_expiry_secs {
        m.max_session_expiry = v;
    }
    if let Some(v) = s.receive_maximum {
        m.receive_maximum = v;
    }
    if let Some(v) = s.max_inflight {
        m.max_inflight = v;
    }
    if let Some(v) = s.topic_alias_maximum {
        m.topic_alias_maximum = v;
    }
    if let Some(v) = s.max_queued_messages {
        m.max_queued_messages = v;
    }
    if let Some(v) = &s.queue_overflow {
        m.queue_overflow = if v == "drop-oldest" {
            trident_mqtt::QueueOverflow::DropOldest
        } else {
            trident_mqtt::QueueOverflow::Refuse
        };
    }
    if let Some(v) = s.allow_anonymous {
        m.allow_anonymous = v;
    }
    if let Some(v) = s.max_connections {
        m.max_connections = usize::try_from(v).unwrap_or(usize::MAX);
    }
    if let Some(v) = s.sys_interval_secs {
        m.sys_interval = Duration::from_secs(v);
    }
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unset_settings_keep_the_adapters_and_engines_defaults() {
        let c = Config::default();
        let a = amqp_config(&c.amqp);
        let d = trident_amqp::AmqpConfig::default();
        assert_eq!(
            (a.frame_max, a.channel_max, a.heartbeat_secs),
            (d.frame_max, d.channel_max, d.heartbeat_secs)
        );
        assert_eq!(
            (a.max_connections, a.flow_backlog),
            (d.max_connections, d.flow_backlog)
        );
        let e = engine_config(&c);
        let d = EngineConfig::new(&c.data_dir);
        assert_eq!(
            (
                e.max_message_bytes,
                e.queue_memory_bytes,
                e.queue_memory_messages
            ),
            (
                d.max_message_bytes,
                d.queue_memory_bytes,
                d.queue_memory_messages
            )
        );
    }

    #[test]
    fn set_settings_reach_the_adapter_and_the_engine() {
        let mut c = Config::default();
        c.amqp.frame_max = Some(8192);
        c.amqp.channel_max = Some(16);
        c.amqp.heartbeat_secs = Some(5);
        c.amqp.max_connections = Some(3);
        c.amqp.flow_backlog = Some(0);
        c.limits.max_message_bytes = Some(1000);
        c.limits.queue_memory_bytes = Some(2000);
        c.limits.queue_memory_messages = Some(30);
        let a = amqp_config(&c.amqp);
        assert_eq!(
            (a.frame_max, a.channel_max, a.heartbeat_secs),
            (8192, 16, 5)
        );
        assert_eq!((a.max_connections, a.flow_backlog), (3, 0));
        let e = engine_config(&c);
        assert_eq!(
            (
                e.max_message_bytes,
                e.queue_memory_bytes,
                e.queue_memory_messages
            ),
            (1000, 2000, 30)
        );
    }
}
