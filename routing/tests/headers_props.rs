//! The headers exchange against a plainly written reference matcher, over random
//! binding argument tables and message headers.
#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use proptest::prelude::*;
use trident_core::{FieldTable, FieldValue};

const NAMES: [&str; 5] = ["a", "b", "c", "x-a", "x-b"];

fn value() -> impl Strategy<Value = FieldValue> {
    prop_oneof![
        Just(FieldValue::Void),
        Just(FieldValue::I32(0)),
        Just(FieldValue::I32(1)),
        Just(FieldValue::I64(1)),
        Just(FieldValue::LongString("0".into())),
        Just(FieldValue::ShortString("1".into())),
        Just(FieldValue::LongString("1".into())),
        Just(FieldValue::Bool(true)),
    ]
}

/// A table without repeated names (argument tables never repeat them).
fn entries() -> impl Strategy<Value = Vec<(String, FieldValue)>> {
    prop::collection::btree_map(prop::sample::select(&NAMES[..]), value(), 0..4).prop_map(|m| {
        m.into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect::<Vec<_>>()
    })
}

fn binding_args() -> impl Strategy<Value = FieldTable> {
    let modes = prop::option::of(prop::sample::select(
        &["all", "any", "all-with-x", "any-with-x"][..],
    ));
    (modes, entries(), any::<bool>()).prop_map(|(mode, mut entries, mode_first)| {
        if let Some(mode) = mode {
            let m = ("x-match".to_string(), FieldValue::LongString(mode.into()));
            if mode_first {
                entries.insert(0, m);
            } else {
                entries.push(m);
            }
        }
        FieldTable(entries)
    })
}

/// The documented rule, spelled out directly.
fn reference_matches(args: &FieldTable, headers: &FieldTable) -> bool {
    let mode = args.get_str("x-match").unwrap_or("all");
    let with_x = mode.ends_with("-with-x");
    let mut conditions = args
        .iter()
        .filter(|(k, _)| *k != "x-match" && (with_x || !k.starts_with("x-")))
        .peekable();
    let holds = |(k, v): (&str, &FieldValue)| match headers.get(k) {
        None => false,
        Some(actual) => *v == FieldValue::Void || v.matches(actual),
    };
    if mode.starts_with("any") {
        conditions.any(holds)
    } else {
        conditions.all(holds)
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn headers_routing_agrees_with_reference(
        bindings in prop::collection::vec(binding_args(), 0..12),
        messages in prop::collection::vec(entries(), 1..8),
    ) {
        let mut t = table();
        for (i, args) in bindings.iter().enumerate() {
            let _ = t.bind(to_queue("amq.headers", &format!("q{i:02}"), "", args.clone())).unwrap();
        }
        for message in messages {
            let headers = FieldTable(message);
            let want: Vec<String> = bindings
                .iter()
                .enumerate()
                .filter(|(_, args)| reference_matches(args, &headers))
                .map(|(i, _)| format!("q{i:02}"))
                .collect();
            prop_assert_eq!(route_h(&t, "amq.headers", "", &headers), want, "headers {:?}", headers);
        }
    }
}
