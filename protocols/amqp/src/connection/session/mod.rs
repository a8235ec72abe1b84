//! An open connection: the event loop and the dispatch of frames to channels.
//!
//! One task runs the whole connection. The loop waits on the socket (both directions at
//! once, so a client that writes without reading cannot deadlock us), on deliveries
//! from the engine, on publisher confirmations, on the heartbeat timer and on the
//! broker's alarm and shutdown signals. Output of all kinds accumulates in one buffer
//! and goes out in as few writes as the socket allows.

mod confirms;
mod consume;
mod deliveries;
mod exchange;
mod permissions;
mod publish;
mod queue;
mod settle;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use bytes::{Buf, BytesMut};
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;
use trident_core::ConnectionId;
use trident_engine::{ConsumerEvent, ConsumerSink, DeliveryId, Outcome, QueueRef, User, Vhost};

use super::Shared;
use super::handshake::{ClientCaps, Negotiated};
use super::io::Io;
use crate::channel::{Channel, ChannelState, Pending};
use crate::codec::frame::HEADER_LEN as FRAME_HEADER_LEN;
use crate::codec::frame::HEARTBEAT_FRAME;
use crate::codec::ids::class;
use crate::codec::{
    ClientMethod, FrameHead, FrameType, Peeked, ServerMethod, decode_method, peek_frame, put_method,
};
use crate::content::{Assembled, COPY_BELOW, Payload};
use crate::error::{AmqpError, AmqpResult, Scope, code};
use confirms::ConfirmDone;
use permissions::Permissions;

/// Deliveries taken from the engine per loop turn before the socket gets a chance.
const EVENT_BATCH: usize = 256;
/// Output buffer capacity kept between bursts; a larger one (after a burst of big
/// deliveries) is given back once it drains.
const OUT_KEEP: usize = 256 * 1024;
/// How often a publisher paused by flow control looks at the queue again.
const FLOW_POLL: Duration = Duration::from_millis(2);
/// Heartbeat half-periods without a byte from the peer before it is declared dead
/// (two full heartbeat intervals, as the spec and RabbitMQ have it).
const MAX_MISSED_TICKS: u8 = 4;

pub(crate) struct Session {
    shared: Arc<Shared>,
    id: ConnectionId,
    user: Arc<User>,
    vhost: Vhost,
    frame_max: u32,
    channel_max: u16,
    heartbeat: u16,
    caps: ClientCaps,
    /// Largest body the engine accepts; checked against content headers.
    max_body: u64,
    /// Everything waiting to be written, in order.
    out: BytesMut,
    /// Indexed by channel number.
    /// Boxed: a client may open channel 2047 first, and the gaps should cost a pointer.
    channels: Vec<Option<Box<Channel>>>,
    next_incarnation: u64,
    /// Engine consumer tag -> channel number.
    consumer_index: HashMap<Arc<str>, u16>,
    next_consumer: u64,
    /// Created with the first consumer: an idle connection should not pay for it.
    events_tx: Option<ConsumerSink>,
    events_rx: Option<mpsc::UnboundedReceiver<ConsumerEvent>>,
    confirms_tx: Option<mpsc::UnboundedSender<ConfirmDone>>,
    confirms_rx: Option<mpsc::UnboundedReceiver<ConfirmDone>>,
    /// Settlements batched until the current burst of input is handled: a client
    /// acking every message costs one queue command per burst, not per ack.
    settles: Vec<(QueueRef, Outcome, Vec<DeliveryId>)>,
    /// Credit to hand back to consumers, batched the same way.
    grants: Vec<(QueueRef, Arc<str>, u32)>,
    /// Reused by every acknowledgement (see `settle.rs`).
    scratch: Vec<(u64, Pending)>,
    perms: Permissions,
    /// Some no-ack consumer has deliveries encoded but not yet written.
    unflushed: bool,
    read_activity: bool,
    write_activity: bool,
    missed_ticks: u8,
    /// Set once we sent `connection.close`: until close-ok or this deadline, only
    /// close and close-ok are processed.
    closing: Option<Instant>,
    /// The loop ends at its next turn (after a last flush).
    finished: bool,
    /// How the socket is let go once the loop ends.
    linger: Linger,
    /// Complete frames are left in the read buffer (we paused while output drained).
    input_pending: bool,
    /// The resource alarm's reason while it is raised.
    blocked: Option<String>,
    has_published: bool,
    told_blocked: bool,
    /// Publisher flow control: reading is paused until this queue's backlog drains.
    flow_wait: Option<QueueRef>,
    alarm: watch::Receiver<Option<String>>,
    alarm_live: bool,
    shutdown: watch::Receiver<bool>,
    shutdown_live: bool,
    /// The connection consumed, fetched or declared an exclusive queue: the engine
    /// must be told when it ends.
    touched_engine: bool,
}

/// What happens to the socket after the last write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Linger {
    /// Close at once (peer gone, or it answered our close with close-ok).
    None,
    /// We answered the client's close with close-ok: let the client close first, as
    /// RabbitMQ does, so that it reads close-ok before it sees end-of-stream.
    AwaitPeerClose,
    /// We gave up on an unparsable stream: send end-of-stream after the close frame and
    /// discard what still arrives, so that closing does not reset the connection and
    /// destroy the close frame in the peer's receive buffer.
    Drain,
}

async fn recv_opt<T>(rx: &mut Option<mpsc::UnboundedReceiver<T>>) -> Option<T> {
    match rx {
        Some(rx) => rx.recv().await,
        None => std::future::pending().await,
    }
}

async fn sleep_until_opt(deadline: Option<Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}

/// Whether two handles name the same queue incarnation. Names alone are not enough:
/// a queue deleted and declared again restarts its delivery ids.
fn same_queue(a: &QueueRef, b: &QueueRef) -> bool {
    std::ptr::eq(a.def(), b.def())
}

impl Session {
    pub fn new(shared: Arc<Shared>, id: ConnectionId, n: Negotiated) -> Self {
        let max_body = shared.engine.config().max_message_bytes as u64;
        let alarm = shared.alarm.clone();
        let shutdown = shared.shutdown.clone();
        let perms = Permissions::new(n.user.clone(), n.vhost.name().to_string());
        Self {
            shared,
            id,
            user: n.user,
            vhost: n.vhost,
            frame_max: n.frame_max,
            channel_max: n.channel_max,
            heartbeat: n.heartbeat,
            caps: n.caps,
            max_body,
            out: BytesMut::new(),
            channels: Vec::new(),
            next_incarnation: 0,
            consumer_index: HashMap::new(),
            next_consumer: 0,
            events_tx: None,
            events_rx: None,
            confirms_tx: None,
            confirms_rx: None,
            settles: Vec::new(),
            grants: Vec::new(),
            scratch: Vec::new(),
            perms,
            unflushed: false,
            read_activity: false,
            write_activity: false,
            missed_ticks: 0,
            closing: None,
            finished: false,
            linger: Linger::None,
            input_pending: false,
            blocked: None,
            has_published: false,
            flow_wait: None,
            told_blocked: false,
            alarm,
            alarm_live: true,
            shutdown,
            shutdown_live: true,
            touched_engine: false,
        }
    }

    pub fn touched_engine(&self) -> bool {
        self.touched_engine
    }

    fn high_water(&self) -> usize {
        self.shared.config.output_high_water
    }

    fn may_read(&self) -> bool {
        // Once we are closing, only close-ok matters: nothing holds reading back then.
        let blocked = self.closing.is_none()
            && ((self.blocked.is_some() && self.has_published) || self.flow_wait.is_some());
        !(self.finished || self.input_pending || blocked || self.out.len() >= self.high_water())
    }

    pub async fn run(&mut self, io: &mut Io) {
        let period = if self.heartbeat > 0 {
            Duration::from_millis(u64::from(self.heartbeat) * 500)
        } else {
            Duration::from_secs(3600)
        };
        let mut ticker = tokio::time::interval_at(Instant::now() + period, period);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        self.on_alarm_change();
        if *self.shutdown.borrow() {
            self.shutdown_now();
        }
        // Futures that run for a moment (handling input, talking to queues) are boxed
        // when they run, so that the idle connection's own future, which every one of
        // perhaps tens of thousands of connections keeps, stays small.
        io.release_if_empty();
        loop {
            if self.has_engine_ops() {
                Box::pin(self.flush_engine_ops()).await;
            }
            if self.finished {
                break;
            }
            if self.input_pending && self.out.len() < self.high_water() && self.flow_wait.is_none()
            {
                Box::pin(self.process_input(&mut io.inbuf)).await;
                continue;
            }
            let reading = self.may_read();
            let taking_events = self.out.len() < self.high_water() && self.closing.is_none();
            let close_deadline = self.closing;
            let heartbeat = self.heartbeat > 0;
            let flow_paused = self.flow_wait.is_some();
            tokio::select! {
                r = tokio::io::AsyncWriteExt::write_buf(&mut io.writer, &mut self.out), if !self.out.is_empty() => match r {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {
                        self.write_activity = true;
                        if self.out.is_empty() {
                            if self.out.capacity() > OUT_KEEP {
                                self.out = BytesMut::new();
                            }
                            self.on_flushed();
                        }
                    }
                },
                // Readiness first, buffer second: an idle connection holds no read
                // buffer while it waits.
                r = io.reader.readable(), if reading => {
                    if r.is_err() {
                        break;
                    }
                    match io.try_read() {
                        Ok(0) => break,
                        Ok(_) => {
                            self.read_activity = true;
                            Box::pin(self.process_input(&mut io.inbuf)).await;
                            io.release_if_empty();
                        }
                        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                        Err(_) => break,
                    }
                },
                Some(ev) = recv_opt(&mut self.events_rx), if taking_events => self.on_events(ev),
                Some(done) = recv_opt(&mut self.confirms_rx) => self.on_confirms(done),
                _ = ticker.tick(), if heartbeat => {
                    if !self.on_tick() {
                        tracing::info!(conn = self.id.0, "AMQP client missed heartbeats; closing");
                        break;
                    }
                },
                r = self.alarm.changed(), if self.alarm_live => match r {
                    Ok(()) => self.on_alarm_change(),
                    Err(_) => self.alarm_live = false,
                },
                r = self.shutdown.changed(), if self.shutdown_live => {
                    if r.is_err() || *self.shutdown.borrow() {
                        self.shutdown_live = false;
                        self.shutdown_now();
                    }
                },
                _ = sleep_until_opt(close_deadline), if close_deadline.is_some() => break,
                () = tokio::time::sleep(FLOW_POLL), if flow_paused => self.check_flow(),
            }
        }
        if !self.out.is_empty() {
            let mut out = std::mem::take(&mut self.out);
            let _ = tokio::time::timeout(Duration::from_secs(1), io.write_all(&mut out)).await;
        }
        if self.linger != Linger::None {
            if self.linger == Linger::Drain {
                let _ = tokio::time::timeout(
                    Duration::from_secs(1),
                    tokio::io::AsyncWriteExt::shutdown(&mut io.writer),
                )
                .await;
            }
            let drain = async {
                // On the heap: an array here would be part of every connection's future.
                let mut scratch = vec![0u8; 4096];
                while let Ok(n) = tokio::io::AsyncReadExt::read(&mut io.reader, &mut scratch).await
                {
                    if n == 0 {
                        break;
                    }
                }
            };
            let _ = tokio::time::timeout(self.shared.config.close_timeout, drain).await;
        }
    }

    /// Ends a flow-control pause once the queue's backlog has halved (or nobody
    /// consumes it any more, in which case waiting would not help).
    fn check_flow(&mut self) {
        if let Some(q) = &self.flow_wait {
            let s = q.stats();
            if s.consumers == 0 || s.ready <= self.shared.config.flow_backlog / 2 {
                self.flow_wait = None;
            }
        }
    }

    fn shutdown_now(&mut self) {
        self.close_connection(AmqpError::connection(
            code::CONNECTION_FORCED,
            "broker forced connection closure with reason 'shutdown'",
        ));
    }

    /// Heartbeat half-period: send one if we were silent, count the peer's silence.
    fn on_tick(&mut self) -> bool {
        if !self.write_activity && self.out.is_empty() {
            self.out.extend_from_slice(&HEARTBEAT_FRAME);
        }
        self.write_activity = false;
        // While we deliberately do not read (alarm, output backlog) the peer's
        // heartbeats sit unread in the socket; that is not its fault.
        if self.read_activity || !self.may_read() {
            self.missed_ticks = 0;
        } else {
            self.missed_ticks = self.missed_ticks.saturating_add(1);
        }
        self.read_activity = false;
        self.missed_ticks < MAX_MISSED_TICKS
    }

    fn on_alarm_change(&mut self) {
        self.blocked = self.alarm.borrow_and_update().clone();
        self.tell_blocked();
    }

    /// `connection.blocked` goes, as in RabbitMQ, to a client that announced the
    /// capability once the alarm actually holds it back (it has published);
    /// `unblocked` follows when the alarm clears.
    pub(super) fn tell_blocked(&mut self) {
        if !self.caps.connection_blocked || self.closing.is_some() {
            return;
        }
        match (&self.blocked, self.told_blocked) {
            (Some(reason), false) if self.has_published => {
                let reason = reason.clone();
                self.send(0, &ServerMethod::ConnectionBlocked { reason: &reason });
                self.told_blocked = true;
            }
            (None, true) => {
                self.send(0, &ServerMethod::ConnectionUnblocked);
                self.told_blocked = false;
            }
            _ => {}
        }
    }

    fn send(&mut self, ch: u16, m: &ServerMethod<'_>) {
        put_method(&mut self.out, ch, m);
    }

    // ------------------------------------------------------------------ input

    async fn process_input(&mut self, inbuf: &mut BytesMut) {
        self.input_pending = false;
        loop {
            if self.finished {
                return;
            }
            if self.out.len() >= self.high_water()
                || (self.flow_wait.is_some() && self.closing.is_none())
            {
                // Let the output (or a queue's backlog) drain before going on.
                self.input_pending = !inbuf.is_empty();
                return;
            }
            match peek_frame(inbuf, self.frame_max) {
                Ok(Peeked::Frame(h)) => {
                    let total = h.total();
                    if h.kind == FrameType::Body
                        && h.size >= COPY_BELOW
                        && self.is_whole_body(h.channel, h.size)
                    {
                        // A large body in one frame: keep it without a copy.
                        let mut f = inbuf.split_to(total);
                        f.advance(FRAME_HEADER_LEN);
                        f.truncate(h.size);
                        self.on_frame(h, Payload::Shared(f.freeze())).await;
                    } else {
                        // Decoded in place; the read buffer stays unshared and is
                        // reused for the next read without a new allocation.
                        self.on_frame(h, Payload::Slice(h.payload(inbuf))).await;
                        inbuf.advance(total);
                    }
                }
                Ok(Peeked::NeedMore(n)) => {
                    if inbuf.capacity() < n {
                        inbuf.reserve(n - inbuf.len());
                    }
                    return;
                }
                Err(e) => {
                    // The stream is out of sync: nothing after this can be parsed, so
                    // report and end without waiting for close-ok.
                    tracing::debug!(conn = self.id.0, error = %e, "AMQP frame error");
                    self.close_connection(e.into());
                    self.finished = true;
                    self.linger = Linger::Drain;
                    inbuf.clear();
                    return;
                }
            }
        }
    }

    fn is_whole_body(&self, ch: u16, size: usize) -> bool {
        self.channels
            .get(usize::from(ch))
            .and_then(Option::as_deref)
            .is_some_and(|c| c.assembler.is_whole_body(size))
    }

    async fn on_frame(&mut self, h: FrameHead, payload: Payload<'_>) {
        if let Err(e) = self.dispatch_frame(h, payload).await {
            self.on_error(h.channel, e).await;
        }
    }

    async fn on_error(&mut self, ch: u16, e: AmqpError) {
        if e.scope == Scope::Channel && ch != 0 {
            tracing::debug!(conn = self.id.0, ch, error = %e, "AMQP channel error");
            self.close_channel_with(ch, e).await;
        } else {
            tracing::debug!(conn = self.id.0, error = %e, "AMQP connection error");
            self.close_connection(e);
        }
    }

    async fn dispatch_frame(&mut self, h: FrameHead, payload: Payload<'_>) -> AmqpResult<()> {
        if self.closing.is_some() {
            // Spec §2.2.4: after sending close, discard everything but close/close-ok.
            if h.kind == FrameType::Method && h.channel == 0 {
                match decode_method(payload.as_slice()) {
                    Ok(ClientMethod::ConnectionCloseOk) => self.finished = true,
                    Ok(ClientMethod::ConnectionClose { .. }) => {
                        self.send(0, &ServerMethod::ConnectionCloseOk);
                        self.finished = true;
                        self.linger = Linger::AwaitPeerClose;
                    }
                    _ => {}
                }
            }
            return Ok(());
        }
        match h.kind {
            FrameType::Heartbeat => Ok(()),
            FrameType::Method => {
                let m = decode_method(payload.as_slice())?;
                if h.channel == 0 {
                    self.on_connection_method(m)
                } else {
                    self.on_channel_method(h.channel, m).await
                }
            }
            FrameType::Header | FrameType::Body => self.on_content_frame(h, payload).await,
        }
    }

    fn on_connection_method(&mut self, m: ClientMethod) -> AmqpResult<()> {
        match m {
            ClientMethod::ConnectionClose { .. } => {
                self.send(0, &ServerMethod::ConnectionCloseOk);
                self.finished = true;
                self.linger = Linger::AwaitPeerClose;
                Ok(())
            }
            // Nothing outstanding to confirm: a stray close-ok is harmless.
            ClientMethod::ConnectionCloseOk => Ok(()),
            ClientMethod::ConnectionUpdateSecret { .. } => Err(AmqpError::not_implemented(
                "connection.update-secret is not supported (credentials are checked at login)",
            )
            .during(m.ids())),
            other => {
                let (c, id) = other.ids();
                let what = if c == class::CONNECTION {
                    "connection negotiation is over"
                } else {
                    "only connection methods are allowed on channel 0"
                };
                Err(
                    AmqpError::command_invalid(format!("method {c}.{id} on channel 0: {what}"))
                        .during((c, id)),
                )
            }
        }
    }

    fn channel_state(&self, ch: u16) -> Option<ChannelState> {
        self.channels
            .get(usize::from(ch))
            .and_then(Option::as_deref)
            .map(|c| c.state)
    }

    fn channel_mut(&mut self, ch: u16) -> Option<&mut Channel> {
        self.channels
            .get_mut(usize::from(ch))
            .and_then(Option::as_deref_mut)
    }

    /// The open channel `ch` (handlers are only called for open channels).
    fn open_channel(&mut self, ch: u16) -> AmqpResult<&mut Channel> {
        match self.channel_mut(ch) {
            Some(c) if c.state == ChannelState::Open => Ok(c),
            _ => Err(AmqpError::channel_error(format!(
                "channel {ch} is not open"
            ))),
        }
    }

    async fn on_channel_method(&mut self, ch: u16, m: ClientMethod) -> AmqpResult<()> {
        let ids = m.ids();
        if ids.0 == class::CONNECTION {
            return Err(AmqpError::command_invalid(format!(
                "connection method {}.{} on channel {ch}",
                ids.0, ids.1
            ))
            .during(ids));
        }
        if ch > self.channel_max {
            return Err(AmqpError::not_allowed(format!(
                "channel number {ch} exceeds the negotiated channel_max {}",
                self.channel_max
            ))
            .during(ids));
        }
        match self.channel_state(ch) {
            None => match m {
                ClientMethod::ChannelOpen => {
                    self.open_new_channel(ch);
                    Ok(())
                }
                // A late close-ok for a channel we already forgot.
                ClientMethod::ChannelCloseOk => Ok(()),
                _ => Err(AmqpError::channel_error(format!(
                    "expected 'channel.open' on channel {ch}"
                ))
                .during(ids)),
            },
            Some(ChannelState::Closing) => {
                match m {
                    ClientMethod::ChannelCloseOk => self.forget_channel(ch),
                    ClientMethod::ChannelClose { .. } => {
                        self.send(ch, &ServerMethod::ChannelCloseOk);
                        self.forget_channel(ch);
                    }
                    _ => {}
                }
                Ok(())
            }
            Some(ChannelState::Open) => {
                if let ClientMethod::ChannelOpen = m {
                    return Err(AmqpError::channel_error(format!(
                        "second 'channel.open' seen on channel {ch}"
                    ))
                    .during(ids));
                }
                let assembled = self.open_channel(ch)?.assembler.on_method(m)?;
                match assembled {
                    Assembled::Method(m) => self.on_method(ch, m).await.map_err(|e| e.during(ids)),
                    Assembled::Pending | Assembled::Content(_) => Ok(()),
                }
            }
        }
    }

    async fn on_content_frame(&mut self, h: FrameHead, payload: Payload<'_>) -> AmqpResult<()> {
        let ch = h.channel;
        if ch == 0 {
            return Err(AmqpError::unexpected_frame("content frame on channel 0"));
        }
        let max_body = self.max_body;
        let assembled = match self.channel_state(ch) {
            None => {
                return Err(AmqpError::channel_error(format!(
                    "expected 'channel.open' on channel {ch}"
                )));
            }
            // The rest of a publish that was refused; dropped with the channel.
            Some(ChannelState::Closing) => return Ok(()),
            Some(ChannelState::Open) => {
                let a = &mut self.open_channel(ch)?.assembler;
                if h.kind == FrameType::Header {
                    a.on_header(payload.as_slice(), max_body)?
                } else {
                    a.on_body(payload)?
                }
            }
        };
        match assembled {
            Assembled::Content(c) => {
                let ids = c.method.ids();
                self.on_publish(ch, c).await.map_err(|e| e.during(ids))
            }
            Assembled::Pending | Assembled::Method(_) => Ok(()),
        }
    }

    /// Methods of an open channel (everything but content).
    async fn on_method(&mut self, ch: u16, m: ClientMethod) -> AmqpResult<()> {
        use ClientMethod as M;
        if !matches!(
            m,
            M::BasicAck { .. } | M::BasicNack { .. } | M::BasicReject { .. }
        ) {
            // Anything else may observe the effect of earlier settlements (a get after
            // a requeue, a purge after acks): apply them first.
            self.flush_engine_ops().await;
        }
        match m {
            M::ChannelFlow { active } => {
                if !active {
                    return Err(AmqpError::not_implemented("active=false"));
                }
                self.send(ch, &ServerMethod::ChannelFlowOk { active });
                Ok(())
            }
            // An answer to a channel.flow we never send.
            M::ChannelFlowOk { .. } => Ok(()),
            M::ChannelClose { .. } => {
                self.teardown_channel(ch).await;
                self.send(ch, &ServerMethod::ChannelCloseOk);
                self.forget_channel(ch);
                Ok(())
            }
            M::ChannelCloseOk => Ok(()),
            M::AccessRequest => {
                self.send(ch, &ServerMethod::AccessRequestOk);
                Ok(())
            }
            M::ExchangeDeclare { .. } => self.exchange_declare(ch, m).await,
            M::ExchangeDelete { .. } => self.exchange_delete(ch, m).await,
            M::ExchangeBind { .. } | M::ExchangeUnbind { .. } => self.exchange_bind(ch, m).await,
            M::QueueDeclare { .. } => self.queue_declare(ch, m).await,
            M::QueueBind { .. } | M::QueueUnbind { .. } => self.queue_bind(ch, m).await,
            M::QueuePurge { .. } => self.queue_purge(ch, m).await,
            M::QueueDelete { .. } => self.queue_delete(ch, m).await,
            M::BasicQos {
                prefetch_size,
                prefetch_count,
                global,
            } => self.basic_qos(ch, prefetch_size, prefetch_count, global),
            M::BasicConsume { .. } => self.basic_consume(ch, m).await,
            M::BasicCancel {
                consumer_tag,
                nowait,
            } => self.basic_cancel(ch, &consumer_tag, nowait).await,
            M::BasicGet { queue, no_ack } => self.basic_get(ch, &queue, no_ack).await,
            M::BasicAck {
                delivery_tag,
                multiple,
            } => self.settle(ch, delivery_tag, multiple, Outcome::Ack),
            M::BasicNack {
                delivery_tag,
                multiple,
                requeue,
            } => self.settle(ch, delivery_tag, multiple, requeue_outcome(requeue)),
            M::BasicReject {
                delivery_tag,
                requeue,
            } => self.settle(ch, delivery_tag, false, requeue_outcome(requeue)),
            M::BasicRecover { requeue } => {
                self.recover(ch, requeue)?;
                self.send(ch, &ServerMethod::BasicRecoverOk);
                Ok(())
            }
            M::BasicRecoverAsync { requeue } => self.recover(ch, requeue),
            M::ConfirmSelect { nowait } => self.confirm_select(ch, nowait),
            M::TxSelect => self.tx_select(ch),
            M::TxCommit => self.tx_commit(ch).await,
            M::TxRollback => self.tx_rollback(ch),
            // Content-bearing and connection methods never get here.
            M::BasicPublish { .. }
            | M::ChannelOpen
            | M::ConnectionStartOk { .. }
            | M::ConnectionSecureOk { .. }
            | M::ConnectionTuneOk { .. }
            | M::ConnectionOpen { .. }
            | M::ConnectionClose { .. }
            | M::ConnectionCloseOk
            | M::ConnectionUpdateSecret { .. } => {
                Err(AmqpError::command_invalid("unexpected method"))
            }
        }
    }

    // --------------------------------------------------------------- channels

    fn open_new_channel(&mut self, ch: u16) {
        let idx = usize::from(ch);
        if self.channels.len() <= idx {
            self.channels.resize_with(idx + 1, || None);
        }
        self.next_incarnation += 1;
        self.channels[idx] = Some(Box::new(Channel::new(ch, self.next_incarnation)));
        self.send(ch, &ServerMethod::ChannelOpenOk);
    }

    fn forget_channel(&mut self, ch: u16) {
        if let Some(slot) = self.channels.get_mut(usize::from(ch)) {
            *slot = None;
        }
        while matches!(self.channels.last(), Some(None)) {
            self.channels.pop();
        }
    }

    /// Closes a channel on an error of ours: `channel.close`, then we wait for
    /// close-ok while dropping whatever else arrives for it.
    async fn close_channel_with(&mut self, ch: u16, e: AmqpError) {
        if self.channel_state(ch) != Some(ChannelState::Open) {
            return;
        }
        self.send(
            ch,
            &ServerMethod::ChannelClose {
                reply_code: e.code,
                reply_text: &e.reply_text(),
                class_id: e.class_id,
                method_id: e.method_id,
            },
        );
        if let Some(c) = self.channel_mut(ch) {
            c.state = ChannelState::Closing;
        }
        self.teardown_channel(ch).await;
    }

    /// Releases what a channel holds: its consumers are cancelled, unsettled
    /// deliveries go back to their queues, pending transactions are dropped.
    async fn teardown_channel(&mut self, ch: u16) {
        let Some(c) = self.channel_mut(ch) else {
            return;
        };
        c.assembler.reset();
        let consumers: Vec<_> = c.consumers.drain().map(|(_, v)| v).collect();
        let mut pending: Vec<_> = c.unacked.take_all().into_iter().map(|(_, p)| p).collect();
        if let crate::channel::Mode::Tx(tx) = std::mem::take(&mut c.mode) {
            pending.extend(tx.settles.into_iter().map(|(_, p, _)| p));
        }
        c.reply_queue = None;
        c.credit = Default::default();
        for consumer in consumers {
            self.consumer_index.remove(&consumer.engine_tag);
            // The queue may be gone already; then there is nothing to cancel.
            let _ = consumer.queue.cancel(consumer.engine_tag.clone()).await;
        }
        for p in pending {
            self.settle_later(&p.queue, p.id, Outcome::Requeue);
        }
        self.flush_engine_ops().await;
    }

    /// Sends `connection.close` and stops processing anything else.
    fn close_connection(&mut self, e: AmqpError) {
        if self.closing.is_some() || self.finished {
            return;
        }
        self.send(
            0,
            &ServerMethod::ConnectionClose {
                reply_code: e.code,
                reply_text: &e.reply_text(),
                class_id: e.class_id,
                method_id: e.method_id,
            },
        );
        self.closing = Some(Instant::now() + self.shared.config.close_timeout);
    }

    // ------------------------------------------------------------ engine ops

    fn settle_later(&mut self, queue: &QueueRef, id: DeliveryId, outcome: Outcome) {
        settle::push_settle(&mut self.settles, queue, id, outcome);
    }

    fn grant_later(&mut self, queue: &QueueRef, tag: &Arc<str>, n: u32) {
        settle::push_grant(&mut self.grants, queue, tag, n);
    }

    fn has_engine_ops(&self) -> bool {
        !self.settles.is_empty() || !self.grants.is_empty()
    }

    /// Applies batched settlements, then batched credit (in that order, so a queue
    /// sees the freed slot before the credit that refills it).
    async fn flush_engine_ops(&mut self) {
        if !self.settles.is_empty() {
            let mut settles = std::mem::take(&mut self.settles);
            for (q, outcome, ids) in settles.drain(..) {
                // A queue that is gone has nothing left to settle.
                let _ = q.settle(ids, outcome).await;
            }
            self.settles = settles;
        }
        if !self.grants.is_empty() {
            let mut grants = std::mem::take(&mut self.grants);
            for (q, tag, n) in grants.drain(..) {
                let _ = q.grant(tag, n).await;
            }
            self.grants = grants;
        }
    }
}

fn requeue_outcome(requeue: bool) -> Outcome {
    if requeue {
        Outcome::Requeue
    } else {
        Outcome::Reject
    }
}
