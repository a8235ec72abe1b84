//! Routing a message through a table: from the exchange it was published to, along
//! exchange-to-exchange bindings and alternate exchanges, to a set of queues, with the
//! bindings that matched on the way to each.
//!
//! As in RabbitMQ, each exchange is visited at most once per message, so binding cycles
//! terminate and a queue reachable along several paths (or bindings) receives the
//! message once, here with every matched binding's arguments. An exchange whose own
//! bindings matched nothing at all (not even another exchange) passes the message to
//! its alternate exchange, if that exists; this applies to every exchange visited, not
//! only the first. A binding that skips the message's origin (no-local) counts as not
//! matching. Only bindings to queues are reported; an exchange-to-exchange binding's
//! arguments stay in the table.

use std::collections::HashSet;
use std::sync::Arc;

use trident_core::{
    BindingDestination, ExchangeName, FieldTable, MatchedBindings, Message, QueueName,
};

use crate::error::RoutingError;
use crate::exchange::{Exchange, Probe};
use crate::table::RoutingTable;
use crate::topic_trie::HashMemo;

/// What routing reads from a message.
#[derive(Debug, Clone, Copy)]
pub struct Routable<'a> {
    pub routing_key: &'a str,
    /// What headers exchanges match.
    pub headers: &'a FieldTable,
    /// Who published it; bindings with a no-local argument skip their own messages.
    pub origin: Option<&'a str>,
}

impl<'a> Routable<'a> {
    pub fn of(message: &'a Message) -> Self {
        Self {
            routing_key: &message.routing_key,
            headers: &message.headers,
            origin: message.origin.as_deref(),
        }
    }

    /// A key and headers, from nobody in particular.
    pub fn new(routing_key: &'a str, headers: &'a FieldTable) -> Self {
        Self {
            routing_key,
            headers,
            origin: None,
        }
    }
}

/// Where a message goes. Reuse one per publisher to keep routing allocation-free.
#[derive(Debug, Default)]
pub struct RouteResult {
    /// One per matched binding to a queue, those of one queue adjacent. In an order
    /// that depends only on the table snapshot and the message (sorted by queue name
    /// when more than one binding could name the same queue non-adjacently; sorting
    /// is skipped otherwise because it dominates wide fanouts).
    hits: Vec<Hit>,
    /// Whether an alternate exchange took the message somewhere along the way.
    pub used_alternate_exchange: bool,
    scratch: Scratch,
}

#[derive(Debug)]
struct Hit {
    queue: QueueName,
    /// The binding's arguments when it reports them.
    arguments: Option<Arc<FieldTable>>,
}

/// One queue a message was routed to, with the bindings that took it there.
#[derive(Debug, Clone, Copy)]
pub struct RoutedQueue<'a> {
    pub queue: &'a QueueName,
    hits: &'a [Hit],
}

impl<'a> RoutedQueue<'a> {
    /// The argument tables of the matched bindings that report them (see
    /// [`MatchedBindings`]), shared with the table.
    pub fn matched(&self) -> impl Iterator<Item = &'a Arc<FieldTable>> + use<'a> {
        self.hits.iter().filter_map(|h| h.arguments.as_ref())
    }

    /// The same, as the value a queue keeps with the message.
    pub fn matched_bindings(&self) -> MatchedBindings {
        MatchedBindings::from_tables(self.matched().cloned())
    }
}

#[derive(Debug, Default)]
struct Scratch {
    pending: Vec<ExchangeName>,
    seen: SeenExchanges,
    memo: HashMemo,
}

impl RouteResult {
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether any queue was found.
    pub fn is_routed(&self) -> bool {
        !self.hits.is_empty()
    }

    /// Each queue found, once. Queues named by the default exchange are candidates
    /// only: the routing key is taken as a queue name without knowing whether such a
    /// queue exists, and the engine drops names it does not know.
    pub fn queues(&self) -> impl Iterator<Item = &QueueName> {
        self.routes().map(|r| r.queue)
    }

    /// Each queue found, once, with the bindings that matched on the way to it.
    pub fn routes(&self) -> impl Iterator<Item = RoutedQueue<'_>> {
        self.hits
            .chunk_by(|a, b| a.queue == b.queue)
            .map(|hits| RoutedQueue {
                queue: &hits[0].queue,
                hits,
            })
    }
}

impl RoutingTable {
    /// Routes a message a client published: refuses unknown exchanges and internal ones
    /// (which only exchange-to-exchange bindings may feed).
    pub fn route_publish(
        &self,
        exchange: &ExchangeName,
        message: Routable<'_>,
        out: &mut RouteResult,
    ) -> Result<(), RoutingError> {
        let x = self.lookup(exchange)?;
        if x.def.internal {
            return Err(RoutingError::InternalExchange {
                vhost: self.vhost.clone(),
                name: exchange.clone(),
            });
        }
        self.route_from(x, message, out);
        Ok(())
    }

    /// Routes a message into any exchange, internal ones included (dead-lettering and
    /// other broker-side publishes use this).
    pub fn route(
        &self,
        exchange: &ExchangeName,
        message: Routable<'_>,
        out: &mut RouteResult,
    ) -> Result<(), RoutingError> {
        let x = self.lookup(exchange)?;
        self.route_from(x, message, out);
        Ok(())
    }

    fn route_from(&self, first: &Exchange, message: Routable<'_>, out: &mut RouteResult) {
        let RouteResult {
            hits,
            used_alternate_exchange,
            scratch:
                Scratch {
                    pending,
                    seen,
                    memo,
                },
        } = out;
        hits.clear();
        pending.clear();
        seen.clear();
        *used_alternate_exchange = false;
        seen.insert(&first.def.name);
        let probe = Probe {
            routing_key: message.routing_key,
            headers: message.headers,
            origin: message.origin,
        };

        let mut exchanges_with_queues = 0;
        let mut may_repeat = false;
        let mut current = Some(first);
        while let Some(x) = current {
            let mut matched_any = false;
            let hits_before = hits.len();
            x.route(probe, memo, &mut |destination, args| {
                matched_any = true;
                match destination {
                    BindingDestination::Queue(q) => hits.push(Hit {
                        queue: q.clone(),
                        arguments: args.filter(|a| a.reported).map(|a| a.table.clone()),
                    }),
                    BindingDestination::Exchange(next) => {
                        if seen.insert(next) {
                            pending.push(next.clone());
                        }
                    }
                }
            });
            let found = hits.len() - hits_before;
            if found > 0 {
                exchanges_with_queues += 1;
                may_repeat |=
                    exchanges_with_queues > 1 || (found > 1 && x.may_repeat_destinations());
            }
            // An alternate exchange that does not exist (yet) is ignored.
            if !matched_any
                && let Some(ae) = &x.def.alternate_exchange
                && self.exchanges.contains_key(ae)
                && seen.insert(ae)
            {
                pending.push(ae.clone());
                *used_alternate_exchange = true;
            }
            current = None;
            while let Some(name) = pending.pop() {
                if let Some(next) = self.exchanges.get(&name) {
                    current = Some(next);
                    break;
                }
            }
        }
        if may_repeat {
            hits.sort_unstable_by(|a, b| a.queue.cmp(&b.queue));
        }
    }
}

/// The exchanges a message has visited. Almost always one or two, so a short vector is
/// searched before a hash set is needed.
#[derive(Debug, Default)]
struct SeenExchanges {
    few: Vec<ExchangeName>,
    many: HashSet<ExchangeName>,
}

const SEEN_LINEAR_MAX: usize = 16;

impl SeenExchanges {
    fn clear(&mut self) {
        self.few.clear();
        self.many.clear();
    }

    /// Returns false if already seen.
    fn insert(&mut self, name: &ExchangeName) -> bool {
        if self.few.contains(name) || self.many.contains(name) {
            return false;
        }
        if self.few.len() < SEEN_LINEAR_MAX {
            self.few.push(name.clone());
        } else {
            self.many.insert(name.clone());
        }
        true
    }
}
