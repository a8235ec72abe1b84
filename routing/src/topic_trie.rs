//! The topic exchange's matcher: a trie over the words of binding keys.
//!
//! Words are separated by `.`; in a binding key `*` stands for exactly one word and `#`
//! for zero or more. As in RabbitMQ, an empty key has no words at all (so only the
//! binding keys `""`, `#`, `#.#`, ... match it, and `*` does not), while empty words
//! between dots are ordinary words (`a..b` is `a`, ``, `b`; `*` matches the empty one).
//!
//! Matching walks the trie with the routing key's words. A `#` node can absorb any
//! number of words, so the same `#` node may be reached at the same word position along
//! several paths (`#.#.#` against a long key reaches the inner nodes in combinatorially
//! many ways). Each `#` node remembers the lowest position it has been expanded from,
//! which bounds the work by (trie nodes × key words) instead of letting it explode.

use std::sync::Arc;

use smallvec::SmallVec;
use trident_core::BindingDestination;

use crate::pmap::PMap;

/// The most words a topic binding key may have. Trie operations recurse once per word
/// of a binding key, so this bounds their stack use; AMQP keys (at most 255 bytes)
/// cannot get near it, but MQTT topic filters can be 64 KiB long.
pub(crate) const MAX_BINDING_KEY_WORDS: usize = 1024;

/// Most routing keys have few words; longer ones spill to the heap.
pub(crate) type Words<'a> = SmallVec<[&'a str; 16]>;

/// Splits a routing or binding key into words; the empty key has none.
pub(crate) fn split_words(key: &str) -> Words<'_> {
    if key.is_empty() {
        Words::new()
    } else {
        key.split('.').collect()
    }
}

#[derive(Clone, Debug, Default)]
pub(crate) struct TopicTrie {
    root: Node,
}

#[derive(Clone, Debug, Default)]
struct Node {
    words: PMap<Arc<str>, Arc<Node>>,
    star: Option<Arc<Node>>,
    hash: Option<Arc<Node>>,
    /// Destinations of the binding keys that end at this node.
    destinations: PMap<BindingDestination, ()>,
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
    pub(crate) fn insert(&mut self, binding_key: &str, destination: BindingDestination) {
        insert_at(&mut self.root, &split_words(binding_key), destination);
    }

    pub(crate) fn remove(&mut self, binding_key: &str, destination: &BindingDestination) {
        remove_at(&mut self.root, &split_words(binding_key), destination);
    }

    /// Calls `emit` for the destination of every binding key that matches. A
    /// destination bound under several matching keys is emitted once per key.
    pub(crate) fn for_each_match(
        &self,
        routing_key: &str,
        memo: &mut HashMemo,
        emit: &mut impl FnMut(&BindingDestination),
    ) {
        memo.clear();
        let words = split_words(routing_key);
        walk(&self.root, &words, 0, memo, emit);
    }
}

fn insert_at(node: &mut Node, words: &[&str], destination: BindingDestination) {
    let Some((&first, rest)) = words.split_first() else {
        node.destinations.insert(destination, ());
        return;
    };
    let slot = match first {
        "*" => &mut node.star,
        "#" => &mut node.hash,
        word => {
            if let Some(child) = node.words.get_mut(word) {
                insert_at(Arc::make_mut(child), rest, destination);
            } else {
                let mut child = Node::default();
                insert_at(&mut child, rest, destination);
                node.words.insert(Arc::from(word), Arc::new(child));
            }
            return;
        }
    };
    insert_at(
        Arc::make_mut(slot.get_or_insert_with(Default::default)),
        rest,
        destination,
    );
}

fn remove_at(node: &mut Node, words: &[&str], destination: &BindingDestination) {
    let Some((&first, rest)) = words.split_first() else {
        node.destinations.remove(destination);
        return;
    };
    let slot = match first {
        "*" => &mut node.star,
        "#" => &mut node.hash,
        word => {
            if let Some(child) = node.words.get_mut(word) {
                let child = Arc::make_mut(child);
                remove_at(child, rest, destination);
                if child.is_empty() {
                    node.words.remove(word);
                }
            }
            return;
        }
    };
    if let Some(child) = slot {
        let child = Arc::make_mut(child);
        remove_at(child, rest, destination);
        if child.is_empty() {
            *slot = None;
        }
    }
}

/// Matches the trie below `node` against `words[i..]`.
fn walk(
    node: &Node,
    words: &[&str],
    i: usize,
    memo: &mut HashMemo,
    emit: &mut impl FnMut(&BindingDestination),
) {
    match words.get(i) {
        None => node.destinations.for_each(|d, ()| emit(d)),
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
        // `#` absorbs words[i..j] for every j from i to the end. Positions from the
        // lowest one this node was already expanded from are done already.
        let id = std::ptr::from_ref::<Node>(hash).addr();
        let done_from = memo.lowest(id).unwrap_or(words.len() + 1);
        if i < done_from {
            memo.set_lowest(id, i);
            for j in i..done_from {
                walk(hash, words, j, memo, emit);
            }
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
    use trident_core::QueueName;

    fn q(name: &str) -> BindingDestination {
        BindingDestination::Queue(QueueName::new(name).unwrap())
    }

    fn matches(trie: &TopicTrie, key: &str) -> Vec<String> {
        let mut out = Vec::new();
        trie.for_each_match(key, &mut HashMemo::default(), &mut |d| {
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
        trie.insert("a.*.#.b", q("q1"));
        trie.insert("a.*.c", q("q2"));
        trie.remove("a.*.#.b", &q("q1"));
        assert_eq!(matches(&trie, "a.x.c"), ["q2"]);
        trie.remove("a.*.c", &q("q2"));
        assert!(trie.root.is_empty());
    }

    #[test]
    fn older_versions_are_unaffected() {
        let mut trie = TopicTrie::default();
        trie.insert("a.#", q("q1"));
        let before = trie.clone();
        trie.insert("a.b", q("q2"));
        trie.remove("a.#", &q("q1"));
        assert_eq!(matches(&before, "a.b"), ["q1"]);
        assert_eq!(matches(&trie, "a.b"), ["q2"]);
    }

    #[test]
    fn many_hashes_stay_polynomial() {
        let mut trie = TopicTrie::default();
        let pattern = vec!["#"; 40].join(".");
        trie.insert(&pattern, q("q"));
        let key = vec!["w"; 200].join(".");
        // Without the memo this would not finish.
        assert_eq!(matches(&trie, &key), ["q"]);
        trie.insert(&format!("{pattern}.x"), q("never"));
        assert_eq!(matches(&trie, &key), ["q"]);
    }
}
