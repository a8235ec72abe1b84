//! The first packet: read a CONNECT within `connect_timeout`, or answer the refusal the
//! codec names (a CONNACK in the client's own version where the spec wants one) and
//! give up.

use bytes::BytesMut;

use crate::codec::{ConnAck, Connect, Packet, ProtocolVersion, decode_connect, encode};
use crate::config::MqttConfig;
use crate::connection::Io;

/// Why no CONNECT was read.
#[derive(Debug, thiserror::Error)]
pub(crate) enum HandshakeError {
    #[error("the client closed the connection before CONNECT")]
    Closed,
    #[error("no CONNECT within the connect timeout")]
    Timeout,
    #[error("socket error: {0}")]
    Io(#[from] std::io::Error),
    #[error("refused CONNECT: {0}")]
    Refused(crate::codec::ConnectError),
}

pub(crate) async fn read_connect(
    io: &mut Io,
    config: &MqttConfig,
) -> Result<Connect, HandshakeError> {
    let read = async {
        loop {
            match decode_connect(&mut io.inbuf, config.max_packet_size) {
                Ok(Some(c)) => return Ok(c),
                Ok(None) => {
                    if io.read_some().await? == 0 {
                        return Err(HandshakeError::Closed);
                    }
                }
                Err(e) => {
                    if let Some(refusal) = e.connack() {
                        let mut out = BytesMut::new();
                        let ack = Packet::ConnAck(Box::new(ConnAck::new(refusal.code, false)));
                        if encode(&ack, refusal.version, &mut out).is_ok() {
                            let _ = io.write_all(&mut out).await;
                        }
                    }
                    return Err(HandshakeError::Refused(e));
                }
            }
        }
    };
    match tokio::time::timeout(config.connect_timeout, read).await {
        Ok(r) => r,
        Err(_) => Err(HandshakeError::Timeout),
    }
}

/// Sends a refusing CONNACK for a CONNECT that decoded but is not accepted.
pub(crate) async fn refuse(io: &mut Io, version: ProtocolVersion, ack: ConnAck) {
    let mut out = BytesMut::new();
    if encode(&Packet::ConnAck(Box::new(ack)), version, &mut out).is_ok() {
        let _ = io.write_all(&mut out).await;
    }
}
