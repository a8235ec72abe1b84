//! One face on rumqttc's 3.1.1 and 5.0 clients, reduced to what the load scenarios need:
//! connect, subscribe, publish, and a stream of the few events that are counted.

use std::time::Duration;

use anyhow::{Result, anyhow, bail};
use bytes::Bytes;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Protocol {
    #[value(name = "311")]
    V311,
    #[value(name = "5")]
    V5,
}

/// What the scenarios count.
#[derive(Debug)]
pub enum Ev {
    /// A PUBLISH was written; its packet id (0 at QoS 0). rumqttc writes publishes in the
    /// order they were requested, so the n-th of these is the n-th publish.
    Sent(u16),
    /// PUBACK (QoS 1) or PUBCOMP (QoS 2) for a packet id: the broker owns the message.
    Acked(u16),
    SubAcked,
    Message(Bytes),
    Other,
}

#[derive(Debug, Clone)]
pub enum Client {
    V311(rumqttc::AsyncClient),
    V5(rumqttc::v5::AsyncClient),
}

pub enum Link {
    V311(Box<rumqttc::EventLoop>),
    V5(Box<rumqttc::v5::EventLoop>),
}

impl std::fmt::Debug for Link {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Link")
    }
}

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

/// Opens a connection and waits for a successful CONNACK. `inflight` bounds the
/// unacknowledged QoS 1/2 publishes (in 5.0 also by the broker's Receive Maximum);
/// `queue` is the client's request channel, kept small so that a saturated broker
/// pushes back on the publisher instead of messages piling up in the client.
/// `persistent` asks for a session that outlives the connection (3.1.1 clean session
/// off, 5.0 clean start off with a one-hour expiry): the broker then keeps the
/// subscriptions in durable queues and, at QoS 2, records packet ids before it answers.
pub async fn connect(
    proto: Protocol,
    addr: &str,
    id: &str,
    inflight: u16,
    queue: usize,
    persistent: bool,
) -> Result<(Client, Link)> {
    let (host, port) = addr
        .rsplit_once(':')
        .ok_or_else(|| anyhow!("--addr must be host:port"))?;
    let port: u16 = port.parse()?;
    let (client, mut link) = match proto {
        Protocol::V311 => {
            let mut o = rumqttc::MqttOptions::new(id, host, port);
            o.set_inflight(inflight.max(1))
                .set_keep_alive(Duration::from_secs(60))
                .set_max_packet_size(1 << 20, 1 << 20)
                .set_clean_session(!persistent);
            let (c, el) = rumqttc::AsyncClient::new(o, queue.max(1));
            (Client::V311(c), Link::V311(Box::new(el)))
        }
        Protocol::V5 => {
            let mut o = rumqttc::v5::MqttOptions::new(id, host, port);
            o.set_outgoing_inflight_upper_limit(inflight.max(1))
                .set_keep_alive(Duration::from_secs(60))
                .set_clean_start(!persistent);
            if persistent {
                o.set_session_expiry_interval(Some(3600));
            }
            let (c, el) = rumqttc::v5::AsyncClient::new(o, queue.max(1));
            (Client::V5(c), Link::V5(Box::new(el)))
        }
    };
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let connected = tokio::time::timeout_at(deadline, link.connack())
            .await
            .map_err(|_| anyhow!("no CONNACK from {addr} within 30 s"))??;
        if connected {
            return Ok((client, link));
        }
    }
}

impl Link {
    /// Next event; `Ok(true)` once a successful CONNACK arrived (connect only).
    async fn connack(&mut self) -> Result<bool> {
        match self {
            Link::V311(el) => match el.poll().await? {
                rumqttc::Event::Incoming(rumqttc::Packet::ConnAck(ca)) => {
                    if ca.code != rumqttc::ConnectReturnCode::Success {
                        bail!("CONNACK {:?}", ca.code);
                    }
                    Ok(true)
                }
                _ => Ok(false),
            },
            Link::V5(el) => {
                use rumqttc::v5::mqttbytes::v5::{ConnectReturnCode, Packet};
                match el.poll().await? {
                    rumqttc::v5::Event::Incoming(Packet::ConnAck(ca)) => {
                        if ca.code != ConnectReturnCode::Success {
                            bail!("CONNACK {:?}", ca.code);
                        }
                        Ok(true)
                    }
                    _ => Ok(false),
                }
            }
        }
    }

    pub async fn next(&mut self) -> Result<Ev> {
        use rumqttc::Outgoing;
        Ok(match self {
            Link::V311(el) => {
                use rumqttc::{Event, Packet};
                match el.poll().await? {
                    Event::Outgoing(Outgoing::Publish(id)) => Ev::Sent(id),
                    Event::Incoming(Packet::PubAck(a)) => Ev::Acked(a.pkid),
                    Event::Incoming(Packet::PubComp(a)) => Ev::Acked(a.pkid),
                    Event::Incoming(Packet::SubAck(_)) => Ev::SubAcked,
                    Event::Incoming(Packet::Publish(p)) => Ev::Message(p.payload),
                    _ => Ev::Other,
                }
            }
            Link::V5(el) => {
                use rumqttc::v5::Event;
                use rumqttc::v5::mqttbytes::v5::Packet;
                match el.poll().await? {
                    Event::Outgoing(Outgoing::Publish(id)) => Ev::Sent(id),
                    Event::Incoming(Packet::PubAck(a)) => Ev::Acked(a.pkid),
                    Event::Incoming(Packet::PubComp(a)) => Ev::Acked(a.pkid),
                    Event::Incoming(Packet::SubAck(_)) => Ev::SubAcked,
                    Event::Incoming(Packet::Publish(p)) => Ev::Message(p.payload),
                    _ => Ev::Other,
                }
            }
        })
    }
}

impl Client {
    pub async fn subscribe(&self, topic: &str, qos: u8) -> Result<()> {
        match self {
            Client::V311(c) => c.subscribe(topic, qos4(qos)).await?,
            Client::V5(c) => c.subscribe(topic, qos5(qos)).await?,
        }
        Ok(())
    }

    pub async fn publish(&self, topic: &str, qos: u8, body: Vec<u8>) -> Result<()> {
        match self {
            Client::V311(c) => c.publish(topic, qos4(qos), false, body).await?,
            Client::V5(c) => c.publish(topic, qos5(qos), false, body).await?,
        }
        Ok(())
    }

    pub async fn disconnect(&self) {
        // Errors mean the connection is already gone.
        match self {
            Client::V311(c) => drop(c.disconnect().await),
            Client::V5(c) => drop(c.disconnect().await),
        }
    }
}
