//! The connection's one task: waits on everything a connection waits on, hands each
//! event to its handler, and writes what is left when it ends.

use std::time::Duration;

use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

use super::{Done, End, Session};
use crate::codec::{Packet, PubComp, PubRel};
use crate::connection::Io;
use crate::stats::MqttStats;

async fn recv_opt<T>(rx: &mut Option<mpsc::UnboundedReceiver<T>>) -> Option<T> {
    match rx {
        Some(rx) => rx.recv().await,
        None => std::future::pending().await,
    }
}

async fn kicked(rx: &mut Option<oneshot::Receiver<()>>) {
    match rx {
        // A dropped sender (the registry entry went away) is not a takeover.
        Some(r) => {
            if r.await.is_err() {
                std::future::pending::<()>().await;
            }
        }
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
    pub async fn run(&mut self, io: &mut Io) {
        if *self.shutdown.borrow() {
            self.finish(End::Shutdown);
        }
        // Bytes that arrived right behind the CONNECT.
        if !io.inbuf.is_empty() && !self.finished() {
            Box::pin(self.process_input(&mut io.inbuf)).await;
        }
        io.release_if_empty();
        loop {
            if self.has_engine_ops() {
                Box::pin(self.flush_engine_ops()).await;
            }
            if self.finished() {
                break;
            }
            let held_back = self.held_back();
            if self.input_pending && !self.out.is_full() && !self.inbound_full() && !held_back {
                Box::pin(self.process_input(&mut io.inbuf)).await;
                continue;
            }
            let reading = !self.out.is_full() && !self.inbound_full() && !held_back;
            let taking = !self.out.is_full();
            let deadline = self.liveness.deadline();
            let confirms = self.engine.confirms.as_mut().map(|c| &mut c.rx);
            let held_write = self.held_out.as_mut().and_then(|h| h.writing.as_mut());
            tokio::select! {
                r = tokio::io::AsyncWriteExt::write_buf(&mut io.writer, &mut self.out.buf), if !self.out.is_empty() => match r {
                    Ok(0) | Err(_) => self.finish(End::Closed),
                    Ok(_) => {
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
                        self.finish(End::Closed);
                        continue;
                    }
                    match io.try_read() {
                        Ok(0) => self.finish(End::Closed),
                        Ok(n) => {
                            MqttStats::add(&self.shared.stats.bytes_received, n as u64);
                            self.liveness.read_activity();
                            Box::pin(self.process_input(&mut io.inbuf)).await;
                            io.release_if_empty();
                        }
                        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                        Err(_) => self.finish(End::Closed),
                    }
                },
                Some(ev) = recv_opt(&mut self.engine.events_rx), if taking => self.on_events(ev),
                Some(done) = async { match confirms { Some(rx) => rx.recv().await, None => std::future::pending().await } } => {
                    match done {
                        Done::Ack(ack, result) => self.on_confirm(ack, result),
                        Done::Refused(ack, code, text) => self.on_refused(ack, code, text),
                        Done::Released(id) => {
                            self.send(&Packet::PubComp(PubComp::new(id)));
                        }
                        Done::Received(id) => {
                            if matches!(self.outbound.get_mut(id), Some(super::OutFlight::Comp { .. })) {
                                self.send(&Packet::PubRel(PubRel::new(id)));
                            }
                        }
                    }
                },
                (generation, r) = async { match held_write { Some((w, g)) => (*g, w.await), None => std::future::pending().await } } => {
                    let result = match r {
                        Ok(Ok(())) => Ok(()),
                        Ok(Err(e)) => Err(e.to_string()),
                        Err(e) => Err(e.to_string()),
                    };
                    self.on_held_committed(generation, result);
                },
                // Not read while held back, so its keep alive cannot be judged then.
                () = sleep_until_opt(deadline), if deadline.is_some() && !held_back => {
                    tracing::debug!(client = %self.client_id, "MQTT keep alive expired");
                    self.finish(End::KeepAlive);
                },
                () = kicked(&mut self.kicked) => self.finish(End::TakenOver),
                r = self.alarm.changed(), if self.alarm_live => {
                    if r.is_err() {
                        self.alarm_live = false;
                    } else if self.alarm.borrow().is_none() {
                        // Released: the time it was not read does not count against
                        // its keep alive.
                        self.liveness.read_activity();
                    }
                },
                r = self.shutdown.changed(), if self.shutdown_live => {
                    if r.is_err() {
                        self.shutdown_live = false;
                    } else if *self.shutdown.borrow() {
                        self.finish(End::Shutdown);
                    }
                },
            }
            if self.out.is_empty() {
                self.out.release_if_empty();
            }
        }
        self.say_goodbye();
        if !self.out.is_empty() {
            let mut out = std::mem::take(&mut self.out.buf);
            // Boxed: a timer is large, and this runs once per connection.
            let _ = Box::pin(tokio::time::timeout(
                Duration::from_secs(1),
                io.write_all(&mut out),
            ))
            .await;
        }
    }

    /// Input is paused while a client has more QoS 1/2 publishes awaiting their
    /// confirmation than our Receive Maximum: the backpressure a 3.x client (which
    /// knows no Receive Maximum) gets instead of an error.
    fn inbound_full(&self) -> bool {
        self.inbound.awaiting >= usize::from(self.shared.config.receive_maximum.max(1))
    }
}
