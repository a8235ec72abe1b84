//! `$SYS/broker/...`: the statistics Mosquitto publishes, every `mqtt.sys_interval`,
//! through the same exchange as every message (topics starting with `$` are not
//! matched by leading wildcards, so `#` subscribers do not see them). Clients cannot
//! publish there (handlers/publish.rs drops such publishes).

use std::sync::Arc;
use std::time::Instant;

use tokio::sync::watch;

use crate::codec::{MessageProperties, QoS};
use crate::connection::Shared;
use crate::message::inbound;
use crate::stats::MqttStats;

pub(crate) async fn publish_loop(shared: Arc<Shared>, mut shutdown: watch::Receiver<bool>) {
    if shared.config.sys_interval.is_zero() {
        return;
    }
    let started = Instant::now();
    let mut tick = tokio::time::interval(shared.config.sys_interval);
    loop {
        tokio::select! {
            _ = tick.tick() => publish_once(&shared, started).await,
            r = shutdown.changed() => if r.is_err() || *shutdown.borrow() { return },
        }
    }
}

async fn publish_once(shared: &Shared, started: Instant) {
    let s = &shared.stats;
    let g = MqttStats::get;
    let figures = [
        ("clients/connected", g(&s.connections_open).to_string()),
        ("clients/total", g(&s.connections_total).to_string()),
        ("messages/received", g(&s.messages_received).to_string()),
        ("messages/sent", g(&s.messages_sent).to_string()),
        ("bytes/received", g(&s.bytes_received).to_string()),
        ("bytes/sent", g(&s.bytes_sent).to_string()),
        ("uptime", format!("{} seconds", started.elapsed().as_secs())),
        (
            "version",
            format!("trident version {}", env!("CARGO_PKG_VERSION")),
        ),
    ];
    for (name, value) in figures {
        let m = inbound(
            shared.exchange.as_str(),
            &format!("$SYS/broker/{name}"),
            QoS::AtMostOnce,
            false,
            &MessageProperties::default(),
            value.into(),
            None,
        );
        // Not a client's publish: kept out of the publish and unroutable counts
        // (with no `$SYS` subscriber each of these would count as unroutable).
        let _ = shared.vhost.publish_from_broker(m, &shared.exchange).await;
    }
}
