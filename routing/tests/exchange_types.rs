//! Routing semantics of each exchange type, through the public API.
#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use trident_core::{ExchangeKind, FieldTable, FieldValue};
use trident_routing::RoutingError;

fn headers(entries: &[(&str, FieldValue)]) -> FieldTable {
    entries
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect()
}

fn s(v: &str) -> FieldValue {
    FieldValue::LongString(v.into())
}

#[test]
fn default_exchange_routes_by_queue_name() {
    let t = table();
    assert_eq!(route(&t, "", "orders"), names(&["orders"]));
    assert!(route(&t, "", "").is_empty(), "the empty key names no queue");
    assert!(
        route(&t, "", &"q".repeat(256)).is_empty(),
        "too long for a queue name"
    );
}

#[test]
fn default_exchange_cannot_be_bound_or_deleted() {
    let mut t = table();
    let err = t
        .bind(to_queue("", "q", "q", FieldTable::new()))
        .unwrap_err();
    assert_eq!(err, RoutingError::DefaultExchange);
    assert_eq!(
        t.bind(to_exchange("amq.direct", "", "k")).unwrap_err(),
        RoutingError::DefaultExchange
    );
    assert_eq!(
        t.unbind(&to_queue("", "q", "q", FieldTable::new()))
            .unwrap_err(),
        RoutingError::DefaultExchange
    );
    assert_eq!(
        t.delete_exchange(&x(""), false).unwrap_err(),
        RoutingError::DefaultExchange
    );
    assert!(matches!(
        t.delete_exchange(&x("amq.topic"), false),
        Err(RoutingError::SystemExchange { .. })
    ));
}

#[test]
fn predeclared_exchanges() {
    let t = table();
    let mut found: Vec<(String, ExchangeKind)> = t
        .exchanges()
        .map(|d| (d.name.to_string(), d.kind))
        .collect();
    found.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(
        found,
        [
            (String::new(), ExchangeKind::Direct),
            ("amq.direct".into(), ExchangeKind::Direct),
            ("amq.fanout".into(), ExchangeKind::Fanout),
            ("amq.headers".into(), ExchangeKind::Headers),
            ("amq.match".into(), ExchangeKind::Headers),
            ("amq.topic".into(), ExchangeKind::Topic),
        ]
    );
    assert!(
        t.exchanges()
            .all(|d| d.durable && !d.internal && !d.auto_delete)
    );
}

#[test]
fn direct_matches_exact_keys() {
    let mut t = table();
    bind_q(&mut t, "amq.direct", "q1", "info");
    bind_q(&mut t, "amq.direct", "q2", "info");
    bind_q(&mut t, "amq.direct", "q2", "error");
    bind_q(&mut t, "amq.direct", "q3", "");
    assert_eq!(route(&t, "amq.direct", "info"), names(&["q1", "q2"]));
    assert_eq!(route(&t, "amq.direct", "error"), names(&["q2"]));
    assert_eq!(route(&t, "amq.direct", ""), names(&["q3"]));
    assert!(route(&t, "amq.direct", "warn").is_empty());
    assert!(route(&t, "amq.direct", "inf").is_empty());
}

#[test]
fn direct_bindings_differing_in_arguments_deliver_once() {
    let mut t = table();
    let args = headers(&[("tag", s("a"))]);
    let _ = t
        .bind(to_queue("amq.direct", "q", "k", FieldTable::new()))
        .unwrap();
    let _ = t
        .bind(to_queue("amq.direct", "q", "k", args.clone()))
        .unwrap();
    assert_eq!(t.bindings_from(&x("amq.direct")).len(), 2);
    assert_eq!(route(&t, "amq.direct", "k"), names(&["q"]));
    // Removing one of the two leaves the other routing.
    let effects = t
        .unbind(&to_queue("amq.direct", "q", "k", FieldTable::new()))
        .unwrap();
    assert!(effects.changed);
    assert_eq!(route(&t, "amq.direct", "k"), names(&["q"]));
    let _ = t.unbind(&to_queue("amq.direct", "q", "k", args)).unwrap();
    assert!(route(&t, "amq.direct", "k").is_empty());
}

#[test]
fn fanout_ignores_the_key() {
    let mut t = table();
    for i in 0..100 {
        bind_q(
            &mut t,
            "amq.fanout",
            &format!("q{i:03}"),
            &format!("key{i}"),
        );
    }
    let all: Vec<String> = (0..100).map(|i| format!("q{i:03}")).collect();
    assert_eq!(route(&t, "amq.fanout", "anything"), all);
    assert_eq!(route(&t, "amq.fanout", ""), all);
    // The same queue bound twice (different keys) is delivered to once.
    bind_q(&mut t, "amq.fanout", "q000", "again");
    assert_eq!(route(&t, "amq.fanout", "x").len(), 100);
}

/// RabbitMQ's own topic exchange test vector (bindings t1..t26 and the queues each
/// routing key must reach), bound as queues named after the bindings.
const TOPIC_BINDINGS: [(&str, &str); 26] = [
    ("a.b.c", "t1"),
    ("a.*.c", "t2"),
    ("a.#.b", "t3"),
    ("a.b.b.c", "t4"),
    ("#", "t5"),
    ("#.#", "t6"),
    ("#.b", "t7"),
    ("*.*", "t8"),
    ("a.*", "t9"),
    ("*.b.c", "t10"),
    ("a.#", "t11"),
    ("a.#.#", "t12"),
    ("b.b.c", "t13"),
    ("a.b.b", "t14"),
    ("a.b", "t15"),
    ("b.c", "t16"),
    ("", "t17"),
    ("*.*.*", "t18"),
    ("vodka.martini", "t19"),
    ("a.b.c", "t20"),
    ("*.#", "t21"),
    ("#.*.#", "t22"),
    ("*.#.#", "t23"),
    ("#.#.#", "t24"),
    ("*", "t25"),
    ("#.b.#", "t26"),
];

const TOPIC_EXPECTED: [(&str, &[&str]); 11] = [
    (
        "a.b.c",
        &[
            "t1", "t2", "t5", "t6", "t10", "t11", "t12", "t18", "t20", "t21", "t22", "t23", "t24",
            "t26",
        ],
    ),
    (
        "a.b",
        &[
            "t3", "t5", "t6", "t7", "t8", "t9", "t11", "t12", "t15", "t21", "t22", "t23", "t24",
            "t26",
        ],
    ),
    (
        "a.b.b",
        &[
            "t3", "t5", "t6", "t7", "t11", "t12", "t14", "t18", "t21", "t22", "t23", "t24", "t26",
        ],
    ),
    ("", &["t5", "t6", "t17", "t24"]),
    (
        "b.c.c",
        &["t5", "t6", "t18", "t21", "t22", "t23", "t24", "t26"],
    ),
    (
        "a.a.a.a.a",
        &["t5", "t6", "t11", "t12", "t21", "t22", "t23", "t24"],
    ),
    ("vodka.gin", &["t5", "t6", "t8", "t21", "t22", "t23", "t24"]),
    (
        "vodka.martini",
        &["t5", "t6", "t8", "t19", "t21", "t22", "t23", "t24"],
    ),
    (
        "b.b.c",
        &[
            "t5", "t6", "t10", "t13", "t18", "t21", "t22", "t23", "t24", "t26",
        ],
    ),
    (
        "nothing.here.at.all",
        &["t5", "t6", "t21", "t22", "t23", "t24"],
    ),
    ("oneword", &["t5", "t6", "t21", "t22", "t23", "t24", "t25"]),
];

#[test]
fn topic_matches_rabbitmq_test_vector() {
    let mut t = table();
    for (key, queue) in TOPIC_BINDINGS {
        bind_q(&mut t, "amq.topic", queue, key);
    }
    for (key, expected) in TOPIC_EXPECTED {
        assert_eq!(route(&t, "amq.topic", key), names(expected), "key {key:?}");
    }
    // RabbitMQ's test then removes t1, t5, t11, t19 and t21.
    let removed = ["t1", "t5", "t11", "t19", "t21"];
    let before = t.clone();
    for (key, queue) in TOPIC_BINDINGS.iter().filter(|(_, q)| removed.contains(q)) {
        let effects = t
            .unbind(&to_queue("amq.topic", queue, key, FieldTable::new()))
            .unwrap();
        assert!(effects.changed);
    }
    for (key, expected) in TOPIC_EXPECTED {
        let remaining: Vec<&str> = expected
            .iter()
            .copied()
            .filter(|q| !removed.contains(q))
            .collect();
        assert_eq!(
            route(&t, "amq.topic", key),
            names(&remaining),
            "key {key:?}"
        );
        // The snapshot taken before the removals still routes as it did.
        assert_eq!(route(&before, "amq.topic", key), names(expected));
    }
}

#[test]
fn topic_edge_cases() {
    let cases: &[(&str, &[&str], &[&str])] = &[
        // pattern, keys that match, keys that do not
        (
            "a.#.b",
            &["a.b", "a.x.b", "a.x.y.b", "a.b.b"],
            &["a", "b", "a.b.c", "x.a.b"],
        ),
        ("#", &["", "a", "a.b", ".", "a..b"], &[]),
        ("#.#", &["", "a", "a.b.c"], &[]),
        // The empty routing key has zero words, so `*` cannot match it.
        ("*", &["a"], &["", "a.b", "."]),
        ("", &[""], &["a", "."]),
        ("a..b", &["a..b"], &["a.b", "a.x.b"]),
        ("a.*.b", &["a..b", "a.x.b"], &["a.b"]),
        ("*.*", &[".", "a.", ".b", "a.b"], &["", "a", "a.b.c"]),
        ("a.#", &["a", "a.", "a.b.c"], &["", "b.a", "ab"]),
        ("#.a", &["a", ".a", "x.y.a"], &["", "a.x"]),
        ("#.a.#", &["a", "x.a", "a.x", "x.a.y"], &["", "x", "aa"]),
        (
            "a.#.#.b",
            &["a.b", "a.x.b", "a.x.y.z.b"],
            &["a", "b", "a.x"],
        ),
        ("#.*", &["a", "a.b"], &[""]),
        ("*.#.*", &["a.b", "a.b.c"], &["", "a"]),
    ];
    for (pattern, yes, no) in cases {
        let mut t = table();
        bind_q(&mut t, "amq.topic", "q", pattern);
        for key in *yes {
            assert_eq!(
                route(&t, "amq.topic", key),
                ["q"],
                "pattern {pattern:?} key {key:?}"
            );
        }
        for key in *no {
            assert!(
                route(&t, "amq.topic", key).is_empty(),
                "pattern {pattern:?} must not match key {key:?}"
            );
        }
    }
}

#[test]
fn topic_long_keys_with_many_hashes_finish() {
    let mut t = table();
    let pattern = vec!["#"; 30].join(".") + ".end";
    bind_q(&mut t, "amq.topic", "q", &pattern);
    let miss = vec!["w"; 120].join(".");
    assert!(route(&t, "amq.topic", &miss).is_empty());
    assert_eq!(route(&t, "amq.topic", &(miss + ".end")), ["q"]);
}

#[test]
fn headers_all_and_any() {
    let mut t = table();
    let all = headers(&[("format", s("pdf")), ("type", s("report"))]);
    let any = headers(&[
        ("x-match", s("any")),
        ("format", s("pdf")),
        ("type", s("log")),
    ]);
    let _ = t.bind(to_queue("amq.headers", "all", "", all)).unwrap();
    let _ = t.bind(to_queue("amq.headers", "any", "", any)).unwrap();
    let h = |e: &[(&str, FieldValue)]| route_h(&t, "amq.headers", "ignored", &headers(e));
    assert_eq!(
        h(&[("format", s("pdf")), ("type", s("report"))]),
        names(&["all", "any"])
    );
    assert_eq!(
        h(&[
            ("type", s("report")),
            ("format", s("pdf")),
            ("extra", s("1"))
        ]),
        names(&["all", "any"])
    );
    assert_eq!(h(&[("format", s("pdf"))]), names(&["any"]));
    assert_eq!(h(&[("type", s("log"))]), names(&["any"]));
    assert!(h(&[("format", s("zip"))]).is_empty());
    assert!(h(&[]).is_empty());
}

#[test]
fn headers_x_arguments_and_void() {
    let mut t = table();
    let bind = |t: &mut trident_routing::RoutingTable, q: &str, args: FieldTable| {
        let _ = t.bind(to_queue("amq.match", q, "", args)).unwrap();
    };
    bind(&mut t, "empty-all", headers(&[]));
    bind(&mut t, "empty-any", headers(&[("x-match", s("any"))]));
    bind(
        &mut t,
        "x-ignored",
        headers(&[("x-tag", s("1")), ("a", s("1"))]),
    );
    bind(
        &mut t,
        "all-with-x",
        headers(&[("x-match", s("all-with-x")), ("x-tag", s("1"))]),
    );
    bind(
        &mut t,
        "any-with-x",
        headers(&[
            ("x-match", s("any-with-x")),
            ("x-tag", s("2")),
            ("a", s("9")),
        ]),
    );
    bind(&mut t, "present", headers(&[("a", FieldValue::Void)]));
    let h = |e: &[(&str, FieldValue)]| route_h(&t, "amq.match", "", &headers(e));
    assert_eq!(h(&[]), names(&["empty-all"]));
    assert_eq!(
        h(&[("a", s("1"))]),
        names(&["empty-all", "x-ignored", "present"])
    );
    assert_eq!(
        h(&[("a", s("1")), ("x-tag", s("1"))]),
        names(&["empty-all", "x-ignored", "present", "all-with-x"])
    );
    assert_eq!(h(&[("x-tag", s("2"))]), names(&["empty-all", "any-with-x"]));
    assert_eq!(
        h(&[("a", FieldValue::I64(7))]),
        names(&["empty-all", "present"])
    );
}

#[test]
fn headers_refuses_bad_x_match_and_changes_nothing() {
    let mut t = table();
    let before = t.bindings();
    for bad in [s("most"), FieldValue::I8(1)] {
        let err = t
            .bind(to_queue(
                "amq.headers",
                "q",
                "",
                headers(&[("x-match", bad)]),
            ))
            .unwrap_err();
        assert!(
            matches!(err, RoutingError::InvalidBindingArguments { .. }),
            "{err}"
        );
        assert_eq!(
            trident_core::Error::from(err).kind(),
            trident_core::ErrorKind::InvalidArgument
        );
    }
    assert_eq!(t.bindings(), before);
    // Other exchange types do not look at x-match.
    let _ = t
        .bind(to_queue(
            "amq.direct",
            "q",
            "k",
            headers(&[("x-match", s("most"))]),
        ))
        .unwrap();
}

#[test]
fn headers_argument_order_does_not_matter() {
    let mut t = table();
    let ab = headers(&[("a", s("1")), ("b", s("2"))]);
    let ba = headers(&[("b", s("2")), ("a", s("1"))]);
    assert!(
        t.bind(to_queue("amq.headers", "q", "", ab))
            .unwrap()
            .changed
    );
    assert!(
        !t.bind(to_queue("amq.headers", "q", "", ba.clone()))
            .unwrap()
            .changed
    );
    assert_eq!(t.bindings_from(&x("amq.headers")).len(), 1);
    assert!(
        t.unbind(&to_queue("amq.headers", "q", "", ba))
            .unwrap()
            .changed
    );
    assert!(!t.has_bindings_from(&x("amq.headers")));
}

#[test]
fn topic_binding_keys_are_bounded_in_words() {
    let mut t = table();
    let deep = vec!["w"; 1024].join(".");
    bind_q(&mut t, "amq.topic", "deep", &deep);
    assert_eq!(route(&t, "amq.topic", &deep), ["deep"]);
    let too_deep = deep + ".w";
    let err = t
        .bind(to_queue("amq.topic", "q", &too_deep, FieldTable::new()))
        .unwrap_err();
    assert!(
        matches!(err, RoutingError::InvalidBindingKey { .. }),
        "{err}"
    );
    // Other exchange types do not split keys into words.
    bind_q(&mut t, "amq.direct", "q", &too_deep);
}
