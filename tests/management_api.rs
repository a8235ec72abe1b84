//! The management HTTP API against the real binary over real sockets: every endpoint,
//! authentication, authorization by tag, and bad input (always a 4xx with a JSON
//! `{"error", "reason"}` body, never a 500).

mod support;

use serde_json::{Value, json};
use support::{Broker, http_request};

const ADMIN: (&str, &str) = ("guest", "guest");

struct Api<'a> {
    broker: &'a Broker,
}

impl Api<'_> {
    fn call(
        &self,
        method: &str,
        path: &str,
        auth: (&str, &str),
        body: Option<Value>,
    ) -> (u16, Value) {
        let body = body.map(|b| b.to_string());
        let (code, text) =
            http_request(self.broker.http, method, path, Some(auth), body.as_deref())
                .unwrap_or_else(|| panic!("{method} {path}: no HTTP answer"));
        let v = if text.trim().is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text)
                .unwrap_or_else(|e| panic!("{method} {path}: not JSON ({e}): {text}"))
        };
        assert!(code < 500, "{method} {path} answered {code}: {v}");
        (code, v)
    }

    fn admin(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        self.call(method, path, ADMIN, body)
    }

    fn raw(
        &self,
        method: &str,
        path: &str,
        auth: Option<(&str, &str)>,
        body: &str,
    ) -> (u16, Value) {
        let (code, text) = http_request(self.broker.http, method, path, auth, Some(body))
            .unwrap_or_else(|| panic!("{method} {path}: no HTTP answer"));
        let v: Value = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("{method} {path}: error body is not JSON ({e}): {text}"));
        (code, v)
    }
}

fn names(v: &Value) -> Vec<String> {
    v.as_array()
        .expect("a list")
        .iter()
        .map(|o| o["name"].as_str().unwrap_or_default().to_string())
        .collect()
}

/// A 4xx whose body is RabbitMQ's error shape.
fn assert_error(code: u16, v: &Value, expected: u16) {
    assert_eq!(code, expected, "{v}");
    assert!(
        v["error"].is_string() && v["reason"].is_string(),
        "error body: {v}"
    );
}

#[test]
fn queues_exchanges_bindings_vhosts_through_the_api() {
    let broker = Broker::start();
    let api = Api { broker: &broker };

    let (code, o) = api.admin("GET", "/api/overview", None);
    assert_eq!(code, 200);
    assert_eq!(o["product_name"], "Trident");
    assert!(
        o["listeners"].as_array().is_some_and(|l| l.len() >= 3),
        "{o}"
    );

    assert_eq!(api.admin("PUT", "/api/vhosts/dev", Some(json!({}))).0, 201);
    assert_eq!(api.admin("PUT", "/api/vhosts/dev", Some(json!({}))).0, 204);
    assert_eq!(
        names(&api.admin("GET", "/api/vhosts", None).1),
        ["/", "dev"]
    );

    let q = json!({"durable": true, "arguments": {"x-max-length": 10}});
    assert_eq!(
        api.admin("PUT", "/api/queues/dev/orders", Some(q.clone()))
            .0,
        201
    );
    assert_eq!(api.admin("PUT", "/api/queues/dev/orders", Some(q)).0, 204);
    let (code, shown) = api.admin("GET", "/api/queues/dev/orders", None);
    assert_eq!(code, 200);
    assert_eq!(shown["arguments"]["x-max-length"], 10);
    assert_eq!(shown["messages"], 0);
    assert_eq!(
        names(&api.admin("GET", "/api/queues/dev", None).1),
        ["orders"]
    );
    assert_eq!(names(&api.admin("GET", "/api/queues", None).1), ["orders"]);

    let x = json!({"type": "topic", "durable": true});
    assert_eq!(
        api.admin("PUT", "/api/exchanges/dev/events", Some(x)).0,
        201
    );
    assert_eq!(
        api.admin("GET", "/api/exchanges/dev/events", None).1["type"],
        "topic"
    );
    assert!(names(&api.admin("GET", "/api/exchanges/dev", None).1).contains(&"events".to_string()));
    assert!(names(&api.admin("GET", "/api/exchanges", None).1).contains(&"amq.topic".to_string()));

    let b = json!({"routing_key": "order.*"});
    assert_eq!(
        api.admin("POST", "/api/bindings/dev/e/events/q/orders", Some(b))
            .0,
        201
    );
    let (_, bindings) = api.admin("GET", "/api/bindings/dev", None);
    let found = bindings
        .as_array()
        .expect("list")
        .iter()
        .find(|b| b["source"] == "events")
        .cloned();
    let found = found.expect("the binding is listed");
    assert_eq!(found["destination"], "orders");
    assert_eq!(found["routing_key"], "order.*");
    assert_eq!(
        api.admin("GET", "/api/bindings", None)
            .1
            .as_array()
            .map(Vec::len),
        Some(1)
    );
    let between = api
        .admin("GET", "/api/bindings/dev/e/events/q/orders", None)
        .1;
    assert_eq!(between.as_array().map(Vec::len), Some(1));
    let props = found["properties_key"]
        .as_str()
        .expect("properties_key")
        .to_string();
    let path = format!("/api/bindings/dev/e/events/q/orders/{props}");
    assert_eq!(api.admin("DELETE", &path, None).0, 204);
    assert_eq!(
        api.admin("GET", "/api/bindings/dev", None)
            .1
            .as_array()
            .map(Vec::len),
        Some(0)
    );

    assert_eq!(
        api.admin("DELETE", "/api/queues/dev/orders/contents", None)
            .0,
        204
    );
    assert_eq!(
        api.admin("DELETE", "/api/exchanges/dev/events", None).0,
        204
    );
    assert_eq!(api.admin("DELETE", "/api/queues/dev/orders", None).0, 204);
    let (code, v) = api.admin("GET", "/api/queues/dev/orders", None);
    assert_error(code, &v, 404);

    // Deleting a vhost takes everything in it along.
    api.admin("PUT", "/api/queues/dev/left-behind", Some(json!({})));
    assert_eq!(api.admin("DELETE", "/api/vhosts/dev", None).0, 204);
    let (code, v) = api.admin("GET", "/api/queues/dev", None);
    assert_error(code, &v, 404);
    assert_eq!(names(&api.admin("GET", "/api/vhosts", None).1), ["/"]);
}

#[test]
fn users_permissions_and_what_each_tag_may_do() {
    let broker = Broker::start();
    let api = Api { broker: &broker };
    let mon = ("watcher", "watch-it-all-7");
    let mgmt = ("manager", "manage-own-stuff-9");
    let plain = ("worker", "no-management-3");
    assert_eq!(
        api.admin(
            "PUT",
            "/api/users/watcher",
            Some(json!({"password": mon.1, "tags": "monitoring"}))
        )
        .0,
        201
    );
    assert_eq!(
        api.admin(
            "PUT",
            "/api/users/manager",
            Some(json!({"password": mgmt.1, "tags": ["management"]}))
        )
        .0,
        201
    );
    assert_eq!(
        api.admin(
            "PUT",
            "/api/users/worker",
            Some(json!({"password": plain.1}))
        )
        .0,
        201
    );
    let (_, users) = api.admin("GET", "/api/users", None);
    assert_eq!(names(&users), ["guest", "manager", "watcher", "worker"]);
    assert_eq!(
        api.admin("GET", "/api/users/watcher", None).1["tags"],
        json!(["monitoring"])
    );

    let perm = json!({"configure": "^mine-", "write": ".*", "read": ".*"});
    assert_eq!(
        api.admin("PUT", "/api/permissions/%2F/manager", Some(perm))
            .0,
        201
    );
    assert_eq!(
        api.admin("GET", "/api/permissions/%2F/manager", None).1["configure"],
        "^mine-"
    );
    assert_eq!(
        api.admin("GET", "/api/permissions", None)
            .1
            .as_array()
            .map(Vec::len),
        Some(2)
    );
    let tp = json!({"exchange": "amq.topic", "write": "^sensors\\.", "read": ".*"});
    assert_eq!(
        api.admin("PUT", "/api/topic-permissions/%2F/manager", Some(tp))
            .0,
        201
    );
    assert_eq!(
        api.admin("GET", "/api/topic-permissions", None).1[0]["exchange"],
        "amq.topic"
    );
    assert_eq!(
        api.admin("GET", "/api/topic-permissions/%2F/manager", None)
            .0,
        200
    );
    assert_eq!(
        api.admin("DELETE", "/api/topic-permissions/%2F/manager", None)
            .0,
        204
    );

    api.admin("PUT", "/api/queues/%2F/shared", Some(json!({})));

    // monitoring: reads everything, changes nothing.
    assert_eq!(api.call("GET", "/api/queues", mon, None).0, 200);
    assert_eq!(
        names(&api.call("GET", "/api/queues/%2F", mon, None).1),
        ["shared"]
    );
    assert_eq!(api.call("GET", "/api/connections", mon, None).0, 200);
    let (code, v) = api.call("DELETE", "/api/queues/%2F/shared", mon, None);
    assert_error(code, &v, 403);
    let (code, v) = api.call("PUT", "/api/queues/%2F/new", mon, Some(json!({})));
    assert_error(code, &v, 403);
    let (code, v) = api.call("GET", "/api/users", mon, None);
    assert_error(code, &v, 403);

    // management: only what its permissions allow.
    assert_eq!(
        api.call("PUT", "/api/queues/%2F/mine-1", mgmt, Some(json!({})))
            .0,
        201
    );
    let (code, v) = api.call("DELETE", "/api/queues/%2F/shared", mgmt, None);
    assert_error(code, &v, 403);
    assert_eq!(
        api.call("DELETE", "/api/queues/%2F/mine-1", mgmt, None).0,
        204
    );
    let (code, v) = api.call("PUT", "/api/vhosts/x", mgmt, Some(json!({})));
    assert_error(code, &v, 403);
    // ...and its own permissions, not others'.
    assert_eq!(
        api.call("GET", "/api/permissions/%2F/manager", mgmt, None)
            .0,
        200
    );
    let (code, v) = api.call("GET", "/api/permissions/%2F/guest", mgmt, None);
    assert_error(code, &v, 403);
    // A vhost it has no permissions in does not exist for it.
    api.admin("PUT", "/api/vhosts/private", Some(json!({})));
    let (code, v) = api.call("GET", "/api/queues/private", mgmt, None);
    assert_error(code, &v, 404);

    // No management tag: not a management user at all.
    let (code, v) = api.call("GET", "/api/overview", plain, None);
    assert_error(code, &v, 401);
    // Wrong password, no credentials, garbage credentials.
    let (code, v) = api.call("GET", "/api/overview", ("guest", "nope"), None);
    assert_error(code, &v, 401);
    let (code, v) = api.raw("GET", "/api/overview", None, "");
    assert_error(code, &v, 401);

    // Password change and tag change take effect; deleting removes the login.
    assert_eq!(
        api.admin(
            "PUT",
            "/api/users/watcher",
            Some(json!({"password": "a-new-secret-1"}))
        )
        .0,
        204
    );
    assert_eq!(
        api.call("GET", "/api/overview", ("watcher", "a-new-secret-1"), None)
            .0,
        200
    );
    assert_eq!(
        api.admin("DELETE", "/api/permissions/%2F/manager", None).0,
        204
    );
    assert_eq!(api.admin("DELETE", "/api/users/worker", None).0, 204);
    let (code, v) = api.admin("DELETE", "/api/users/worker", None);
    assert_error(code, &v, 404);
    let (code, v) = api.admin("DELETE", "/api/users/guest", None);
    assert_error(code, &v, 400);
    assert_eq!(
        api.call("GET", "/api/whoami", mgmt, None).1["name"],
        "manager"
    );
}

#[test]
fn bad_input_is_a_json_4xx_never_a_500() {
    let broker = Broker::start();
    let api = Api { broker: &broker };
    let a = Some(ADMIN);
    let (code, v) = api.raw("PUT", "/api/queues/%2F/q", a, "{not json");
    assert_error(code, &v, 400);
    let (code, v) = api.raw("PUT", "/api/queues/%2F/q", a, "[1,2,3]");
    assert_error(code, &v, 400);
    let (code, v) = api.admin("PUT", "/api/queues/nope/q", Some(json!({})));
    assert_error(code, &v, 404);
    let (code, v) = api.admin(
        "PUT",
        "/api/queues/%2F/q",
        Some(json!({"arguments": {"x-max-length": "ten"}})),
    );
    assert_error(code, &v, 400);
    let (code, v) = api.admin("PUT", "/api/queues/%2F/q", Some(json!({"durable": "yes"})));
    assert_error(code, &v, 400);
    let long = "q".repeat(300);
    let (code, v) = api.admin("PUT", &format!("/api/queues/%2F/{long}"), Some(json!({})));
    assert_error(code, &v, 400);
    let (code, v) = api.admin(
        "PUT",
        "/api/exchanges/%2F/x",
        Some(json!({"type": "sideways"})),
    );
    assert_error(code, &v, 400);
    let (code, v) = api.admin(
        "PUT",
        "/api/exchanges/%2F/amq.mine",
        Some(json!({"type": "direct"})),
    );
    assert_error(code, &v, 403);
    let (code, v) = api.admin(
        "PUT",
        "/api/permissions/%2F/guest",
        Some(json!({"configure": "(", "write": "", "read": ""})),
    );
    assert_error(code, &v, 400);
    assert!(
        v["reason"]
            .as_str()
            .is_some_and(|r| r.contains("configure")),
        "{v}"
    );
    let (code, v) = api.admin(
        "PUT",
        "/api/permissions/nope/guest",
        Some(json!({"configure": "", "write": "", "read": ""})),
    );
    assert_error(code, &v, 404);
    let (code, v) = api.admin("PUT", "/api/users/u", Some(json!({"password": ""})));
    assert_error(code, &v, 400);
    let (code, v) = api.admin(
        "PUT",
        "/api/users/u",
        Some(json!({"tags": "administrator"})),
    );
    assert_error(code, &v, 400);
    let (code, v) = api.admin(
        "PUT",
        "/api/topics/t",
        Some(json!({"partitions": 1_000_000})),
    );
    assert_error(code, &v, 400);
    let (code, v) = api.admin("PUT", "/api/topics/t", Some(json!({"partitions": 0})));
    assert_error(code, &v, 400);
    let (code, v) = api.admin("PUT", "/api/topics/bad%20name", Some(json!({})));
    assert_error(code, &v, 400);
    let (code, v) = api.admin("PUT", "/api/vhosts/%00", Some(json!({})));
    assert!((400..500).contains(&code), "{code} {v}");
    let (code, v) = api.admin("DELETE", "/api/connections/999999", None);
    assert_error(code, &v, 404);
    let (code, v) = api.admin(
        "POST",
        "/api/consumer-groups/g/reset-offsets",
        Some(json!({"to": "earliest"})),
    );
    assert_error(code, &v, 404);
    let (code, v) = api.admin("GET", "/api/no-such-thing", None);
    assert_error(code, &v, 404);
    let (code, v) = api.admin("PATCH", "/api/queues", None);
    assert_error(code, &v, 405);

    // An absurdly large body is refused without being buffered whole.
    let huge = format!("{{\"pad\": \"{}\"}}", "x".repeat(17 * 1024 * 1024));
    let (code, v) = api.raw("POST", "/api/definitions", a, &huge);
    assert_error(code, &v, 413);

    // The broker is still fine.
    assert_eq!(api.admin("GET", "/api/overview", None).0, 200);
}

#[test]
fn topics_groups_connections_and_definitions() {
    let broker = Broker::start();
    let api = Api { broker: &broker };
    assert_eq!(
        api.admin(
            "PUT",
            "/api/topics/clicks",
            Some(json!({"partitions": 3, "retention_ms": -1}))
        )
        .0,
        201
    );
    let (code, t) = api.admin("GET", "/api/topics/clicks", None);
    assert_eq!(code, 200);
    assert_eq!(t["partitions"], 3);
    assert_eq!(t["config"]["retention_ms"], -1);
    assert_eq!(t["partition_details"][2]["end_offset"], 0);
    // Grow, never shrink.
    assert_eq!(
        api.admin("PUT", "/api/topics/clicks", Some(json!({"partitions": 4})))
            .0,
        204
    );
    let (code, v) = api.admin("PUT", "/api/topics/clicks", Some(json!({"partitions": 2})));
    assert_error(code, &v, 400);
    assert_eq!(names(&api.admin("GET", "/api/topics", None).1), ["clicks"]);

    // Offsets for a group that has none yet can be set by naming the topic.
    let reset = json!({"to": "latest", "topic": "clicks"});
    let (code, g) = api.admin(
        "POST",
        "/api/consumer-groups/readers/reset-offsets",
        Some(reset),
    );
    assert_eq!(code, 200, "{g}");
    assert_eq!(g["offsets"].as_array().map(Vec::len), Some(4));
    assert_eq!(
        api.admin("GET", "/api/consumer-groups", None).1[0]["group"],
        "readers"
    );
    assert_eq!(
        api.admin("GET", "/api/consumer-groups/readers", None).1["lag"],
        0
    );
    let (code, v) = api.admin(
        "POST",
        "/api/consumer-groups/readers/reset-offsets",
        Some(json!({"to": "datetime"})),
    );
    assert_error(code, &v, 400);

    assert_eq!(api.admin("GET", "/api/connections", None).1, json!([]));

    let (code, defs) = api.admin("GET", "/api/definitions", None);
    assert_eq!(code, 200);
    assert_eq!(defs["topics"][0]["name"], "clicks");
    assert_eq!(defs["users"][0]["name"], "guest");
    // A document with one bad object imports nothing.
    let bad = json!({
        "vhosts": [{"name": "fresh"}],
        "queues": [{"name": "q1", "vhost": "fresh", "durable": true}],
        "permissions": [{"user": "guest", "vhost": "fresh", "configure": "(", "write": "", "read": ""}],
    });
    let (code, v) = api.admin("POST", "/api/definitions", Some(bad));
    assert_error(code, &v, 400);
    assert!(
        v["reason"]
            .as_str()
            .is_some_and(|r| r.contains("permissions[0]")),
        "{v}"
    );
    assert_eq!(names(&api.admin("GET", "/api/vhosts", None).1), ["/"]);

    assert_eq!(api.admin("DELETE", "/api/topics/clicks", None).0, 204);
    let (code, v) = api.admin("GET", "/api/topics/clicks", None);
    assert_error(code, &v, 404);
}

/// `/api/nodes`, the run-time watermarks (`PUT /api/nodes/{node}/vm_memory_high_watermark`
/// and `.../disk_free_limit`) and `/api/health/checks/alarms`: a change takes effect at
/// once, only an administrator may make it, and bad input is a JSON 4xx. The CLI's
/// `trident alarms` over the same endpoints.
#[test]
fn watermarks_set_at_run_time_take_effect_at_once() {
    let broker = Broker::start_with(&[("alarms.check_interval_ms", "100")]);
    let api = Api { broker: &broker };
    // The monitor's first measurement (it runs as the broker starts).
    let node = loop {
        let (code, nodes) = api.admin("GET", "/api/nodes", None);
        assert_eq!(code, 200, "{nodes}");
        if nodes[0]["mem_used"].as_u64().is_some_and(|m| m > 0) {
            break nodes[0].clone();
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    let name = node["name"].as_str().expect("a node name").to_string();
    assert_eq!(node["mem_alarm"], false, "{node}");
    assert_eq!(node["vm_memory_high_watermark"], json!({"relative": 0.4}));
    assert!(node["mem_limit"].as_u64().is_some_and(|l| l > 0), "{node}");
    let base = format!("/api/nodes/{name}");
    assert_eq!(api.admin("GET", &base, None).1["name"], name.as_str());
    assert_eq!(
        api.raw("GET", "/api/health/checks/alarms", Some(ADMIN), ""),
        (200, json!({"status": "ok"}))
    );

    // 1 byte: raised before the next measurement.
    let mem = format!("{base}/vm_memory_high_watermark");
    assert_eq!(api.admin("PUT", &mem, Some(json!({"absolute": 1}))).0, 204);
    let (_, n) = api.admin("GET", &base, None);
    assert_eq!(
        (n["mem_alarm"].clone(), n["mem_limit"].clone()),
        (json!(true), json!(1))
    );
    let (code, health) = api.raw("GET", "/api/health/checks/alarms", Some(ADMIN), "");
    assert_eq!(code, 503, "{health}");
    assert_eq!(
        health["alarms"],
        json!([{"node": name, "resource": "memory"}])
    );
    assert_eq!(api.admin("GET", "/api/overview", None).1["mem_alarm"], true);
    // Back to a fraction: cleared at once.
    assert_eq!(
        api.admin("PUT", &mem, Some(json!({"relative": 0.9}))).0,
        204
    );
    let (_, n) = api.admin("GET", &base, None);
    assert_eq!(n["mem_alarm"], false, "{n}");
    assert_eq!(n["vm_memory_high_watermark"], json!({"relative": 0.9}));

    let disk = format!("{base}/disk_free_limit");
    assert_eq!(
        api.admin("PUT", &disk, Some(json!({"absolute": u64::MAX})))
            .0,
        204
    );
    let (code, health) = api.raw("GET", "/api/health/checks/alarms", Some(ADMIN), "");
    assert_eq!(code, 503, "{health}");
    assert_eq!(health["alarms"][0]["resource"], "disk");
    assert_eq!(
        api.admin("PUT", &disk, Some(json!({"mem_relative": 0.0})))
            .0,
        204
    );
    assert_eq!(api.admin("GET", &base, None).1["disk_free_alarm"], false);

    // Bad input: a JSON 4xx, and nothing changes.
    for bad in [
        json!({"relative": 1.5}),
        json!({"relative": -0.1}),
        json!({"relative": 0.4, "absolute": 10}),
        json!({}),
        json!({"absolute": -1}),
        json!({"absolute": "1GB"}),
        json!({"mem_relative": 1.0}),
        json!({"watermark": 0.4}),
    ] {
        let (code, v) = api.admin("PUT", &mem, Some(bad.clone()));
        assert_error(code, &v, 400);
    }
    for bad in [
        json!({"relative": 0.4}),
        json!({"mem_relative": -2.0}),
        json!({}),
    ] {
        let (code, v) = api.admin("PUT", &disk, Some(bad.clone()));
        assert_error(code, &v, 400);
    }
    let (code, v) = api.raw("PUT", &mem, Some(ADMIN), "{\"relative\": ");
    assert_error(code, &v, 400);
    let (code, v) = api.admin(
        "PUT",
        "/api/nodes/rabbit@elsewhere/vm_memory_high_watermark",
        Some(json!({"relative": 0.4})),
    );
    assert_error(code, &v, 404);
    assert_eq!(
        api.admin("GET", &base, None).1["vm_memory_high_watermark"],
        json!({"relative": 0.9})
    );

    // Monitoring reads but may not change; management may not even read.
    let mon = ("alarm-watcher", "watch-the-alarms-7");
    let mgmt = ("alarm-manager", "manage-no-alarms-9");
    for (user, tag) in [(mon, "monitoring"), (mgmt, "management")] {
        let path = format!("/api/users/{}", user.0);
        let body = json!({"password": user.1, "tags": tag});
        assert_eq!(api.admin("PUT", &path, Some(body)).0, 201);
    }
    assert_eq!(api.call("GET", &base, mon, None).0, 200);
    let (code, v) = api.call("PUT", &mem, mon, Some(json!({"absolute": 1})));
    assert_error(code, &v, 403);
    let (code, v) = api.call("GET", "/api/nodes", mgmt, None);
    assert_error(code, &v, 403);
    assert_eq!(api.admin("GET", &base, None).1["mem_alarm"], false);

    // The CLI: raise, show, clear; its refusals keep their exit codes.
    let (code, out, err) = broker.admin("guest", "guest", &["alarms", "set-memory-watermark", "1"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("RAISED"), "{out}");
    let (code, out, err) =
        broker.admin("guest", "guest", &["alarms", "status", "--format", "json"]);
    assert_eq!(code, 0, "{err}");
    let status: Value = serde_json::from_str(&out).expect("JSON status");
    assert_eq!(status["mem_alarm"], true);
    let (code, out, _) = broker.admin("guest", "guest", &["status"]);
    assert_eq!(code, 0);
    assert!(
        out.contains("memory alarm RAISED  disk alarm clear"),
        "{out}"
    );
    let (code, out, _) = broker.admin("guest", "guest", &["alarms", "set-memory-watermark", "0.5"]);
    assert_eq!(code, 0);
    assert!(!out.contains("RAISED"), "{out}");
    let (code, out, _) = broker.admin("guest", "guest", &["alarms", "set-disk-limit", "1GB"]);
    assert_eq!(code, 0);
    assert_eq!(
        api.admin("GET", &base, None).1["disk_free_limit_setting"],
        json!({"absolute": 1_000_000_000u64}),
        "{out}"
    );
    let (code, _, err) = broker.admin("guest", "guest", &["alarms", "set-memory-watermark", "1.5"]);
    assert_eq!(code, 1, "the broker refuses a fraction above 1: {err}");
    let (code, _, err) = broker.admin("guest", "guest", &["alarms", "set-disk-limit", "12parsecs"]);
    assert_eq!(code, 65, "refused before sending: {err}");
    let (code, _, _) = broker.admin(mon.0, mon.1, &["alarms", "set-disk-limit", "0"]);
    assert_eq!(code, 77, "monitoring may not change a watermark");
}

/// The MQTT adapter's `$SYS/broker/...` statistics are the broker's own publishes: with
/// no client they must not show as unroutable publishes (or as publishes at all).
#[test]
fn sys_statistics_are_not_counted_as_client_publishes() {
    let broker = Broker::start_with(&[("mqtt.sys_interval_secs", "1")]);
    let api = Api { broker: &broker };
    // A subscriber to one of the eight figures shows when rounds have gone out; the
    // seven others of each round reach nobody.
    let mut opts = rumqttc::MqttOptions::new(
        "sys-watcher",
        broker.mqtt.ip().to_string(),
        broker.mqtt.port(),
    );
    opts.set_keep_alive(std::time::Duration::from_secs(30));
    let (client, mut conn) = rumqttc::Client::new(opts, 10);
    client
        .subscribe("$SYS/broker/version", rumqttc::QoS::AtMostOnce)
        .expect("subscribe");
    let mut rounds = 0;
    for event in conn.iter() {
        if let Ok(rumqttc::Event::Incoming(rumqttc::Packet::Publish(p))) = event {
            assert_eq!(p.topic, "$SYS/broker/version");
            rounds += 1;
            if rounds == 2 {
                break;
            }
        }
    }
    let (code, o) = api.admin("GET", "/api/overview", None);
    assert_eq!(code, 200);
    assert_eq!(o["message_stats"]["return_unroutable"], 0, "{o}");
    assert_eq!(o["message_stats"]["publish"], 0, "{o}");
    let _ = client.disconnect();
}

/// Stream queues through the API as RabbitMQ takes them: `PUT /api/queues/{vhost}/{name}`
/// with `x-queue-type: stream` and every stream argument, and definitions that carry
/// them from one broker to a fresh one as streams (topics), never as classic queues.
#[test]
fn stream_queues_declare_and_round_trip_through_definitions() {
    let broker = Broker::start();
    let api = Api { broker: &broker };
    let args = json!({
        "x-queue-type": "stream",
        "x-max-age": "7D",
        "x-max-length-bytes": 10_000_000,
        "x-stream-max-segment-size-bytes": 1_000_000,
        "x-partitions": 2,
    });
    let path = "/api/queues/%2F/events";
    let body = json!({"durable": true, "arguments": args.clone()});
    assert_eq!(api.admin("PUT", path, Some(body.clone())).0, 201);
    assert_eq!(
        api.admin("PUT", path, Some(body)).0,
        204,
        "same arguments again"
    );
    let (code, q) = api.admin("GET", path, None);
    assert_eq!(code, 200, "{q}");
    assert_eq!(q["type"], "stream");
    assert_eq!(q["arguments"]["x-partitions"], 2);
    assert_eq!(q["arguments"]["x-max-length-bytes"], 10_000_000);
    assert_eq!(q["arguments"]["x-stream-max-segment-size-bytes"], 1_000_000);
    let (_, t) = api.admin("GET", "/api/topics/events", None);
    assert_eq!(t["partitions"], 2, "{t}");
    assert_eq!(t["config"]["retention_ms"], 7 * 86_400_000i64, "{t}");
    assert_eq!(t["config"]["retention_bytes"], 10_000_000, "{t}");

    // A redeclaration with other settings, bad values, classic-only arguments and other
    // vhosts are refused with a JSON 4xx.
    let mut other = args.clone();
    other["x-max-age"] = json!("1D");
    let (code, v) = api.admin("PUT", path, Some(json!({"arguments": other})));
    assert_error(code, &v, 400);
    for bad in [
        json!({"x-queue-type": "stream", "x-max-age": "soon"}),
        json!({"x-queue-type": "stream", "x-partitions": 0}),
        json!({"x-queue-type": "stream", "x-message-ttl": 1000}),
        json!({"x-queue-type": "stream", "x-stream-max-segment-size-bytes": -5}),
    ] {
        let (code, v) = api.admin(
            "PUT",
            "/api/queues/%2F/bad-stream",
            Some(json!({"arguments": bad})),
        );
        assert_error(code, &v, 400);
    }
    assert_eq!(api.admin("PUT", "/api/vhosts/elsewhere", None).0, 201);
    let (code, v) = api.admin(
        "PUT",
        "/api/queues/elsewhere/s",
        Some(json!({"arguments": {"x-queue-type": "stream"}})),
    );
    assert_error(code, &v, 400);
    assert_eq!(api.admin("GET", "/api/topics/bad-stream", None).0, 404);

    // Exported as a stream queue (as RabbitMQ exports streams) and as a topic.
    let (_, defs) = api.admin("GET", "/api/definitions", None);
    let exported = defs["queues"]
        .as_array()
        .and_then(|qs| qs.iter().find(|q| q["name"] == "events"))
        .cloned()
        .unwrap_or_else(|| panic!("no stream queue in {defs}"));
    assert_eq!(
        exported["arguments"]["x-queue-type"], "stream",
        "{exported}"
    );
    assert_eq!(exported["arguments"]["x-max-age"], "604800s", "{exported}");

    let fresh = Broker::start();
    let fapi = Api { broker: &fresh };
    assert_eq!(
        fapi.admin("POST", "/api/definitions", Some(defs.clone())).0,
        200
    );
    let (_, q) = fapi.admin("GET", path, None);
    assert_eq!(q["type"], "stream", "{q}");
    assert_eq!(q["arguments"], exported["arguments"]);
    assert_eq!(
        fapi.admin("GET", "/api/topics/events", None).1["partitions"],
        2
    );

    // Only the queue entry (a RabbitMQ export): still a stream, with a binding to it.
    let rabbit = json!({
        "queues": [{"name": "rmq-stream", "vhost": "/", "durable": true, "auto_delete": false,
                    "arguments": {"x-queue-type": "stream", "x-max-age": "1D",
                                  "x-stream-max-segment-size-bytes": 500_000}}],
        "bindings": [{"source": "amq.direct", "vhost": "/", "destination": "rmq-stream",
                      "destination_type": "queue", "routing_key": "k", "arguments": {}}],
    });
    let (code, v) = fapi.admin("POST", "/api/definitions", Some(rabbit));
    assert_eq!(code, 200, "{v}");
    let (_, q) = fapi.admin("GET", "/api/queues/%2F/rmq-stream", None);
    assert_eq!(q["type"], "stream", "{q}");
    let (_, t) = fapi.admin("GET", "/api/topics/rmq-stream", None);
    assert_eq!(t["config"]["retention_ms"], 86_400_000, "{t}");
    assert_eq!(t["config"]["segment_bytes"], 500_000, "{t}");
    let (_, b) = fapi.admin("GET", "/api/bindings/%2F", None);
    assert!(
        b.as_array()
            .is_some_and(|bs| bs.iter().any(|x| x["destination"] == "rmq-stream")),
        "{b}"
    );
    // A stream outside vhost `/` fails the whole document.
    let bad = json!({
        "vhosts": [{"name": "v2"}],
        "queues": [{"name": "s2", "vhost": "v2", "arguments": {"x-queue-type": "stream"}}],
    });
    let (code, v) = fapi.admin("POST", "/api/definitions", Some(bad));
    assert_error(code, &v, 400);
    assert!(
        v["reason"]
            .as_str()
            .is_some_and(|r| r.contains("queues[0]")),
        "{v}"
    );
    assert!(!names(&fapi.admin("GET", "/api/vhosts", None).1).contains(&"v2".to_string()));
}
