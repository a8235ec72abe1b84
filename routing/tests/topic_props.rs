//! The topic exchange against a plainly written reference matcher, over random binding
//! keys and routing keys from a small alphabet (with `*`, `#` and empty words), and
//! across binds, unbinds and older snapshots.
#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use proptest::prelude::*;
use trident_core::FieldTable;

/// RabbitMQ's rule: the empty key has no words; otherwise split on every dot.
fn words(key: &str) -> Vec<&str> {
    if key.is_empty() {
        Vec::new()
    } else {
        key.split('.').collect()
    }
}

/// Tries every way `#` can absorb words; exponential, fine for short keys.
fn reference_matches(pattern: &[&str], key: &[&str]) -> bool {
    match pattern.split_first() {
        None => key.is_empty(),
        Some((&"#", rest)) => (0..=key.len()).any(|skip| reference_matches(rest, &key[skip..])),
        Some((&"*", rest)) => !key.is_empty() && reference_matches(rest, &key[1..]),
        Some((word, rest)) => key.first() == Some(word) && reference_matches(rest, &key[1..]),
    }
}

fn key_from(alphabet: &'static [&'static str]) -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(alphabet), 0..7).prop_map(|w| w.join("."))
}

fn binding_key() -> impl Strategy<Value = String> {
    key_from(&["a", "b", "", "*", "#", "#", "*"])
}

fn routing_key() -> impl Strategy<Value = String> {
    key_from(&["a", "b", "c", ""])
}

fn expected(patterns: &[(String, bool)], key: &str) -> Vec<String> {
    let key = words(key);
    let found: Vec<String> = patterns
        .iter()
        .enumerate()
        .filter(|(_, (p, present))| *present && reference_matches(&words(p), &key))
        .map(|(i, _)| format!("q{i:02}"))
        .collect();
    found
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(384))]

    #[test]
    fn topic_routing_agrees_with_reference(
        patterns in prop::collection::vec(binding_key(), 0..24),
        keys in prop::collection::vec(routing_key(), 1..12),
        unbind_mask in prop::collection::vec(any::<bool>(), 24),
    ) {
        let mut t = table();
        let mut state: Vec<(String, bool)> = Vec::new();
        for (i, p) in patterns.iter().enumerate() {
            bind_q(&mut t, "amq.topic", &format!("q{i:02}"), p);
            state.push((p.clone(), true));
        }
        for key in &keys {
            prop_assert_eq!(route(&t, "amq.topic", key), expected(&state, key), "key {:?}", key);
        }

        let before = t.clone();
        let before_state = state.clone();
        for (i, (p, present)) in state.iter_mut().enumerate() {
            if unbind_mask[i] {
                let effects = t
                    .unbind(&to_queue("amq.topic", &format!("q{i:02}"), p, FieldTable::new()))
                    .unwrap();
                prop_assert!(effects.changed);
                *present = false;
            }
        }
        for key in &keys {
            prop_assert_eq!(route(&t, "amq.topic", key), expected(&state, key), "key {:?}", key);
            prop_assert_eq!(route(&before, "amq.topic", key), expected(&before_state, key));
        }
    }

    #[test]
    fn many_queues_per_pattern(
        patterns in prop::collection::vec(binding_key(), 1..6),
        key in routing_key(),
    ) {
        // Several queues share each binding key: every one of them must be found.
        let mut t = table();
        let mut want = Vec::new();
        for (i, p) in patterns.iter().enumerate() {
            for j in 0..3 {
                let queue = format!("q{i}-{j}");
                bind_q(&mut t, "amq.topic", &queue, p);
                if reference_matches(&words(p), &words(&key)) {
                    want.push(queue);
                }
            }
        }
        want.sort();
        want.dedup();
        prop_assert_eq!(route(&t, "amq.topic", &key), want);
    }
}

// ----------------------------------------------------------------- word patterns

use trident_core::{Binding, BindingDestination, PatternWord, TopicPattern};

/// A binding under test: an AMQP-syntax key or an explicit word pattern.
#[derive(Debug, Clone)]
enum Key {
    Amqp(String),
    Words(Vec<PatternWord>),
}

/// Plainly written: patterns match word by word, exact words literally, and a pattern
/// that starts with a wildcard does not match a key whose first word starts with `$`.
fn reference_pattern(pattern: &[PatternWord], key: &[&str]) -> bool {
    match pattern.split_first() {
        None => key.is_empty(),
        Some((PatternWord::Many, rest)) => {
            (0..=key.len()).any(|skip| reference_pattern(rest, &key[skip..]))
        }
        Some((PatternWord::One, rest)) => !key.is_empty() && reference_pattern(rest, &key[1..]),
        Some((PatternWord::Exact(w), rest)) => {
            key.first() == Some(&w.as_str()) && reference_pattern(rest, &key[1..])
        }
    }
}

fn reference_key(k: &Key, key: &str) -> bool {
    let key = words(key);
    match k {
        Key::Amqp(p) => reference_matches(&words(p), &key),
        Key::Words(p) => {
            let leading_wildcard = matches!(p.first(), Some(PatternWord::One | PatternWord::Many));
            let dollar = key.first().is_some_and(|w| w.starts_with('$'));
            !(leading_wildcard && dollar) && reference_pattern(p, &key)
        }
    }
}

fn pattern_word() -> impl Strategy<Value = PatternWord> {
    prop_oneof![
        Just(PatternWord::One),
        Just(PatternWord::Many),
        prop::sample::select(&["a", "b", "", "*", "#", "$s"][..])
            .prop_map(|w| PatternWord::Exact(w.to_string())),
    ]
}

fn any_key() -> impl Strategy<Value = Key> {
    prop_oneof![
        binding_key().prop_map(Key::Amqp),
        prop::collection::vec(pattern_word(), 0..6)
            .prop_filter("a lone empty word is refused", |w| {
                !matches!(w.as_slice(), [PatternWord::Exact(s)] if s.is_empty())
            })
            .prop_map(Key::Words),
    ]
}

/// Routing keys whose words include the literal wildcards and `$`-words.
fn tricky_routing_key() -> impl Strategy<Value = String> {
    key_from(&["a", "b", "", "*", "#", "$s"])
}

fn binding_for(i: usize, k: &Key) -> Binding {
    let dest = BindingDestination::Queue(q(&format!("q{i:02}")));
    match k {
        Key::Amqp(key) => Binding::new(x("amq.topic"), dest, key.as_str(), FieldTable::new()),
        Key::Words(w) => Binding::with_pattern(
            x("amq.topic"),
            dest,
            TopicPattern::new(w.clone()).unwrap(),
            FieldTable::new(),
        ),
    }
}

fn expected_keys(keys: &[(Key, bool)], key: &str) -> Vec<String> {
    keys.iter()
        .enumerate()
        .filter(|(_, (k, present))| *present && reference_key(k, key))
        .map(|(i, _)| format!("q{i:02}"))
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(384))]

    #[test]
    fn patterns_and_amqp_keys_agree_with_reference(
        keys in prop::collection::vec(any_key(), 0..24),
        routing in prop::collection::vec(tricky_routing_key(), 1..12),
        unbind_mask in prop::collection::vec(any::<bool>(), 24),
    ) {
        let mut t = table();
        let mut state: Vec<(Key, bool)> = Vec::new();
        for (i, k) in keys.iter().enumerate() {
            let _ = t.bind(binding_for(i, k)).unwrap();
            state.push((k.clone(), true));
        }
        for key in &routing {
            prop_assert_eq!(route(&t, "amq.topic", key), expected_keys(&state, key), "key {:?}", key);
        }
        let before = t.clone();
        let before_state = state.clone();
        for (i, (k, present)) in state.iter_mut().enumerate() {
            if unbind_mask[i] {
                let effects = t.unbind(&binding_for(i, k)).unwrap();
                prop_assert!(effects.changed);
                *present = false;
            }
        }
        for key in &routing {
            prop_assert_eq!(route(&t, "amq.topic", key), expected_keys(&state, key), "key {:?}", key);
            prop_assert_eq!(route(&before, "amq.topic", key), expected_keys(&before_state, key));
        }
    }

    #[test]
    fn core_reference_matcher_agrees(
        pattern in prop::collection::vec(pattern_word(), 0..6),
        key in tricky_routing_key(),
    ) {
        prop_assume!(!matches!(pattern.as_slice(), [PatternWord::Exact(s)] if s.is_empty()));
        let p = TopicPattern::new(pattern.clone()).unwrap();
        let k = Key::Words(pattern);
        prop_assert_eq!(
            p.matches(trident_core::topic_words::split_words(&key)),
            reference_key(&k, &key)
        );
    }

    #[test]
    fn readable_forms_tell_patterns_apart(
        a in prop::collection::vec(pattern_word(), 0..5),
        b in prop::collection::vec(pattern_word(), 0..5),
    ) {
        let lone = |w: &[PatternWord]| matches!(w, [PatternWord::Exact(s)] if s.is_empty());
        prop_assume!(!lone(&a) && !lone(&b) && a != b);
        let pa = TopicPattern::new(a).unwrap();
        let pb = TopicPattern::new(b).unwrap();
        prop_assert_ne!(pa.to_string(), pb.to_string());
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Keys that end at the same trie node for the same queue (an AMQP key and a
    /// pattern with the same words) stay separate bindings through unbinds.
    #[test]
    fn bindings_sharing_queues_agree_with_reference(
        keys in prop::collection::vec(any_key(), 0..16),
        routing in prop::collection::vec(tricky_routing_key(), 1..8),
        unbind_mask in prop::collection::vec(any::<bool>(), 16),
    ) {
        let dest = |i: usize| BindingDestination::Queue(q(&format!("q{}", i % 3)));
        let binding = |i: usize, k: &Key| Binding { destination: dest(i), ..binding_for(i, k) };
        let mut t = table();
        for (i, k) in keys.iter().enumerate() {
            let _ = t.bind(binding(i, k)).unwrap();
        }
        let expect = |present: &dyn Fn(usize) -> bool, key: &str| {
            let mut want: Vec<String> = keys
                .iter()
                .enumerate()
                .filter(|(i, k)| present(*i) && reference_key(k, key))
                .map(|(i, _)| format!("q{}", i % 3))
                .collect();
            want.sort();
            want.dedup();
            want
        };
        for key in &routing {
            prop_assert_eq!(route(&t, "amq.topic", key), expect(&|_| true, key));
        }
        for (i, k) in keys.iter().enumerate() {
            if unbind_mask[i] {
                let _ = t.unbind(&binding(i, k)).unwrap();
            }
        }
        // Duplicate bindings (same queue, same key) were one binding: unbinding one
        // copy removed it.
        let removed = |i: usize| {
            keys.iter().enumerate().any(|(j, kj)| {
                unbind_mask[j] && j % 3 == i % 3 && binding(j, kj).same_as(&binding(i, &keys[i]))
            })
        };
        for key in &routing {
            prop_assert_eq!(route(&t, "amq.topic", key), expect(&|i| !removed(i), key));
        }
    }
}
