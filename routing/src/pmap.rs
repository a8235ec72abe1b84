//! A persistent (structurally shared) hash map.
//!
//! Every routing structure lives in one of these so that changing one binding copies
//! only the few nodes on the path to it: a new table version costs O(log n) however
//! many bindings an exchange has, and the old version keeps being read by publishers
//! until they drop it. Cloning a map is one reference-count increment.
//!
//! Most maps in a routing table are tiny (the children of a topic-trie node, the
//! destinations of one routing key), so up to [`SMALL_MAX`] entries are kept in a plain
//! vector: a linear scan over a handful of keys beats hashing the key. Larger maps are
//! hash array mapped tries (32-way branches indexed by 5 hash bits per level).
//!
//! Mutation goes through `Arc::make_mut`: a node shared with an older version is copied
//! before it is changed, a node only this version holds is changed in place, so a batch
//! of edits on a fresh clone pays the copying once per touched node.

use std::borrow::Borrow;
use std::fmt;
use std::hash::{BuildHasher, Hash, RandomState};
use std::sync::{Arc, OnceLock};

/// Above this many entries a map switches from a vector to a trie.
const SMALL_MAX: usize = 8;
/// A trie that shrinks to this many entries goes back to a vector (below `SMALL_MAX`
/// so that a map oscillating around the threshold does not convert on every edit).
const SMALL_AGAIN: usize = SMALL_MAX / 2;
const BITS: u32 = 5;
const LEVEL_MASK: u64 = (1 << BITS) - 1;

/// One process-wide randomly keyed hasher: routing keys come from clients, so the hash
/// must not be predictable, and sharing it means no map has to store its own.
fn hash_of<Q: Hash + ?Sized>(key: &Q) -> u64 {
    static HASHER: OnceLock<RandomState> = OnceLock::new();
    let hash = HASHER.get_or_init(RandomState::new).hash_one(key);
    #[cfg(test)]
    let hash = hash & test_hooks::HASH_MASK.with(std::cell::Cell::get);
    hash
}

#[cfg(test)]
pub(crate) mod test_hooks {
    use std::cell::Cell;

    thread_local! {
        /// Tests narrow the hash to force collisions and deep tries.
        pub(crate) static HASH_MASK: Cell<u64> = const { Cell::new(u64::MAX) };
    }
}

pub(crate) struct PMap<K, V> {
    repr: Repr<K, V>,
}

enum Repr<K, V> {
    Empty,
    Small(Arc<Vec<(K, V)>>),
    Trie(Arc<Trie<K, V>>),
}

#[derive(Clone)]
struct Trie<K, V> {
    root: Branch<K, V>,
    len: usize,
}

#[derive(Clone)]
struct Branch<K, V> {
    /// Bit i set when hash index i has a slot; slots are stored densely in index order.
    bitmap: u32,
    slots: Vec<Slot<K, V>>,
}

#[derive(Clone)]
enum Slot<K, V> {
    Leaf {
        hash: u64,
        key: K,
        value: V,
    },
    /// Keys whose full 64-bit hashes are equal.
    Bucket {
        hash: u64,
        entries: Vec<(K, V)>,
    },
    Node(Arc<Branch<K, V>>),
}

impl<K: Clone, V: Clone> Clone for Repr<K, V> {
    fn clone(&self) -> Self {
        match self {
            Repr::Empty => Repr::Empty,
            Repr::Small(v) => Repr::Small(Arc::clone(v)),
            Repr::Trie(t) => Repr::Trie(Arc::clone(t)),
        }
    }
}

impl<K: Clone, V: Clone> Clone for PMap<K, V> {
    fn clone(&self) -> Self {
        Self {
            repr: self.repr.clone(),
        }
    }
}

impl<K, V> Default for PMap<K, V> {
    fn default() -> Self {
        Self { repr: Repr::Empty }
    }
}

impl<K: fmt::Debug, V: fmt::Debug> fmt::Debug for PMap<K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

fn level_bit(hash: u64, shift: u32) -> u32 {
    1 << ((hash >> shift) & LEVEL_MASK)
}

fn slot_pos(bitmap: u32, bit: u32) -> usize {
    (bitmap & (bit - 1)).count_ones() as usize
}

impl<K, V> PMap<K, V> {
    pub(crate) fn new() -> Self {
        Self::default()
    }

    pub(crate) fn len(&self) -> usize {
        match &self.repr {
            Repr::Empty => 0,
            Repr::Small(v) => v.len(),
            Repr::Trie(t) => t.len,
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub(crate) fn iter(&self) -> Iter<'_, K, V> {
        match &self.repr {
            Repr::Empty => Iter {
                flat: [].iter(),
                stack: Vec::new(),
            },
            Repr::Small(v) => Iter {
                flat: v.iter(),
                stack: Vec::new(),
            },
            Repr::Trie(t) => Iter {
                flat: [].iter(),
                stack: vec![t.root.slots.iter()],
            },
        }
    }

    pub(crate) fn keys(&self) -> impl Iterator<Item = &K> {
        self.iter().map(|(k, _)| k)
    }

    /// Visits every entry without allocating (the publish path uses this).
    pub(crate) fn for_each(&self, mut f: impl FnMut(&K, &V)) {
        match &self.repr {
            Repr::Empty => {}
            Repr::Small(v) => v.iter().for_each(|(k, v)| f(k, v)),
            Repr::Trie(t) => t.root.for_each(&mut f),
        }
    }
}

impl<K, V> PMap<K, V>
where
    K: Hash + Eq + Clone,
    V: Clone,
{
    pub(crate) fn get<Q>(&self, key: &Q) -> Option<&V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        match &self.repr {
            Repr::Empty => None,
            Repr::Small(v) => v.iter().find(|(k, _)| k.borrow() == key).map(|(_, v)| v),
            Repr::Trie(t) => t.root.get(hash_of(key), 0, key),
        }
    }

    pub(crate) fn contains_key<Q>(&self, key: &Q) -> bool
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.get(key).is_some()
    }

    /// A mutable reference to the value, copying the nodes on its path that are shared
    /// with other versions. Nothing is copied when the key is absent.
    pub(crate) fn get_mut<Q>(&mut self, key: &Q) -> Option<&mut V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        if !self.contains_key(key) {
            return None;
        }
        match &mut self.repr {
            Repr::Empty => None,
            Repr::Small(v) => Arc::make_mut(v)
                .iter_mut()
                .find(|(k, _)| (*k).borrow() == key)
                .map(|(_, v)| v),
            Repr::Trie(t) => Arc::make_mut(t).root.get_mut(hash_of(key), 0, key),
        }
    }

    /// Inserts or replaces; returns the replaced value.
    pub(crate) fn insert(&mut self, key: K, value: V) -> Option<V> {
        match &mut self.repr {
            Repr::Empty => {
                self.repr = Repr::Small(Arc::new(vec![(key, value)]));
                None
            }
            Repr::Small(v) => {
                let v = Arc::make_mut(v);
                if let Some(slot) = v.iter_mut().find(|(k, _)| *k == key) {
                    return Some(std::mem::replace(&mut slot.1, value));
                }
                if v.len() < SMALL_MAX {
                    v.push((key, value));
                    return None;
                }
                let mut trie = Trie {
                    root: Branch::empty(),
                    len: 0,
                };
                for (k, val) in v.drain(..).chain(std::iter::once((key, value))) {
                    trie.root.insert(hash_of(&k), 0, k, val);
                    trie.len += 1;
                }
                self.repr = Repr::Trie(Arc::new(trie));
                None
            }
            Repr::Trie(t) => {
                let t = Arc::make_mut(t);
                let old = t.root.insert(hash_of(&key), 0, key, value);
                if old.is_none() {
                    t.len += 1;
                }
                old
            }
        }
    }

    /// Removes the entry; nothing is copied when the key is absent.
    pub(crate) fn remove<Q>(&mut self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        if !self.contains_key(key) {
            return None;
        }
        match &mut self.repr {
            Repr::Empty => None,
            Repr::Small(v) => {
                let v = Arc::make_mut(v);
                let pos = v.iter().position(|(k, _)| k.borrow() == key)?;
                let (_, old) = v.swap_remove(pos);
                if v.is_empty() {
                    self.repr = Repr::Empty;
                }
                Some(old)
            }
            Repr::Trie(t) => {
                let t = Arc::make_mut(t);
                let old = t.root.remove(hash_of(key), 0, key)?;
                t.len -= 1;
                if t.len <= SMALL_AGAIN {
                    let entries: Vec<(K, V)> = t
                        .root
                        .iter_entries()
                        .map(|(k, v)| (k.clone(), v.clone()))
                        .collect();
                    self.repr = Repr::Small(Arc::new(entries));
                }
                Some(old)
            }
        }
    }
}

impl<K, V> Branch<K, V> {
    fn empty() -> Self {
        Self {
            bitmap: 0,
            slots: Vec::new(),
        }
    }

    fn for_each(&self, f: &mut impl FnMut(&K, &V)) {
        for slot in &self.slots {
            match slot {
                Slot::Leaf { key, value, .. } => f(key, value),
                Slot::Bucket { entries, .. } => entries.iter().for_each(|(k, v)| f(k, v)),
                Slot::Node(b) => b.for_each(f),
            }
        }
    }

    fn iter_entries(&self) -> Iter<'_, K, V> {
        Iter {
            flat: [].iter(),
            stack: vec![self.slots.iter()],
        }
    }
}

impl<K, V> Branch<K, V>
where
    K: Eq + Clone,
    V: Clone,
{
    fn get<Q>(&self, hash: u64, shift: u32, key: &Q) -> Option<&V>
    where
        K: Borrow<Q>,
        Q: Eq + ?Sized,
    {
        let bit = level_bit(hash, shift);
        if self.bitmap & bit == 0 {
            return None;
        }
        match &self.slots[slot_pos(self.bitmap, bit)] {
            Slot::Leaf {
                hash: h,
                key: k,
                value,
            } => (*h == hash && k.borrow() == key).then_some(value),
            Slot::Bucket { hash: h, entries } => (*h == hash)
                .then(|| {
                    entries
                        .iter()
                        .find(|(k, _)| k.borrow() == key)
                        .map(|(_, v)| v)
                })
                .flatten(),
            Slot::Node(b) => b.get(hash, shift + BITS, key),
        }
    }

    fn get_mut<Q>(&mut self, hash: u64, shift: u32, key: &Q) -> Option<&mut V>
    where
        K: Borrow<Q>,
        Q: Eq + ?Sized,
    {
        let bit = level_bit(hash, shift);
        if self.bitmap & bit == 0 {
            return None;
        }
        let pos = slot_pos(self.bitmap, bit);
        match &mut self.slots[pos] {
            Slot::Leaf {
                hash: h,
                key: k,
                value,
            } => (*h == hash && (*k).borrow() == key).then_some(value),
            Slot::Bucket { hash: h, entries } if *h == hash => entries
                .iter_mut()
                .find(|(k, _)| (*k).borrow() == key)
                .map(|(_, v)| v),
            Slot::Bucket { .. } => None,
            Slot::Node(b) => Arc::make_mut(b).get_mut(hash, shift + BITS, key),
        }
    }

    fn insert(&mut self, hash: u64, shift: u32, key: K, value: V) -> Option<V> {
        let bit = level_bit(hash, shift);
        let pos = slot_pos(self.bitmap, bit);
        if self.bitmap & bit == 0 {
            self.slots.insert(pos, Slot::Leaf { hash, key, value });
            self.bitmap |= bit;
            return None;
        }
        match &mut self.slots[pos] {
            Slot::Leaf {
                hash: h,
                key: k,
                value: v,
            } if *h == hash && *k == key => return Some(std::mem::replace(v, value)),
            Slot::Bucket { hash: h, entries } if *h == hash => {
                if let Some(slot) = entries.iter_mut().find(|(k, _)| *k == key) {
                    return Some(std::mem::replace(&mut slot.1, value));
                }
                entries.push((key, value));
                return None;
            }
            Slot::Node(b) => return Arc::make_mut(b).insert(hash, shift + BITS, key, value),
            _ => {}
        }
        // The slot holds a different key: either the same full hash (a bucket) or a
        // different one, which a deeper branch separates. Two different 64-bit hashes
        // differ in some bit, so the recursion ends by shift 60.
        let replacement = match self.slots.remove(pos) {
            Slot::Leaf {
                hash: h,
                key: k,
                value: v,
            } if h == hash => Slot::Bucket {
                hash,
                entries: vec![(k, v), (key, value)],
            },
            other => {
                let other_hash = match &other {
                    Slot::Leaf { hash, .. } | Slot::Bucket { hash, .. } => *hash,
                    Slot::Node(_) => hash, // excluded by the match above
                };
                let mut deeper = Branch::empty();
                let other_bit = level_bit(other_hash, shift + BITS);
                deeper.bitmap = other_bit;
                deeper.slots.push(other);
                deeper.insert(hash, shift + BITS, key, value);
                Slot::Node(Arc::new(deeper))
            }
        };
        self.slots.insert(pos, replacement);
        None
    }

    fn remove<Q>(&mut self, hash: u64, shift: u32, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Eq + ?Sized,
    {
        let bit = level_bit(hash, shift);
        if self.bitmap & bit == 0 {
            return None;
        }
        let pos = slot_pos(self.bitmap, bit);
        let old = match &mut self.slots[pos] {
            Slot::Leaf {
                hash: h, key: k, ..
            } => {
                if *h != hash || (*k).borrow() != key {
                    return None;
                }
                self.bitmap &= !bit;
                return match self.slots.remove(pos) {
                    Slot::Leaf { value, .. } => Some(value),
                    _ => None,
                };
            }
            Slot::Bucket { hash: h, entries } => {
                if *h != hash {
                    return None;
                }
                let i = entries.iter().position(|(k, _)| k.borrow() == key)?;
                let (_, old) = entries.swap_remove(i);
                if entries.len() == 1
                    && let Some((k, v)) = entries.pop()
                {
                    self.slots[pos] = Slot::Leaf {
                        hash,
                        key: k,
                        value: v,
                    };
                }
                old
            }
            Slot::Node(b) => {
                let child = Arc::make_mut(b);
                let old = child.remove(hash, shift + BITS, key)?;
                // A branch left with one leaf or bucket is pulled up so that lookups do
                // not walk chains of single-entry branches.
                if child.slots.len() == 1
                    && !matches!(child.slots[0], Slot::Node(_))
                    && let Some(only) = child.slots.pop()
                {
                    self.slots[pos] = only;
                }
                old
            }
        };
        Some(old)
    }
}

/// Iterates in an unspecified order.
pub(crate) struct Iter<'a, K, V> {
    flat: std::slice::Iter<'a, (K, V)>,
    stack: Vec<std::slice::Iter<'a, Slot<K, V>>>,
}

impl<'a, K, V> Iterator for Iter<'a, K, V> {
    type Item = (&'a K, &'a V);

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some((k, v)) = self.flat.next() {
                return Some((k, v));
            }
            let top = self.stack.last_mut()?;
            match top.next() {
                None => {
                    self.stack.pop();
                }
                Some(Slot::Leaf { key, value, .. }) => return Some((key, value)),
                Some(Slot::Bucket { entries, .. }) => self.flat = entries.iter(),
                Some(Slot::Node(b)) => self.stack.push(b.slots.iter()),
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::HashMap;

    #[derive(Debug, Clone)]
    enum Op {
        Insert(u16, u32),
        Remove(u16),
        Snapshot,
    }

    fn ops() -> impl Strategy<Value = Vec<Op>> {
        prop::collection::vec(
            prop_oneof![
                4 => (0u16..300, any::<u32>()).prop_map(|(k, v)| Op::Insert(k, v)),
                3 => (0u16..300).prop_map(Op::Remove),
                1 => Just(Op::Snapshot),
            ],
            0..400,
        )
    }

    /// Applies `ops` to a PMap and a HashMap side by side, also checking that old
    /// snapshots are not disturbed by later edits.
    fn run(ops: &[Op]) {
        let mut map = PMap::new();
        let mut model = HashMap::new();
        let mut snapshots: Vec<(PMap<u16, u32>, HashMap<u16, u32>)> = Vec::new();
        for op in ops {
            match *op {
                Op::Insert(k, v) => assert_eq!(map.insert(k, v), model.insert(k, v)),
                Op::Remove(k) => assert_eq!(map.remove(&k), model.remove(&k)),
                Op::Snapshot => snapshots.push((map.clone(), model.clone())),
            }
            assert_eq!(map.len(), model.len());
        }
        snapshots.push((map, model));
        for (map, model) in snapshots {
            assert_eq!(map.len(), model.len());
            let listed: HashMap<u16, u32> = map.iter().map(|(k, v)| (*k, *v)).collect();
            assert_eq!(listed.len(), map.len(), "iteration yields each entry once");
            assert_eq!(listed, model);
            let mut visited = 0;
            map.for_each(|k, v| {
                visited += 1;
                assert_eq!(model.get(k), Some(v));
            });
            assert_eq!(visited, model.len());
            for k in 0..300 {
                assert_eq!(map.get(&k), model.get(&k));
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn behaves_like_a_hash_map(ops in ops()) {
            run(&ops);
        }

        #[test]
        fn survives_hash_collisions(ops in ops()) {
            // Two hash bits: most keys share a full hash and land in buckets.
            test_hooks::HASH_MASK.with(|m| m.set(0b11));
            run(&ops);
            test_hooks::HASH_MASK.with(|m| m.set(u64::MAX));
        }

        #[test]
        fn survives_deep_tries(ops in ops()) {
            // Hashes that differ only in their top bits force branches 12 levels deep.
            test_hooks::HASH_MASK.with(|m| m.set(0xF000_0000_0000_0001));
            run(&ops);
            test_hooks::HASH_MASK.with(|m| m.set(u64::MAX));
        }
    }

    #[test]
    fn get_mut_copies_shared_nodes_only() {
        let mut a = PMap::new();
        for i in 0..1000u32 {
            a.insert(i, i);
        }
        let b = a.clone();
        *a.get_mut(&7).unwrap() = 70;
        assert_eq!(a.get(&7), Some(&70));
        assert_eq!(b.get(&7), Some(&7));
        assert!(a.get_mut(&5000).is_none());
    }

    #[test]
    fn borrowed_lookups() {
        let mut m: PMap<Arc<str>, u8> = PMap::new();
        for i in 0..20u8 {
            m.insert(Arc::from(format!("k{i}").as_str()), i);
        }
        assert_eq!(m.get("k3"), Some(&3));
        assert_eq!(m.remove("k3"), Some(3));
        assert_eq!(m.get("k3"), None);
    }
}
