//! Connection negotiation (spec §2.2.4 "connection class"): protocol header,
//! start/start-ok with PLAIN or AMQPLAIN, tune/tune-ok, open/open-ok. Written as
//! straight-line code: nothing else can happen on a connection before it is open.

use std::net::SocketAddr;
use std::sync::Arc;

use bytes::BytesMut;
use trident_core::{FieldTable, FieldValue};
use trident_engine::{User, Vhost};

use super::Shared;
use super::io::{Io, ReadError};
use crate::codec::frame::{FRAME_MIN_SIZE, PROTOCOL_HEADER};
use crate::codec::table::read_table_entries;
use crate::codec::{ClientMethod, FrameType, ServerMethod, decode_method, put_method};
use crate::error::{AmqpError, code};

/// What the handshake settled.
#[derive(Debug)]
pub(crate) struct Negotiated {
    pub user: Arc<User>,
    pub vhost: Vhost,
    pub frame_max: u32,
    pub channel_max: u16,
    pub heartbeat: u16,
    pub caps: ClientCaps,
    /// `connection_name` (or else `product`) from client-properties, for operators.
    pub client_name: Option<String>,
}

/// Extensions the client said it understands (`client-properties.capabilities`).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct ClientCaps {
    pub consumer_cancel_notify: bool,
    pub connection_blocked: bool,
}

#[derive(Debug, thiserror::Error)]
pub(crate) enum HandshakeEnd {
    #[error("peer closed the connection")]
    Closed,
    #[error("i/o error: {0}")]
    Io(#[from] std::io::Error),
    #[error("wrong protocol header {0:?}")]
    BadHeader(Vec<u8>),
    #[error("refused: {0}")]
    Refused(AmqpError),
    #[error("client closed the connection during the handshake")]
    ClientClosed,
    #[error("no connection.open within the handshake timeout")]
    Timeout,
}

impl From<ReadError> for HandshakeEnd {
    fn from(e: ReadError) -> Self {
        match e {
            ReadError::Closed => HandshakeEnd::Closed,
            ReadError::Io(e) => HandshakeEnd::Io(e),
            ReadError::Frame(e) => HandshakeEnd::Refused(e.into()),
        }
    }
}

pub(crate) fn server_properties() -> FieldTable {
    let caps: FieldTable = [
        "publisher_confirms",
        "exchange_exchange_bindings",
        "basic.nack",
        "consumer_cancel_notify",
        "connection.blocked",
        "authentication_failure_close",
        "per_consumer_qos",
        "direct_reply_to",
    ]
    .into_iter()
    .map(|c| (c.to_string(), FieldValue::Bool(true)))
    .chain(std::iter::once((
        "consumer_priorities".to_string(),
        FieldValue::Bool(false),
    )))
    .collect();
    [
        ("product", FieldValue::from("Trident")),
        ("version", FieldValue::from(env!("CARGO_PKG_VERSION"))),
        ("platform", FieldValue::from("Rust")),
        (
            "information",
            FieldValue::from("AMQP 0-9-1, MQTT and Kafka over one engine"),
        ),
        ("capabilities", FieldValue::Table(caps)),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect()
}

pub(crate) async fn handshake(
    io: &mut Io,
    shared: &Shared,
    peer: SocketAddr,
) -> Result<Negotiated, HandshakeEnd> {
    match tokio::time::timeout(shared.config.handshake_timeout, negotiate(io, shared, peer)).await {
        Ok(Ok(n)) => Ok(n),
        Ok(Err(HandshakeEnd::Refused(e))) => {
            refuse(io, shared, &e).await;
            Err(HandshakeEnd::Refused(e))
        }
        Ok(Err(e)) => Err(e),
        Err(_) => Err(HandshakeEnd::Timeout),
    }
}

async fn negotiate(
    io: &mut Io,
    shared: &Shared,
    peer: SocketAddr,
) -> Result<Negotiated, HandshakeEnd> {
    io.fill(PROTOCOL_HEADER.len()).await?;
    if io.inbuf[..8] != PROTOCOL_HEADER {
        // Spec §4.2.2: answer with the protocol we do speak, then close.
        let got = io.inbuf[..8].to_vec();
        let mut out = BytesMut::from(&PROTOCOL_HEADER[..]);
        io.write_all(&mut out).await?;
        return Err(HandshakeEnd::BadHeader(got));
    }
    let _ = io.inbuf.split_to(8);

    let config = &shared.config;
    let mut out = BytesMut::with_capacity(512);
    let props = server_properties();
    put_method(
        &mut out,
        0,
        &ServerMethod::ConnectionStart {
            server_properties: &props,
            mechanisms: "PLAIN AMQPLAIN",
            locales: "en_US",
        },
    );
    io.write_all(&mut out).await?;

    // Until tuning is done frames may be as large as our own limit: start-ok carries
    // client properties, which some clients make generous.
    let frame_max = config.frame_max.max(FRAME_MIN_SIZE);
    let (client_properties, mechanism, response) = match next_method(io, frame_max).await? {
        ClientMethod::ConnectionStartOk {
            client_properties,
            mechanism,
            response,
            ..
        } => (client_properties, mechanism, response),
        other => return Err(unexpected(&other, "connection.start-ok")),
    };
    let caps = client_caps(&client_properties);
    let client_name =
        ["connection_name", "product"]
            .iter()
            .find_map(|k| match client_properties.get(k) {
                Some(FieldValue::LongString(s) | FieldValue::ShortString(s)) => Some(s.clone()),
                _ => None,
            });
    let user = authenticate(shared, &mechanism, &response, peer)?;

    put_method(
        &mut out,
        0,
        &ServerMethod::ConnectionTune {
            channel_max: config.channel_max,
            frame_max: config.frame_max,
            heartbeat: config.heartbeat_secs,
        },
    );
    io.write_all(&mut out).await?;
    let (channel_max, frame_max, heartbeat) = match next_method(io, frame_max).await? {
        ClientMethod::ConnectionTuneOk {
            channel_max,
            frame_max,
            heartbeat,
        } => (channel_max, frame_max, heartbeat),
        other => return Err(unexpected(&other, "connection.tune-ok")),
    };
    let (channel_max, frame_max) =
        check_tune(config.channel_max, config.frame_max, channel_max, frame_max)?;

    let vhost_name = match next_method(io, frame_max).await? {
        ClientMethod::ConnectionOpen { vhost } => vhost,
        other => return Err(unexpected(&other, "connection.open")),
    };
    let vhost = shared.engine.vhost(&vhost_name).map_err(|_| {
        HandshakeEnd::Refused(AmqpError::not_allowed(format!(
            "vhost '{vhost_name}' not found"
        )))
    })?;
    if user.permission(&vhost_name).is_none() {
        return Err(HandshakeEnd::Refused(AmqpError::not_allowed(format!(
            "access to vhost '{vhost_name}' refused for user '{}'",
            user.name
        ))));
    }
    put_method(&mut out, 0, &ServerMethod::ConnectionOpenOk);
    io.write_all(&mut out).await?;
    Ok(Negotiated {
        user,
        vhost,
        frame_max,
        channel_max,
        heartbeat,
        caps,
        client_name,
    })
}

/// The next method on channel 0, skipping heartbeats. A client that closes during the
/// handshake gets its close-ok.
async fn next_method(io: &mut Io, frame_max: u32) -> Result<ClientMethod, HandshakeEnd> {
    loop {
        let frame = io.next_frame(frame_max).await?;
        match frame.kind {
            FrameType::Heartbeat => continue,
            FrameType::Method if frame.channel == 0 => {}
            _ => {
                return Err(HandshakeEnd::Refused(AmqpError::command_invalid(
                    "only connection methods on channel 0 are allowed before connection.open",
                )));
            }
        }
        let method = decode_method(&frame.payload).map_err(|e| HandshakeEnd::Refused(e.into()))?;
        if let ClientMethod::ConnectionClose { .. } = method {
            let mut out = BytesMut::new();
            put_method(&mut out, 0, &ServerMethod::ConnectionCloseOk);
            io.write_all(&mut out).await?;
            return Err(HandshakeEnd::ClientClosed);
        }
        return Ok(method);
    }
}

fn unexpected(got: &ClientMethod, wanted: &str) -> HandshakeEnd {
    let (c, m) = got.ids();
    HandshakeEnd::Refused(
        AmqpError::command_invalid(format!("expected '{wanted}', got method {c}.{m}"))
            .during((c, m)),
    )
}

fn client_caps(props: &FieldTable) -> ClientCaps {
    let Some(FieldValue::Table(caps)) = props.get("capabilities") else {
        return ClientCaps::default();
    };
    let on = |name: &str| {
        caps.get(name)
            .and_then(FieldValue::as_bool)
            .unwrap_or(false)
    };
    ClientCaps {
        consumer_cancel_notify: on("consumer_cancel_notify"),
        connection_blocked: on("connection.blocked"),
    }
}

/// Credentials from a PLAIN (`authzid NUL authcid NUL passwd`) or AMQPLAIN (a table
/// of LOGIN and PASSWORD without its length prefix) response.
fn credentials(mechanism: &str, response: &[u8]) -> Result<(String, String), AmqpError> {
    let refused = || {
        AmqpError::connection(
            code::ACCESS_REFUSED,
            format!("Login was refused using authentication mechanism {mechanism}"),
        )
    };
    match mechanism {
        "PLAIN" => {
            let mut parts = response.split(|&b| b == 0);
            let (Some(_authzid), Some(user), Some(pass), None) =
                (parts.next(), parts.next(), parts.next(), parts.next())
            else {
                return Err(refused());
            };
            Ok((
                String::from_utf8_lossy(user).into_owned(),
                String::from_utf8_lossy(pass).into_owned(),
            ))
        }
        "AMQPLAIN" => {
            let table = read_table_entries(response).map_err(|_| refused())?;
            let get = |k: &str| table.get(k).and_then(crate::codec::table::lossy_str);
            match (get("LOGIN"), get("PASSWORD")) {
                (Some(u), Some(p)) => Ok((u, p)),
                _ => Err(refused()),
            }
        }
        other => Err(AmqpError::command_invalid(format!(
            "unknown authentication mechanism '{other}'"
        ))),
    }
}

fn authenticate(
    shared: &Shared,
    mechanism: &str,
    response: &[u8],
    peer: SocketAddr,
) -> Result<Arc<User>, HandshakeEnd> {
    let (name, password) = credentials(mechanism, response).map_err(HandshakeEnd::Refused)?;
    let user = shared.engine.users().authenticate(&name, &password).map_err(|_| {
        tracing::info!(%peer, user = %name, mechanism, "AMQP login refused");
        HandshakeEnd::Refused(AmqpError::connection(
            code::ACCESS_REFUSED,
            format!("Login was refused using authentication mechanism {mechanism}. For details see the broker logfile."),
        ))
    })?;
    if user.loopback_only && !peer.ip().to_canonical().is_loopback() {
        tracing::info!(%peer, user = %name, "AMQP login refused: user may only connect from loopback");
        return Err(HandshakeEnd::Refused(AmqpError::connection(
            code::ACCESS_REFUSED,
            format!("user '{name}' can only connect via localhost"),
        )));
    }
    Ok(user)
}

/// Applies the client's tune-ok: 0 means "no limit", i.e. ours; asking for more than
/// we offered, or for frames below the spec's minimum, is 530 as in RabbitMQ.
fn check_tune(
    our_channels: u16,
    our_frame: u32,
    channel_max: u16,
    frame_max: u32,
) -> Result<(u16, u32), HandshakeEnd> {
    let refuse = |t: String| Err(HandshakeEnd::Refused(AmqpError::not_allowed(t)));
    let frame = if frame_max == 0 { our_frame } else { frame_max };
    if frame < FRAME_MIN_SIZE {
        return refuse(format!("frame_max={frame} < {FRAME_MIN_SIZE} min size"));
    }
    if frame > our_frame {
        return refuse(format!("frame_max={frame} > {our_frame} max size"));
    }
    let channels = if channel_max == 0 {
        our_channels
    } else {
        channel_max
    };
    if channels > our_channels {
        return refuse(format!("channel_max={channels} > {our_channels} max"));
    }
    Ok((channels, frame))
}

/// Sends `connection.close` for a handshake failure and gives the client a moment to
/// answer with close-ok (clients that set `authentication_failure_close` wait for it).
async fn refuse(io: &mut Io, shared: &Shared, e: &AmqpError) {
    let mut out = BytesMut::new();
    put_method(
        &mut out,
        0,
        &ServerMethod::ConnectionClose {
            reply_code: e.code,
            reply_text: &e.reply_text(),
            class_id: e.class_id,
            method_id: e.method_id,
        },
    );
    if io.write_all(&mut out).await.is_err() {
        return;
    }
    let wait_close_ok = async {
        while let Ok(f) = io
            .next_frame(shared.config.frame_max.max(FRAME_MIN_SIZE))
            .await
        {
            if f.kind == FrameType::Method
                && matches!(
                    decode_method(&f.payload),
                    Ok(ClientMethod::ConnectionCloseOk)
                )
            {
                return;
            }
        }
    };
    let _ = tokio::time::timeout(shared.config.close_timeout, wait_close_ok).await;
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn plain_and_amqplain() {
        assert_eq!(
            credentials("PLAIN", b"\0guest\0secret").unwrap(),
            ("guest".into(), "secret".into())
        );
        assert!(credentials("PLAIN", b"guest").is_err());
        let mut body = BytesMut::new();
        let t: FieldTable = [("LOGIN", "u"), ("PASSWORD", "p")]
            .into_iter()
            .map(|(k, v)| (k.to_string(), FieldValue::from(v)))
            .collect();
        crate::codec::table::put_table(&mut body, &t);
        assert_eq!(
            credentials("AMQPLAIN", &body[4..]).unwrap(),
            ("u".into(), "p".into())
        );
        assert_eq!(
            credentials("EXTERNAL", b"").unwrap_err().code,
            code::COMMAND_INVALID
        );
    }

    #[test]
    fn tune_limits() {
        assert!(matches!(
            check_tune(2047, 131_072, 0, 0),
            Ok((2047, 131_072))
        ));
        assert!(matches!(
            check_tune(2047, 131_072, 10, 4096),
            Ok((10, 4096))
        ));
        assert!(check_tune(2047, 131_072, 0, 100).is_err());
        assert!(check_tune(2047, 131_072, 0, 1 << 20).is_err());
        assert!(check_tune(2047, 131_072, 4000, 0).is_err());
    }
}
