//! Exchange-to-exchange bindings, alternate exchanges, internal exchanges and the
//! lifecycle of exchanges and bindings.
#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use trident_core::{
    BindingDestination, ErrorKind, ExchangeDef, ExchangeKind, FieldTable, VhostName,
};
use trident_routing::{Routable, RouteResult, RoutingError, RoutingTable};

fn def(name: &str, kind: ExchangeKind) -> ExchangeDef {
    ExchangeDef::new(x(name), kind)
}

fn with_ae(name: &str, kind: ExchangeKind, ae: &str) -> ExchangeDef {
    ExchangeDef {
        alternate_exchange: Some(x(ae)),
        ..def(name, kind)
    }
}

fn auto_delete(name: &str, kind: ExchangeKind) -> ExchangeDef {
    ExchangeDef {
        auto_delete: true,
        ..def(name, kind)
    }
}

fn routed(t: &RoutingTable, exchange: &str, key: &str) -> RouteResult {
    try_route(t, exchange, key, &FieldTable::new()).unwrap()
}

#[test]
fn exchange_to_exchange_chain() {
    let mut t = table();
    declare(&mut t, "front", ExchangeKind::Topic);
    declare(&mut t, "back", ExchangeKind::Direct);
    bind_x(&mut t, "front", "back", "orders.#");
    bind_q(&mut t, "back", "eu", "orders.eu");
    bind_q(&mut t, "back", "us", "orders.us");
    bind_q(&mut t, "front", "audit", "#");
    assert_eq!(route(&t, "front", "orders.eu"), names(&["audit", "eu"]));
    assert_eq!(route(&t, "front", "orders.asia"), names(&["audit"]));
    assert_eq!(route(&t, "front", "other"), names(&["audit"]));
}

#[test]
fn cycles_terminate_and_deliver_once() {
    let mut t = table();
    declare(&mut t, "a", ExchangeKind::Fanout);
    declare(&mut t, "b", ExchangeKind::Fanout);
    declare(&mut t, "c", ExchangeKind::Fanout);
    bind_x(&mut t, "a", "b", "");
    bind_x(&mut t, "b", "c", "");
    bind_x(&mut t, "c", "a", "");
    bind_x(&mut t, "a", "a", "");
    bind_q(&mut t, "a", "qa", "");
    bind_q(&mut t, "b", "shared", "");
    bind_q(&mut t, "c", "shared", "");
    for start in ["a", "b", "c"] {
        assert_eq!(route(&t, start, "k"), names(&["qa", "shared"]));
    }
}

#[test]
fn diamond_delivers_once() {
    let mut t = table();
    for name in ["top", "left", "right"] {
        declare(&mut t, name, ExchangeKind::Fanout);
    }
    bind_x(&mut t, "top", "left", "");
    bind_x(&mut t, "top", "right", "");
    bind_q(&mut t, "left", "q", "");
    bind_q(&mut t, "right", "q", "");
    let out = routed(&t, "top", "k");
    assert_eq!(out.queues().cloned().collect::<Vec<_>>(), [q("q")]);
}

#[test]
fn alternate_exchange_takes_unroutable_messages() {
    let mut t = table();
    declare_def(&mut t, with_ae("main", ExchangeKind::Direct, "unrouted"));
    declare(&mut t, "unrouted", ExchangeKind::Fanout);
    bind_q(&mut t, "main", "known", "k");
    bind_q(&mut t, "unrouted", "dead", "");
    let hit = routed(&t, "main", "k");
    assert_eq!(hit.queues().cloned().collect::<Vec<_>>(), [q("known")]);
    assert!(!hit.used_alternate_exchange);
    let miss = routed(&t, "main", "other");
    assert_eq!(miss.queues().cloned().collect::<Vec<_>>(), [q("dead")]);
    assert!(miss.used_alternate_exchange);
}

#[test]
fn alternate_exchanges_chain_and_cycles_terminate() {
    let mut t = table();
    declare_def(&mut t, with_ae("a", ExchangeKind::Direct, "b"));
    declare_def(&mut t, with_ae("b", ExchangeKind::Direct, "c"));
    declare_def(&mut t, with_ae("c", ExchangeKind::Direct, "a"));
    assert!(route(&t, "a", "k").is_empty());
    bind_q(&mut t, "c", "last", "k");
    assert_eq!(route(&t, "a", "k"), names(&["last"]));
    assert_eq!(route(&t, "b", "k"), names(&["last"]));
}

#[test]
fn missing_alternate_exchange_is_ignored() {
    let mut t = table();
    declare_def(&mut t, with_ae("main", ExchangeKind::Direct, "not-yet"));
    let out = routed(&t, "main", "k");
    assert!(!out.is_routed());
    assert!(!out.used_alternate_exchange);
    // Declared later, it starts being used.
    declare(&mut t, "not-yet", ExchangeKind::Fanout);
    bind_q(&mut t, "not-yet", "q", "");
    assert_eq!(route(&t, "main", "k"), names(&["q"]));
}

#[test]
fn alternate_exchange_applies_per_exchange_visited() {
    // main -> middle (e2e). middle routes nowhere, so middle's AE is used; main did
    // route (to an exchange), so main's AE is not.
    let mut t = table();
    declare(&mut t, "main-ae", ExchangeKind::Fanout);
    declare(&mut t, "middle-ae", ExchangeKind::Fanout);
    declare_def(&mut t, with_ae("main", ExchangeKind::Fanout, "main-ae"));
    declare_def(&mut t, with_ae("middle", ExchangeKind::Direct, "middle-ae"));
    bind_x(&mut t, "main", "middle", "");
    bind_q(&mut t, "main-ae", "from-main-ae", "");
    bind_q(&mut t, "middle-ae", "from-middle-ae", "");
    let out = routed(&t, "main", "k");
    assert_eq!(
        out.queues().cloned().collect::<Vec<_>>(),
        [q("from-middle-ae")]
    );
    assert!(out.used_alternate_exchange);
}

#[test]
fn alternate_exchange_can_be_the_default_exchange() {
    let mut t = table();
    declare_def(&mut t, with_ae("main", ExchangeKind::Direct, ""));
    assert_eq!(
        route(&t, "main", "fallback-queue"),
        names(&["fallback-queue"])
    );
}

#[test]
fn internal_exchanges_refuse_publishes_but_route_internally() {
    let mut t = table();
    declare_def(
        &mut t,
        ExchangeDef {
            internal: true,
            ..def("inner", ExchangeKind::Fanout)
        },
    );
    declare(&mut t, "outer", ExchangeKind::Fanout);
    bind_x(&mut t, "outer", "inner", "");
    bind_q(&mut t, "inner", "q", "");
    let err = try_route(&t, "inner", "k", &FieldTable::new()).unwrap_err();
    assert!(matches!(err, RoutingError::InternalExchange { .. }));
    assert_eq!(
        trident_core::Error::from(err).kind(),
        ErrorKind::AccessRefused
    );
    let mut out = RouteResult::new();
    t.route(
        &x("inner"),
        Routable::new("k", &FieldTable::new()),
        &mut out,
    )
    .unwrap();
    assert_eq!(out.queues().cloned().collect::<Vec<_>>(), [q("q")]);
    assert_eq!(route(&t, "outer", "k"), names(&["q"]));
}

#[test]
fn unknown_exchanges_are_not_found() {
    let mut t = table();
    let mut out = RouteResult::new();
    let err = t
        .route(&x("nope"), Routable::new("k", &FieldTable::new()), &mut out)
        .unwrap_err();
    assert_eq!(trident_core::Error::from(err).kind(), ErrorKind::NotFound);
    assert!(try_route(&t, "nope", "k", &FieldTable::new()).is_err());
    assert!(matches!(
        t.bind(to_queue("nope", "q", "k", FieldTable::new())),
        Err(RoutingError::ExchangeNotFound { .. })
    ));
    assert!(matches!(
        t.bind(to_exchange("amq.direct", "nope", "k")),
        Err(RoutingError::ExchangeNotFound { .. })
    ));
    assert!(matches!(
        t.unbind(&to_exchange("amq.direct", "nope", "k")),
        Err(RoutingError::ExchangeNotFound { .. })
    ));
}

#[test]
fn redeclaration() {
    let mut t = table();
    assert!(
        t.declare_exchange(def("e", ExchangeKind::Topic))
            .unwrap()
            .changed
    );
    assert!(
        !t.declare_exchange(def("e", ExchangeKind::Topic))
            .unwrap()
            .changed
    );
    let err = t
        .declare_exchange(def("e", ExchangeKind::Fanout))
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "inequivalent arg 'type' for exchange 'e' in vhost '/': received 'fanout' but current is 'topic'"
    );
    assert_eq!(
        trident_core::Error::from(err).kind(),
        ErrorKind::PreconditionFailed
    );
    let err = t
        .declare_exchange(with_ae("e", ExchangeKind::Topic, "ae"))
        .unwrap_err();
    assert!(err.to_string().contains("'alternate-exchange'"), "{err}");
    // Predeclared exchanges may be redeclared equivalently.
    assert!(
        !t.declare_exchange(def("amq.topic", ExchangeKind::Topic))
            .unwrap()
            .changed
    );
}

#[test]
fn default_exchange_must_be_plain_direct() {
    let mut t = RoutingTable::new(VhostName::default_vhost());
    assert!(matches!(
        t.declare_exchange(def("", ExchangeKind::Topic)),
        Err(RoutingError::InvalidDefinition { .. })
    ));
    assert!(
        t.declare_exchange(def("", ExchangeKind::Direct))
            .unwrap()
            .changed
    );
    assert_eq!(route(&t, "", "q"), names(&["q"]));
}

#[test]
fn rebinding_is_idempotent_and_unbinding_absent_is_a_no_op() {
    let mut t = table();
    assert!(
        t.bind(to_queue("amq.topic", "q", "a.*", FieldTable::new()))
            .unwrap()
            .changed
    );
    assert!(
        !t.bind(to_queue("amq.topic", "q", "a.*", FieldTable::new()))
            .unwrap()
            .changed
    );
    assert_eq!(t.binding_count(), 1);
    let none = t
        .unbind(&to_queue("amq.topic", "q", "b.*", FieldTable::new()))
        .unwrap();
    assert_eq!(none, Default::default());
    let effects = t
        .unbind(&to_queue("amq.topic", "q", "a.*", FieldTable::new()))
        .unwrap();
    assert_eq!(
        effects.removed_bindings,
        [to_queue("amq.topic", "q", "a.*", FieldTable::new())]
    );
    assert!(route(&t, "amq.topic", "a.b").is_empty());
}

#[test]
fn delete_exchange_removes_bindings_on_both_sides() {
    let mut t = table();
    declare(&mut t, "mid", ExchangeKind::Fanout);
    bind_x(&mut t, "amq.fanout", "mid", "");
    bind_q(&mut t, "mid", "q", "");
    bind_q(&mut t, "amq.fanout", "direct-q", "");
    assert!(matches!(
        t.delete_exchange(&x("mid"), true),
        Err(RoutingError::InUse { .. })
    ));
    let effects = t.delete_exchange(&x("mid"), false).unwrap();
    assert!(effects.changed);
    assert_eq!(effects.deleted_exchanges, [x("mid")]);
    let mut removed = effects.removed_bindings;
    removed.sort_by(|a, b| a.source.cmp(&b.source));
    assert_eq!(
        removed,
        [
            to_exchange("amq.fanout", "mid", ""),
            to_queue("mid", "q", "", FieldTable::new())
        ]
    );
    assert_eq!(
        t.bindings(),
        [to_queue("amq.fanout", "direct-q", "", FieldTable::new())]
    );
    assert_eq!(route(&t, "amq.fanout", "k"), names(&["direct-q"]));
    // Deleting what is gone changes nothing.
    assert_eq!(
        t.delete_exchange(&x("mid"), false).unwrap(),
        Default::default()
    );
    // An unused exchange can be deleted with if-unused.
    declare(&mut t, "idle", ExchangeKind::Direct);
    bind_x(&mut t, "amq.direct", "idle", "k");
    assert!(t.delete_exchange(&x("idle"), true).unwrap().changed);
}

#[test]
fn deleting_a_self_bound_exchange() {
    let mut t = table();
    declare(&mut t, "loop", ExchangeKind::Fanout);
    bind_x(&mut t, "loop", "loop", "");
    let effects = t.delete_exchange(&x("loop"), false).unwrap();
    assert_eq!(effects.removed_bindings, [to_exchange("loop", "loop", "")]);
    assert_eq!(t.binding_count(), 0);
}

#[test]
fn remove_queue_drops_its_bindings_everywhere() {
    let mut t = table();
    bind_q(&mut t, "amq.direct", "gone", "a");
    bind_q(&mut t, "amq.direct", "gone", "b");
    bind_q(&mut t, "amq.topic", "gone", "#");
    bind_q(&mut t, "amq.topic", "stays", "#");
    let effects = t.remove_queue(&q("gone"));
    assert!(effects.changed);
    assert_eq!(effects.removed_bindings.len(), 3);
    assert!(effects.deleted_exchanges.is_empty());
    assert!(route(&t, "amq.direct", "a").is_empty());
    assert_eq!(route(&t, "amq.topic", "x"), names(&["stays"]));
    assert!(
        t.bindings_to(&BindingDestination::Queue(q("gone")))
            .is_empty()
    );
    assert_eq!(t.remove_queue(&q("gone")), Default::default());
}

#[test]
fn auto_delete_cascades() {
    // ad1 -> ad2 -> q, both auto-delete. Deleting q empties ad2, which goes; that
    // removes ad1's only binding, so ad1 goes too. "kept" is not auto-delete.
    let mut t = table();
    declare_def(&mut t, auto_delete("ad1", ExchangeKind::Fanout));
    declare_def(&mut t, auto_delete("ad2", ExchangeKind::Fanout));
    declare(&mut t, "kept", ExchangeKind::Fanout);
    bind_x(&mut t, "ad1", "ad2", "");
    bind_x(&mut t, "kept", "ad2", "");
    bind_q(&mut t, "ad2", "q", "");
    let effects = t.remove_queue(&q("q"));
    assert_eq!(effects.deleted_exchanges, [x("ad2"), x("ad1")]);
    assert_eq!(effects.removed_bindings.len(), 3);
    assert!(t.exchange(&x("ad1")).is_none());
    assert!(t.exchange(&x("kept")).is_some());
    assert_eq!(t.binding_count(), 0);
}

#[test]
fn auto_delete_on_last_unbind_only() {
    let mut t = table();
    declare_def(&mut t, auto_delete("ad", ExchangeKind::Direct));
    bind_q(&mut t, "ad", "q1", "k");
    bind_q(&mut t, "ad", "q2", "k");
    let first = t
        .unbind(&to_queue("ad", "q1", "k", FieldTable::new()))
        .unwrap();
    assert!(first.deleted_exchanges.is_empty());
    let last = t
        .unbind(&to_queue("ad", "q2", "k", FieldTable::new()))
        .unwrap();
    assert_eq!(last.deleted_exchanges, [x("ad")]);
    assert!(t.exchange(&x("ad")).is_none());
}

#[test]
fn listing_bindings() {
    let mut t = table();
    declare(&mut t, "e", ExchangeKind::Topic);
    bind_q(&mut t, "amq.topic", "q", "b");
    bind_q(&mut t, "amq.topic", "q", "a");
    bind_x(&mut t, "amq.topic", "e", "c");
    bind_q(&mut t, "e", "q", "z");
    let all = t.bindings();
    assert_eq!(
        all,
        [
            to_queue("amq.topic", "q", "a", FieldTable::new()),
            to_queue("amq.topic", "q", "b", FieldTable::new()),
            to_exchange("amq.topic", "e", "c"),
            to_queue("e", "q", "z", FieldTable::new()),
        ]
    );
    assert_eq!(t.bindings_to(&BindingDestination::Queue(q("q"))).len(), 3);
    assert_eq!(t.bindings_from(&x("e")).len(), 1);
    assert!(t.has_bindings_from(&x("amq.topic")));
    assert!(!t.has_bindings_from(&x("amq.direct")));
    assert!(!t.has_bindings_from(&x("unknown")));
}

#[test]
fn snapshots_are_isolated() {
    let mut t = table();
    bind_q(&mut t, "amq.direct", "q", "k");
    let old = t.clone();
    bind_q(&mut t, "amq.direct", "q2", "k");
    let _ = t.remove_queue(&q("q"));
    declare(&mut t, "new", ExchangeKind::Fanout);
    assert_eq!(route(&old, "amq.direct", "k"), names(&["q"]));
    assert!(old.exchange(&x("new")).is_none());
    assert_eq!(route(&t, "amq.direct", "k"), names(&["q2"]));
}

#[test]
fn route_result_is_reusable() {
    let mut t = table();
    bind_q(&mut t, "amq.direct", "q", "k");
    let mut out = RouteResult::new();
    t.route_publish(
        &x("amq.direct"),
        Routable::new("k", &FieldTable::new()),
        &mut out,
    )
    .unwrap();
    assert_eq!(out.queues().cloned().collect::<Vec<_>>(), [q("q")]);
    t.route_publish(
        &x("amq.direct"),
        Routable::new("none", &FieldTable::new()),
        &mut out,
    )
    .unwrap();
    assert!(out.queues().cloned().collect::<Vec<_>>().is_empty());
}

#[test]
fn tables_can_be_shared_across_threads() {
    fn shareable<T: Send + Sync + 'static>() {}
    shareable::<RoutingTable>();
    shareable::<RoutingError>();
}

#[test]
fn order_is_deterministic_for_a_snapshot() {
    let mut t = table();
    for i in 0..50 {
        bind_q(&mut t, "amq.fanout", &format!("q{i}"), "");
    }
    let first = routed(&t, "amq.fanout", "k")
        .queues()
        .cloned()
        .collect::<Vec<_>>();
    assert_eq!(first.len(), 50);
    let copy = t.clone();
    for _ in 0..3 {
        assert_eq!(
            routed(&t, "amq.fanout", "k")
                .queues()
                .cloned()
                .collect::<Vec<_>>(),
            first
        );
        assert_eq!(
            routed(&copy, "amq.fanout", "k")
                .queues()
                .cloned()
                .collect::<Vec<_>>(),
            first
        );
    }
}
