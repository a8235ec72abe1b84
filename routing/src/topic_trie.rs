//! The topic exchange's matcher: a trie over the words of binding patterns.
//!
//! Keys are lists of words ([`trident_core::topic_words`]): an AMQP-syntax binding key
//! is split on `.` with `*` standing for exactly one word and `#` for zero or more; a
//! [`TopicPattern`] binding gives its words explicitly, and its exact words are edges
//! like any other word (an exact `*` is not the wildcard edge). As in RabbitMQ, an
//! empty key has no words at all (so only `""`, `#`, `#.#`, ... match it, and `*` does
//! not), while empty words between dots are ordinary words (`a..b` is `a`, ``, `b`).
//!
//! Patterns under the `$` rule that start with a wildcard live in their own two
//! subtrees beside the root, which a key whose first word starts with `$` never
//! enters: the rule costs one comparison per route, and AMQP-syntax bindings, which
//! sit in the ordinary tree, keep RabbitMQ's behaviour.
//!
//! Matching walks the trie with the routing key's words. A `#` node can absorb any
//! number of words, so the same `#` node may be reached at the same word position along
//! several paths (`#.#.#` against a long key reaches the inner nodes in combinatorially
//! many ways). Each `#` node remembers the lowest position it has been expanded from,
//! which bounds the work by (trie nodes × key words) instead of letting it explode.

use std::sync::Arc;

use smallvec::SmallVec;
use trident_core::{BindingDestination, PatternWord};

use crate::bound::{BindingKey, Tables};
use crate::pmap::PMap;

/// The most words a topic binding key may have. Trie operations recurse once per word
/// of a binding key, so this bounds their stack use; AMQP keys (at most 255 bytes)
/// cannot get near it, but patterns from other protocols can be 64 KiB long.
pub(crate) const MAX_BINDING_KEY_WORDS: usize = 1024;

/// Most routing keys have few words; longer ones spill to the heap.
pub(crate) type Words<'a> = SmallVec<[&'a str; 16]>;

/// Splits a routing key into words; the empty key has none.
pub(crate) fn split_words(key: &str) -> Words<'_> {
    trident_core::topic_words::split_words(key).collect()
}

#[derive(Clone, Debug, Default)]
pub(crate) struct TopicTrie {
    root: Node,
    /// Patterns under the `$` rule whose first element is one word / any words; the
    /// rest of the pattern hangs below.
    dollar_star: Option<Arc<Node>>,
    dollar_hash: Option<Arc<Node>>,
}

#[derive(Clone, Debug, Default)]
struct Node {
    words: PMap<Arc<str>, Arc<Node>>,
    star: Option<Arc<Node>>,
    hash: Option<Arc<Node>>,
    /// The bindings whose pattern ends at this node, by destination and key: an
    /// AMQP-syntax key and a word pattern can end at the same node (`a.*` and
    /// `a`,one-word), and stay separate bindings.
    destinations: PMap<(BindingDestination, BindingKey), Tables>,
}

impl Node {
    fn is_empty(&self) -> bool {
        self.words.is_empty()
            && self.star.is_none()
            && self.hash.is_none()
            && self.destinations.is_empty()
    }
}

impl TopicTrie {
    /// Sets (or with `None` removes) the bindings under `key` to `destination`.
    pub(crate) fn set(
        &mut self,
        key: &BindingKey,
        destination: &BindingDestination,
        tables: Option<Tables>,
    ) {
        let pattern = key.topic_pattern();
        let leaf = (destination.clone(), key.clone());
        let words = pattern.words();
        if let (true, Some((first, rest))) = (pattern.skips_dollar_words(), words.split_first()) {
            let slot = match first {
                PatternWord::One => &mut self.dollar_star,
                _ => &mut self.dollar_hash,
            };
            set_in_slot(slot, rest, &leaf, tables);
        } else {
            set_at(&mut self.root, words, &leaf, tables);
        }
    }

    /// Calls `emit` for every destination whose pattern matches, with the bindings
    /// it has under that pattern. A destination bound under several matching patterns
    /// is emitted once per pattern.
    pub(crate) fn for_each_match(
        &self,
        routing_key: &str,
        memo: &mut HashMemo,
        emit: &mut impl FnMut(&BindingDestination, &Tables),
    ) {
        memo.clear();
        let words = split_words(routing_key);
        walk(&self.root, &words, 0, memo, emit);
        if words.first().is_some_and(|w| w.starts_with('$')) {
            return;
        }
        if let (Some(star), false) = (&self.dollar_star, words.is_empty()) {
            walk(star, &words, 1, memo, emit);
        }
        if let Some(hash) = &self.dollar_hash {
            expand_hash(hash, &words, 0, memo, emit);
        }
    }
}

type Leaf = (BindingDestination, BindingKey);

fn set_at(node: &mut Node, words: &[PatternWord], leaf: &Leaf, tables: Option<Tables>) {
    let Some((first, rest)) = words.split_first() else {
        match tables {
            Some(t) => node.destinations.insert(leaf.clone(), t),
            None => node.destinations.remove(leaf),
        };
        return;
    };
    let slot = match first {
        PatternWord::One => &mut node.star,
        PatternWord::Many => &mut node.hash,
        PatternWord::Exact(word) => {
            match node.words.get_mut(word.as_str()) {
                Some(child) => {
                    let child = Arc::make_mut(child);
                    set_at(child, rest, leaf, tables);
                    if child.is_empty() {
                        node.words.remove(word.as_str());
                    }
                }
                None if tables.is_some() => {
                    let mut child = Node::default();
                    set_at(&mut child, rest, leaf, tables);
                    node.words.insert(Arc::from(word.as_str()), Arc::new(child));
                }
                None => {}
            }
            return;
        }
    };
    set_in_slot(slot, rest, leaf, tables);
}

fn set_in_slot(
    slot: &mut Option<Arc<Node>>,
    rest: &[PatternWord],
    leaf: &Leaf,
    tables: Option<Tables>,
) {
    if slot.is_none() && tables.is_none() {
        return;
    }
    let child = Arc::make_mut(slot.get_or_insert_with(Default::default));
    set_at(child, rest, leaf, tables);
    if child.is_empty() {
        *slot = None;
    }
}

/// Matches the trie below `node` against `words[i..]`.
fn walk(
    node: &Node,
    words: &[&str],
    i: usize,
    memo: &mut HashMemo,
    emit: &mut impl FnMut(&BindingDestination, &Tables),
) {
    match words.get(i) {
        None => node.destinations.for_each(|(d, _), t| emit(d, t)),
        Some(&word) => {
            if let Some(child) = node.words.get(word) {
                walk(child, words, i + 1, memo, emit);
            }
            if let Some(child) = &node.star {
                walk(child, words, i + 1, memo, emit);
            }
        }
    }
    if let Some(hash) = &node.hash {
        expand_hash(hash, words, i, memo, emit);
    }
}

/// A `#` node reached at word `i`: it absorbs words[i..j] for every j from i to the
/// end. Positions from the lowest one this node was already expanded from are done.
fn expand_hash(
    hash: &Node,
    words: &[&str],
    i: usize,
    memo: &mut HashMemo,
    emit: &mut impl FnMut(&BindingDestination, &Tables),
) {
    let id = std::ptr::from_ref::<Node>(hash).addr();
    let done_from = memo.lowest(id).unwrap_or(words.len() + 1);
    if i < done_from {
        memo.set_lowest(id, i);
        for j in i..done_from {
            walk(hash, words, j, memo, emit);
        }
    }
}

/// Per-route scratch: for each `#` node reached, the lowest word position it has been
/// expanded from. Kept in [`crate::RouteResult`] so that routing does not allocate.
#[derive(Debug, Default)]
pub(crate) struct HashMemo {
    /// Few `#` nodes are reached per route; a linear scan is fastest until there are many.
    few: Vec<(usize, usize)>,
    many: std::collections::HashMap<usize, usize>,
}

const MEMO_LINEAR_MAX: usize = 16;

impl HashMemo {
    fn clear(&mut self) {
        self.few.clear();
        self.many.clear();
    }

    fn lowest(&self, id: usize) -> Option<usize> {
        if let Some(&(_, low)) = self.few.iter().find(|(n, _)| *n == id) {
            return Some(low);
        }
        self.many.get(&id).copied()
    }

    fn set_lowest(&mut self, id: usize, low: usize) {
        if let Some(entry) = self.few.iter_mut().find(|(n, _)| *n == id) {
            entry.1 = low;
        } else if self.few.len() < MEMO_LINEAR_MAX {
            self.few.push((id, low));
        } else {
            self.many.insert(id, low);
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::bound::BoundArgs;
    use trident_core::{ExchangeKind, FieldTable, QueueName, TopicPattern};

    fn q(name: &str) -> BindingDestination {
        BindingDestination::Queue(QueueName::new(name).unwrap())
    }

    fn tables() -> Tables {
        let plain = BoundArgs::new(FieldTable::new(), ExchangeKind::Topic);
        Tables::new(vec![Arc::new(plain)])
    }

    fn text(key: &str) -> BindingKey {
        BindingKey::Text(Arc::from(key))
    }

    fn insert(trie: &mut TopicTrie, key: &str, d: BindingDestination) {
        trie.set(&text(key), &d, Some(tables()));
    }

    fn remove(trie: &mut TopicTrie, key: &str, d: &BindingDestination) {
        trie.set(&text(key), d, None);
    }

    fn matches(trie: &TopicTrie, key: &str) -> Vec<String> {
        let mut out = Vec::new();
        trie.for_each_match(key, &mut HashMemo::default(), &mut |d, _| {
            if let BindingDestination::Queue(q) = d {
                out.push(q.to_string());
            }
        });
        out.sort();
        out
    }

    #[test]
    fn splitting() {
        assert!(split_words("").is_empty());
        assert_eq!(split_words("a").as_slice(), ["a"]);
        assert_eq!(split_words("a..b").as_slice(), ["a", "", "b"]);
        assert_eq!(split_words(".").as_slice(), ["", ""]);
        assert_eq!(split_words("a.").as_slice(), ["a", ""]);
    }

    #[test]
    fn removal_prunes_empty_nodes() {
        let mut trie = TopicTrie::default();
        insert(&mut trie, "a.*.#.b", q("q1"));
        insert(&mut trie, "a.*.c", q("q2"));
        remove(&mut trie, "a.*.#.b", &q("q1"));
        assert_eq!(matches(&trie, "a.x.c"), ["q2"]);
        remove(&mut trie, "a.*.c", &q("q2"));
        assert!(trie.root.is_empty());
        let dollar = BindingKey::Pattern(Arc::new(
            TopicPattern::new(vec![PatternWord::Many]).unwrap(),
        ));
        trie.set(&dollar, &q("q3"), Some(tables()));
        assert!(trie.dollar_hash.is_some());
        trie.set(&dollar, &q("q3"), None);
        assert!(trie.dollar_hash.is_none());
    }

    #[test]
    fn older_versions_are_unaffected() {
        let mut trie = TopicTrie::default();
        insert(&mut trie, "a.#", q("q1"));
        let before = trie.clone();
        insert(&mut trie, "a.b", q("q2"));
        remove(&mut trie, "a.#", &q("q1"));
        assert_eq!(matches(&before, "a.b"), ["q1"]);
        assert_eq!(matches(&trie, "a.b"), ["q2"]);
    }

    #[test]
    fn many_hashes_stay_polynomial() {
        let mut trie = TopicTrie::default();
        let pattern = vec!["#"; 40].join(".");
        insert(&mut trie, &pattern, q("q"));
        let key = vec!["w"; 200].join(".");
        // Without the memo this would not finish.
        assert_eq!(matches(&trie, &key), ["q"]);
        insert(&mut trie, &format!("{pattern}.x"), q("never"));
        assert_eq!(matches(&trie, &key), ["q"]);
    }
}
