//! One exchange in a routing table: its definition, its bindings (as source) and the
//! structure its type routes with.

use std::sync::Arc;

use trident_core::{BindingDestination, ExchangeDef, ExchangeKind, FieldTable, QueueName};

use crate::headers_match::HeadersPattern;
use crate::pmap::PMap;
use crate::topic_trie::{HashMemo, TopicTrie};

/// The argument tables of the bindings that share a destination and a routing key
/// (AMQP counts bindings differing only in arguments as distinct). Almost always one.
type ArgumentTables = Arc<[FieldTable]>;

#[derive(Clone, Debug)]
pub(crate) struct Exchange {
    pub(crate) def: ExchangeDef,
    /// The bindings this exchange is the source of, by destination then routing key,
    /// so that dropping a queue finds its bindings without scanning the others.
    bindings: PMap<BindingDestination, PMap<Arc<str>, ArgumentTables>>,
    binding_count: usize,
    matcher: Matcher,
}

/// What routing reads. Kept apart from `bindings` because each type wants a different
/// shape; fanout needs nothing beyond the destinations `bindings` already has.
#[derive(Clone, Debug)]
enum Matcher {
    /// The nameless exchange: routes to the queue named by the routing key.
    Default,
    Direct(PMap<Arc<str>, PMap<BindingDestination, ()>>),
    Fanout,
    Topic(TopicTrie),
    /// The compiled argument tables of every binding, per destination.
    Headers(PMap<BindingDestination, Arc<[HeadersPattern]>>),
}

impl Exchange {
    pub(crate) fn new(def: ExchangeDef) -> Self {
        let matcher = if def.name.is_default() {
            Matcher::Default
        } else {
            match def.kind {
                ExchangeKind::Direct => Matcher::Direct(PMap::new()),
                ExchangeKind::Fanout => Matcher::Fanout,
                ExchangeKind::Topic => Matcher::Topic(TopicTrie::default()),
                ExchangeKind::Headers => Matcher::Headers(PMap::new()),
            }
        };
        Self {
            def,
            bindings: PMap::new(),
            binding_count: 0,
            matcher,
        }
    }

    pub(crate) fn binding_count(&self) -> usize {
        self.binding_count
    }

    pub(crate) fn has_destination(&self, destination: &BindingDestination) -> bool {
        self.bindings.contains_key(destination)
    }

    pub(crate) fn destinations(&self) -> impl Iterator<Item = &BindingDestination> {
        self.bindings.keys()
    }

    pub(crate) fn has_binding(
        &self,
        destination: &BindingDestination,
        routing_key: &str,
        arguments: &FieldTable,
    ) -> bool {
        self.bindings
            .get(destination)
            .and_then(|by_key| by_key.get(routing_key))
            .is_some_and(|tables| tables.contains(arguments))
    }

    /// Adds a binding the caller has checked is new.
    pub(crate) fn add_binding(
        &mut self,
        destination: BindingDestination,
        routing_key: &str,
        arguments: FieldTable,
    ) {
        if !self.bindings.contains_key(&destination) {
            self.bindings.insert(destination.clone(), PMap::new());
        }
        let Some(by_key) = self.bindings.get_mut(&destination) else {
            return;
        };
        let first_for_key = match by_key.get_mut(routing_key) {
            Some(tables) => {
                *tables = tables.iter().cloned().chain([arguments]).collect();
                false
            }
            None => {
                by_key.insert(Arc::from(routing_key), Arc::from([arguments]));
                true
            }
        };
        self.binding_count += 1;
        match &mut self.matcher {
            Matcher::Direct(index) if first_for_key => {
                if let Some(destinations) = index.get_mut(routing_key) {
                    destinations.insert(destination, ());
                } else {
                    let mut destinations = PMap::new();
                    destinations.insert(destination, ());
                    index.insert(Arc::from(routing_key), destinations);
                }
            }
            Matcher::Topic(trie) if first_for_key => trie.insert(routing_key, destination),
            Matcher::Headers(patterns) => {
                let compiled = compile_all(by_key);
                patterns.insert(destination, compiled);
            }
            Matcher::Default | Matcher::Fanout | Matcher::Direct(_) | Matcher::Topic(_) => {}
        }
    }

    /// Removes one binding; returns whether it existed.
    pub(crate) fn remove_binding(
        &mut self,
        destination: &BindingDestination,
        routing_key: &str,
        arguments: &FieldTable,
    ) -> bool {
        if !self.has_binding(destination, routing_key, arguments) {
            return false;
        }
        let Some(by_key) = self.bindings.get_mut(destination) else {
            return false;
        };
        let mut last_for_key = false;
        if let Some(tables) = by_key.get_mut(routing_key) {
            let pos = tables.iter().position(|t| t == arguments);
            let rest: Vec<FieldTable> = (tables.iter().enumerate())
                .filter(|(i, _)| Some(*i) != pos)
                .map(|(_, t)| t.clone())
                .collect();
            last_for_key = rest.is_empty();
            *tables = Arc::from(rest);
        }
        if last_for_key {
            by_key.remove(routing_key);
        }
        let destination_gone = by_key.is_empty();
        if let Matcher::Headers(patterns) = &mut self.matcher {
            if destination_gone {
                patterns.remove(destination);
            } else {
                let compiled = compile_all(by_key);
                patterns.insert(destination.clone(), compiled);
            }
        }
        if destination_gone {
            self.bindings.remove(destination);
        }
        if last_for_key {
            self.unindex(destination, routing_key);
        }
        self.binding_count -= 1;
        true
    }

    /// Removes every binding to `destination`; returns them as (routing key, arguments).
    pub(crate) fn remove_destination(
        &mut self,
        destination: &BindingDestination,
    ) -> Vec<(Arc<str>, FieldTable)> {
        let Some(by_key) = self.bindings.remove(destination) else {
            return Vec::new();
        };
        let mut removed = Vec::new();
        for (key, tables) in by_key.iter() {
            self.unindex(destination, key);
            removed.extend(tables.iter().map(|t| (Arc::clone(key), t.clone())));
        }
        self.binding_count -= removed.len();
        if let Matcher::Headers(patterns) = &mut self.matcher {
            patterns.remove(destination);
        }
        removed
    }

    /// Drops (destination, routing key) from the key-based matchers.
    fn unindex(&mut self, destination: &BindingDestination, routing_key: &str) {
        match &mut self.matcher {
            Matcher::Direct(index) => {
                if let Some(destinations) = index.get_mut(routing_key) {
                    destinations.remove(destination);
                    if destinations.is_empty() {
                        index.remove(routing_key);
                    }
                }
            }
            Matcher::Topic(trie) => trie.remove(routing_key, destination),
            Matcher::Default | Matcher::Fanout | Matcher::Headers(_) => {}
        }
    }

    pub(crate) fn for_each_binding(
        &self,
        mut f: impl FnMut(&BindingDestination, &Arc<str>, &FieldTable),
    ) {
        self.bindings.for_each(|destination, by_key| {
            by_key.for_each(|key, tables| tables.iter().for_each(|t| f(destination, key, t)));
        });
    }

    pub(crate) fn for_each_binding_to(
        &self,
        destination: &BindingDestination,
        mut f: impl FnMut(&Arc<str>, &FieldTable),
    ) {
        if let Some(by_key) = self.bindings.get(destination) {
            by_key.for_each(|key, tables| tables.iter().for_each(|t| f(key, t)));
        }
    }

    /// Whether [`Exchange::route`] can emit one destination more than once: only a
    /// topic exchange can, when several binding keys to it match.
    pub(crate) fn may_repeat_destinations(&self) -> bool {
        matches!(self.matcher, Matcher::Topic(_))
    }

    /// Emits the destination of every matching binding (repeats only for topic).
    pub(crate) fn route(
        &self,
        routing_key: &str,
        headers: &FieldTable,
        memo: &mut HashMemo,
        emit: &mut impl FnMut(&BindingDestination),
    ) {
        match &self.matcher {
            Matcher::Default => {
                // Queue existence is the engine's business: it drops the candidate if
                // no such queue exists. A key that is not a valid queue name (the
                // empty key) can name no queue.
                if let Ok(queue) = QueueName::new(routing_key) {
                    emit(&BindingDestination::Queue(queue));
                }
            }
            Matcher::Direct(index) => {
                if let Some(destinations) = index.get(routing_key) {
                    destinations.for_each(|d, ()| emit(d));
                }
            }
            Matcher::Fanout => self.bindings.for_each(|d, _| emit(d)),
            Matcher::Topic(trie) => trie.for_each_match(routing_key, memo, emit),
            Matcher::Headers(patterns) => patterns.for_each(|d, patterns| {
                if patterns.iter().any(|p| p.matches(headers)) {
                    emit(d);
                }
            }),
        }
    }
}

fn compile_all(by_key: &PMap<Arc<str>, ArgumentTables>) -> Arc<[HeadersPattern]> {
    let mut patterns: Vec<HeadersPattern> = Vec::new();
    by_key.for_each(|_, tables| {
        for table in tables.iter() {
            let pattern = HeadersPattern::compile(table);
            if !patterns.contains(&pattern) {
                patterns.push(pattern);
            }
        }
    });
    Arc::from(patterns)
}
