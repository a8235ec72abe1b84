//! What routing reports besides queue names: the arguments of the bindings that
//! matched on the way to each queue (shared with the table, not copied), no-local
//! bindings that skip their own publisher's messages, and word-pattern bindings.
#![allow(clippy::unwrap_used)]

mod common;

use std::sync::Arc;

use common::*;
use trident_core::{
    Binding, BindingDestination, ExchangeKind, FieldTable, FieldValue, NO_LOCAL_ORIGIN_ARG,
    PatternWord, TopicPattern,
};
use trident_routing::{Routable, RouteResult, RoutingError, RoutingTable};

fn args(pairs: &[(&str, i64)]) -> FieldTable {
    let mut t = FieldTable::new();
    for (k, v) in pairs {
        t.insert(*k, FieldValue::I64(*v));
    }
    t
}

fn no_local(origin: &str, id: i64) -> FieldTable {
    let mut t = args(&[("id", id)]);
    t.insert(NO_LOCAL_ORIGIN_ARG, FieldValue::LongString(origin.into()));
    t
}

fn run(t: &RoutingTable, exchange: &str, key: &str, origin: Option<&str>) -> RouteResult {
    let mut out = RouteResult::new();
    let headers = FieldTable::new();
    let msg = Routable {
        routing_key: key,
        headers: &headers,
        origin,
    };
    t.route_publish(&x(exchange), msg, &mut out).unwrap();
    out
}

/// Per queue: the `id` argument of each matched binding, sorted.
fn ids(out: &RouteResult) -> Vec<(String, Vec<i64>)> {
    out.routes()
        .map(|r| {
            let mut ids: Vec<i64> = r.matched().iter().filter_map(|t| t.get_i64("id")).collect();
            ids.sort_unstable();
            (r.queue.to_string(), ids)
        })
        .collect()
}

fn words(w: &[&str]) -> TopicPattern {
    TopicPattern::new(
        w.iter()
            .map(|w| match *w {
                "+" => PatternWord::One,
                "#" => PatternWord::Many,
                w => PatternWord::Exact(w.to_string()),
            })
            .collect(),
    )
    .unwrap()
}

fn pattern_binding(queue: &str, w: &[&str], arguments: FieldTable) -> Binding {
    Binding::with_pattern(
        x("amq.topic"),
        BindingDestination::Queue(q(queue)),
        words(w),
        arguments,
    )
}

#[test]
fn overlapping_bindings_deliver_once_with_every_matched_argument_table() {
    let mut t = table();
    for (key, id) in [("a.*", 1), ("a.#", 2), ("#", 3), ("b.*", 4)] {
        let _ = t
            .bind(to_queue("amq.topic", "s1", key, args(&[("id", id)])))
            .unwrap();
    }
    let _ = t
        .bind(to_queue("amq.topic", "s2", "a.b", args(&[("id", 10)])))
        .unwrap();
    let out = run(&t, "amq.topic", "a.b", None);
    assert_eq!(
        ids(&out),
        [
            ("s1".to_string(), vec![1, 2, 3]),
            ("s2".to_string(), vec![10])
        ]
    );
    assert_eq!(out.queues().count(), 2);
}

#[test]
fn several_bindings_on_one_key_of_a_direct_exchange_are_all_reported() {
    let mut t = table();
    for id in [1, 2] {
        let _ = t
            .bind(to_queue("amq.direct", "q", "k", args(&[("id", id)])))
            .unwrap();
    }
    assert_eq!(
        ids(&run(&t, "amq.direct", "k", None)),
        [("q".to_string(), vec![1, 2])]
    );
}

#[test]
fn plain_bindings_and_headers_criteria_report_nothing() {
    let mut t = table();
    bind_q(&mut t, "amq.topic", "plain", "a.*");
    let out = run(&t, "amq.topic", "a.b", None);
    let routed: Vec<_> = out.routes().collect();
    assert_eq!(routed.len(), 1);
    assert_eq!(routed[0].matched().len(), 0);
    assert!(routed[0].matched_bindings().is_empty());

    let mut criteria = FieldTable::new();
    criteria.insert("x-match", FieldValue::LongString("any".into()));
    criteria.insert("k", FieldValue::LongString("v".into()));
    let _ = t.bind(to_queue("amq.headers", "h", "", criteria)).unwrap();
    let mut headers = FieldTable::new();
    headers.insert("k", FieldValue::LongString("v".into()));
    let mut out = RouteResult::new();
    t.route_publish(&x("amq.headers"), Routable::new("", &headers), &mut out)
        .unwrap();
    let routed: Vec<_> = out.routes().collect();
    assert_eq!(routed.len(), 1);
    assert_eq!(routed[0].matched().len(), 0);
}

#[test]
fn argument_tables_are_shared_not_copied() {
    let mut t = table();
    let _ = t
        .bind(to_queue("amq.topic", "q", "a.#", args(&[("id", 7)])))
        .unwrap();
    let first = run(&t, "amq.topic", "a.b", None);
    let second = run(&t, "amq.topic", "a.c", None);
    let a = first.routes().next().unwrap().matched()[0].clone();
    let b = second.routes().next().unwrap().matched()[0].clone();
    assert!(Arc::ptr_eq(&a, &b));
}

#[test]
fn only_the_binding_to_the_queue_is_reported_across_exchanges() {
    let mut t = table();
    declare(&mut t, "mid", ExchangeKind::Topic);
    let _ = t
        .bind(Binding::new(
            x("amq.topic"),
            BindingDestination::Exchange(x("mid")),
            "#",
            args(&[("id", 99)]),
        ))
        .unwrap();
    let _ = t
        .bind(to_queue("mid", "q", "a.*", args(&[("id", 1)])))
        .unwrap();
    let _ = t
        .bind(to_queue("amq.topic", "q", "a.b", args(&[("id", 2)])))
        .unwrap();
    // Reached along two exchanges: once, with both bindings to it.
    assert_eq!(
        ids(&run(&t, "amq.topic", "a.b", None)),
        [("q".to_string(), vec![1, 2])]
    );
}

#[test]
fn no_local_skips_only_the_publishers_own_binding() {
    let mut t = table();
    let _ = t
        .bind(to_queue(
            "amq.topic",
            "alice",
            "chat.#",
            no_local("alice", 1),
        ))
        .unwrap();
    let _ = t
        .bind(to_queue("amq.topic", "bob", "chat.#", no_local("bob", 2)))
        .unwrap();
    // Alice has a second subscription without no-local on the same queue.
    let _ = t
        .bind(to_queue(
            "amq.topic",
            "alice",
            "chat.room1",
            args(&[("id", 3)]),
        ))
        .unwrap();

    assert_eq!(
        ids(&run(&t, "amq.topic", "chat.room2", Some("alice"))),
        [("bob".to_string(), vec![2])]
    );
    assert_eq!(
        ids(&run(&t, "amq.topic", "chat.room1", Some("alice"))),
        [("alice".to_string(), vec![3]), ("bob".to_string(), vec![2])]
    );
    // No origin, or another one: everyone.
    assert_eq!(run(&t, "amq.topic", "chat.room2", None).queues().count(), 2);
    assert_eq!(
        run(&t, "amq.topic", "chat.room2", Some("carol"))
            .queues()
            .count(),
        2
    );
}

#[test]
fn a_message_skipped_by_every_binding_goes_to_the_alternate_exchange() {
    let mut t = table();
    let mut def = trident_core::ExchangeDef::new(x("events"), ExchangeKind::Fanout);
    def.alternate_exchange = Some(x("amq.fanout"));
    declare_def(&mut t, def);
    let _ = t
        .bind(to_queue("events", "self", "", no_local("me", 1)))
        .unwrap();
    bind_q(&mut t, "amq.fanout", "unrouted", "");
    let out = run(&t, "events", "k", Some("me"));
    assert_eq!(
        out.queues().map(ToString::to_string).collect::<Vec<_>>(),
        ["unrouted"]
    );
    assert!(out.used_alternate_exchange);
    let out = run(&t, "events", "k", Some("you"));
    assert_eq!(
        out.queues().map(ToString::to_string).collect::<Vec<_>>(),
        ["self"]
    );
}

#[test]
fn pattern_exact_words_are_literal_and_leading_wildcards_skip_dollar_words() {
    let mut t = table();
    let _ = t
        .bind(pattern_binding(
            "literal-star",
            &["a", "*"],
            FieldTable::new(),
        ))
        .unwrap();
    let _ = t
        .bind(pattern_binding("one", &["a", "+"], FieldTable::new()))
        .unwrap();
    let _ = t
        .bind(pattern_binding("all", &["#"], FieldTable::new()))
        .unwrap();
    let _ = t
        .bind(pattern_binding(
            "any-first",
            &["+", "uptime"],
            FieldTable::new(),
        ))
        .unwrap();
    let _ = t
        .bind(pattern_binding("sys", &["$SYS", "#"], FieldTable::new()))
        .unwrap();
    bind_q(&mut t, "amq.topic", "amqp-all", "#");

    assert_eq!(
        route(&t, "amq.topic", "a.*"),
        names(&["literal-star", "one", "all", "amqp-all"])
    );
    assert_eq!(
        route(&t, "amq.topic", "a.b"),
        names(&["one", "all", "amqp-all"])
    );
    assert_eq!(
        route(&t, "amq.topic", "$SYS.uptime"),
        names(&["sys", "amqp-all"])
    );
    assert_eq!(
        route(&t, "amq.topic", "SYS.uptime"),
        names(&["all", "any-first", "amqp-all"])
    );
    // `#` matches the parent level, as MQTT wants (`a/#` matches `a`).
    let _ = t
        .bind(pattern_binding("a-tree", &["a", "#"], FieldTable::new()))
        .unwrap();
    assert!(route(&t, "amq.topic", "a").contains(&"a-tree".to_string()));
}

#[test]
fn pattern_bindings_are_listed_readably_and_distinct_from_amqp_keys() {
    let mut t = table();
    let pattern = pattern_binding("q", &["a", "+"], FieldTable::new());
    let _ = t.bind(pattern.clone()).unwrap();
    bind_q(&mut t, "amq.topic", "q", "a.*");
    let listed = t.bindings_from(&x("amq.topic"));
    assert_eq!(listed.len(), 2);
    assert!(listed.iter().all(|b| b.routing_key == "a.*"));
    assert_eq!(listed.iter().filter(|b| b.pattern.is_some()).count(), 1);
    // Rebinding either is a no-op; unbinding one leaves the other.
    assert!(!t.bind(pattern.clone()).unwrap().changed);
    let effects = t.unbind(&pattern).unwrap();
    assert_eq!(effects.removed_bindings.len(), 1);
    assert!(effects.removed_bindings[0].same_as(&pattern));
    assert_eq!(route(&t, "amq.topic", "a.b"), names(&["q"]));
    assert_eq!(t.bindings_from(&x("amq.topic"))[0].pattern, None);

    // A hand-built binding with a stale key string is normalised.
    let mut stale = pattern.clone();
    stale.routing_key = "whatever".into();
    let _ = t.bind(stale).unwrap();
    assert!(t.bindings().iter().any(|b| b.same_as(&pattern)));
    let effects = t.remove_queue(&q("q"));
    assert_eq!(effects.removed_bindings.len(), 2);
    assert!(effects.removed_bindings.iter().any(|b| b.same_as(&pattern)));
}

#[test]
fn patterns_bind_only_from_topic_exchanges() {
    let mut t = table();
    let b = Binding::with_pattern(
        x("amq.direct"),
        BindingDestination::Queue(q("q")),
        words(&["a"]),
        FieldTable::new(),
    );
    assert!(matches!(
        t.bind(b),
        Err(RoutingError::InvalidBindingKey { .. })
    ));
    let long = TopicPattern::new(vec![PatternWord::One; 1025]).unwrap();
    let b = Binding::with_pattern(
        x("amq.topic"),
        BindingDestination::Queue(q("q")),
        long,
        FieldTable::new(),
    );
    assert!(matches!(
        t.bind(b),
        Err(RoutingError::InvalidBindingKey { .. })
    ));
}
