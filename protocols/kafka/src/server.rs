//! The listener and the per-connection tasks.
//!
//! Each connection has a reader task (frames in, dispatch) and a writer task (responses
//! out, in request order). The reader queues each reply — ready, or a task still
//! producing it — on a bounded channel; the writer awaits them in order and writes
//! whatever is ready together with one vectored write, so pipelined requests cost one
//! syscall per burst and a fetch's stored batches are never copied.

use std::io::IoSlice;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use bytes::{Buf, Bytes};
use tokio::io::AsyncWriteExt;
use tokio::sync::{mpsc, watch};
use trident_engine::{ConnectionHandle, ConnectionInfo, Engine, Metrics};
use trident_transport::{Incoming, Listener, WriteHalf};

use crate::codec::api::key;
use crate::codec::frame::next_frame;
use crate::config::KafkaConfig;
use crate::handlers::{self, Reply};
use crate::read_buffer::ReadBuffer;
use crate::sasl::SaslState;
use crate::session::Session;
use crate::shared::Shared;

/// Gather at most this much before writing, so a burst does not pile up unsent.
const WRITE_BATCH_BYTES: usize = 1024 * 1024;
/// iovecs per write call (well under IOV_MAX).
const MAX_IOVECS: usize = 256;

/// Serves Kafka clients on `listener` until `shutdown` becomes true.
pub async fn serve(
    listener: impl Into<Listener>,
    engine: Engine,
    config: KafkaConfig,
    shutdown: watch::Receiver<bool>,
) {
    let listener: Listener = listener.into();
    let port = listener.local_addr().map(|a| a.port()).unwrap_or(0);
    let broker = Arc::new(Shared::new(engine, config, port));
    serve_with(listener, broker, shutdown).await;
}

/// [`serve`] with a broker built by the caller (tests reach into its state).
pub async fn serve_with(
    listener: impl Into<Listener>,
    broker: Arc<Shared>,
    shutdown: watch::Receiver<bool>,
) {
    tokio::spawn(broker.coordinator.clone().run_ticker(shutdown.clone()));
    broker
        .engine
        .register_group_membership(Arc::new(crate::coordinator::MembershipView(
            broker.coordinator.clone(),
        )));
    serve_more(listener, broker, shutdown).await;
}

/// Accepts on a further listener of the same broker (the TLS one beside the plain
/// one): the same groups, producer ids and topics, only another door.
pub async fn serve_more(
    listener: impl Into<Listener>,
    broker: Arc<Shared>,
    mut shutdown: watch::Receiver<bool>,
) {
    let listener: Listener = listener.into();
    tracing::info!(
        addr = ?listener.local_addr().ok(),
        advertised = %format!("{}:{}", broker.host(), broker.port),
        "kafka listener ready"
    );
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    let broker = broker.clone();
                    let shutdown = shutdown.clone();
                    tokio::spawn(async move {
                        let metrics = broker.engine.metrics().clone();
                        Metrics::add(&metrics.connections_opened, 1);
                        let result = connection(broker, stream, peer, shutdown).await;
                        Metrics::add(&metrics.connections_closed, 1);
                        match result {
                            Ok(()) => {}
                            // What the client sent made us close: worth an operator's eye
                            // (a client too new or too old, a misconfigured SASL setup).
                            Err(e @ (ConnectionError::Closed(_) | ConnectionError::Frame(_) | ConnectionError::Handshake(_))) => {
                                tracing::info!(%peer, error = %e, "kafka connection closed");
                            }
                            Err(e) => tracing::debug!(%peer, error = %e, "kafka connection ended"),
                        }
                    });
                }
                Err(e) => {
                    // Out of file descriptors and the like: back off instead of spinning.
                    tracing::warn!(error = %e, "kafka accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                }
            },
            changed = shutdown.changed() => {
                if changed.is_err() || *shutdown.borrow() {
                    break;
                }
            }
        }
    }
}

#[derive(Debug, thiserror::Error)]
enum ConnectionError {
    #[error(transparent)]
    Io(#[from] std::io::Error),
    #[error(transparent)]
    Frame(#[from] crate::codec::frame::FrameError),
    #[error(transparent)]
    Closed(#[from] handlers::CloseReason),
    #[error(transparent)]
    Handshake(#[from] trident_transport::HandshakeError),
}

async fn connection(
    broker: Arc<Shared>,
    incoming: Incoming,
    peer: SocketAddr,
    mut shutdown: watch::Receiver<bool>,
) -> Result<(), ConnectionError> {
    // Boxed: the TLS handshake's state is needed only until it completes.
    let stream = Box::pin(incoming.establish()).await?;
    let tls = stream.is_tls();
    // Responses are written whole; Nagle would only delay the last segment.
    stream.set_nodelay(true)?;
    let (mut rd, wr) = stream.into_split();
    let (tx, rx) = mpsc::channel::<Reply>(broker.config.max_in_flight.max(1));
    // Boxed so that the spawned task is as small as the writer's idle state needs.
    let writer = tokio::spawn(Box::pin(write_loop(wr, rx)));
    let mut session = Session::new(peer);
    session.tls = tls;
    // Listed for operators (management API); the user is filled in by SASL.
    let mut registered = broker.engine.register_connection(ConnectionInfo {
        id: broker.engine.next_connection_id(),
        protocol: "kafka".into(),
        peer,
        user: None,
        vhost: None,
        client: None,
        connected_at_ms: trident_core::message::now_ms(),
    });
    let mut input = ReadBuffer::new();
    let max = broker.config.max_frame_bytes;
    let (mut user_recorded, mut client_recorded) = (false, false);
    let result = 'conn: loop {
        loop {
            let frame = match next_frame(&mut input.buf, max) {
                Ok(Some(f)) => f,
                Ok(None) => break,
                Err(e) => break 'conn Err(e.into()),
            };
            if is_produce(&frame) {
                // Boxed: only a producer during an alarm needs the waiting state.
                match Box::pin(hold_while_alarmed(&broker, &mut shutdown, &mut registered)).await {
                    Held::No => {}
                    Held::For(ms) => {
                        tracing::debug!(%peer, held_ms = ms, "kafka producer released after a resource alarm");
                        session.held_ms = ms;
                    }
                    Held::Closing => break 'conn Ok(()),
                }
            }
            // Boxed: a handler's state lives only while it runs, and an idle
            // connection's future should not carry room for the largest one.
            let reply = match Box::pin(handlers::dispatch(&broker, &mut session, frame)).await {
                Ok(r) => r,
                Err(e) => break 'conn Err(e.into()),
            };
            if let SaslState::Authenticated(user) = &session.sasl
                && !user_recorded
            {
                registered.set_user(user);
                user_recorded = true;
            }
            if !client_recorded && !session.client_id.is_empty() {
                registered.set_client(&session.client_id);
                client_recorded = true;
            }
            let close = matches!(reply, Reply::FrameThenClose(_));
            if tx.send(reply).await.is_err() || close {
                break 'conn Ok(());
            }
        }
        input.release_if_idle();
        // Wait for bytes before making room for them, so idle connections hold none.
        tokio::select! {
            ready = rd.readable() => if let Err(e) = ready {
                break Err(e.into());
            },
            changed = shutdown.changed() => {
                if changed.is_err() || *shutdown.borrow() {
                    break Ok(());
                }
            }
            // Kafka has no way to tell a client why; the socket closes, as when a
            // Kafka broker drops a connection.
            reason = registered.closed() => {
                tracing::info!(%peer, %reason, "kafka connection closed by an operator");
                break Ok(());
            }
        }
        match input.try_read(&mut rd) {
            Ok(0) => break Ok(()),
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(e) => break Err(e.into()),
        }
    };
    // Let responses already queued go out before the socket closes.
    drop(tx);
    let _ = writer.await;
    result
}

/// Whether a request frame (API key first) is a Produce request.
fn is_produce(frame: &[u8]) -> bool {
    frame.len() >= 2 && i16::from_be_bytes([frame[0], frame[1]]) == key::PRODUCE
}

enum Held {
    /// No alarm: go on.
    No,
    /// An alarm held the request back this many milliseconds; it has cleared.
    For(i32),
    /// The broker shuts down or an operator closed the connection meanwhile.
    Closing,
}

/// While a memory or disk alarm is raised, a produce request waits here before it is
/// served, and nothing after it is read: the connection is muted, as a Kafka broker mutes
/// a throttled client's channel, so TCP backpressure holds the producer. Requests on
/// connections that do not produce (fetches, metadata, group traffic) never come here.
async fn hold_while_alarmed(
    broker: &Shared,
    shutdown: &mut watch::Receiver<bool>,
    registered: &mut ConnectionHandle,
) -> Held {
    let mut alarm = broker.engine.alarms().subscribe();
    if alarm.borrow().is_none() {
        return Held::No;
    }
    let since = Instant::now();
    loop {
        tokio::select! {
            // An error means the alarms are gone with the engine: nothing to wait for.
            _ = alarm.wait_for(Option::is_none) => break,
            changed = shutdown.changed() => {
                if changed.is_err() || *shutdown.borrow() {
                    return Held::Closing;
                }
            }
            reason = registered.closed() => {
                tracing::info!(%reason, "kafka connection closed by an operator");
                return Held::Closing;
            }
        }
    }
    Held::For(i32::try_from(since.elapsed().as_millis()).unwrap_or(i32::MAX))
}

async fn write_loop(mut wr: WriteHalf, mut rx: mpsc::Receiver<Reply>) -> std::io::Result<()> {
    let mut out: Vec<Bytes> = Vec::new();
    let mut carry: Option<Reply> = None;
    loop {
        let reply = match carry.take() {
            Some(r) => r,
            None => match rx.recv().await {
                Some(r) => r,
                None => break,
            },
        };
        if let Some(frame) = resolve(reply).await? {
            out.extend(frame.parts);
        }
        // Gather what is already ready; stop at a reply still in progress so that it
        // does not hold back the responses before it.
        let mut size: usize = out.iter().map(Bytes::len).sum();
        while size < WRITE_BATCH_BYTES {
            match rx.try_recv() {
                Ok(Reply::Frame(f)) | Ok(Reply::FrameThenClose(f)) => {
                    size += f.len();
                    out.extend(f.parts);
                }
                Ok(Reply::Nothing) => {}
                Ok(Reply::Later(h)) if h.is_finished() => {
                    if let Some(f) = resolve(Reply::Later(h)).await? {
                        size += f.len();
                        out.extend(f.parts);
                    }
                }
                Ok(later) => {
                    carry = Some(later);
                    break;
                }
                Err(_) => break,
            }
        }
        write_all(&mut wr, &mut out).await?;
        // A burst's gather list is not kept for the idle time after it.
        if out.capacity() > 16 {
            out = Vec::new();
        }
    }
    wr.shutdown().await
}

async fn resolve(reply: Reply) -> std::io::Result<Option<crate::codec::Frame>> {
    match reply {
        Reply::Frame(f) | Reply::FrameThenClose(f) => Ok(Some(f)),
        Reply::Nothing => Ok(None),
        Reply::Later(h) => h.await.map_err(|e| {
            // A handler task panicked: that response is lost and the client's
            // ordering with it; closing the connection is the only honest answer.
            tracing::error!(error = %e, "kafka handler task failed");
            std::io::Error::other("handler failed")
        }),
    }
}

/// Writes every buffer with vectored writes, handling short writes.
async fn write_all(wr: &mut WriteHalf, parts: &mut Vec<Bytes>) -> std::io::Result<()> {
    let mut start = 0;
    while start < parts.len() {
        let end = (start + MAX_IOVECS).min(parts.len());
        let slices: Vec<IoSlice<'_>> = parts[start..end].iter().map(|b| IoSlice::new(b)).collect();
        let mut n = wr.write_vectored(&slices).await?;
        if n == 0 {
            return Err(std::io::ErrorKind::WriteZero.into());
        }
        while n > 0 && start < parts.len() {
            let len = parts[start].len();
            if n >= len {
                n -= len;
                start += 1;
            } else {
                parts[start].advance(n);
                n = 0;
            }
        }
        while start < parts.len() && parts[start].is_empty() {
            start += 1;
        }
    }
    parts.clear();
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use tokio::net::{TcpListener, TcpStream};

    /// Every open connection keeps its reader future and its writer task alive; with
    /// 10k idle connections their sizes are most of the memory. Handler states are
    /// boxed and the read buffer is allocated only when bytes arrive, to keep them small.
    #[tokio::test]
    async fn an_idle_connection_stays_small() {
        let dir = tempfile::tempdir().unwrap();
        let engine = Engine::open(trident_engine::EngineConfig::new(dir.path()))
            .await
            .unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let _client = TcpStream::connect(addr).await.unwrap();
        let (stream, peer) = listener.accept().await.unwrap();
        let broker = Arc::new(Shared::new(engine.clone(), KafkaConfig::default(), 0));
        let (_stop, shutdown) = watch::channel(false);
        let fut = connection(broker, Incoming::plain(stream), peer, shutdown);
        let reader = std::mem::size_of_val(&fut);
        let (wr_stream, _peer2) = {
            let _c2 = TcpStream::connect(addr).await.unwrap();
            listener.accept().await.unwrap()
        };
        let (_rd, wr) = trident_transport::Stream::Plain(wr_stream).into_split();
        let (_tx, rx) = mpsc::channel::<Reply>(64);
        let writer = std::mem::size_of_val(&write_loop(wr, rx));
        assert!(reader <= 2048, "connection future is {reader} bytes");
        assert!(writer <= 1024, "writer future is {writer} bytes");
        assert!(
            std::mem::size_of::<Session>() <= 256,
            "session is {} bytes",
            std::mem::size_of::<Session>()
        );
        drop(fut);
        engine.shutdown().await;
    }
}
