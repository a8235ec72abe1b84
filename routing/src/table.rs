//! The routing table of one vhost: exchanges and bindings, as an immutable snapshot.
//!
//! The engine keeps the current table in an `ArcSwap`. To change the topology it
//! clones the table (one reference-count increment per field), applies the change to
//! the clone and swaps the clone in; publishers keep routing through whichever version
//! they loaded, without locks. A change copies only the nodes on the path to what it
//! touches, so its cost does not grow with the number of bindings, and several changes
//! applied to the same clone copy each touched node once.
//!
//! Every change either applies completely or, when it returns an error, leaves the
//! table as it was: it validates before it touches anything.

use std::fmt;
use std::sync::Arc;

use trident_core::{
    Binding, BindingDestination, ExchangeDef, ExchangeKind, ExchangeName, FieldTable, QueueName,
    VhostName,
};

use crate::bound::BindingKey;
use crate::error::RoutingError;
use crate::exchange::Exchange;
use crate::headers_match;
use crate::pmap::PMap;
use crate::topic_trie::MAX_BINDING_KEY_WORDS;

#[derive(Clone)]
pub struct RoutingTable {
    pub(crate) vhost: VhostName,
    pub(crate) exchanges: PMap<ExchangeName, Arc<Exchange>>,
    /// For each destination, the exchanges with at least one binding to it, so that
    /// deleting a queue or exchange finds its bindings without scanning every exchange.
    sources: PMap<BindingDestination, PMap<ExchangeName, ()>>,
}

/// What a change did, for the caller to persist and report.
#[derive(Debug, Clone, Default, PartialEq)]
#[must_use]
pub struct Effects {
    /// False when the request was already satisfied (an equivalent redeclaration, a
    /// repeated bind, an unbind or delete of something absent): nothing to persist.
    pub changed: bool,
    /// Bindings that no longer exist: the one unbound, and those that went with a
    /// deleted queue or exchange. Arguments are given sorted by name (see [`RoutingTable::bind`]).
    pub removed_bindings: Vec<Binding>,
    /// Exchanges that no longer exist: the one deleted, then any auto-delete exchange
    /// that lost its last binding as a consequence (in the order they went).
    pub deleted_exchanges: Vec<ExchangeName>,
}

impl Effects {
    fn changed() -> Self {
        Self {
            changed: true,
            ..Self::default()
        }
    }
}

impl fmt::Debug for RoutingTable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RoutingTable")
            .field("vhost", &self.vhost)
            .field("exchanges", &self.exchanges.len())
            .field("bindings", &self.binding_count())
            .finish()
    }
}

/// The exchanges every RabbitMQ vhost has: the nameless default exchange and the
/// `amq.*` exchanges, all durable.
pub fn default_exchange_defs() -> Vec<ExchangeDef> {
    [
        ("", ExchangeKind::Direct),
        ("amq.direct", ExchangeKind::Direct),
        ("amq.fanout", ExchangeKind::Fanout),
        ("amq.topic", ExchangeKind::Topic),
        ("amq.headers", ExchangeKind::Headers),
        ("amq.match", ExchangeKind::Headers),
    ]
    .into_iter()
    .filter_map(|(name, kind)| Some(ExchangeDef::new(ExchangeName::new(name).ok()?, kind)))
    .collect()
}

/// Binding identity ignores the order of arguments, as in RabbitMQ (which sorts them).
fn normalise(mut arguments: FieldTable) -> FieldTable {
    arguments.0.sort_by(|a, b| a.0.cmp(&b.0));
    arguments
}

fn first_difference(
    current: &ExchangeDef,
    received: &ExchangeDef,
) -> (&'static str, String, String) {
    let ae = |d: &ExchangeDef| {
        d.alternate_exchange
            .as_ref()
            .map_or_else(|| "none".to_string(), |n| format!("'{n}'"))
    };
    if current.kind != received.kind {
        (
            "type",
            format!("'{}'", received.kind.as_str()),
            format!("'{}'", current.kind.as_str()),
        )
    } else if current.durable != received.durable {
        (
            "durable",
            received.durable.to_string(),
            current.durable.to_string(),
        )
    } else if current.auto_delete != received.auto_delete {
        (
            "auto_delete",
            received.auto_delete.to_string(),
            current.auto_delete.to_string(),
        )
    } else if current.internal != received.internal {
        (
            "internal",
            received.internal.to_string(),
            current.internal.to_string(),
        )
    } else {
        ("alternate-exchange", ae(received), ae(current))
    }
}

impl RoutingTable {
    /// An empty table; the caller declares the default exchanges it wants.
    pub fn new(vhost: VhostName) -> Self {
        Self {
            vhost,
            exchanges: PMap::new(),
            sources: PMap::new(),
        }
    }

    /// A table holding [`default_exchange_defs`].
    pub fn with_defaults(vhost: VhostName) -> Self {
        let mut table = Self::new(vhost);
        for def in default_exchange_defs() {
            table
                .exchanges
                .insert(def.name.clone(), Arc::new(Exchange::new(def)));
        }
        table
    }

    pub fn vhost(&self) -> &VhostName {
        &self.vhost
    }

    pub fn exchange(&self, name: &ExchangeName) -> Option<&ExchangeDef> {
        self.exchanges.get(name).map(|x| &x.def)
    }

    /// In no particular order.
    pub fn exchanges(&self) -> impl Iterator<Item = &ExchangeDef> {
        self.exchanges.iter().map(|(_, x)| &x.def)
    }

    pub fn exchange_count(&self) -> usize {
        self.exchanges.len()
    }

    pub fn binding_count(&self) -> usize {
        self.exchanges.iter().map(|(_, x)| x.binding_count()).sum()
    }

    /// Whether the exchange is the source of any binding (what `if-unused` and
    /// auto-delete look at). False for an unknown exchange.
    pub fn has_bindings_from(&self, exchange: &ExchangeName) -> bool {
        self.exchanges
            .get(exchange)
            .is_some_and(|x| x.binding_count() > 0)
    }

    /// Every binding, sorted by source, destination and routing key.
    pub fn bindings(&self) -> Vec<Binding> {
        let mut all = Vec::new();
        self.exchanges
            .for_each(|name, x| push_bindings_of(name, x, &mut all));
        sort_bindings(&mut all);
        all
    }

    /// The bindings whose source is `exchange`, sorted by destination and routing key.
    pub fn bindings_from(&self, exchange: &ExchangeName) -> Vec<Binding> {
        let mut found = Vec::new();
        if let Some(x) = self.exchanges.get(exchange) {
            push_bindings_of(exchange, x, &mut found);
        }
        sort_bindings(&mut found);
        found
    }

    /// The bindings to a queue or exchange, sorted by source and routing key.
    pub fn bindings_to(&self, destination: &BindingDestination) -> Vec<Binding> {
        let mut found = Vec::new();
        if let Some(sources) = self.sources.get(destination) {
            for source in sources.keys() {
                if let Some(x) = self.exchanges.get(source) {
                    x.for_each_binding_to(destination, |key, args| {
                        found.push(key.to_binding(source, destination, args));
                    });
                }
            }
        }
        sort_bindings(&mut found);
        found
    }

    fn not_found(&self, name: &ExchangeName) -> RoutingError {
        RoutingError::ExchangeNotFound {
            vhost: self.vhost.clone(),
            name: name.clone(),
        }
    }

    pub(crate) fn lookup(&self, name: &ExchangeName) -> Result<&Exchange, RoutingError> {
        self.exchanges
            .get(name)
            .map(|x| &**x)
            .ok_or_else(|| self.not_found(name))
    }

    /// Declares an exchange. Redeclaring an equivalent one changes nothing; a different
    /// one is refused (`PRECONDITION_FAILED` in AMQP). Reserved `amq.` names are not
    /// refused here, since the engine declares the predefined ones through this too:
    /// refusing clients that create new `amq.` exchanges is the caller's job.
    pub fn declare_exchange(&mut self, def: ExchangeDef) -> Result<Effects, RoutingError> {
        if let Some(existing) = self.exchanges.get(&def.name) {
            if existing.def.equivalent(&def) {
                return Ok(Effects::default());
            }
            let (field, received, current) = first_difference(&existing.def, &def);
            return Err(RoutingError::Inequivalent {
                vhost: self.vhost.clone(),
                name: def.name,
                field,
                received,
                current,
            });
        }
        if def.name.is_default()
            && (def.kind != ExchangeKind::Direct
                || def.internal
                || def.auto_delete
                || def.alternate_exchange.is_some())
        {
            return Err(RoutingError::InvalidDefinition {
                vhost: self.vhost.clone(),
                name: def.name,
                reason: "the default exchange is a plain direct exchange".into(),
            });
        }
        self.exchanges
            .insert(def.name.clone(), Arc::new(Exchange::new(def)));
        Ok(Effects::changed())
    }

    /// Deletes an exchange with every binding it is the source or destination of, then
    /// any auto-delete exchange left without bindings. Deleting an absent exchange is a
    /// no-op, as in RabbitMQ. The default and `amq.` exchanges cannot be deleted.
    pub fn delete_exchange(
        &mut self,
        name: &ExchangeName,
        if_unused: bool,
    ) -> Result<Effects, RoutingError> {
        if name.is_default() {
            return Err(RoutingError::DefaultExchange);
        }
        if name.is_reserved() {
            return Err(RoutingError::SystemExchange {
                vhost: self.vhost.clone(),
                name: name.clone(),
            });
        }
        let Some(x) = self.exchanges.get(name) else {
            return Ok(Effects::default());
        };
        if if_unused && x.binding_count() > 0 {
            return Err(RoutingError::InUse {
                vhost: self.vhost.clone(),
                name: name.clone(),
            });
        }
        let mut effects = Effects::default();
        let mut candidates = Vec::new();
        self.remove_exchange(name, &mut effects, &mut candidates);
        self.auto_delete(candidates, &mut effects);
        Ok(effects)
    }

    /// Adds a binding; a binding equal to an existing one (same source, destination,
    /// routing key and arguments, in any order) changes nothing. The source, and a
    /// destination exchange, must exist; whether a destination queue exists is the
    /// caller's to check. Nothing can be bound to or from the default exchange. A
    /// headers exchange refuses an `x-match` other than `all`, `any`, `all-with-x` and
    /// `any-with-x`; a topic exchange refuses keys of more than 1024 words; only a
    /// topic exchange takes a word pattern.
    pub fn bind(&mut self, mut binding: Binding) -> Result<Effects, RoutingError> {
        self.check_binding_ends(&binding)?;
        let source = self.lookup(&binding.source)?;
        binding.normalise_key();
        let invalid_key = |reason: String| RoutingError::InvalidBindingKey {
            vhost: self.vhost.clone(),
            name: binding.source.clone(),
            reason,
        };
        if let Some(p) = &binding.pattern
            && source.def.kind != ExchangeKind::Topic
        {
            return Err(invalid_key(format!(
                "a word pattern ({p}) binds only from a topic exchange, not a {} exchange",
                source.def.kind.as_str()
            )));
        }
        let words = match &binding.pattern {
            Some(p) => p.words().len(),
            None => binding.routing_key.split('.').count(),
        };
        if source.def.kind == ExchangeKind::Topic && words > MAX_BINDING_KEY_WORDS {
            return Err(invalid_key(format!(
                "a topic binding key has at most {MAX_BINDING_KEY_WORDS} words"
            )));
        }
        if source.def.kind == ExchangeKind::Headers {
            headers_match::validate(&binding.arguments).map_err(|reason| {
                RoutingError::InvalidBindingArguments {
                    vhost: self.vhost.clone(),
                    name: binding.source.clone(),
                    reason,
                }
            })?;
        }
        let arguments = normalise(binding.arguments);
        let key = BindingKey::of_parts(&binding.routing_key, binding.pattern.as_ref());
        if source.has_binding(&binding.destination, &key, &arguments) {
            return Ok(Effects::default());
        }
        if let Some(x) = self.exchanges.get_mut(&binding.source) {
            Arc::make_mut(x).add_binding(binding.destination.clone(), key, arguments);
        }
        if let Some(sources) = self.sources.get_mut(&binding.destination) {
            sources.insert(binding.source, ());
        } else {
            let mut sources = PMap::new();
            sources.insert(binding.source, ());
            self.sources.insert(binding.destination, sources);
        }
        Ok(Effects::changed())
    }

    /// Removes a binding, then the source exchange if it is auto-delete and that was
    /// its last binding. Unbinding what is not bound is a no-op; a missing source or
    /// destination exchange is an error.
    pub fn unbind(&mut self, binding: &Binding) -> Result<Effects, RoutingError> {
        self.check_binding_ends(binding)?;
        let source = self.lookup(&binding.source)?;
        let arguments = normalise(binding.arguments.clone());
        let key = BindingKey::of_parts(&binding.routing_key, binding.pattern.as_ref());
        if !source.has_binding(&binding.destination, &key, &arguments) {
            return Ok(Effects::default());
        }
        let mut still_bound = false;
        if let Some(x) = self.exchanges.get_mut(&binding.source) {
            let x = Arc::make_mut(x);
            x.remove_binding(&binding.destination, &key, &arguments);
            still_bound = x.has_destination(&binding.destination);
        }
        if !still_bound {
            self.forget_source(&binding.destination, &binding.source);
        }
        let mut effects = Effects::changed();
        effects.removed_bindings.push(key.to_binding(
            &binding.source,
            &binding.destination,
            &arguments,
        ));
        self.auto_delete(vec![binding.source.clone()], &mut effects);
        Ok(effects)
    }

    /// Drops every binding to a deleted queue, then the auto-delete exchanges that lost
    /// their last binding.
    pub fn remove_queue(&mut self, queue: &QueueName) -> Effects {
        let mut effects = Effects::default();
        let mut candidates = Vec::new();
        self.detach(
            &BindingDestination::Queue(queue.clone()),
            &mut effects,
            &mut candidates,
        );
        self.auto_delete(candidates, &mut effects);
        effects
    }

    fn check_binding_ends(&self, binding: &Binding) -> Result<(), RoutingError> {
        let destination_exchange = match &binding.destination {
            BindingDestination::Exchange(x) => Some(x),
            BindingDestination::Queue(_) => None,
        };
        if binding.source.is_default() || destination_exchange.is_some_and(|x| x.is_default()) {
            return Err(RoutingError::DefaultExchange);
        }
        if let Some(x) = destination_exchange {
            self.lookup(x)?;
        }
        Ok(())
    }

    fn remove_exchange(
        &mut self,
        name: &ExchangeName,
        effects: &mut Effects,
        candidates: &mut Vec<ExchangeName>,
    ) {
        let Some(x) = self.exchanges.remove(name) else {
            return;
        };
        effects.changed = true;
        effects.deleted_exchanges.push(name.clone());
        push_bindings_of(name, &x, &mut effects.removed_bindings);
        for destination in x.destinations() {
            self.forget_source(destination, name);
        }
        self.detach(
            &BindingDestination::Exchange(name.clone()),
            effects,
            candidates,
        );
    }

    /// Removes every binding to `destination`; its sources become auto-delete candidates.
    fn detach(
        &mut self,
        destination: &BindingDestination,
        effects: &mut Effects,
        candidates: &mut Vec<ExchangeName>,
    ) {
        let Some(sources) = self.sources.remove(destination) else {
            return;
        };
        for source in sources.keys() {
            // Absent when an exchange bound to itself is being deleted: its bindings
            // were reported with the rest of its own.
            let Some(x) = self.exchanges.get_mut(source) else {
                continue;
            };
            for (key, args) in Arc::make_mut(x).remove_destination(destination) {
                effects
                    .removed_bindings
                    .push(key.to_binding(source, destination, &args));
            }
            effects.changed = true;
            candidates.push(source.clone());
        }
    }

    fn forget_source(&mut self, destination: &BindingDestination, source: &ExchangeName) {
        if let Some(sources) = self.sources.get_mut(destination) {
            sources.remove(source);
            if sources.is_empty() {
                self.sources.remove(destination);
            }
        }
    }

    /// Deletes the candidates that are auto-delete and now without bindings, and in
    /// turn whatever that leaves without bindings.
    fn auto_delete(&mut self, mut candidates: Vec<ExchangeName>, effects: &mut Effects) {
        while let Some(name) = candidates.pop() {
            let unused = self
                .exchanges
                .get(&name)
                .is_some_and(|x| x.def.auto_delete && x.binding_count() == 0);
            if unused {
                self.remove_exchange(&name, effects, &mut candidates);
            }
        }
    }
}

fn push_bindings_of(name: &ExchangeName, x: &Exchange, out: &mut Vec<Binding>) {
    x.for_each_binding(|destination, key, args| out.push(key.to_binding(name, destination, args)));
}

fn sort_bindings(bindings: &mut [Binding]) {
    // Stable, so bindings differing only in arguments keep the order they were made in.
    // AMQP-syntax keys before patterns that print the same.
    bindings.sort_by(|a, b| {
        (
            &a.source,
            &a.destination,
            &a.routing_key,
            a.pattern.is_some(),
        )
            .cmp(&(
                &b.source,
                &b.destination,
                &b.routing_key,
                b.pattern.is_some(),
            ))
    });
}
