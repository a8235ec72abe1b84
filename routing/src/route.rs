//! Routing a message through a table: from the exchange it was published to, along
//! exchange-to-exchange bindings and alternate exchanges, to a set of queues.
//!
//! As in RabbitMQ, each exchange is visited at most once per message, so binding cycles
//! terminate and a queue reachable along several paths receives the message once. An
//! exchange whose own bindings matched nothing at all (not even another exchange)
//! passes the message to its alternate exchange, if that exists; this applies to every
//! exchange visited, not only the first.

use std::collections::HashSet;

use trident_core::{BindingDestination, ExchangeName, FieldTable, QueueName};

use crate::error::RoutingError;
use crate::exchange::Exchange;
use crate::table::RoutingTable;
use crate::topic_trie::HashMemo;

/// Where a message goes. Reuse one per publisher to keep routing allocation-free.
#[derive(Debug, Default)]
pub struct RouteResult {
    /// Without duplicates, in an order that depends only on the table snapshot and the
    /// message (sorted by name when more than one binding could name the same queue;
    /// sorting is skipped otherwise because it dominates wide fanouts). Queues named by
    /// the default exchange are candidates only: the routing key is taken as a queue
    /// name without knowing whether such a queue exists, and the engine drops names it
    /// does not know.
    pub queues: Vec<QueueName>,
    /// Whether an alternate exchange took the message somewhere along the way.
    pub used_alternate_exchange: bool,
    scratch: Scratch,
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
        !self.queues.is_empty()
    }
}

impl RoutingTable {
    /// Routes a message a client published: refuses unknown exchanges and internal ones
    /// (which only exchange-to-exchange bindings may feed).
    pub fn route_publish(
        &self,
        exchange: &ExchangeName,
        routing_key: &str,
        headers: &FieldTable,
        out: &mut RouteResult,
    ) -> Result<(), RoutingError> {
        let x = self.lookup(exchange)?;
        if x.def.internal {
            return Err(RoutingError::InternalExchange {
                vhost: self.vhost.clone(),
                name: exchange.clone(),
            });
        }
        self.route_from(x, routing_key, headers, out);
        Ok(())
    }

    /// Routes a message into any exchange, internal ones included (dead-lettering and
    /// other broker-side publishes use this).
    pub fn route(
        &self,
        exchange: &ExchangeName,
        routing_key: &str,
        headers: &FieldTable,
        out: &mut RouteResult,
    ) -> Result<(), RoutingError> {
        let x = self.lookup(exchange)?;
        self.route_from(x, routing_key, headers, out);
        Ok(())
    }

    fn route_from(
        &self,
        first: &Exchange,
        routing_key: &str,
        headers: &FieldTable,
        out: &mut RouteResult,
    ) {
        let RouteResult {
            queues,
            used_alternate_exchange,
            scratch:
                Scratch {
                    pending,
                    seen,
                    memo,
                },
        } = out;
        queues.clear();
        pending.clear();
        seen.clear();
        *used_alternate_exchange = false;
        seen.insert(&first.def.name);

        let mut exchanges_with_queues = 0;
        let mut may_repeat = false;
        let mut current = Some(first);
        while let Some(x) = current {
            let mut matched_any = false;
            let queues_before = queues.len();
            x.route(routing_key, headers, memo, &mut |destination| {
                matched_any = true;
                match destination {
                    BindingDestination::Queue(q) => queues.push(q.clone()),
                    BindingDestination::Exchange(next) => {
                        if seen.insert(next) {
                            pending.push(next.clone());
                        }
                    }
                }
            });
            let found = queues.len() - queues_before;
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
            queues.sort_unstable();
            queues.dedup();
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
