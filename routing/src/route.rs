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

use crate::bound::BoundArgs;
use crate::error::RoutingError;
use crate::exchange::{Bound, Exchange, Probe};
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
    /// One per queue, without duplicates, in an order that depends only on the table
    /// snapshot and the message (sorted by name when more than one binding could name
    /// the same queue; sorting is skipped otherwise because it dominates wide fanouts).
    hits: Vec<Hit>,
    /// The reported argument tables; each hit owns a range.
    tables: Vec<Arc<FieldTable>>,
    /// Whether an alternate exchange took the message somewhere along the way.
    pub used_alternate_exchange: bool,
    scratch: Scratch,
}

#[derive(Debug)]
struct Hit {
    queue: QueueName,
    /// `tables[start..end]` are this queue's matched bindings' arguments.
    start: u32,
    end: u32,
}

/// One queue a message was routed to, with the bindings that took it there.
#[derive(Debug, Clone, Copy)]
pub struct RoutedQueue<'a> {
    pub queue: &'a QueueName,
    tables: &'a [Arc<FieldTable>],
}

impl<'a> RoutedQueue<'a> {
    /// The argument tables of the matched bindings that report them (see
    /// [`MatchedBindings`]), shared with the table.
    pub fn matched(&self) -> &'a [Arc<FieldTable>] {
        self.tables
    }

    /// The same, as the value a queue keeps with the message.
    pub fn matched_bindings(&self) -> MatchedBindings {
        MatchedBindings::from_tables(self.tables.iter().cloned())
    }
}

#[derive(Debug, Default)]
struct Scratch {
    pending: Vec<ExchangeName>,
    seen: SeenExchanges,
    memo: HashMemo,
    /// Where merging duplicate queues rebuilds the tables.
    spare: Vec<Arc<FieldTable>>,
}

impl RouteResult {
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether any queue was found.
    pub fn is_routed(&self) -> bool {
        !self.hits.is_empty()
    }

    /// How many queues were found.
    pub fn queue_count(&self) -> usize {
        self.hits.len()
    }

    /// Each queue found, once. Queues named by the default exchange are candidates
    /// only: the routing key is taken as a queue name without knowing whether such a
    /// queue exists, and the engine drops names it does not know.
    pub fn queues(&self) -> impl Iterator<Item = &QueueName> {
        self.hits.iter().map(|h| &h.queue)
    }

    /// Each queue found, once, with the bindings that matched on the way to it.
    pub fn routes(&self) -> impl Iterator<Item = RoutedQueue<'_>> {
        self.hits.iter().map(|h| RoutedQueue {
            queue: &h.queue,
            tables: self
                .tables
                .get(h.start as usize..h.end as usize)
                .unwrap_or(&[]),
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
            tables,
            used_alternate_exchange,
            scratch:
                Scratch {
                    pending,
                    seen,
                    memo,
                    spare,
                },
        } = out;
        hits.clear();
        tables.clear();
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
            x.route(probe, memo, &mut |destination, bound| {
                let start = tables.len();
                let matched = match bound {
                    Bound::Unbound => true,
                    Bound::One(b) => {
                        push_reported(b, tables);
                        true
                    }
                    Bound::All(all) if all.plain => true,
                    Bound::All(all) => {
                        let mut any = false;
                        for b in all.iter().filter(|b| !b.skips(probe.origin)) {
                            any = true;
                            push_reported(b, tables);
                        }
                        any
                    }
                };
                if !matched {
                    return;
                }
                matched_any = true;
                match destination {
                    BindingDestination::Queue(q) => hits.push(Hit {
                        queue: q.clone(),
                        start: start as u32,
                        end: tables.len() as u32,
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
            merge_repeats(hits, tables, spare);
        }
    }
}

fn push_reported(b: &BoundArgs, tables: &mut Vec<Arc<FieldTable>>) {
    if b.reported {
        tables.push(b.table.clone());
    }
}

/// Sorts the hits by queue and merges each queue's hits into one, with all their
/// tables. Without reported tables (every AMQP route) this is a sort and a dedup.
fn merge_repeats(
    hits: &mut Vec<Hit>,
    tables: &mut Vec<Arc<FieldTable>>,
    spare: &mut Vec<Arc<FieldTable>>,
) {
    hits.sort_unstable_by(|a, b| a.queue.cmp(&b.queue));
    if tables.is_empty() {
        hits.dedup_by(|a, b| a.queue == b.queue);
        return;
    }
    spare.clear();
    let mut write = 0;
    let mut read = 0;
    while read < hits.len() {
        let start = spare.len() as u32;
        let mut end = read;
        while end < hits.len() && hits[end].queue == hits[read].queue {
            let h = &hits[end];
            spare.extend_from_slice(&tables[h.start as usize..h.end as usize]);
            end += 1;
        }
        hits.swap(write, read);
        hits[write].start = start;
        hits[write].end = spare.len() as u32;
        write += 1;
        read = end;
    }
    hits.truncate(write);
    std::mem::swap(tables, spare);
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
