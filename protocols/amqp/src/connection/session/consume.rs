//! Consuming: basic.qos, basic.consume (including direct reply-to), basic.cancel and
//! basic.get.

use std::sync::Arc;

use trident_core::{Error, QueueArgs, QueueDef, QueueName};
use trident_engine::auth::Access;
use trident_engine::{ConsumerOptions, StreamReadOptions};

use super::Session;
use crate::channel::{Consumer, Pending};
use crate::codec::{ClientMethod, ServerMethod, put_body, put_content_header, put_method};
use crate::credit::ConsumerCredit;
use crate::error::{AmqpError, AmqpResult};
use crate::names;
use crate::stream_args::stream_read;

fn consume_error(e: Error) -> AmqpError {
    match e {
        // RabbitMQ reports a queue held by an exclusive consumer (or one that cannot
        // get an exclusive consumer) as 403, not 405.
        Error::ResourceLocked { kind, name, vhost } if kind.contains("consumer") => {
            AmqpError::access_refused(format!(
                "queue '{name}' in vhost '{vhost}' in exclusive use"
            ))
        }
        other => other.into(),
    }
}

impl Session {
    pub(super) fn basic_qos(
        &mut self,
        ch: u16,
        prefetch_size: u32,
        prefetch_count: u16,
        global: bool,
    ) -> AmqpResult<()> {
        if prefetch_size != 0 {
            return Err(AmqpError::not_implemented(format!(
                "prefetch_size!=0 ({prefetch_size})"
            )));
        }
        let c = self.open_channel(ch)?;
        let mut grants = Vec::new();
        if global {
            // Applies at once to the channel's consumers (RabbitMQ's reading of
            // global=true); credit already granted cannot be taken back.
            c.credit.limit = u32::from(prefetch_count);
            for consumer in c.consumers.values_mut().filter(|k| !k.no_ack) {
                let n = c.credit.top_up(&mut consumer.credit);
                grants.push((consumer.queue.clone(), consumer.engine_tag.clone(), n));
            }
        } else {
            // Applies to consumers started after it (RabbitMQ's per_consumer_qos).
            c.consumer_prefetch = u32::from(prefetch_count);
        }
        for (q, tag, n) in grants {
            self.grant_later(&q, &tag, n);
        }
        self.send(ch, &ServerMethod::BasicQosOk);
        Ok(())
    }

    pub(super) async fn basic_consume(&mut self, ch: u16, m: ClientMethod) -> AmqpResult<()> {
        let ClientMethod::BasicConsume {
            queue,
            consumer_tag,
            no_ack,
            exclusive,
            nowait,
            arguments,
            ..
        } = m
        else {
            return Ok(());
        };
        let client_tag = if consumer_tag.is_empty() {
            names::consumer_tag()
        } else {
            consumer_tag
        };
        if self
            .open_channel(ch)?
            .consumer_by_client_tag(&client_tag)
            .is_some()
        {
            return Err(AmqpError::not_allowed(format!(
                "attempt to reuse consumer tag '{client_tag}'"
            )));
        }
        if queue == names::REPLY_TO {
            return self.consume_reply_to(ch, client_tag, no_ack, nowait).await;
        }
        let qname = self.resolve_queue(ch, &queue)?;
        self.perms.check(Access::Read, "queue", qname.as_str())?;
        let stream = if self.vhost.stream_queue(&qname).is_some() {
            // Credit is what paces a log reader: RabbitMQ refuses a stream consumer
            // without a prefetch, and an auto-ack one (which has none).
            let c = self.open_channel(ch)?;
            if no_ack || (c.consumer_prefetch == 0 && c.credit.limit == 0) {
                return Err(AmqpError::precondition(format!(
                    "consumer prefetch count is not set for stream queue '{qname}' in vhost '{}'",
                    self.vhost.name()
                )));
            }
            Some(stream_read(&arguments)?)
        } else {
            None
        };
        self.start_consumer(ch, &qname, client_tag, no_ack, exclusive, nowait, stream)
            .await
    }

    /// Direct reply-to: the consumer reads a hidden exclusive, auto-delete queue named
    /// `amq.rabbitmq.reply-to.<random>`, which this channel's publishes then carry as
    /// their reply-to. Replies published to that name on the default exchange reach
    /// it through ordinary routing; when the consumer or the connection goes, the queue
    /// goes with it and later replies are dropped, as in RabbitMQ.
    async fn consume_reply_to(
        &mut self,
        ch: u16,
        client_tag: String,
        no_ack: bool,
        nowait: bool,
    ) -> AmqpResult<()> {
        if !no_ack {
            return Err(AmqpError::precondition("reply consumer cannot acknowledge"));
        }
        if self.open_channel(ch)?.reply_queue.is_some() {
            return Err(AmqpError::precondition("reply consumer already set"));
        }
        let name = QueueName::new(&names::reply_queue_name())
            .map_err(|e| AmqpError::precondition(e.to_string()))?;
        let def = QueueDef {
            name: name.clone(),
            durable: false,
            exclusive: true,
            auto_delete: true,
            args: QueueArgs::default(),
        };
        self.engine.touched = true;
        self.vhost.declare_queue(def, self.id).await?;
        if let Err(e) = self
            .start_consumer(ch, &name, client_tag, true, false, nowait, None)
            .await
        {
            let _ = self
                .vhost
                .delete_queue(&name, false, false, Some(self.id))
                .await;
            return Err(e);
        }
        self.open_channel(ch)?.reply_queue = Some(name);
        Ok(())
    }

    /// Attaches a consumer to a queue, or, with `stream`, to a stream queue's log.
    #[allow(clippy::too_many_arguments)]
    async fn start_consumer(
        &mut self,
        ch: u16,
        queue: &QueueName,
        client_tag: String,
        no_ack: bool,
        exclusive: bool,
        nowait: bool,
        stream: Option<StreamReadOptions>,
    ) -> AmqpResult<()> {
        let engine_tag: Arc<str> =
            format!("{client_tag}#{}.{}", self.id.0, self.channels.next_consumer).into();
        self.channels.next_consumer += 1;
        let window = self.shared.config.no_ack_window.max(1);
        let c = self.open_channel(ch)?;
        let (credit, initial) = if no_ack {
            (ConsumerCredit::default(), window)
        } else {
            let prefetch = c.consumer_prefetch;
            c.credit.start(prefetch)
        };
        let sink = self.events_sink();
        self.engine.touched = true;
        let opts = ConsumerOptions {
            tag: engine_tag.clone(),
            no_ack,
            exclusive,
            owner: self.id,
            initial_credit: initial,
        };
        let consumed = match stream {
            Some(read) => self.vhost.consume_stream(queue, opts, read, sink).await,
            None => self.vhost.consume(queue, opts, sink).await,
        };
        let q = match consumed {
            Ok(q) => q,
            Err(e) => {
                if !no_ack {
                    self.open_channel(ch)?.credit.stopped(&credit);
                }
                return Err(consume_error(e));
            }
        };
        // Deliveries may already be waiting in our event queue; they are handled on a
        // later turn of the loop, after consume-ok is in the output buffer.
        let c = self.open_channel(ch)?;
        c.consumers.insert(
            engine_tag.clone(),
            Consumer {
                client_tag: client_tag.clone(),
                engine_tag: engine_tag.clone(),
                queue: q,
                no_ack,
                credit,
                unflushed: 0,
            },
        );
        self.channels.consumer_index.insert(engine_tag, ch);
        if !nowait {
            self.send(
                ch,
                &ServerMethod::BasicConsumeOk {
                    consumer_tag: &client_tag,
                },
            );
        }
        Ok(())
    }

    pub(super) async fn basic_cancel(
        &mut self,
        ch: u16,
        tag: &str,
        nowait: bool,
    ) -> AmqpResult<()> {
        let found = self
            .open_channel(ch)?
            .consumer_by_client_tag(tag)
            .map(|c| (c.engine_tag.clone(), c.queue.clone()));
        if let Some((engine_tag, queue)) = found {
            let _ = queue.cancel(engine_tag.clone()).await;
            // Deliveries the queue made before it saw the cancel are already in our
            // event queue; they go out before cancel-ok, as the spec orders.
            self.drain_events();
            self.remove_consumer(ch, &engine_tag);
        }
        // Cancelling an unknown tag is not an error (RabbitMQ answers cancel-ok).
        if !nowait {
            self.send(ch, &ServerMethod::BasicCancelOk { consumer_tag: tag });
        }
        Ok(())
    }

    /// Forgets a consumer that the engine no longer has.
    pub(super) fn remove_consumer(&mut self, ch: u16, engine_tag: &Arc<str>) -> Option<Consumer> {
        self.channels.consumer_index.remove(engine_tag);
        let c = self.channel_mut(ch)?;
        let consumer = c.consumers.remove(engine_tag)?;
        if !consumer.no_ack {
            c.credit.stopped(&consumer.credit);
        }
        if c.reply_queue.as_ref() == Some(consumer.queue.name()) {
            c.reply_queue = None;
        }
        Some(consumer)
    }

    pub(super) async fn basic_get(&mut self, ch: u16, queue: &str, no_ack: bool) -> AmqpResult<()> {
        let qname = self.resolve_queue(ch, queue)?;
        self.perms.check(Access::Read, "queue", qname.as_str())?;
        self.refuse_on_stream("basic.get", &qname)?;
        if !no_ack {
            self.engine.touched = true;
        }
        let Some(d) = self.vhost.get(&qname, no_ack, self.id).await? else {
            self.send(ch, &ServerMethod::BasicGetEmpty);
            return Ok(());
        };
        let frame_max = self.frame_max;
        let c = self.open_channel(ch)?;
        let tag = c.next_tag();
        let redelivered = d.redelivered;
        let remaining = u32::try_from(d.remaining).unwrap_or(u32::MAX);
        let message = d.message.clone();
        if !no_ack {
            c.unacked.push(
                tag,
                Pending {
                    queue: d.queue,
                    id: d.id,
                    consumer: None,
                },
            );
        }
        put_method(
            &mut self.out.buf,
            ch,
            &ServerMethod::BasicGetOk {
                delivery_tag: tag,
                redelivered,
                exchange: &message.exchange,
                routing_key: &message.routing_key,
                message_count: remaining,
            },
        );
        put_content_header(&mut self.out.buf, ch, &message);
        put_body(&mut self.out.buf, ch, &message.body, frame_max);
        Ok(())
    }
}
