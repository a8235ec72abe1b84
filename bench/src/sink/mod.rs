//! Discard servers for `trident bench sink`: each answers just enough of its protocol's
//! handshake for a real client to publish, counts the publishes and throws them away, so
//! that the rate the bench reaches against them is the bench's own ceiling.

pub mod amqp;
pub mod kafka;
pub mod mqtt;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;

/// A running discard server: where it listens and how many publishes it counted.
#[derive(Debug)]
pub struct Sink {
    pub addr: SocketAddr,
    pub received: Arc<AtomicU64>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Sink {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Sink {
    pub fn received(&self) -> u64 {
        self.received.load(std::sync::atomic::Ordering::Acquire)
    }
}

/// Accepts connections on 127.0.0.1 (a free port) and serves each with `serve`.
async fn listen<F, Fut>(serve: F) -> std::io::Result<Sink>
where
    F: Fn(tokio::net::TcpStream, Arc<AtomicU64>) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = l.local_addr()?;
    let received = Arc::new(AtomicU64::new(0));
    let r = received.clone();
    let task = tokio::spawn(async move {
        while let Ok((s, _)) = l.accept().await {
            let _ = s.set_nodelay(true);
            tokio::spawn(serve(s, r.clone()));
        }
    });
    Ok(Sink {
        addr,
        received,
        task,
    })
}
