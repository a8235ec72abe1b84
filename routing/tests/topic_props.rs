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
