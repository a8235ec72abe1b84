//! Publishing: basic.publish with its content, mandatory returns, and the
//! transactional mode (tx.select/commit/rollback).

use trident_core::message::now_ms;
use trident_core::{ExchangeName, Message};
use trident_engine::auth::Access;
use trident_engine::{PublishOptions, crossing};

use super::Session;
use crate::channel::{Mode, TxPublish, TxState};
use crate::codec::{ClientMethod, ServerMethod, put_body, put_content_header, put_method};
use crate::content::Content;
use crate::error::{AmqpError, AmqpResult, code};
use crate::names;

impl Session {
    pub(super) async fn on_publish(&mut self, ch: u16, content: Content) -> AmqpResult<()> {
        let Content {
            method,
            header,
            body,
        } = content;
        let ClientMethod::BasicPublish {
            exchange,
            routing_key,
            mandatory,
            immediate,
        } = method
        else {
            return Ok(());
        };
        if immediate {
            return Err(AmqpError::not_implemented("immediate=true"));
        }
        self.note_publish();
        let exchange_name = self.publish_exchange(ch, exchange)?;
        let (exchange_name, routing_key) = self.resolve_address(ch, exchange_name, routing_key)?;
        self.perms
            .check_route(exchange_name.as_str(), &routing_key)?;
        let delivery_mode = header.delivery_mode();
        let mut props = header.properties;
        if props.expiration_ms().is_err() {
            return Err(AmqpError::precondition(format!(
                "invalid expiration '{}' for message",
                props.expiration.as_deref().unwrap_or_default()
            )));
        }
        if let Some(uid) = &props.user_id
            && *uid != self.user.name
        {
            return Err(AmqpError::precondition(format!(
                "user_id property set to '{uid}' but authenticated user was '{}'",
                self.user.name
            )));
        }
        if props.reply_to.as_deref() == Some(names::REPLY_TO) {
            let reply_queue = self.open_channel(ch)?.reply_queue.clone();
            match reply_queue {
                Some(q) => props.reply_to = Some(q.to_string()),
                None => {
                    return Err(AmqpError::precondition(
                        "fast reply consumer does not exist",
                    ));
                }
            }
        }
        if exchange_name.is_default() {
            self.watch_backlog(ch, &routing_key).await;
        }
        let message = Message {
            body,
            key: None,
            headers: header.headers,
            properties: props,
            mqtt: None,
            timestamp_ms: now_ms(),
            delivery_mode,
            exchange: String::new(),
            routing_key,
            origin: None,
        };
        let c = self.open_channel(ch)?;
        let confirm_seq = match &mut c.mode {
            Mode::Tx(tx) => {
                tx.publishes.push(TxPublish {
                    exchange: exchange_name,
                    message,
                    mandatory,
                });
                return Ok(());
            }
            Mode::Confirm(s) => {
                let seq = s.next_seq;
                s.next_seq += 1;
                Some(seq)
            }
            Mode::Plain => None,
        };
        // The engine takes the message; a mandatory publish keeps a copy (a refcount
        // on the body) in case it has to come back.
        let returned = mandatory.then(|| message.clone());
        let opts = PublishOptions {
            mandatory,
            confirm: confirm_seq.is_some(),
        };
        let published = self.vhost.publish(message, &exchange_name, opts).await?;
        if published.routed == 0
            && let Some(m) = returned
        {
            self.send_return(ch, exchange_name.as_str(), &m);
        }
        if let (Some(seq), Some(confirm)) = (confirm_seq, published.confirm)
            && let Mode::Confirm(s) = &mut self.open_channel(ch)?.mode
        {
            let _ = s.waiter.send((seq, confirm));
        }
        Ok(())
    }

    /// The exchange to publish to, checked for write permission. A steady stream of
    /// publishes to one exchange checks once.
    fn publish_exchange(&mut self, ch: u16, exchange: String) -> AmqpResult<ExchangeName> {
        if let Some((last, name)) = &self.open_channel(ch)?.last_exchange
            && *last == exchange
        {
            return Ok(name.clone());
        }
        let name = ExchangeName::new(&exchange).map_err(|_| self.no_exchange(&exchange))?;
        self.perms.check(Access::Write, "exchange", &exchange)?;
        self.open_channel(ch)?.last_exchange = Some((exchange, name.clone()));
        Ok(name)
    }

    /// A default-exchange publish whose routing key is a RabbitMQ-style address
    /// (`/topic/RK`, `/exchange/X/RK`, `/queue/Q`, `/amq/queue/Q`) goes where the address
    /// says, with the permissions of that exchange: how a replier's usual
    /// `basic.publish('', reply_to)` reaches an MQTT requester whose reply-to is its
    /// response topic (`crossing::reply_to_of_response_topic`).
    fn resolve_address(
        &mut self,
        ch: u16,
        exchange: ExchangeName,
        routing_key: String,
    ) -> AmqpResult<(ExchangeName, String)> {
        if !exchange.is_default() {
            return Ok((exchange, routing_key));
        }
        let (x, rk) = crossing::resolve_default_publish(&routing_key);
        if x.is_empty() && rk.len() == routing_key.len() {
            return Ok((exchange, routing_key));
        }
        let (x, rk) = (x.to_string(), rk.to_string());
        let name = if x.is_empty() {
            exchange
        } else {
            self.publish_exchange(ch, x)?
        };
        Ok((name, rk))
    }

    /// basic.return for an unroutable mandatory message (312 NO_ROUTE).
    fn send_return(&mut self, ch: u16, exchange: &str, m: &Message) {
        put_method(
            &mut self.out.buf,
            ch,
            &ServerMethod::BasicReturn {
                reply_code: code::NO_ROUTE,
                reply_text: "NO_ROUTE",
                exchange,
                routing_key: &m.routing_key,
            },
        );
        put_content_header(&mut self.out.buf, ch, m);
        put_body(&mut self.out.buf, ch, &m.body, self.frame_max);
    }

    pub(super) fn tx_select(&mut self, ch: u16) -> AmqpResult<()> {
        let c = self.open_channel(ch)?;
        match c.mode {
            Mode::Confirm(_) => {
                return Err(AmqpError::precondition(
                    "cannot switch from confirm to tx mode",
                ));
            }
            Mode::Tx(_) => {}
            Mode::Plain => c.mode = Mode::Tx(TxState::default()),
        }
        self.send(ch, &ServerMethod::TxSelectOk);
        Ok(())
    }

    /// Publishes what the transaction holds, waits until the queues have it (durably
    /// for persistent messages), applies the held settlements, then commit-ok.
    pub(super) async fn tx_commit(&mut self, ch: u16) -> AmqpResult<()> {
        let c = self.open_channel(ch)?;
        let Mode::Tx(tx) = &mut c.mode else {
            return Err(AmqpError::precondition("channel is not transactional"));
        };
        let publishes = std::mem::take(&mut tx.publishes);
        let settles = std::mem::take(&mut tx.settles);
        let mut confirms = Vec::new();
        for p in publishes {
            let returned = p.mandatory.then(|| p.message.clone());
            let opts = PublishOptions {
                mandatory: p.mandatory,
                confirm: true,
            };
            let published = self.vhost.publish(p.message, &p.exchange, opts).await?;
            if published.routed == 0
                && let Some(m) = returned
            {
                self.send_return(ch, p.exchange.as_str(), &m);
            }
            confirms.extend(published.confirm);
        }
        for (tag, pending, outcome) in settles {
            self.apply_settles(ch, &mut vec![(tag, pending)], outcome);
        }
        // commit-ok promises the settlements as much as the publishes.
        self.flush_engine_ops_written().await;
        for c in confirms {
            // A queue that refuses (x-overflow reject-publish) drops the message; 0-9-1
            // transactions have no way to say so, as in RabbitMQ.
            let _ = c.wait().await;
        }
        self.send(ch, &ServerMethod::TxCommitOk);
        Ok(())
    }

    pub(super) fn tx_rollback(&mut self, ch: u16) -> AmqpResult<()> {
        let c = self.open_channel(ch)?;
        let Mode::Tx(tx) = &mut c.mode else {
            return Err(AmqpError::precondition("channel is not transactional"));
        };
        tx.publishes.clear();
        let settles = std::mem::take(&mut tx.settles);
        // Rolled-back acks are forgotten; the deliveries stay outstanding.
        c.unacked
            .restore(settles.into_iter().map(|(tag, p, _)| (tag, p)).collect());
        self.send(ch, &ServerMethod::TxRollbackOk);
        Ok(())
    }
}
