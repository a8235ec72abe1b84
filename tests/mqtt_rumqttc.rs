//! MQTT end to end with rumqttc, 3.1.1 and 5.0: each QoS with 100 messages in flight (no
//! loss; no duplicates at QoS 2; order per topic), retained messages, wills, offline
//! queueing for a persistent session, and the same session surviving a broker restart
//! and a `kill -9`.
//!
//! By default they
//! start the `trident` binary; `TRIDENT_TEST_MQTT=127.0.0.1:31883` points them at another
//! broker (e.g. Mosquitto) instead, and then the restart and `kill -9` tests, which need
//! the broker to be their own process, pass without running (they say so on stderr).
//! `TRIDENT_TEST_MQTT_PEER=mosquitto` marks known Mosquitto deviations (see
//! `deviation`).

mod mqtt_client;
mod support;

use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use mqtt_client::{Conn, Msg, Opts, Version};
use support::Broker;

/// The broker under test: our own `trident` process, or an external endpoint.
struct Target {
    addr: SocketAddr,
    broker: Option<Broker>,
}

fn target() -> Target {
    match std::env::var("TRIDENT_TEST_MQTT") {
        Ok(addr) => Target {
            addr: addr.parse().expect("TRIDENT_TEST_MQTT is host:port"),
            broker: None,
        },
        Err(_) => {
            let broker = Broker::start();
            Target {
                addr: broker.mqtt,
                broker: Some(broker),
            }
        }
    }
}

/// Names no other test (or earlier run against a long-lived broker) uses.
fn unique(name: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!(
        "{name}-{}-{nanos:x}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// A known deviation of the peer broker named by TRIDENT_TEST_MQTT_PEER: against it the
/// test reports instead of failing; against Trident it must hold.
fn deviation(peer: &str, what: &str) -> bool {
    let hit = std::env::var("TRIDENT_TEST_MQTT_PEER").is_ok_and(|p| p == peer);
    if hit {
        eprintln!("known {peer} deviation, reported not asserted: {what}");
    }
    hit
}

fn payload(seq: u32) -> Vec<u8> {
    let mut p = seq.to_be_bytes().to_vec();
    p.extend_from_slice(b"-trident-mqtt-e2e");
    p
}

fn seq_of(m: &Msg) -> u32 {
    let b: [u8; 4] = m.payload[..4].try_into().expect("a 4-byte sequence number");
    u32::from_be_bytes(b)
}

/// Checks loss, duplicates and order of `got` against 0..n on one topic. Returns
/// (missing, duplicates) so a caller can report a peer's deviation.
fn tally(got: &[Msg], n: u32) -> (Vec<u32>, usize) {
    let seqs: Vec<u32> = got.iter().map(seq_of).collect();
    let distinct: HashSet<u32> = seqs.iter().copied().collect();
    let missing = (0..n).filter(|s| !distinct.contains(s)).collect();
    (missing, seqs.len() - distinct.len())
}

/// Order per topic: the first deliveries of each sequence number are increasing (a QoS 1
/// redelivery may repeat an earlier one, but nothing overtakes).
fn assert_in_order(got: &[Msg]) {
    let mut seen = HashSet::new();
    let firsts: Vec<u32> = got.iter().map(seq_of).filter(|s| seen.insert(*s)).collect();
    assert!(
        firsts.windows(2).all(|w| w[0] < w[1]),
        "out of order: {firsts:?}"
    );
}

const SETTLE: Duration = Duration::from_millis(500);
const IN_FLIGHT: u32 = 100;

async fn qos_delivery(v: Version, qos: u8) {
    let t = target();
    let topic = unique("q/flow");
    let mut sub = Conn::open(t.addr, v, &Opts::new(unique("sub"))).await;
    assert_eq!(sub.subscribe(&topic, qos).await, Some(qos), "granted QoS");
    let mut publisher = Conn::open(t.addr, v, &Opts::new(unique("pub"))).await;
    // All 100 are queued before any acknowledgement is awaited: up to 100 in flight.
    for seq in 0..IN_FLIGHT {
        publisher.publish(&topic, payload(seq), qos, false).await;
    }
    if qos > 0 {
        publisher.wait_acks(IN_FLIGHT as usize).await;
    }
    let got = sub.collect(IN_FLIGHT as usize, SETTLE).await;
    let (missing, dups) = tally(&got, IN_FLIGHT);
    assert!(missing.is_empty(), "lost at QoS {qos}: {missing:?}");
    if qos == 2 {
        assert_eq!(dups, 0, "duplicates at QoS 2");
    }
    assert_in_order(&got);
    assert!(got.iter().all(|m| m.qos == qos && m.topic == topic));
    publisher.disconnect().await;
    sub.disconnect().await;
}

async fn retained(v: Version) {
    let t = target();
    let topic = unique("r/last");
    let mut live = Conn::open(t.addr, v, &Opts::new(unique("live"))).await;
    live.subscribe(&topic, 1).await;
    let mut p = Conn::open(t.addr, v, &Opts::new(unique("pub"))).await;
    p.publish(&topic, "one", 1, true).await;
    p.publish(&topic, "two", 1, true).await;
    p.wait_acks(2).await;
    // An existing subscription gets them as normal messages [MQTT-3.3.1-9].
    let forwarded = live.collect(2, Duration::ZERO).await;
    assert!(
        forwarded.iter().all(|m| !m.retain),
        "retain flag 0 when forwarded live"
    );

    let mut late = Conn::open(t.addr, v, &Opts::new(unique("late"))).await;
    late.subscribe(&topic, 1).await;
    let m = late
        .recv(Duration::from_secs(5))
        .await
        .expect("the retained message");
    assert_eq!(
        (&m.payload[..], m.retain),
        (&b"two"[..], true),
        "replaced, flagged"
    );
    assert!(
        late.recv(SETTLE).await.is_none(),
        "only the last value is retained"
    );

    p.publish(&topic, Vec::new(), 1, true).await; // an empty retained payload clears
    p.wait_acks(1).await;
    let mut after = Conn::open(t.addr, v, &Opts::new(unique("after"))).await;
    after.subscribe(&topic, 1).await;
    assert!(after.recv(SETTLE * 2).await.is_none(), "cleared");
    for c in [live, p, late, after] {
        c.disconnect().await;
    }
}

async fn will(v: Version) {
    let t = target();
    let topic = unique("w/status");
    let mut watcher = Conn::open(t.addr, v, &Opts::new(unique("watch"))).await;
    watcher.subscribe(&format!("{topic}/+"), 1).await;

    let opts = Opts::new(unique("dies")).will(&format!("{topic}/a"), b"gone", 1, false);
    Conn::open(t.addr, v, &opts).await.abort().await;
    let m = watcher
        .recv(Duration::from_secs(5))
        .await
        .expect("the will after an abnormal disconnect");
    assert_eq!(
        (m.topic.as_str(), &m.payload[..]),
        (&*format!("{topic}/a"), &b"gone"[..])
    );

    let opts = Opts::new(unique("leaves")).will(&format!("{topic}/b"), b"gone", 1, false);
    Conn::open(t.addr, v, &opts).await.disconnect().await;
    assert!(
        watcher.recv(Duration::from_millis(1500)).await.is_none(),
        "no will after a clean DISCONNECT"
    );
    watcher.disconnect().await;
}

/// Subscribes a persistent session to `topic`/q1 (QoS 1) and `topic`/q2 (QoS 2), goes
/// offline, has 20 of each published and acknowledged, and returns the session's id.
async fn fill_offline_session(addr: SocketAddr, v: Version, topic: &str) -> String {
    let id = unique("persist");
    let mut s = Conn::open(addr, v, &Opts::new(&id).persistent()).await;
    assert_eq!(s.subscribe(&format!("{topic}/q1"), 1).await, Some(1));
    assert_eq!(s.subscribe(&format!("{topic}/q2"), 2).await, Some(2));
    s.disconnect().await;
    let mut p = Conn::open(addr, v, &Opts::new(unique("pub"))).await;
    for seq in 0..20 {
        p.publish(&format!("{topic}/q1"), payload(seq), 1, false)
            .await;
        p.publish(&format!("{topic}/q2"), payload(seq), 2, false)
            .await;
    }
    p.wait_acks(40).await;
    p.disconnect().await;
    id
}

/// Reconnects the session: session present, and every queued message exactly as the
/// QoS promises, in order per topic.
async fn drain_offline_session(addr: SocketAddr, v: Version, topic: &str, id: &str) {
    let mut s = Conn::open(addr, v, &Opts::new(id).persistent()).await;
    assert!(s.session_present, "CONNACK session present = 1");
    let got = s.collect(40, SETTLE).await;
    for (suffix, qos) in [("q1", 1), ("q2", 2)] {
        let name = format!("{topic}/{suffix}");
        let on: Vec<Msg> = got.iter().filter(|m| m.topic == name).cloned().collect();
        let (missing, dups) = tally(&on, 20);
        assert!(missing.is_empty(), "{name}: lost {missing:?}");
        if qos == 2 {
            assert_eq!(dups, 0, "{name}: duplicates at QoS 2");
        }
        assert_in_order(&on);
        assert!(
            on.iter().all(|m| m.qos == qos),
            "{name}: delivered at QoS {qos}"
        );
    }
    s.disconnect().await;
}

async fn offline_queue(v: Version) {
    let t = target();
    let topic = unique("s/offline");
    let id = fill_offline_session(t.addr, v, &topic).await;
    drain_offline_session(t.addr, v, &topic, &id).await;
}

/// The broker process must be the test's own to restart it.
fn own_broker(t: &mut Target) -> Option<&mut Broker> {
    if t.broker.is_none() {
        eprintln!("not run: restarting needs our own trident process (TRIDENT_TEST_MQTT is set)");
    }
    t.broker.as_mut()
}

async fn survives(v: Version, kill9: bool) {
    let mut t = target();
    let addr = t.addr;
    let Some(broker) = own_broker(&mut t) else {
        return;
    };
    let topic = unique("s/restart");
    let id = fill_offline_session(addr, v, &topic).await;
    let mut p = Conn::open(addr, v, &Opts::new(unique("retainer"))).await;
    p.publish(&format!("{topic}/retained"), "kept", 1, true)
        .await;
    p.wait_acks(1).await;
    if kill9 {
        broker.kill9();
    } else {
        p.disconnect().await;
        broker.stop();
    }
    broker.restart();
    drain_offline_session(addr, v, &topic, &id).await;
    let mut late = Conn::open(addr, v, &Opts::new(unique("late"))).await;
    late.subscribe(&format!("{topic}/retained"), 1).await;
    let m = late
        .recv(Duration::from_secs(5))
        .await
        .expect("retained survives");
    assert_eq!(&m.payload[..], b"kept");
    late.disconnect().await;
}

fn run(scenario: impl std::future::Future<Output = ()>) {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime")
        .block_on(scenario)
}

macro_rules! on_both_versions {
    ($($(#[$attr:meta])* $name:ident => $body:expr;)*) => {$(
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            #[test]
            $(#[$attr])*
            fn v311() {
                run($body(Version::V311))
            }

            #[test]
            $(#[$attr])*
            fn v5() {
                run($body(Version::V5))
            }
        }
    )*};
}

on_both_versions! {
    qos0_100_messages_no_loss => |v| qos_delivery(v, 0);
    qos1_100_in_flight_no_loss => |v| qos_delivery(v, 1);
    qos2_100_in_flight_exactly_once => qos2_exactly_once;
    retained_set_replace_clear => retained;
    will_on_abnormal_disconnect_only => will;
    persistent_session_queues_while_offline => offline_queue;
    persistent_session_survives_restart => |v| survives(v, false);
    persistent_session_survives_kill9 => |v| survives(v, true);
}

/// QoS 2 with 100 in flight. Mosquitto 2.0 (max_inflight_messages 20) drops the QoS 2
/// publishes of a 3.1.1 client beyond its window instead of holding them: reported, not
/// asserted, against it.
async fn qos2_exactly_once(v: Version) {
    if v == Version::V311
        && deviation(
            "mosquitto",
            "drops QoS 2 publishes beyond max_inflight_messages 20",
        )
    {
        return qos2_report(v).await;
    }
    qos_delivery(v, 2).await
}

async fn qos2_report(v: Version) {
    let t = target();
    let topic = unique("q/flow2");
    let mut sub = Conn::open(t.addr, v, &Opts::new(unique("sub"))).await;
    sub.subscribe(&topic, 2).await;
    let p = Conn::open(t.addr, v, &Opts::new(unique("pub"))).await;
    for seq in 0..IN_FLIGHT {
        p.publish(&topic, payload(seq), 2, false).await;
    }
    let mut got = Vec::new();
    while let Some(m) = sub.recv(Duration::from_secs(3)).await {
        got.push(m);
    }
    let (missing, dups) = tally(&got, IN_FLIGHT);
    eprintln!(
        "QoS 2 with {IN_FLIGHT} in flight: {} received, {} lost, {dups} duplicated",
        got.len(),
        missing.len()
    );
}
