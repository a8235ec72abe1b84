//! One exchange in a routing table: its definition, its bindings (as source) and the
//! structure its type routes with.

use std::sync::Arc;

use trident_core::{BindingDestination, ExchangeDef, ExchangeKind, FieldTable, QueueName};

use crate::bound::{BindingKey, BoundArgs, Tables};
use crate::headers_match::HeadersPattern;
use crate::pmap::PMap;
use crate::topic_trie::{HashMemo, TopicTrie};

/// A destination's headers bindings, each compiled, with its arguments.
type CompiledHeaders = Arc<[(HeadersPattern, Arc<BoundArgs>)]>;

#[derive(Clone, Debug)]
pub(crate) struct Exchange {
    pub(crate) def: ExchangeDef,
    /// The bindings this exchange is the source of, by destination then key, so that
    /// dropping a queue finds its bindings without scanning the others. The tables
    /// are the same `Arc`s the matcher holds.
    bindings: PMap<BindingDestination, PMap<BindingKey, Tables>>,
    binding_count: usize,
    matcher: Matcher,
}

/// What routing reads. Kept apart from `bindings` because each type wants a different
/// shape.
#[derive(Clone, Debug)]
enum Matcher {
    /// The nameless exchange: routes to the queue named by the routing key.
    Default,
    Direct(PMap<Arc<str>, PMap<BindingDestination, Tables>>),
    /// Every binding of each destination, whatever its key.
    Fanout(PMap<BindingDestination, Tables>),
    Topic(TopicTrie),
    /// The compiled argument tables of every binding, per destination.
    Headers(PMap<BindingDestination, CompiledHeaders>),
}

/// A message as routing sees it, passed down to each exchange.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Probe<'a> {
    pub routing_key: &'a str,
    pub headers: &'a FieldTable,
    pub origin: Option<&'a str>,
}

impl Exchange {
    pub(crate) fn new(def: ExchangeDef) -> Self {
        let matcher = if def.name.is_default() {
            Matcher::Default
        } else {
            match def.kind {
                ExchangeKind::Direct => Matcher::Direct(PMap::new()),
                ExchangeKind::Fanout => Matcher::Fanout(PMap::new()),
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
        key: &BindingKey,
        arguments: &FieldTable,
    ) -> bool {
        self.bindings
            .get(destination)
            .and_then(|by_key| by_key.get(key))
            .is_some_and(|tables| tables.iter().any(|b| *b.table == *arguments))
    }

    /// Adds a binding the caller has checked is new.
    pub(crate) fn add_binding(
        &mut self,
        destination: BindingDestination,
        key: BindingKey,
        arguments: FieldTable,
    ) {
        let bound = Arc::new(BoundArgs::new(arguments, self.def.kind));
        if !self.bindings.contains_key(&destination) {
            self.bindings.insert(destination.clone(), PMap::new());
        }
        let Some(by_key) = self.bindings.get_mut(&destination) else {
            return;
        };
        let tables = Tables::new(match by_key.get(&key) {
            Some(tables) => tables.iter().cloned().chain([bound]).collect(),
            None => vec![bound],
        });
        by_key.insert(key.clone(), tables.clone());
        self.binding_count += 1;
        self.reindex(&destination, &key, Some(tables));
    }

    /// Removes one binding; returns whether it existed.
    pub(crate) fn remove_binding(
        &mut self,
        destination: &BindingDestination,
        key: &BindingKey,
        arguments: &FieldTable,
    ) -> bool {
        let Some(by_key) = self.bindings.get_mut(destination) else {
            return false;
        };
        let Some(tables) = by_key.get(key) else {
            return false;
        };
        let Some(pos) = tables.iter().position(|b| *b.table == *arguments) else {
            return false;
        };
        let rest: Vec<Arc<BoundArgs>> = (tables.iter().enumerate())
            .filter(|(i, _)| *i != pos)
            .map(|(_, b)| b.clone())
            .collect();
        let remaining = (!rest.is_empty()).then(|| Tables::new(rest));
        match &remaining {
            Some(t) => by_key.insert(key.clone(), t.clone()),
            None => by_key.remove(key),
        };
        if by_key.is_empty() {
            self.bindings.remove(destination);
        }
        self.binding_count -= 1;
        self.reindex(destination, key, remaining);
        true
    }

    /// Removes every binding to `destination`; returns them as (key, arguments).
    pub(crate) fn remove_destination(
        &mut self,
        destination: &BindingDestination,
    ) -> Vec<(BindingKey, FieldTable)> {
        let Some(by_key) = self.bindings.remove(destination) else {
            return Vec::new();
        };
        let mut removed = Vec::new();
        for (key, tables) in by_key.iter() {
            self.reindex(destination, key, None);
            removed.extend(tables.iter().map(|b| (key.clone(), (*b.table).clone())));
        }
        self.binding_count -= removed.len();
        removed
    }

    /// Brings the matcher in line with the bindings from this exchange to
    /// `destination` under `key` (`None`: there are none left).
    fn reindex(
        &mut self,
        destination: &BindingDestination,
        key: &BindingKey,
        tables: Option<Tables>,
    ) {
        match &mut self.matcher {
            Matcher::Default => {}
            Matcher::Direct(index) => {
                // Only AMQP-syntax keys reach a direct exchange (the table refuses
                // patterns there).
                let Some(text) = key.text() else { return };
                let mut destinations = index.get(&**text).cloned().unwrap_or_else(PMap::new);
                match tables {
                    Some(t) => destinations.insert(destination.clone(), t),
                    None => destinations.remove(destination),
                };
                if destinations.is_empty() {
                    index.remove(&**text);
                } else {
                    index.insert(text.clone(), destinations);
                }
            }
            Matcher::Fanout(all) => {
                let merged = all_tables(self.bindings.get(destination));
                match merged {
                    Some(t) => all.insert(destination.clone(), t),
                    None => all.remove(destination),
                };
            }
            Matcher::Topic(trie) => trie.set(key, destination, tables),
            Matcher::Headers(patterns) => {
                match self.bindings.get(destination) {
                    Some(by_key) => patterns.insert(destination.clone(), compile_all(by_key)),
                    None => patterns.remove(destination),
                };
            }
        }
    }

    pub(crate) fn for_each_binding(
        &self,
        mut f: impl FnMut(&BindingDestination, &BindingKey, &FieldTable),
    ) {
        self.bindings.for_each(|destination, by_key| {
            by_key
                .for_each(|key, tables| tables.iter().for_each(|b| f(destination, key, &b.table)));
        });
    }

    pub(crate) fn for_each_binding_to(
        &self,
        destination: &BindingDestination,
        mut f: impl FnMut(&BindingKey, &FieldTable),
    ) {
        if let Some(by_key) = self.bindings.get(destination) {
            by_key.for_each(|key, tables| tables.iter().for_each(|b| f(key, &b.table)));
        }
    }

    /// Whether [`Exchange::route`] can emit one destination non-adjacently: only a
    /// topic exchange can, when several patterns to it match. Every other type emits
    /// all the bindings of one destination together.
    pub(crate) fn may_repeat_destinations(&self) -> bool {
        matches!(self.matcher, Matcher::Topic(_))
    }

    /// Emits each destination with matching bindings, once per destination (per
    /// pattern for topic), with those bindings; the caller skips the ones that refuse
    /// the message's origin.
    pub(crate) fn route(
        &self,
        probe: Probe<'_>,
        memo: &mut HashMemo,
        emit: &mut impl FnMut(&BindingDestination, Bound<'_>),
    ) {
        match &self.matcher {
            Matcher::Default => {
                // Queue existence is the engine's business: it drops the candidate if
                // no such queue exists. A key that is not a valid queue name (the
                // empty key) can name no queue.
                if let Ok(queue) = QueueName::new(probe.routing_key) {
                    emit(&BindingDestination::Queue(queue), Bound::Unbound);
                }
            }
            Matcher::Direct(index) => {
                if let Some(destinations) = index.get(probe.routing_key) {
                    destinations.for_each(|d, t| emit(d, Bound::All(t)));
                }
            }
            Matcher::Fanout(all) => all.for_each(|d, t| emit(d, Bound::All(t))),
            Matcher::Topic(trie) => {
                trie.for_each_match(probe.routing_key, memo, &mut |d, t| emit(d, Bound::All(t)));
            }
            Matcher::Headers(patterns) => patterns.for_each(|d, patterns| {
                // Headers arguments are criteria, never reported: the first binding
                // that matches is enough.
                if let Some((_, b)) = patterns
                    .iter()
                    .find(|(p, b)| !b.skips(probe.origin) && p.matches(probe.headers))
                {
                    emit(d, Bound::One(b));
                }
            }),
        }
    }
}

/// The bindings along which [`Exchange::route`] found a destination.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Bound<'a> {
    /// The default exchange: no binding at all.
    Unbound,
    One(&'a BoundArgs),
    All(&'a Tables),
}

/// Every binding to one destination, whatever its key, in one slice.
fn all_tables(by_key: Option<&PMap<BindingKey, Tables>>) -> Option<Tables> {
    let by_key = by_key?;
    let mut all: Vec<Arc<BoundArgs>> = Vec::new();
    by_key.for_each(|_, tables| all.extend(tables.iter().cloned()));
    (!all.is_empty()).then(|| Tables::new(all))
}

fn compile_all(by_key: &PMap<BindingKey, Tables>) -> CompiledHeaders {
    let mut patterns: Vec<(HeadersPattern, Arc<BoundArgs>)> = Vec::new();
    by_key.for_each(|_, tables| {
        for b in tables.iter() {
            patterns.push((HeadersPattern::compile(&b.table), b.clone()));
        }
    });
    Arc::from(patterns)
}
