//! One face on rumqttc's MQTT 3.1.1 (`rumqttc`) and 5.0 (`rumqttc::v5`) clients for the
//! end-to-end tests, so each scenario is written once and runs on both versions.
//!
//! rumqttc's `publish` returns when the request is queued, not when the broker has
//! acknowledged it; the event loop task here forwards PUBACK/PUBCOMP so a test can wait
//! until the broker has taken responsibility for every message. A connection never
//! reconnects: the first error ends its event loop, because a silent reconnect would hide
//! exactly the session behaviour under test.

#![allow(dead_code)] // the scenarios use different parts

use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio::time::{Instant, timeout};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Version {
    V311,
    V5,
}

/// A message as the subscriber received it.
#[derive(Clone, Debug)]
pub struct Msg {
    pub topic: String,
    pub payload: Bytes,
    pub qos: u8,
    pub retain: bool,
    pub dup: bool,
}

#[derive(Debug)]
enum Ack {
    /// PUBACK (QoS 1) or PUBCOMP (QoS 2): the broker owns the message.
    Published,
    /// SUBACK: the granted QoS per filter, `None` for a refused filter.
    Subscribed(Vec<Option<u8>>),
}

#[derive(Clone, Debug)]
pub struct Will {
    pub topic: String,
    pub payload: Vec<u8>,
    pub qos: u8,
    pub retain: bool,
}

/// What a connection is opened with.
#[derive(Clone, Debug)]
pub struct Opts {
    pub id: String,
    pub clean: bool,
    /// MQTT 5 Session Expiry Interval (seconds) sent when `clean` is false.
    pub session_expiry: u32,
    pub will: Option<Will>,
    /// Client-side limit of unacknowledged outgoing QoS 1/2 publishes.
    pub inflight: u16,
}

impl Opts {
    pub fn new(id: impl Into<String>) -> Opts {
        Opts {
            id: id.into(),
            clean: true,
            session_expiry: 0,
            will: None,
            inflight: 100,
        }
    }

    /// A session that outlives the connection (clean session / clean start off, and
    /// in 5.0 a one-hour session expiry).
    pub fn persistent(mut self) -> Opts {
        self.clean = false;
        self.session_expiry = 3600;
        self
    }

    pub fn will(mut self, topic: &str, payload: &[u8], qos: u8, retain: bool) -> Opts {
        self.will = Some(Will {
            topic: topic.into(),
            payload: payload.to_vec(),
            qos,
            retain,
        });
        self
    }
}

enum Handle {
    V311(rumqttc::AsyncClient),
    V5(rumqttc::v5::AsyncClient),
}

/// One open connection.
pub struct Conn {
    pub version: Version,
    pub session_present: bool,
    handle: Handle,
    msgs: mpsc::UnboundedReceiver<Msg>,
    acks: mpsc::UnboundedReceiver<Ack>,
    /// PUBACK/PUBCOMPs read while waiting for a SUBACK, not yet claimed.
    unclaimed_publish_acks: usize,
    task: JoinHandle<()>,
}

const WAIT: Duration = Duration::from_secs(20);

fn qos4(q: u8) -> rumqttc::QoS {
    match q {
        0 => rumqttc::QoS::AtMostOnce,
        1 => rumqttc::QoS::AtLeastOnce,
        _ => rumqttc::QoS::ExactlyOnce,
    }
}

fn qos5(q: u8) -> rumqttc::v5::mqttbytes::QoS {
    use rumqttc::v5::mqttbytes::QoS;
    match q {
        0 => QoS::AtMostOnce,
        1 => QoS::AtLeastOnce,
        _ => QoS::ExactlyOnce,
    }
}

type ConnackTx = oneshot::Sender<Result<bool, String>>;

async fn run_v311(
    mut el: rumqttc::EventLoop,
    connack: ConnackTx,
    msgs: mpsc::UnboundedSender<Msg>,
    acks: mpsc::UnboundedSender<Ack>,
) {
    use rumqttc::{Event, Packet, SubscribeReasonCode};
    let mut connack = Some(connack);
    loop {
        let packet = match el.poll().await {
            Ok(Event::Incoming(p)) => p,
            Ok(Event::Outgoing(_)) => continue,
            Err(e) => {
                if let Some(tx) = connack.take() {
                    let _ = tx.send(Err(e.to_string()));
                }
                return;
            }
        };
        match packet {
            Packet::ConnAck(ca) => {
                if let Some(tx) = connack.take() {
                    let ok = ca.code == rumqttc::ConnectReturnCode::Success;
                    let _ = tx.send(if ok {
                        Ok(ca.session_present)
                    } else {
                        Err(format!("{:?}", ca.code))
                    });
                }
            }
            Packet::Publish(p) => {
                let _ = msgs.send(Msg {
                    topic: p.topic.clone(),
                    payload: p.payload.clone(),
                    qos: p.qos as u8,
                    retain: p.retain,
                    dup: p.dup,
                });
            }
            Packet::PubAck(_) | Packet::PubComp(_) => {
                let _ = acks.send(Ack::Published);
            }
            Packet::SubAck(s) => {
                let codes = s.return_codes.iter().map(|c| match c {
                    SubscribeReasonCode::Success(q) => Some(*q as u8),
                    SubscribeReasonCode::Failure => None,
                });
                let _ = acks.send(Ack::Subscribed(codes.collect()));
            }
            _ => {}
        }
    }
}

async fn run_v5(
    mut el: rumqttc::v5::EventLoop,
    connack: ConnackTx,
    msgs: mpsc::UnboundedSender<Msg>,
    acks: mpsc::UnboundedSender<Ack>,
) {
    use rumqttc::v5::Event;
    use rumqttc::v5::mqttbytes::v5::{ConnectReturnCode, Packet, SubscribeReasonCode};
    let mut connack = Some(connack);
    loop {
        let packet = match el.poll().await {
            Ok(Event::Incoming(p)) => p,
            Ok(Event::Outgoing(_)) => continue,
            Err(e) => {
                if let Some(tx) = connack.take() {
                    let _ = tx.send(Err(e.to_string()));
                }
                return;
            }
        };
        match packet {
            Packet::ConnAck(ca) => {
                if let Some(tx) = connack.take() {
                    let ok = ca.code == ConnectReturnCode::Success;
                    let _ = tx.send(if ok {
                        Ok(ca.session_present)
                    } else {
                        Err(format!("{:?}", ca.code))
                    });
                }
            }
            Packet::Publish(p) => {
                let _ = msgs.send(Msg {
                    topic: String::from_utf8_lossy(&p.topic).into_owned(),
                    payload: p.payload.clone(),
                    qos: p.qos as u8,
                    retain: p.retain,
                    dup: p.dup,
                });
            }
            Packet::PubAck(_) | Packet::PubComp(_) => {
                let _ = acks.send(Ack::Published);
            }
            Packet::SubAck(s) => {
                let codes = s.return_codes.iter().map(|c| match c {
                    SubscribeReasonCode::Success(q) => Some(*q as u8),
                    _ => None,
                });
                let _ = acks.send(Ack::Subscribed(codes.collect()));
            }
            _ => {}
        }
    }
}

impl Conn {
    /// Connects and waits for a successful CONNACK; panics with the refusal otherwise.
    pub async fn open(addr: SocketAddr, version: Version, opts: &Opts) -> Conn {
        let (connack_tx, connack_rx) = oneshot::channel();
        let (msg_tx, msgs) = mpsc::unbounded_channel();
        let (ack_tx, acks) = mpsc::unbounded_channel();
        let host = addr.ip().to_string();
        let (handle, task) = match version {
            Version::V311 => {
                let mut o = rumqttc::MqttOptions::new(&opts.id, host, addr.port());
                o.set_clean_session(opts.clean)
                    .set_inflight(opts.inflight)
                    .set_keep_alive(Duration::from_secs(30));
                if let Some(w) = &opts.will {
                    o.set_last_will(rumqttc::LastWill::new(
                        &w.topic,
                        w.payload.clone(),
                        qos4(w.qos),
                        w.retain,
                    ));
                }
                let (client, el) = rumqttc::AsyncClient::new(o, 1024);
                let task = tokio::spawn(run_v311(el, connack_tx, msg_tx, ack_tx));
                (Handle::V311(client), task)
            }
            Version::V5 => {
                let mut o = rumqttc::v5::MqttOptions::new(&opts.id, host, addr.port());
                o.set_clean_start(opts.clean)
                    .set_outgoing_inflight_upper_limit(opts.inflight)
                    .set_keep_alive(Duration::from_secs(30));
                if !opts.clean {
                    o.set_session_expiry_interval(Some(opts.session_expiry));
                }
                if let Some(w) = &opts.will {
                    o.set_last_will(rumqttc::v5::mqttbytes::v5::LastWill::new(
                        &w.topic,
                        w.payload.clone(),
                        qos5(w.qos),
                        w.retain,
                        None,
                    ));
                }
                let (client, el) = rumqttc::v5::AsyncClient::new(o, 1024);
                let task = tokio::spawn(run_v5(el, connack_tx, msg_tx, ack_tx));
                (Handle::V5(client), task)
            }
        };
        let session_present = match timeout(WAIT, connack_rx).await {
            Ok(Ok(Ok(present))) => present,
            Ok(Ok(Err(e))) => panic!("{version:?} connect of {} to {addr} failed: {e}", opts.id),
            _ => panic!("no CONNACK from {addr} for {}", opts.id),
        };
        Conn {
            version,
            session_present,
            handle,
            msgs,
            acks,
            unclaimed_publish_acks: 0,
            task,
        }
    }

    /// Subscribes one filter and returns the granted QoS (`None` when refused).
    pub async fn subscribe(&mut self, filter: &str, qos: u8) -> Option<u8> {
        match &self.handle {
            Handle::V311(c) => c.subscribe(filter, qos4(qos)).await.expect("subscribe"),
            Handle::V5(c) => c.subscribe(filter, qos5(qos)).await.expect("subscribe"),
        }
        let deadline = Instant::now() + WAIT;
        loop {
            match timeout(deadline - Instant::now(), self.acks.recv()).await {
                Ok(Some(Ack::Subscribed(codes))) => return codes.first().copied().flatten(),
                Ok(Some(Ack::Published)) => self.unclaimed_publish_acks += 1,
                _ => panic!("no SUBACK for {filter}"),
            }
        }
    }

    /// Queues one publish (returns before the broker acknowledges it: see `wait_acks`).
    pub async fn publish(&self, topic: &str, payload: impl Into<Vec<u8>>, qos: u8, retain: bool) {
        let payload: Vec<u8> = payload.into();
        match &self.handle {
            Handle::V311(c) => c
                .publish(topic, qos4(qos), retain, payload)
                .await
                .expect("queue a publish"),
            Handle::V5(c) => c
                .publish(topic, qos5(qos), retain, payload)
                .await
                .expect("queue a publish"),
        }
    }

    /// Waits until `n` more QoS 1/2 publishes are acknowledged (PUBACK or PUBCOMP).
    pub async fn wait_acks(&mut self, n: usize) {
        let deadline = Instant::now() + WAIT;
        let mut got = 0;
        let claimed = self.unclaimed_publish_acks.min(n);
        self.unclaimed_publish_acks -= claimed;
        got += claimed;
        while got < n {
            match timeout(deadline - Instant::now(), self.acks.recv()).await {
                Ok(Some(Ack::Published)) => got += 1,
                Ok(Some(Ack::Subscribed(_))) => {}
                _ => panic!("only {got} of {n} publishes acknowledged within {WAIT:?}"),
            }
        }
    }

    /// The next message, or `None` if none arrives within `within`.
    pub async fn recv(&mut self, within: Duration) -> Option<Msg> {
        timeout(within, self.msgs.recv()).await.ok().flatten()
    }

    /// Exactly `n` messages within the default wait (panics when fewer arrive), then
    /// whatever else arrives in the following `settle` (duplicates would show there).
    pub async fn collect(&mut self, n: usize, settle: Duration) -> Vec<Msg> {
        let deadline = Instant::now() + WAIT;
        let mut got = Vec::with_capacity(n);
        while got.len() < n {
            match timeout(deadline - Instant::now(), self.msgs.recv()).await {
                Ok(Some(m)) => got.push(m),
                _ => panic!("received {} of {n} messages within {WAIT:?}", got.len()),
            }
        }
        while let Some(m) = self.recv(settle).await {
            got.push(m);
        }
        got
    }

    /// A clean DISCONNECT (the will is discarded); waits for the event loop to end.
    pub async fn disconnect(self) {
        // An error means the connection is already gone, which is what we want.
        match &self.handle {
            Handle::V311(c) => drop(c.disconnect().await),
            Handle::V5(c) => drop(c.disconnect().await),
        }
        let _ = timeout(Duration::from_secs(5), self.task).await;
    }

    /// Drops the socket without DISCONNECT: an abnormal disconnect for the broker.
    pub async fn abort(self) {
        self.task.abort();
        let _ = self.task.await;
    }

    /// Whether the event loop has ended (the broker closed the connection).
    pub fn is_closed(&self) -> bool {
        self.task.is_finished()
    }
}
