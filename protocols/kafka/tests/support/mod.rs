//! An in-process Kafka listener over a real engine in a temporary directory, and a raw
//! protocol client built on the crate's own codec (for what real clients never send).
#![allow(dead_code, clippy::unwrap_used)]

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use bytes::{Buf, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use trident_engine::{Engine, EngineConfig};
use trident_kafka::codec::api;
use trident_kafka::codec::header::{RequestHeader, write_request_header};
use trident_kafka::codec::{Reader, Wire, Writer};
use trident_kafka::{GroupConfig, KafkaConfig, Shared};

pub struct TestServer {
    pub addr: SocketAddr,
    pub broker: Arc<Shared>,
    pub dir: PathBuf,
    shutdown: watch::Sender<bool>,
    task: Option<JoinHandle<()>>,
    _tmp: Option<tempfile::TempDir>,
}

pub fn kafka_config() -> KafkaConfig {
    KafkaConfig {
        groups: GroupConfig {
            initial_rebalance_delay: Duration::from_millis(100),
            ..GroupConfig::default()
        },
        ..KafkaConfig::default()
    }
}

impl TestServer {
    pub async fn start() -> Self {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().to_path_buf();
        let mut s = Self::start_in(&dir, kafka_config()).await;
        s._tmp = Some(tmp);
        s
    }

    pub async fn start_with(config: KafkaConfig) -> Self {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().to_path_buf();
        let mut s = Self::start_in(&dir, config).await;
        s._tmp = Some(tmp);
        s
    }

    /// Opens the engine on `dir` (recovering whatever is there) and serves it.
    pub async fn start_in(dir: &Path, config: KafkaConfig) -> Self {
        let engine = Engine::open(EngineConfig::new(dir)).await.unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let broker = Arc::new(Shared::new(engine, config, addr.port()));
        let (tx, rx) = watch::channel(false);
        let task = tokio::spawn(trident_kafka::serve_with(listener, broker.clone(), rx));
        Self {
            addr,
            broker,
            dir: dir.to_path_buf(),
            shutdown: tx,
            task: Some(task),
            _tmp: None,
        }
    }

    pub fn bootstrap(&self) -> String {
        self.addr.to_string()
    }

    pub fn engine(&self) -> &Engine {
        &self.broker.engine
    }

    /// Stops serving, closes every connection and shuts the engine down, so that the
    /// same directory can be opened again. Returns the temp dir to keep it alive.
    pub async fn stop(mut self) -> Option<tempfile::TempDir> {
        let _ = self.shutdown.send(true);
        if let Some(t) = self.task.take() {
            let _ = t.await;
        }
        // Connection and fetch tasks hold the broker until they notice the shutdown.
        for _ in 0..200 {
            if Arc::strong_count(&self.broker) == 1 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        self.broker.engine.shutdown().await;
        self._tmp.take()
    }
}

/// A bare Kafka protocol client: sends requests encoded with the crate's codec.
pub struct RawClient {
    pub stream: TcpStream,
    correlation: i32,
}

impl RawClient {
    pub async fn connect(addr: SocketAddr) -> Self {
        Self {
            stream: TcpStream::connect(addr).await.unwrap(),
            correlation: 0,
        }
    }

    /// Sends raw frame bytes (size prefix included by the caller).
    pub async fn send_raw(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).await.unwrap();
    }

    pub fn encode<T: Wire>(&mut self, key: i16, version: i16, body: &T) -> Vec<u8> {
        self.correlation += 1;
        let flexible = api::spec(key).is_some_and(|s| s.is_flexible(version));
        let mut w = Writer::new(flexible);
        write_request_header(
            &mut w,
            &RequestHeader {
                api_key: key,
                api_version: version,
                correlation_id: self.correlation,
                client_id: Some("raw-test".into()),
            },
        );
        body.write(&mut w, version);
        let body = w.finish().to_bytes();
        let mut out = (body.len() as u32).to_be_bytes().to_vec();
        out.extend_from_slice(&body);
        out
    }

    pub async fn send<T: Wire>(&mut self, key: i16, version: i16, body: &T) {
        let frame = self.encode(key, version, body);
        self.send_raw(&frame).await;
    }

    /// Reads one response frame; `None` when the server closed the connection.
    pub async fn recv_frame(&mut self) -> Option<BytesMut> {
        let mut len = [0u8; 4];
        if tokio::time::timeout(Duration::from_secs(10), self.stream.read_exact(&mut len))
            .await
            .ok()?
            .is_err()
        {
            return None;
        }
        let mut buf = BytesMut::zeroed(u32::from_be_bytes(len) as usize);
        self.stream.read_exact(&mut buf).await.ok()?;
        Some(buf)
    }

    /// Reads and decodes a response to `key`/`version`.
    pub async fn recv<T: Wire>(&mut self, key: i16, version: i16) -> Option<T> {
        let mut frame = self.recv_frame().await?;
        let _correlation = frame.get_i32();
        let spec = api::spec(key).unwrap();
        let mut r = Reader::new(frame, spec.is_flexible(version));
        if spec.response_header_v1(version) {
            r.tagged_fields().unwrap();
        }
        Some(T::read(&mut r, version).unwrap())
    }

    pub async fn call<Q: Wire, R: Wire>(&mut self, key: i16, version: i16, body: &Q) -> Option<R> {
        self.send(key, version, body).await;
        self.recv(key, version).await
    }

    /// True once the server has closed the connection.
    pub async fn is_closed(&mut self) -> bool {
        let mut b = [0u8; 1];
        matches!(
            tokio::time::timeout(Duration::from_secs(5), self.stream.read(&mut b)).await,
            Ok(Ok(0)) | Ok(Err(_))
        )
    }
}

pub fn unique(prefix: &str) -> String {
    let mut b = [0u8; 6];
    getrandom_fill(&mut b);
    format!(
        "{prefix}-{}",
        b.iter().map(|x| format!("{x:02x}")).collect::<String>()
    )
}

fn getrandom_fill(b: &mut [u8]) {
    use std::time::{SystemTime, UNIX_EPOCH};
    let n = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    for (i, x) in b.iter_mut().enumerate() {
        *x = (n >> (i * 8)) as u8 ^ (i as u8).wrapping_mul(37);
    }
}

/// A server on its own runtime, for tests whose body drives blocking rdkafka clients
/// on the test thread.
pub struct Served {
    pub rt: tokio::runtime::Runtime,
    pub server: Option<TestServer>,
    config: KafkaConfig,
    tmp: Option<tempfile::TempDir>,
}

impl Served {
    pub fn start() -> Self {
        Self::start_with(kafka_config())
    }

    pub fn start_with(config: KafkaConfig) -> Self {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let tmp = tempfile::tempdir().unwrap();
        let server = rt.block_on(TestServer::start_in(tmp.path(), config.clone()));
        Self {
            rt,
            server: Some(server),
            config,
            tmp: Some(tmp),
        }
    }

    pub fn server(&self) -> &TestServer {
        self.server.as_ref().unwrap()
    }

    pub fn bootstrap(&self) -> String {
        self.server().bootstrap()
    }

    /// Stops the server and opens the same data directory again on a new port.
    pub fn restart(&mut self) {
        let dir = self.tmp.as_ref().unwrap().path().to_path_buf();
        if let Some(s) = self.server.take() {
            self.rt.block_on(s.stop());
        }
        self.server = Some(
            self.rt
                .block_on(TestServer::start_in(&dir, self.config.clone())),
        );
    }
}
