//! Exchange routing for one vhost: direct, fanout, topic and headers exchanges,
//! exchange-to-exchange bindings and alternate exchanges, with RabbitMQ's semantics.
//!
//! Pure data and logic: no I/O, no locks, no async. A [`RoutingTable`] is an immutable
//! snapshot that is cheap to clone and to change (see [`RoutingTable`]): the engine
//! publishes through the current snapshot and swaps in a changed clone on every
//! topology change.
//!
//! Decisions where RabbitMQ's behaviour is subtle:
//! - The default exchange (`""`) routes to the queue named by the routing key. The
//!   table does not know which queues exist, so it returns the key as a candidate queue
//!   name and the engine drops it if there is no such queue. Nothing can be bound to or
//!   from it, and it cannot be deleted.
//! - Topic keys: the empty key has zero words; `a..b` has an empty middle word. A
//!   binding may carry a word pattern instead of an AMQP-syntax key
//!   ([`trident_core::TopicPattern`]): exact words compared literally, and the `$` rule
//!   (a leading wildcard does not match a first word starting with `$`).
//! - Routing reports, per queue, the arguments of the bindings that matched
//!   ([`RoutedQueue::matched`]); bindings carrying `x-no-local-origin` skip messages
//!   whose origin equals it.
//! - Headers: `x-match` is `all` (default), `any`, `all-with-x` or `any-with-x`; void
//!   arguments match on presence; values compare with [`trident_core::FieldValue::matches`].
//! - Binding arguments are compared ignoring their order (RabbitMQ sorts them), and are
//!   stored and listed sorted by name.
//! - Deleting an absent exchange and unbinding an absent binding succeed, changing nothing.

mod bound;
mod error;
mod exchange;
mod headers_match;
mod pmap;
mod route;
mod table;
mod topic_trie;

pub use error::RoutingError;
pub use route::{Routable, RouteResult, RoutedQueue};
pub use table::{Effects, RoutingTable, default_exchange_defs};
