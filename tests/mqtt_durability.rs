//! MQTT state that must survive `kill -9`, over raw sockets with Trident's own codec
//! (the client side of it), so that the test controls every packet: a QoS 2 PUBLISH
//! acknowledged with PUBREC before the kill and sent again (DUP) after the restart is
//! released with PUBCOMP and delivered exactly once; a PUBREL the broker owed a
//! subscriber before the kill is sent again after it, and the message is not; a QoS 2
//! PUBLISH routed but not yet acknowledged when the broker is killed, resent (DUP)
//! after the restart, reaches a persistent subscriber once, also when that subscriber
//! had consumed it before the kill; an outgoing QoS 2 PUBLISH the subscriber did not
//! answer before the kill comes again with the same packet id and DUP. (Also one
//! flow-control case that needs raw packets: publishes pipelined beyond the Receive
//! Maximum.)

mod support;

use std::net::SocketAddr;
use std::time::Duration;

use bytes::BytesMut;
use support::Broker;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use trident_mqtt::codec::{
    Connect, Decoder, Packet, PacketId, ProtocolVersion, PubComp, PubRec, PubRel, Publish, QoS,
    Subscribe, Subscription, SubscriptionOptions, encode,
};

const WAIT: Duration = Duration::from_secs(10);

struct Raw {
    stream: TcpStream,
    buf: BytesMut,
    decoder: Decoder,
    version: ProtocolVersion,
}

impl Raw {
    /// Connects with a persistent session; returns it and CONNACK's session present.
    async fn connect(addr: SocketAddr, v: ProtocolVersion, id: &str) -> (Raw, bool) {
        Self::connect_as(addr, v, id, false).await
    }

    async fn connect_as(
        addr: SocketAddr,
        v: ProtocolVersion,
        id: &str,
        clean: bool,
    ) -> (Raw, bool) {
        let stream = TcpStream::connect(addr).await.expect("connect");
        let mut raw = Raw {
            stream,
            buf: BytesMut::new(),
            decoder: Decoder::client(v),
            version: v,
        };
        let mut c = Connect::new(v, id);
        c.clean_start = clean;
        c.keep_alive = 60;
        if v.is_v5() && !clean {
            c.properties.session_expiry_interval = Some(3600);
        }
        raw.send(&Packet::Connect(Box::new(c))).await;
        match raw.recv().await {
            Packet::ConnAck(a) => {
                assert!(!a.code.is_error(), "CONNACK {:?}", a.code);
                (raw, a.session_present)
            }
            other => panic!("expected CONNACK, got {other:?}"),
        }
    }

    async fn send(&mut self, p: &Packet) {
        let mut out = BytesMut::new();
        encode(p, self.version, &mut out).expect("encode");
        self.stream.write_all(&out).await.expect("write");
    }

    async fn recv(&mut self) -> Packet {
        self.try_recv(WAIT).await.expect("a packet in time")
    }

    async fn try_recv(&mut self, wait: Duration) -> Option<Packet> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            if let Some(p) = self.decoder.decode(&mut self.buf).expect("decodable") {
                return Some(p);
            }
            let n = tokio::time::timeout_at(deadline, self.stream.read_buf(&mut self.buf))
                .await
                .ok()?
                .expect("read");
            if n == 0 {
                return None;
            }
        }
    }
}

fn pid(n: u16) -> PacketId {
    PacketId::new(n).expect("non-zero")
}

fn qos2(topic: &str, id: u16, dup: bool) -> Packet {
    let mut p = Publish::new(topic, &b"exactly once"[..]);
    p.qos = QoS::ExactlyOnce;
    p.packet_id = Some(pid(id));
    p.dup = dup;
    Packet::Publish(p)
}

async fn qos2_release_survives_kill9(v: ProtocolVersion) {
    let mut broker = Broker::start();
    let addr = broker.mqtt;
    let topic = format!("d/qos2/{}", v.level());
    // A persistent subscriber, offline while it all happens.
    let (mut sub, _) = Raw::connect(addr, v, "durable-sub").await;
    let s = Subscribe {
        packet_id: pid(1),
        subscriptions: vec![Subscription {
            filter: topic.clone(),
            options: SubscriptionOptions::new(QoS::ExactlyOnce),
        }],
        properties: Default::default(),
    };
    sub.send(&Packet::Subscribe(s)).await;
    assert!(matches!(sub.recv().await, Packet::SubAck(_)));
    drop(sub);

    let (mut publisher, _) = Raw::connect(addr, v, "durable-pub").await;
    publisher.send(&qos2(&topic, 9, false)).await;
    match publisher.recv().await {
        Packet::PubRec(r) => assert_eq!(r.packet_id, pid(9)),
        other => panic!("expected PUBREC, got {other:?}"),
    }
    broker.kill9();
    broker.restart();

    // The client did not see PUBCOMP, so it sends the PUBLISH again ([MQTT-4.4.0-1]).
    let (mut publisher, present) = Raw::connect(addr, v, "durable-pub").await;
    assert!(present, "the publisher's session survived");
    publisher.send(&qos2(&topic, 9, true)).await;
    assert_eq!(publisher.recv().await, Packet::PubRec(PubRec::new(pid(9))));
    publisher.send(&Packet::PubRel(PubRel::new(pid(9)))).await;
    assert_eq!(
        publisher.recv().await,
        Packet::PubComp(PubComp::new(pid(9)))
    );

    let (mut sub, present) = Raw::connect(addr, v, "durable-sub").await;
    assert!(present, "the subscriber's session survived");
    let mut got = 0;
    while let Some(p) = sub.try_recv(Duration::from_millis(800)).await {
        if let Packet::Publish(m) = p {
            assert_eq!(&m.payload[..], b"exactly once");
            got += 1;
            let id = m.packet_id.expect("QoS 2");
            sub.send(&Packet::PubRec(PubRec::new(id))).await;
        }
    }
    assert_eq!(got, 1, "delivered exactly once across the kill");
    // /metrics has the MQTT figures of this broker process (the resent PUBLISH and the
    // subscriber's delivery since the restart).
    let metrics = broker.metrics();
    let figure = |name: &str| -> u64 {
        metrics
            .lines()
            .find_map(|l| l.strip_prefix(name)?.trim().parse().ok())
            .unwrap_or_else(|| panic!("{name} in /metrics"))
    };
    assert!(figure("trident_mqtt_messages_received_total ") >= 1);
    assert!(figure("trident_mqtt_messages_sent_total ") >= 1);
    assert_eq!(
        figure("trident_mqtt_connections "),
        2,
        "both clients connected"
    );
}

/// The other direction: the broker sent a QoS 2 message, the client answered PUBREC and
/// got PUBREL, then the broker was killed before PUBCOMP. After the restart the broker
/// sends PUBREL again and not the message ([MQTT-4.4.0-1], [MQTT-4.3.3-5]).
async fn owed_pubrel_survives_kill9(v: ProtocolVersion) {
    let mut broker = Broker::start();
    let addr = broker.mqtt;
    let topic = format!("d/out/{}", v.level());
    let (mut sub, _) = Raw::connect(addr, v, "out-sub").await;
    let s = Subscribe {
        packet_id: pid(1),
        subscriptions: vec![Subscription {
            filter: topic.clone(),
            options: SubscriptionOptions::new(QoS::ExactlyOnce),
        }],
        properties: Default::default(),
    };
    sub.send(&Packet::Subscribe(s)).await;
    assert!(matches!(sub.recv().await, Packet::SubAck(_)));
    let (mut publisher, _) = Raw::connect(addr, v, "out-pub").await;
    publisher.send(&qos2(&topic, 5, false)).await;
    assert!(matches!(publisher.recv().await, Packet::PubRec(_)));
    let id = match sub.recv().await {
        Packet::Publish(m) => m.packet_id.expect("QoS 2"),
        other => panic!("expected PUBLISH, got {other:?}"),
    };
    sub.send(&Packet::PubRec(PubRec::new(id))).await;
    assert_eq!(sub.recv().await, Packet::PubRel(PubRel::new(id)));
    broker.kill9();
    broker.restart();

    let (mut sub, present) = Raw::connect(addr, v, "out-sub").await;
    assert!(present);
    assert_eq!(
        sub.recv().await,
        Packet::PubRel(PubRel::new(id)),
        "PUBREL resent"
    );
    sub.send(&Packet::PubComp(PubComp::new(id))).await;
    while let Some(p) = sub.try_recv(Duration::from_millis(800)).await {
        assert!(
            !matches!(p, Packet::Publish(_)),
            "the message the client had PUBREC'd came again: {p:?}"
        );
    }
}

#[test]
fn owed_pubrel_survives_kill9_v311() {
    run(owed_pubrel_survives_kill9(ProtocolVersion::V3_1_1));
}

#[test]
fn owed_pubrel_survives_kill9_v5() {
    run(owed_pubrel_survives_kill9(ProtocolVersion::V5));
}

/// Flow control, not durability, but it needs raw packets too: a client that writes
/// more QoS 1 publishes in one go than the broker's Receive Maximum (1024) and only then
/// reads gets every PUBACK. The broker stops reading at its limit; the packets already
/// in its buffer must be taken up again when confirmations come back, not only when more
/// bytes arrive (none will: the client waits for its acknowledgements).
async fn pipelined_publishes_beyond_the_receive_maximum(v: ProtocolVersion) {
    let broker = Broker::start();
    let (mut publisher, _) = Raw::connect(broker.mqtt, v, "pipeliner").await;
    let n: u16 = 1500;
    let mut burst = BytesMut::new();
    for id in 1..=n {
        let mut p = Publish::new("flow/pipelined", &b"x"[..]);
        p.qos = QoS::AtLeastOnce;
        p.packet_id = Some(pid(id));
        encode(&Packet::Publish(p), v, &mut burst).expect("encode");
    }
    publisher.stream.write_all(&burst).await.expect("write");
    let mut acked = std::collections::HashSet::new();
    while acked.len() < usize::from(n) {
        match publisher.recv().await {
            Packet::PubAck(a) => {
                acked.insert(a.packet_id);
            }
            other => panic!("expected PUBACK, got {other:?}"),
        }
    }
}

#[test]
fn pipelined_publishes_beyond_the_receive_maximum_v311() {
    run(pipelined_publishes_beyond_the_receive_maximum(
        ProtocolVersion::V3_1_1,
    ));
}

fn run(f: impl std::future::Future<Output = ()>) {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(f)
}

#[test]
fn qos2_release_survives_kill9_v311() {
    run(qos2_release_survives_kill9(ProtocolVersion::V3_1_1));
}

#[test]
fn qos2_release_survives_kill9_v5() {
    run(qos2_release_survives_kill9(ProtocolVersion::V5));
}

async fn subscribe(c: &mut Raw, filter: &str) {
    let s = Subscribe {
        packet_id: pid(1),
        subscriptions: vec![Subscription {
            filter: filter.to_string(),
            options: SubscriptionOptions::new(QoS::ExactlyOnce),
        }],
        properties: Default::default(),
    };
    c.send(&Packet::Subscribe(s)).await;
    assert!(matches!(c.recv().await, Packet::SubAck(_)));
}

/// Waits for the next PUBLISH, answering nothing.
async fn next_publish(c: &mut Raw) -> Publish {
    loop {
        if let Packet::Publish(m) = c.recv().await {
            return m;
        }
    }
}

/// Takes what a QoS 2 subscriber is sent until it goes quiet, completing every
/// exchange; returns the payloads.
async fn drain_qos2(c: &mut Raw) -> Vec<Vec<u8>> {
    let mut got = Vec::new();
    while let Some(p) = c.try_recv(Duration::from_millis(1500)).await {
        match p {
            Packet::Publish(m) => {
                got.push(m.payload.to_vec());
                let id = m.packet_id.expect("QoS 2");
                c.send(&Packet::PubRec(PubRec::new(id))).await;
            }
            Packet::PubRel(r) => c.send(&Packet::PubComp(PubComp::new(r.packet_id))).await,
            _ => {}
        }
    }
    got
}

/// The publisher resends its unacknowledged QoS 2 PUBLISH after the restart, and
/// completes the exchange.
async fn resend_after_restart(addr: SocketAddr, v: ProtocolVersion, client: &str, topic: &str) {
    resend_after_restart_as(addr, v, client, topic, true).await;
}

/// The same, the resend's DUP flag as given (paho-mqtt resends some without it).
async fn resend_after_restart_as(
    addr: SocketAddr,
    v: ProtocolVersion,
    client: &str,
    topic: &str,
    dup: bool,
) {
    let (mut publisher, present) = Raw::connect(addr, v, client).await;
    assert!(present, "the publisher's session survived");
    publisher.send(&qos2(topic, 9, dup)).await;
    assert_eq!(publisher.recv().await, Packet::PubRec(PubRec::new(pid(9))));
    publisher.send(&Packet::PubRel(PubRel::new(pid(9)))).await;
    assert_eq!(
        publisher.recv().await,
        Packet::PubComp(PubComp::new(pid(9)))
    );
}

/// The broker is killed once the message is routed (an online watcher got it) and
/// before the publisher reads any answer; the persistent subscriber, offline all along,
/// gets it once after the publisher resends it.
async fn routed_not_acknowledged_qos2_is_stored_once(v: ProtocolVersion) {
    let mut broker = Broker::start();
    let addr = broker.mqtt;
    let topic = format!("d/once/{}", v.level());
    let (mut sub, _) = Raw::connect(addr, v, "once-sub").await;
    subscribe(&mut sub, &topic).await;
    drop(sub);
    let (mut watcher, _) = Raw::connect_as(addr, v, "once-watch", true).await;
    subscribe(&mut watcher, &topic).await;
    let (mut publisher, _) = Raw::connect(addr, v, "once-pub").await;
    publisher.send(&qos2(&topic, 9, false)).await;
    let seen = next_publish(&mut watcher).await;
    assert_eq!(&seen.payload[..], b"exactly once");
    broker.kill9();
    drop((publisher, watcher));
    broker.restart();

    resend_after_restart(addr, v, "once-pub", &topic).await;
    let (mut sub, present) = Raw::connect(addr, v, "once-sub").await;
    assert!(present);
    assert_eq!(
        drain_qos2(&mut sub).await,
        vec![b"exactly once".to_vec()],
        "one copy across the kill and the resend"
    );
}

#[test]
fn routed_not_acknowledged_qos2_is_stored_once_v311() {
    run(routed_not_acknowledged_qos2_is_stored_once(
        ProtocolVersion::V3_1_1,
    ));
}

#[test]
fn routed_not_acknowledged_qos2_is_stored_once_v5() {
    run(routed_not_acknowledged_qos2_is_stored_once(
        ProtocolVersion::V5,
    ));
}

/// As above, but the persistent subscriber is online and completes the whole exchange
/// (its queue acknowledges and removes the message) before the kill: the resend after
/// the restart must not bring the message back.
async fn qos2_consumed_before_the_kill_is_not_stored_again(v: ProtocolVersion) {
    let mut broker = Broker::start();
    let addr = broker.mqtt;
    let topic = format!("d/consumed/{}", v.level());
    let (mut sub, _) = Raw::connect(addr, v, "consumed-sub").await;
    subscribe(&mut sub, &topic).await;
    let (mut publisher, _) = Raw::connect(addr, v, "consumed-pub").await;
    publisher.send(&qos2(&topic, 9, false)).await;
    let m = next_publish(&mut sub).await;
    let id = m.packet_id.expect("QoS 2");
    sub.send(&Packet::PubRec(PubRec::new(id))).await;
    assert_eq!(sub.recv().await, Packet::PubRel(PubRel::new(id)));
    sub.send(&Packet::PubComp(PubComp::new(id))).await;
    // The PUBCOMP on its way in: give the broker a moment to settle the delivery.
    tokio::time::sleep(Duration::from_millis(300)).await;
    broker.kill9();
    drop((publisher, sub));
    broker.restart();

    resend_after_restart(addr, v, "consumed-pub", &topic).await;
    let (mut sub, present) = Raw::connect(addr, v, "consumed-sub").await;
    assert!(present);
    let again = drain_qos2(&mut sub).await;
    assert!(
        again.is_empty(),
        "consumed before the kill, delivered again: {again:?}"
    );
}

#[test]
fn qos2_consumed_before_the_kill_is_not_stored_again_v311() {
    run(qos2_consumed_before_the_kill_is_not_stored_again(
        ProtocolVersion::V3_1_1,
    ));
}

#[test]
fn qos2_consumed_before_the_kill_is_not_stored_again_v5() {
    run(qos2_consumed_before_the_kill_is_not_stored_again(
        ProtocolVersion::V5,
    ));
}

/// Outgoing: the subscriber got a QoS 2 PUBLISH and did not answer before the kill.
/// After the restart the broker sends it again with the same packet id and DUP, once
/// (under `durability = fsync` the id was recorded before the PUBLISH went out).
async fn unanswered_outgoing_qos2_keeps_its_packet_id(v: ProtocolVersion) {
    let mut broker = Broker::start();
    let addr = broker.mqtt;
    let topic = format!("d/outid/{}", v.level());
    let (mut sub, _) = Raw::connect(addr, v, "outid-sub").await;
    subscribe(&mut sub, &topic).await;
    let (mut publisher, _) = Raw::connect(addr, v, "outid-pub").await;
    publisher.send(&qos2(&topic, 3, false)).await;
    assert!(matches!(publisher.recv().await, Packet::PubRec(_)));
    let first = next_publish(&mut sub).await;
    assert!(!first.dup);
    broker.kill9();
    drop((publisher, sub));
    broker.restart();

    let (mut sub, present) = Raw::connect(addr, v, "outid-sub").await;
    assert!(present);
    let again = next_publish(&mut sub).await;
    assert_eq!(again.packet_id, first.packet_id, "the same packet id");
    assert!(again.dup, "marked DUP");
    let id = again.packet_id.expect("QoS 2");
    sub.send(&Packet::PubRec(PubRec::new(id))).await;
    assert!(
        drain_qos2(&mut sub).await.is_empty(),
        "sent once after the restart"
    );
}

#[test]
fn unanswered_outgoing_qos2_keeps_its_packet_id_v311() {
    run(unanswered_outgoing_qos2_keeps_its_packet_id(
        ProtocolVersion::V3_1_1,
    ));
}

#[test]
fn unanswered_outgoing_qos2_keeps_its_packet_id_v5() {
    run(unanswered_outgoing_qos2_keeps_its_packet_id(
        ProtocolVersion::V5,
    ));
}

fn qos2_with(topic: &str, id: u16, payload: &'static [u8]) -> Packet {
    let mut p = Publish::new(topic, payload);
    p.qos = QoS::ExactlyOnce;
    p.packet_id = Some(pid(id));
    Packet::Publish(p)
}

/// Outgoing: the subscriber completed a QoS 2 exchange (PUBREC, PUBREL, PUBCOMP) and
/// the broker has dropped its record of the id; after `kill -9` the message must not
/// come back as a new PUBLISH. The PUBREL goes out only once the queue has written
/// the delivery's ack, so the PUBCOMP's delete can never be on disk without it (the
/// MQTT soak found such copies, with a new packet id, under load). A second message
/// received before the kill shows the delete committed: its PUBLISH waited for its own
/// id's record, which the adapter store commits after the delete.
async fn completed_outgoing_qos2_is_not_sent_again(v: ProtocolVersion) {
    let mut broker = Broker::start();
    let addr = broker.mqtt;
    let topic = format!("d/completed/{}", v.level());
    let (mut sub, _) = Raw::connect(addr, v, "completed-sub").await;
    subscribe(&mut sub, &topic).await;
    let (mut publisher, _) = Raw::connect(addr, v, "completed-pub").await;
    publisher.send(&qos2_with(&topic, 3, b"first")).await;
    assert_eq!(publisher.recv().await, Packet::PubRec(PubRec::new(pid(3))));
    publisher.send(&Packet::PubRel(PubRel::new(pid(3)))).await;
    assert_eq!(
        publisher.recv().await,
        Packet::PubComp(PubComp::new(pid(3)))
    );
    let m = next_publish(&mut sub).await;
    assert_eq!(&m.payload[..], b"first");
    let id = m.packet_id.expect("QoS 2");
    sub.send(&Packet::PubRec(PubRec::new(id))).await;
    assert_eq!(sub.recv().await, Packet::PubRel(PubRel::new(id)));
    sub.send(&Packet::PubComp(PubComp::new(id))).await;
    publisher.send(&qos2_with(&topic, 4, b"second")).await;
    let second = next_publish(&mut sub).await;
    assert_eq!(&second.payload[..], b"second");
    broker.kill9();
    drop((publisher, sub));
    broker.restart();

    let (mut sub, present) = Raw::connect(addr, v, "completed-sub").await;
    assert!(present);
    assert_eq!(
        drain_qos2(&mut sub).await,
        vec![b"second".to_vec()],
        "the completed message came back, or the unanswered one did not"
    );
}

#[test]
fn completed_outgoing_qos2_is_not_sent_again_v311() {
    run(completed_outgoing_qos2_is_not_sent_again(
        ProtocolVersion::V3_1_1,
    ));
}

#[test]
fn completed_outgoing_qos2_is_not_sent_again_v5() {
    run(completed_outgoing_qos2_is_not_sent_again(
        ProtocolVersion::V5,
    ));
}

/// As `routed_not_acknowledged_qos2_is_stored_once`, the subscriber online and done with
/// the first copy before the kill, and the publisher's resend after the restart without
/// DUP: until PUBREL a PUBLISH with a recorded id is the same message ([MQTT-4.3.3-9]),
/// DUP or not, so it is routed with its recorded key and not stored again. (paho-mqtt
/// resent some this way in the crash soak, and each became a second copy.)
async fn resend_without_dup_of_a_recorded_id_is_not_stored_again(v: ProtocolVersion) {
    let mut broker = Broker::start();
    let addr = broker.mqtt;
    let topic = format!("d/nodup/{}", v.level());
    let (mut sub, _) = Raw::connect(addr, v, "nodup-sub").await;
    subscribe(&mut sub, &topic).await;
    let (mut publisher, _) = Raw::connect(addr, v, "nodup-pub").await;
    publisher.send(&qos2(&topic, 9, false)).await;
    let m = next_publish(&mut sub).await;
    let id = m.packet_id.expect("QoS 2");
    sub.send(&Packet::PubRec(PubRec::new(id))).await;
    assert_eq!(sub.recv().await, Packet::PubRel(PubRel::new(id)));
    sub.send(&Packet::PubComp(PubComp::new(id))).await;
    // The publisher never reads its PUBREC: the id stays recorded across the kill.
    broker.kill9();
    drop((publisher, sub));
    broker.restart();

    resend_after_restart_as(addr, v, "nodup-pub", &topic, false).await;
    let (mut sub, present) = Raw::connect(addr, v, "nodup-sub").await;
    assert!(present);
    let again = drain_qos2(&mut sub).await;
    assert!(
        again.is_empty(),
        "consumed before the kill, stored again by a resend without DUP: {again:?}"
    );
}

#[test]
fn resend_without_dup_of_a_recorded_id_is_not_stored_again_v311() {
    run(resend_without_dup_of_a_recorded_id_is_not_stored_again(
        ProtocolVersion::V3_1_1,
    ));
}

#[test]
fn resend_without_dup_of_a_recorded_id_is_not_stored_again_v5() {
    run(resend_without_dup_of_a_recorded_id_is_not_stored_again(
        ProtocolVersion::V5,
    ));
}
