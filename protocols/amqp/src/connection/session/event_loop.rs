//! The connection's one task: waits on everything a connection waits on, hands each
//! event to its handler, and lets the socket go when it ends.

use std::time::Duration;

use tokio::sync::mpsc;
use tokio::time::Instant;
use trident_engine::{ConnectionHandle, Short};

use super::Session;
use super::phase::Linger;
use crate::connection::io::Io;

async fn recv_opt<T>(rx: &mut Option<mpsc::UnboundedReceiver<T>>) -> Option<T> {
    match rx {
        Some(rx) => rx.recv().await,
        None => std::future::pending().await,
    }
}

/// Publisher flow control: resolves when the watched queue's backlog has shrunk.
async fn wait_short(short: &mut Option<Short>) {
    match short {
        Some(s) => s.await,
        None => std::future::pending().await,
    }
}

async fn sleep_until_opt(deadline: Option<Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}

impl Session {
    pub async fn run(&mut self, io: &mut Io, registered: &mut ConnectionHandle) {
        // An operator's close (management API) is taken once.
        let mut close_asked = false;
        let mut ticker = self.liveness.ticker();
        self.on_alarm_change();
        if *self.phase.shutdown.borrow() {
            self.shutdown_now();
        }
        // Futures that run for a moment (handling input, talking to queues) are boxed
        // when they run, so that the idle connection's own future, which every one of
        // perhaps tens of thousands of connections keeps, stays small.
        io.release_if_empty();
        loop {
            if self.phase.finished {
                // close-ok goes out after the loop: acks before connection.close must be
                // written first, as for any synchronous method (also those flushed on an
                // earlier turn).
                if self.has_unwritten_settles() || self.has_engine_ops() {
                    Box::pin(self.flush_engine_ops_written()).await;
                }
            } else if self.has_engine_ops() {
                Box::pin(self.flush_engine_ops()).await;
            }
            if self.phase.finished {
                break;
            }
            if self.phase.input_pending && !self.out.is_full() && !self.gate.flow_paused() {
                Box::pin(self.process_input(&mut io.inbuf)).await;
                continue;
            }
            let reading = self.may_read();
            let taking_events = !self.out.is_full() && !self.phase.is_closing();
            let close_deadline = self.phase.closing;
            let heartbeat = self.liveness.enabled();
            let flow_paused = self.gate.flow_paused();
            tokio::select! {
                r = tokio::io::AsyncWriteExt::write_buf(&mut io.writer, &mut self.out.buf), if !self.out.is_empty() => match r {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {
                        self.liveness.write_activity = true;
                        if self.out.is_empty() {
                            self.out.drained();
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
                            self.liveness.read_activity = true;
                            Box::pin(self.process_input(&mut io.inbuf)).await;
                            io.release_if_empty();
                        }
                        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                        Err(_) => break,
                    }
                },
                Some(ev) = recv_opt(&mut self.engine.events_rx), if taking_events => self.on_events(ev),
                Some(done) = recv_opt(&mut self.engine.confirms_rx) => self.on_confirms(done),
                _ = ticker.tick(), if heartbeat => {
                    if !self.on_tick() {
                        tracing::info!(conn = self.id.0, "AMQP client missed heartbeats; closing");
                        break;
                    }
                },
                r = self.gate.alarm.changed(), if self.gate.alarm_live => match r {
                    Ok(()) => self.on_alarm_change(),
                    Err(_) => self.gate.alarm_live = false,
                },
                r = self.phase.shutdown.changed(), if self.phase.shutdown_live => {
                    if r.is_err() || *self.phase.shutdown.borrow() {
                        self.phase.shutdown_live = false;
                        self.shutdown_now();
                    }
                },
                reason = registered.closed(), if !close_asked => {
                    close_asked = true;
                    self.close_by_operator(&reason);
                },
                _ = sleep_until_opt(close_deadline), if close_deadline.is_some() => break,
                () = wait_short(&mut self.gate.flow_wait), if flow_paused => self.gate.flow_wait = None,
            }
        }
        self.let_go(io).await;
    }

    /// Writes what is left and closes the socket the way `linger` says.
    async fn let_go(&mut self, io: &mut Io) {
        if !self.out.is_empty() {
            let mut out = std::mem::take(&mut self.out.buf);
            let _ = tokio::time::timeout(Duration::from_secs(1), io.write_all(&mut out)).await;
        }
        if self.phase.linger == Linger::None {
            return;
        }
        if self.phase.linger == Linger::Drain {
            let _ = tokio::time::timeout(
                Duration::from_secs(1),
                tokio::io::AsyncWriteExt::shutdown(&mut io.writer),
            )
            .await;
        }
        let drain = async {
            // On the heap: an array here would be part of every connection's future.
            let mut scratch = vec![0u8; 4096];
            while let Ok(n) = tokio::io::AsyncReadExt::read(&mut io.reader, &mut scratch).await {
                if n == 0 {
                    break;
                }
            }
        };
        let _ = tokio::time::timeout(self.shared.config.close_timeout, drain).await;
    }
}
