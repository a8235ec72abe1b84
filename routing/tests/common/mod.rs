//! Helpers shared by the integration tests.
#![allow(dead_code, clippy::unwrap_used)]

use trident_core::{
    Binding, BindingDestination, ExchangeDef, ExchangeKind, ExchangeName, FieldTable, QueueName,
    VhostName,
};
use trident_routing::{Routable, RouteResult, RoutingError, RoutingTable};

pub fn x(name: &str) -> ExchangeName {
    ExchangeName::new(name).unwrap()
}

pub fn q(name: &str) -> QueueName {
    QueueName::new(name).unwrap()
}

pub fn table() -> RoutingTable {
    RoutingTable::with_defaults(VhostName::default_vhost())
}

pub fn declare(t: &mut RoutingTable, name: &str, kind: ExchangeKind) {
    let effects = t.declare_exchange(ExchangeDef::new(x(name), kind)).unwrap();
    assert!(effects.changed);
}

pub fn declare_def(t: &mut RoutingTable, def: ExchangeDef) {
    let _ = t.declare_exchange(def).unwrap();
}

pub fn to_queue(source: &str, queue: &str, key: &str, args: FieldTable) -> Binding {
    Binding::new(x(source), BindingDestination::Queue(q(queue)), key, args)
}

pub fn to_exchange(source: &str, dest: &str, key: &str) -> Binding {
    Binding::new(
        x(source),
        BindingDestination::Exchange(x(dest)),
        key,
        FieldTable::new(),
    )
}

pub fn bind_q(t: &mut RoutingTable, source: &str, queue: &str, key: &str) {
    let _ = t
        .bind(to_queue(source, queue, key, FieldTable::new()))
        .unwrap();
}

pub fn bind_x(t: &mut RoutingTable, source: &str, dest: &str, key: &str) {
    let _ = t.bind(to_exchange(source, dest, key)).unwrap();
}

pub fn try_route(
    t: &RoutingTable,
    exchange: &str,
    key: &str,
    headers: &FieldTable,
) -> Result<RouteResult, RoutingError> {
    let mut out = RouteResult::new();
    t.route_publish(&x(exchange), Routable::new(key, headers), &mut out)?;
    Ok(out)
}

/// Queue names routed to, sorted (the table's own order is only deterministic).
pub fn route(t: &RoutingTable, exchange: &str, key: &str) -> Vec<String> {
    route_h(t, exchange, key, &FieldTable::new())
}

pub fn route_h(t: &RoutingTable, exchange: &str, key: &str, headers: &FieldTable) -> Vec<String> {
    let out = try_route(t, exchange, key, headers).unwrap();
    let listed: Vec<String> = out.queues().map(ToString::to_string).collect();
    let mut sorted = listed.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(sorted.len(), listed.len(), "duplicates in {listed:?}");
    sorted
}

pub fn names(list: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = list.iter().map(ToString::to_string).collect();
    v.sort();
    v.dedup();
    v
}
