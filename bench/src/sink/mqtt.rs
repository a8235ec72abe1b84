//! An MQTT discard server on Trident's own sans-io codec: CONNECT answered with a
//! successful CONNACK (in the client's version), PUBLISH counted and dropped with the
//! acknowledgement its QoS calls for (PUBACK; PUBREC then PUBCOMP on PUBREL),
//! PINGREQ answered; everything else ignored.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::BytesMut;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use trident_mqtt::codec::{
    ConnAck, Decoder, MAX_PACKET_SIZE, Packet, PubAck, PubComp, PubRec, QoS, ReasonCode,
    decode_connect, encode,
};

use super::Sink;

pub async fn start() -> std::io::Result<Sink> {
    super::listen(serve).await
}

async fn serve(mut s: TcpStream, received: Arc<AtomicU64>) {
    let _ = session(&mut s, &received).await;
}

async fn session(s: &mut TcpStream, received: &AtomicU64) -> std::io::Result<()> {
    let mut buf = BytesMut::with_capacity(256 * 1024);
    let connect = loop {
        match decode_connect(&mut buf, MAX_PACKET_SIZE) {
            Ok(Some(c)) => break c,
            Ok(None) => {
                if s.read_buf(&mut buf).await? == 0 {
                    return Ok(());
                }
            }
            Err(_) => return Ok(()),
        }
    };
    let version = connect.version;
    let mut out = BytesMut::new();
    let ack = Packet::ConnAck(Box::new(ConnAck::new(ReasonCode::Success, false)));
    if encode(&ack, version, &mut out).is_err() {
        return Ok(());
    }
    let decoder = Decoder::server(version);
    loop {
        loop {
            let packet = match decoder.decode(&mut buf) {
                Ok(Some(p)) => p,
                Ok(None) => break,
                Err(_) => return Ok(()),
            };
            let reply = match packet {
                Packet::Publish(p) => {
                    received.fetch_add(1, Ordering::Relaxed);
                    match (p.qos, p.packet_id) {
                        (QoS::AtLeastOnce, Some(id)) => Some(Packet::PubAck(PubAck::new(id))),
                        (QoS::ExactlyOnce, Some(id)) => Some(Packet::PubRec(PubRec::new(id))),
                        _ => None,
                    }
                }
                Packet::PubRel(r) => Some(Packet::PubComp(PubComp::new(r.packet_id))),
                Packet::PingReq => Some(Packet::PingResp),
                Packet::Disconnect(_) => return Ok(()),
                _ => None,
            };
            if let Some(r) = reply
                && encode(&r, version, &mut out).is_err()
            {
                return Ok(());
            }
        }
        if !out.is_empty() {
            s.write_all(&out).await?;
            out.clear();
        }
        if s.read_buf(&mut buf).await? == 0 {
            return Ok(());
        }
    }
}
