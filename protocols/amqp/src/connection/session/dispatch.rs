//! Frames to handlers: connection methods on channel 0, the channel state machine
//! (open, closing, content assembly), and each method of an open channel to the file
//! of its AMQP class.

use trident_engine::Outcome;

use super::Session;
use super::permissions::Permissions;
use super::phase::Linger;
use crate::channel::ChannelState;
use crate::codec::ids::class;
use crate::codec::{ClientMethod, FrameHead, FrameType, ServerMethod};
use crate::content::{Assembled, Payload};
use crate::error::{AmqpError, AmqpResult};

impl Session {
    pub(super) fn on_connection_method(&mut self, m: ClientMethod) -> AmqpResult<()> {
        match m {
            ClientMethod::ConnectionClose { .. } => {
                self.send(0, &ServerMethod::ConnectionCloseOk);
                self.phase.finish(Linger::AwaitPeerClose);
                Ok(())
            }
            // Nothing outstanding to confirm: a stray close-ok is harmless.
            ClientMethod::ConnectionCloseOk => Ok(()),
            ClientMethod::ConnectionUpdateSecret { new_secret, reason } => {
                self.update_secret(&new_secret, &reason)
            }
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

    /// connection.update-secret (RabbitMQ extension, for expiring credentials such as
    /// OAuth tokens): the new secret is checked against the user store as a login
    /// would be. Accepted, it replaces the connection's user (and its permissions, which
    /// may have changed since); refused, the connection is closed with 530, as RabbitMQ
    /// does when a backend refuses the new secret.
    fn update_secret(&mut self, secret: &[u8], reason: &str) -> AmqpResult<()> {
        let ids = (
            class::CONNECTION,
            crate::codec::ids::connection::UPDATE_SECRET,
        );
        let user = std::str::from_utf8(secret).ok().and_then(|s| {
            self.shared
                .engine
                .users()
                .authenticate(&self.user.name, s)
                .ok()
        });
        let Some(user) = user else {
            tracing::info!(conn = self.id.0, user = %self.user.name, reason, "AMQP secret update refused");
            return Err(
                AmqpError::not_allowed("New secret was refused by one of the backends").during(ids),
            );
        };
        tracing::debug!(conn = self.id.0, user = %user.name, reason, "AMQP secret updated");
        self.perms = Permissions::new(user.clone(), self.vhost.name().to_string());
        self.user = user;
        self.send(0, &ServerMethod::ConnectionUpdateSecretOk);
        Ok(())
    }

    pub(super) async fn on_channel_method(&mut self, ch: u16, m: ClientMethod) -> AmqpResult<()> {
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

    pub(super) async fn on_content_frame(
        &mut self,
        h: FrameHead,
        payload: Payload<'_>,
    ) -> AmqpResult<()> {
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
            // a requeue, a purge after acks): apply them first. And its answer tells the
            // client those acks are safe: it goes out once they are written.
            self.flush_engine_ops_written().await;
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
}

fn requeue_outcome(requeue: bool) -> Outcome {
    if requeue {
        Outcome::Requeue
    } else {
        Outcome::Reject
    }
}
