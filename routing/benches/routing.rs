//! Routing throughput of each exchange type at realistic sizes, and the cost of a
//! topology change on a large exchange (clone the snapshot, bind once).

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use trident_core::{
    Binding, BindingDestination, ExchangeName, FieldTable, FieldValue, QueueName, VhostName,
};
use trident_routing::{Routable, RouteResult, RoutingTable};

fn name_x(s: &str) -> ExchangeName {
    ExchangeName::new(s).unwrap_or_else(|e| panic!("{e}"))
}

fn name_q(s: &str) -> QueueName {
    QueueName::new(s).unwrap_or_else(|e| panic!("{e}"))
}

fn bind(t: &mut RoutingTable, exchange: &str, queue: &str, key: &str, args: FieldTable) {
    let binding = Binding::new(
        name_x(exchange),
        BindingDestination::Queue(name_q(queue)),
        key,
        args,
    );
    if let Err(e) = t.bind(binding) {
        panic!("{e}");
    }
}

fn table() -> RoutingTable {
    RoutingTable::with_defaults(VhostName::default_vhost())
}

/// 10,000 bindings shaped like a market-data fan-out.
fn topic_table() -> RoutingTable {
    let mut t = table();
    let sym = |i: usize| format!("S{i:04}");
    for i in 0..3000 {
        bind(
            &mut t,
            "amq.topic",
            &format!("stock-{i}"),
            &format!("stock.{}.*", sym(i)),
            FieldTable::new(),
        );
    }
    for i in 0..3000 {
        let venue = if i % 2 == 0 { "nyse" } else { "nasdaq" };
        bind(
            &mut t,
            "amq.topic",
            &format!("trade-{i}"),
            &format!("trade.{venue}.{}", sym(i / 2)),
            FieldTable::new(),
        );
    }
    for i in 0..50 {
        bind(
            &mut t,
            "amq.topic",
            &format!("venue-{i}"),
            &format!("*.venue{i}.#"),
            FieldTable::new(),
        );
    }
    bind(
        &mut t,
        "amq.topic",
        "nyse-all",
        "*.nyse.#",
        FieldTable::new(),
    );
    for i in 0..1000 {
        bind(
            &mut t,
            "amq.topic",
            &format!("news-{i}"),
            &format!("news.#.{}", sym(i)),
            FieldTable::new(),
        );
    }
    for i in 0..2000 {
        bind(
            &mut t,
            "amq.topic",
            &format!("sym-{i}"),
            &format!("{}.#", sym(i)),
            FieldTable::new(),
        );
    }
    for i in 0..949 {
        bind(
            &mut t,
            "amq.topic",
            &format!("alert-{i}"),
            &format!("alerts.*.*.{}", sym(i)),
            FieldTable::new(),
        );
    }
    assert_eq!(t.binding_count(), 10_000);
    t
}

fn direct_table() -> RoutingTable {
    let mut t = table();
    for i in 0..10_000 {
        bind(
            &mut t,
            "amq.direct",
            &format!("q{i}"),
            &format!("rk.{i}"),
            FieldTable::new(),
        );
    }
    t
}

fn header_table() -> RoutingTable {
    let mut t = table();
    for i in 0..1000 {
        let mut args = FieldTable::new();
        if i % 2 == 1 {
            args.insert("x-match", FieldValue::LongString("any".into()));
        }
        args.insert("region", FieldValue::LongString(format!("r{}", i % 20)));
        args.insert("type", FieldValue::LongString(format!("t{}", i % 50)));
        bind(&mut t, "amq.headers", &format!("h{i}"), "", args);
    }
    t
}

fn fanout_table() -> RoutingTable {
    let mut t = table();
    for i in 0..100 {
        bind(
            &mut t,
            "amq.fanout",
            &format!("f{i}"),
            "",
            FieldTable::new(),
        );
    }
    t
}

fn bench_route(
    c: &mut Criterion,
    group: &str,
    t: &RoutingTable,
    exchange: &str,
    cases: &[(&str, &str, FieldTable)],
) {
    let mut g = c.benchmark_group(group);
    g.throughput(Throughput::Elements(1));
    let exchange = name_x(exchange);
    for (label, key, headers) in cases {
        let mut out = RouteResult::new();
        // Report how many queues each case reaches, so the figures can be read.
        if let Err(e) = t.route_publish(&exchange, Routable::new(key, headers), &mut out) {
            panic!("{e}");
        }
        let label = format!("{label} ({} queues)", out.queue_count());
        g.bench_function(label, |b| {
            b.iter(|| {
                let r =
                    t.route_publish(&exchange, Routable::new(black_box(key), headers), &mut out);
                black_box((r.is_ok(), out.queue_count()))
            });
        });
    }
    g.finish();
}

fn routing(c: &mut Criterion) {
    let none = FieldTable::new;
    let topic = topic_table();
    bench_route(
        c,
        "topic_10k_bindings",
        &topic,
        "amq.topic",
        &[
            ("stock.S0042.price", "stock.S0042.price", none()),
            ("trade.nyse.S0100", "trade.nyse.S0100", none()),
            ("news.eu.tech.S0007", "news.eu.tech.S0007", none()),
            ("S0042.quote.bid", "S0042.quote.bid", none()),
            ("miss weather.london.today", "weather.london.today", none()),
            (
                "miss stock.ZZZZ.price.extra",
                "stock.ZZZZ.price.extra",
                none(),
            ),
        ],
    );

    let direct = direct_table();
    bench_route(
        c,
        "direct_10k_bindings",
        &direct,
        "amq.direct",
        &[("hit", "rk.4242", none()), ("miss", "rk.none", none())],
    );

    let headers = header_table();
    let msg = |region: &str, kind: &str| {
        let mut h = FieldTable::new();
        h.insert("region", FieldValue::LongString(region.into()));
        h.insert("type", FieldValue::LongString(kind.into()));
        h.insert("trace-id", FieldValue::LongString("abc".into()));
        h
    };
    bench_route(
        c,
        "headers_1k_bindings",
        &headers,
        "amq.headers",
        &[
            ("region+type match", "", msg("r3", "t23")),
            ("no match", "", msg("r99", "t99")),
        ],
    );

    let fanout = fanout_table();
    bench_route(
        c,
        "fanout_100_queues",
        &fanout,
        "amq.fanout",
        &[("any key", "k", none())],
    );

    let mut g = c.benchmark_group("topology_change");
    g.bench_function("clone + bind on 10k-binding topic exchange", |b| {
        let mut i = 0u64;
        b.iter(|| {
            i += 1;
            let mut next = topic.clone();
            bind(
                &mut next,
                "amq.topic",
                "new-queue",
                &format!("stock.NEW{i}.*"),
                FieldTable::new(),
            );
            black_box(next)
        });
    });
    g.bench_function("clone + bind on 10k-binding direct exchange", |b| {
        let mut i = 0u64;
        b.iter(|| {
            i += 1;
            let mut next = direct.clone();
            bind(
                &mut next,
                "amq.direct",
                "new-queue",
                &format!("rk.new.{i}"),
                FieldTable::new(),
            );
            black_box(next)
        });
    });
    g.bench_function("clone + remove_queue on 10k-binding topic exchange", |b| {
        b.iter(|| {
            let mut next = topic.clone();
            let effects = next.remove_queue(&name_q("stock-1234"));
            black_box((next, effects))
        });
    });
    g.finish();
}

criterion_group!(benches, routing);
criterion_main!(benches);
