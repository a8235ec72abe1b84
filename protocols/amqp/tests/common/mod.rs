//! Test support: a real engine on a temporary directory with the AMQP listener on an
//! ephemeral loopback port, clients that connect to it over TCP, and a raw client for
//! the tests that must send what no well-behaved client would.

#![allow(dead_code, clippy::unwrap_used)] // each test file uses a different part

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use amq_protocol::frame::{AMQPFrame, WriteContext, gen_frame, parse_frame};
use amq_protocol::protocol::{AMQPClass, channel, connection};
use amq_protocol::types::{AMQPValue, FieldTable as AmqFieldTable, LongString, ShortString};
use futures_util::StreamExt;
use lapin::{Connection, ConnectionProperties};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use trident_amqp::AmqpConfig;
use trident_engine::{Engine, EngineConfig};

/// A running in-process broker.
pub struct Server {
    pub addr: SocketAddr,
    pub engine: Engine,
    pub dir: PathBuf,
    shutdown: watch::Sender<bool>,
    task: JoinHandle<()>,
    _tmp: Option<tempfile::TempDir>,
}

impl Server {
    pub async fn start() -> Server {
        Self::start_with(AmqpConfig::default()).await
    }

    pub async fn start_with(config: AmqpConfig) -> Server {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().to_path_buf();
        let mut s = Self::start_in(&dir, config).await;
        s._tmp = Some(tmp);
        s
    }

    /// Opens the engine on `dir` (recovering whatever is there) and serves it.
    pub async fn start_in(dir: &Path, config: AmqpConfig) -> Server {
        Self::start_full(dir, config, None).await
    }

    /// A server whose resource alarm the test drives.
    pub async fn start_with_alarm(alarm: watch::Receiver<Option<String>>) -> Server {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().to_path_buf();
        let mut s = Self::start_full(&dir, AmqpConfig::default(), Some(alarm)).await;
        s._tmp = Some(tmp);
        s
    }

    async fn start_full(
        dir: &Path,
        config: AmqpConfig,
        alarm: Option<watch::Receiver<Option<String>>>,
    ) -> Server {
        let engine = Engine::open(EngineConfig::new(dir)).await.unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, rx) = watch::channel(false);
        let mut server = trident_amqp::AmqpServer::new(engine.clone(), config);
        if let Some(alarm) = alarm {
            server = server.with_resource_alarm(alarm);
        }
        let task = tokio::spawn(server.serve(listener, rx));
        Server {
            addr,
            engine,
            dir: dir.to_path_buf(),
            shutdown: tx,
            task,
            _tmp: None,
        }
    }

    pub fn uri(&self) -> String {
        format!("amqp://guest:guest@{}/%2f", self.addr)
    }

    pub async fn connect(&self) -> Connection {
        Connection::connect(&self.uri(), ConnectionProperties::default())
            .await
            .unwrap()
    }

    /// Stops the listener (connections get 320) and the engine, keeping the data.
    pub async fn stop(self) -> Option<tempfile::TempDir> {
        let _ = self.shutdown.send(true);
        let _ = tokio::time::timeout(Duration::from_secs(10), self.task).await;
        self.engine.shutdown().await;
        self._tmp
    }
}

/// The reply code of a lapin error, if it is a protocol error.
pub fn code(e: &lapin::Error) -> Option<u16> {
    match e {
        lapin::Error::ProtocolError(e) => Some(e.get_id()),
        _ => None,
    }
}

/// The next delivery of a consumer, or None after `wait`.
pub async fn next(
    consumer: &mut lapin::Consumer,
    wait: Duration,
) -> Option<lapin::message::Delivery> {
    match tokio::time::timeout(wait, consumer.next()).await {
        Ok(Some(Ok(d))) => Some(d),
        _ => None,
    }
}

pub const WAIT: Duration = Duration::from_secs(5);
pub const SHORT: Duration = Duration::from_millis(300);

// ------------------------------------------------------------------ raw client

/// A client speaking frames by hand (encoded and parsed by amq-protocol, a codec
/// independent of ours), for input no library would send.
pub struct Raw {
    pub stream: TcpStream,
    buf: Vec<u8>,
}

fn encode(frame: &AMQPFrame) -> Vec<u8> {
    let ctx = gen_frame(frame)(WriteContext::from(Vec::new())).unwrap();
    ctx.write
}

impl Raw {
    pub async fn connect(addr: SocketAddr) -> Raw {
        Raw {
            stream: TcpStream::connect(addr).await.unwrap(),
            buf: Vec::new(),
        }
    }

    /// Connects and completes the handshake (PLAIN guest/guest, vhost /).
    pub async fn open(addr: SocketAddr) -> Raw {
        let mut r = Raw::connect(addr).await;
        r.send_bytes(b"AMQP\x00\x00\x09\x01").await;
        let start = r.frame().await;
        assert!(matches!(
            start,
            Some(AMQPFrame::Method(
                0,
                AMQPClass::Connection(connection::AMQPMethod::Start(_))
            ))
        ));
        let mut props = AmqFieldTable::default();
        let mut caps = AmqFieldTable::default();
        caps.insert(
            ShortString::from("consumer_cancel_notify"),
            AMQPValue::Boolean(true),
        );
        props.insert(
            ShortString::from("capabilities"),
            AMQPValue::FieldTable(caps),
        );
        r.send(AMQPFrame::Method(
            0,
            AMQPClass::Connection(connection::AMQPMethod::StartOk(connection::StartOk {
                client_properties: props,
                mechanism: ShortString::from("PLAIN"),
                response: LongString::from("\0guest\0guest"),
                locale: ShortString::from("en_US"),
            })),
        ))
        .await;
        let tune = r.frame().await;
        let Some(AMQPFrame::Method(0, AMQPClass::Connection(connection::AMQPMethod::Tune(t)))) =
            tune
        else {
            panic!("expected tune, got {tune:?}");
        };
        r.send(AMQPFrame::Method(
            0,
            AMQPClass::Connection(connection::AMQPMethod::TuneOk(connection::TuneOk {
                channel_max: t.channel_max,
                frame_max: t.frame_max,
                heartbeat: 0,
            })),
        ))
        .await;
        r.send(AMQPFrame::Method(
            0,
            AMQPClass::Connection(connection::AMQPMethod::Open(connection::Open {
                virtual_host: ShortString::from("/"),
            })),
        ))
        .await;
        let ok = r.frame().await;
        assert!(
            matches!(
                ok,
                Some(AMQPFrame::Method(
                    0,
                    AMQPClass::Connection(connection::AMQPMethod::OpenOk(_))
                ))
            ),
            "expected open-ok, got {ok:?}"
        );
        r
    }

    pub async fn open_channel(&mut self, id: u16) {
        self.send(AMQPFrame::Method(
            id,
            AMQPClass::Channel(channel::AMQPMethod::Open(channel::Open {})),
        ))
        .await;
        let ok = self.frame().await;
        assert!(
            matches!(
                ok,
                Some(AMQPFrame::Method(
                    _,
                    AMQPClass::Channel(channel::AMQPMethod::OpenOk(_))
                ))
            ),
            "expected channel.open-ok, got {ok:?}"
        );
    }

    pub async fn send(&mut self, frame: AMQPFrame) {
        let bytes = encode(&frame);
        self.send_bytes(&bytes).await;
    }

    pub async fn send_bytes(&mut self, bytes: &[u8]) {
        // The server may have closed already; tests look at what it answered.
        let _ = self.stream.write_all(bytes).await;
    }

    /// The next frame the server sends, or None when it closes the connection (or
    /// says nothing for five seconds).
    pub async fn frame(&mut self) -> Option<AMQPFrame> {
        loop {
            if !self.buf.is_empty() {
                match parse_frame(self.buf.as_slice()) {
                    Ok((rest, frame)) => {
                        let used = self.buf.len() - rest.len();
                        self.buf.drain(..used);
                        return Some(frame);
                    }
                    Err(e) if e.is_incomplete() => {}
                    Err(e) => panic!("server sent an unparsable frame: {e:?} in {:?}", self.buf),
                }
            }
            // Into the heap buffer: a big array here would live in every future
            // awaiting this one.
            self.buf.reserve(16 * 1024);
            let n = match tokio::time::timeout(WAIT, self.stream.read_buf(&mut self.buf)).await {
                Ok(Ok(n)) => n,
                _ => return None,
            };
            if n == 0 {
                return None;
            }
        }
    }

    /// Reads frames until a connection.close arrives; returns its reply code.
    pub async fn connection_close_code(&mut self) -> Option<u16> {
        while let Some(f) = self.frame().await {
            if let AMQPFrame::Method(0, AMQPClass::Connection(connection::AMQPMethod::Close(c))) = f
            {
                return Some(c.reply_code);
            }
        }
        None
    }

    /// Reads frames until a channel.close arrives; returns its reply code.
    pub async fn channel_close_code(&mut self) -> Option<u16> {
        while let Some(f) = self.frame().await {
            if let AMQPFrame::Method(_, AMQPClass::Channel(channel::AMQPMethod::Close(c))) = f {
                return Some(c.reply_code);
            }
        }
        None
    }

    /// Raw bytes until the server closes (or goes quiet).
    pub async fn read_to_end(&mut self) -> Vec<u8> {
        let mut all = std::mem::take(&mut self.buf);
        while let Ok(Ok(n)) = tokio::time::timeout(WAIT, self.stream.read_buf(&mut all)).await {
            if n == 0 {
                break;
            }
        }
        all
    }
}
