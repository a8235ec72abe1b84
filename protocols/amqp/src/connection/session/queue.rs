//! The queue class: declare (server-named, passive, exclusive, arguments), bind,
//! unbind, purge, delete.

use trident_core::{Binding, BindingDestination, ExchangeName, QueueDef, QueueName};
use trident_engine::auth::Access;

use super::Session;
use crate::args::{is_stream, queue_args};
use crate::codec::{ClientMethod, ServerMethod};
use crate::error::{AmqpError, AmqpResult};
use crate::names;
use crate::stream_args::stream_spec;

/// Counts on the wire are 32-bit.
fn count32(n: u64) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

impl Session {
    pub(super) fn no_queue(&self, name: &str) -> AmqpError {
        AmqpError::not_found(format!(
            "no queue '{name}' in vhost '{}'",
            self.vhost.name()
        ))
    }

    /// The queue a method names; the empty name means the channel's last declared
    /// queue (spec §1.7.2.1).
    pub(super) fn resolve_queue(&mut self, ch: u16, name: &str) -> AmqpResult<QueueName> {
        if name.is_empty() {
            return self
                .open_channel(ch)?
                .last_queue
                .clone()
                .ok_or_else(|| AmqpError::not_found("no previously declared queue"));
        }
        QueueName::new(name).map_err(|_| self.no_queue(name))
    }

    pub(super) async fn queue_declare(&mut self, ch: u16, m: ClientMethod) -> AmqpResult<()> {
        let ClientMethod::QueueDeclare {
            queue,
            passive,
            durable,
            exclusive,
            auto_delete,
            nowait,
            arguments,
        } = m
        else {
            return Ok(());
        };
        let (name, messages, consumers) = if passive {
            if queue == names::REPLY_TO {
                // The direct reply-to pseudo-queue always "exists" (RabbitMQ answers so).
                (queue.clone(), 0, 0)
            } else {
                let name = self.resolve_queue(ch, &queue)?;
                let d = self.vhost.declare_queue_passive(&name, self.id)?;
                (d.name.to_string(), d.message_count, d.consumer_count)
            }
        } else {
            let name = if queue.is_empty() {
                names::server_queue_name()
            } else if queue.starts_with("amq.") {
                return Err(AmqpError::access_refused(format!(
                    "queue name '{queue}' contains reserved prefix 'amq.*'"
                )));
            } else {
                queue
            };
            let qname =
                QueueName::new(&name).map_err(|e| AmqpError::precondition(e.to_string()))?;
            self.perms.check(Access::Configure, "queue", &name)?;
            let vhost = self.vhost.name().as_str();
            if is_stream(&arguments, &name, vhost)? {
                // A stream is a log kept on disk and shared by every reader: RabbitMQ
                // refuses the properties that contradict that.
                let refused = if !durable {
                    Some("non-durable")
                } else if exclusive {
                    Some("exclusive-owner")
                } else if auto_delete {
                    Some("auto-delete")
                } else {
                    None
                };
                if let Some(p) = refused {
                    return Err(AmqpError::precondition(format!(
                        "invalid property '{p}' for queue '{name}' in vhost '{vhost}'"
                    )));
                }
                let spec = stream_spec(&arguments, &name, vhost)?;
                let engine = self.shared.engine.clone();
                let d = engine
                    .declare_stream_queue(&self.vhost, &qname, &spec)
                    .await?;
                self.open_channel(ch)?.last_queue = Some(qname);
                return self.declare_ok(ch, nowait, &name, d.message_count, d.consumer_count);
            }
            let args = queue_args(&arguments, &name, self.vhost.name().as_str())?;
            if let Some(dlx) = &args.dead_letter_exchange {
                // Dead-lettering reads from this queue and writes to the DLX.
                self.perms.check(Access::Read, "queue", &name)?;
                self.perms.check(Access::Write, "exchange", dlx.as_str())?;
            }
            let def = QueueDef {
                name: qname,
                durable,
                exclusive,
                auto_delete,
                args,
            };
            if exclusive {
                self.engine.touched = true;
            }
            let d = self.vhost.declare_queue(def, self.id).await?;
            (d.name.to_string(), d.message_count, d.consumer_count)
        };
        if name != names::REPLY_TO
            && let Ok(q) = QueueName::new(&name)
        {
            self.open_channel(ch)?.last_queue = Some(q);
        }
        self.declare_ok(ch, nowait, &name, messages, consumers)
    }

    fn declare_ok(
        &mut self,
        ch: u16,
        nowait: bool,
        name: &str,
        messages: u64,
        consumers: u32,
    ) -> AmqpResult<()> {
        if !nowait {
            self.send(
                ch,
                &ServerMethod::QueueDeclareOk {
                    queue: name,
                    message_count: count32(messages),
                    consumer_count: consumers,
                },
            );
        }
        Ok(())
    }

    /// RabbitMQ's refusal of what a stream cannot do (`queue.purge`, `basic.get`).
    pub(super) fn refuse_on_stream(&self, what: &str, name: &QueueName) -> AmqpResult<()> {
        if self.vhost.stream_queue(name).is_some() {
            return Err(AmqpError::not_implemented(format!(
                "{what} not supported by stream queues queue '{name}' in vhost '{}'",
                self.vhost.name()
            )));
        }
        Ok(())
    }

    pub(super) async fn queue_bind(&mut self, ch: u16, m: ClientMethod) -> AmqpResult<()> {
        let (bind, queue, exchange, routing_key, nowait, arguments) = match m {
            ClientMethod::QueueBind {
                queue,
                exchange,
                routing_key,
                nowait,
                arguments,
            } => (true, queue, exchange, routing_key, nowait, arguments),
            ClientMethod::QueueUnbind {
                queue,
                exchange,
                routing_key,
                arguments,
            } => (false, queue, exchange, routing_key, false, arguments),
            _ => return Ok(()),
        };
        let qname = match self.resolve_queue(ch, &queue) {
            Ok(q) => q,
            // A name that cannot exist names no binding to remove.
            Err(_) if !bind && !queue.is_empty() => return self.unbind_ok(ch),
            Err(e) => return Err(e),
        };
        // An empty routing key with an empty queue name means the last queue's name
        // (spec §1.7.2.3 queue.bind "routing-key").
        let routing_key = if queue.is_empty() && routing_key.is_empty() {
            qname.to_string()
        } else {
            routing_key
        };
        let source = match ExchangeName::new(&exchange) {
            Ok(x) => x,
            Err(_) if !bind => return self.unbind_ok(ch),
            Err(_) => return Err(self.no_exchange(&exchange)),
        };
        if source.is_default() {
            return Err(AmqpError::access_refused(
                "operation not permitted on the default exchange",
            ));
        }
        self.perms.check(Access::Write, "queue", qname.as_str())?;
        self.perms.check(Access::Read, "exchange", &exchange)?;
        let binding = Binding::new(
            source,
            BindingDestination::Queue(qname.clone()),
            routing_key,
            arguments,
        );
        if bind {
            if self.vhost.exchange(&binding.source).is_none() {
                return Err(self.no_exchange(&exchange));
            }
            // A topic is a binding destination too (docs/cross-protocol.md).
            if self.vhost.queue(&qname).is_none() && !self.vhost.has_stream(&qname) {
                return Err(self.no_queue(qname.as_str()));
            }
            self.vhost.bind(binding, self.id).await?;
            if !nowait {
                self.send(ch, &ServerMethod::QueueBindOk);
            }
            Ok(())
        } else {
            // Unbinding a queue, exchange or binding that does not exist succeeds, as in
            // RabbitMQ: clients unbind during cleanup, after auto-delete took the queue.
            self.vhost.unbind(&binding, self.id).await?;
            self.unbind_ok(ch)
        }
    }

    fn unbind_ok(&mut self, ch: u16) -> AmqpResult<()> {
        self.send(ch, &ServerMethod::QueueUnbindOk);
        Ok(())
    }

    pub(super) async fn queue_purge(&mut self, ch: u16, m: ClientMethod) -> AmqpResult<()> {
        let ClientMethod::QueuePurge { queue, nowait } = m else {
            return Ok(());
        };
        let name = self.resolve_queue(ch, &queue)?;
        self.perms.check(Access::Read, "queue", name.as_str())?;
        self.refuse_on_stream("queue.purge", &name)?;
        let n = self.vhost.purge_queue(&name, self.id).await?;
        if !nowait {
            self.send(
                ch,
                &ServerMethod::QueuePurgeOk {
                    message_count: count32(n),
                },
            );
        }
        Ok(())
    }

    pub(super) async fn queue_delete(&mut self, ch: u16, m: ClientMethod) -> AmqpResult<()> {
        let ClientMethod::QueueDelete {
            queue,
            if_unused,
            if_empty,
            nowait,
        } = m
        else {
            return Ok(());
        };
        let name = self.resolve_queue(ch, &queue)?;
        self.perms
            .check(Access::Configure, "queue", name.as_str())?;
        let n = match self.vhost.queue(&name) {
            Some(_) => {
                self.vhost
                    .delete_queue(&name, if_unused, if_empty, Some(self.id))
                    .await?
            }
            // A stream goes with its topic, whatever if-unused and if-empty say (RabbitMQ
            // ignores them for streams too).
            None if self.vhost.stream_queue(&name).is_some() => {
                let engine = self.shared.engine.clone();
                engine.delete_stream_queue(&self.vhost, &name).await?
            }
            // RabbitMQ answers delete-ok for a queue that does not exist.
            None => 0,
        };
        if !nowait {
            self.send(
                ch,
                &ServerMethod::QueueDeleteOk {
                    message_count: count32(n),
                },
            );
        }
        Ok(())
    }
}
