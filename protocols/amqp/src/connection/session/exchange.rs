//! The exchange class: declare, delete, bind, unbind (exchange-to-exchange).

use trident_core::{Binding, BindingDestination, ExchangeDef, ExchangeKind, ExchangeName};
use trident_engine::auth::Access;

use super::Session;
use crate::args::alternate_exchange;
use crate::codec::{ClientMethod, ServerMethod};
use crate::error::{AmqpError, AmqpResult};

/// An exchange name from the wire. A name the core refuses cannot exist, so for a
/// lookup it is simply not found; for a declaration it is a precondition failure.
pub(super) fn exchange_name(name: &str) -> AmqpResult<ExchangeName> {
    ExchangeName::new(name).map_err(|e| AmqpError::precondition(e.to_string()))
}

fn default_exchange_refused() -> AmqpError {
    AmqpError::access_refused("operation not permitted on the default exchange")
}

impl Session {
    pub(super) fn no_exchange(&self, name: &str) -> AmqpError {
        AmqpError::not_found(format!(
            "no exchange '{name}' in vhost '{}'",
            self.vhost.name()
        ))
    }

    pub(super) async fn exchange_declare(&mut self, ch: u16, m: ClientMethod) -> AmqpResult<()> {
        let ClientMethod::ExchangeDeclare {
            exchange,
            kind,
            passive,
            durable,
            auto_delete,
            internal,
            nowait,
            arguments,
        } = m
        else {
            return Ok(());
        };
        if passive {
            let name = ExchangeName::new(&exchange).map_err(|_| self.no_exchange(&exchange))?;
            if self.vhost.exchange(&name).is_none() {
                return Err(self.no_exchange(&exchange));
            }
        } else {
            // RabbitMQ checks the type first, and an unknown type is a hard error.
            let kind = ExchangeKind::parse(&kind).ok_or_else(|| {
                AmqpError::command_invalid(format!("unknown exchange type '{kind}'"))
            })?;
            let name = exchange_name(&exchange)?;
            if name.is_default() {
                return Err(default_exchange_refused());
            }
            self.perms.check(Access::Configure, "exchange", &exchange)?;
            let alternate = alternate_exchange(&arguments, &exchange, self.vhost.name().as_str())?;
            if let Some(ae) = &alternate {
                self.perms.check(Access::Write, "exchange", ae.as_str())?;
            }
            let def = ExchangeDef {
                name,
                kind,
                durable,
                auto_delete,
                internal,
                alternate_exchange: alternate,
            };
            self.vhost.declare_exchange(def).await?;
        }
        if !nowait {
            self.send(ch, &ServerMethod::ExchangeDeclareOk);
        }
        Ok(())
    }

    pub(super) async fn exchange_delete(&mut self, ch: u16, m: ClientMethod) -> AmqpResult<()> {
        let ClientMethod::ExchangeDelete {
            exchange,
            if_unused,
            nowait,
        } = m
        else {
            return Ok(());
        };
        let name = exchange_name(&exchange)?;
        if name.is_default() {
            return Err(default_exchange_refused());
        }
        if name.is_reserved() {
            return Err(AmqpError::access_refused(format!(
                "deletion of system exchange '{exchange}' in vhost '{}' not allowed",
                self.vhost.name()
            )));
        }
        self.perms.check(Access::Configure, "exchange", &exchange)?;
        // Deleting what does not exist succeeds, as in RabbitMQ since 3.x.
        if self.vhost.exchange(&name).is_some() {
            self.vhost.delete_exchange(&name, if_unused).await?;
        }
        if !nowait {
            self.send(ch, &ServerMethod::ExchangeDeleteOk);
        }
        Ok(())
    }

    pub(super) async fn exchange_bind(&mut self, ch: u16, m: ClientMethod) -> AmqpResult<()> {
        let (bind, destination, source, routing_key, nowait, arguments) = match m {
            ClientMethod::ExchangeBind {
                destination,
                source,
                routing_key,
                nowait,
                arguments,
            } => (true, destination, source, routing_key, nowait, arguments),
            ClientMethod::ExchangeUnbind {
                destination,
                source,
                routing_key,
                nowait,
                arguments,
            } => (false, destination, source, routing_key, nowait, arguments),
            _ => return Ok(()),
        };
        let (dest, src) = match (ExchangeName::new(&destination), ExchangeName::new(&source)) {
            (Ok(d), Ok(s)) => (d, s),
            // Names that cannot exist name no binding to remove.
            _ if !bind => return self.exchange_unbind_ok(ch, nowait),
            (Err(_), _) => return Err(self.no_exchange(&destination)),
            (_, Err(_)) => return Err(self.no_exchange(&source)),
        };
        if dest.is_default() || src.is_default() {
            return Err(default_exchange_refused());
        }
        self.perms.check(Access::Write, "exchange", &destination)?;
        self.perms.check(Access::Read, "exchange", &source)?;
        let binding = Binding::new(
            src,
            BindingDestination::Exchange(dest),
            routing_key,
            arguments,
        );
        if bind {
            self.vhost.bind(binding, self.id).await?;
            if !nowait {
                self.send(ch, &ServerMethod::ExchangeBindOk);
            }
        } else {
            // Missing exchanges or binding: unbind-ok, as in RabbitMQ.
            self.vhost.unbind(&binding, self.id).await?;
            return self.exchange_unbind_ok(ch, nowait);
        }
        Ok(())
    }

    fn exchange_unbind_ok(&mut self, ch: u16, nowait: bool) -> AmqpResult<()> {
        if !nowait {
            self.send(ch, &ServerMethod::ExchangeUnbindOk);
        }
        Ok(())
    }
}
