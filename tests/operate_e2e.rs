//! Operating Trident end to end: users, vhosts and permissions created with the admin
//! CLI (`trident users add ...` over the management API), then used by real clients
//! (lapin for AMQP, librdkafka through rdkafka for Kafka SASL) connecting from a
//! non-loopback address; refusals with each protocol's own code; definitions exported
//! from one broker and imported into a fresh one.

mod support;

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use lapin::options::{
    BasicGetOptions, BasicPublishOptions, ConfirmSelectOptions, QueueDeclareOptions,
};
use lapin::types::FieldTable;
use lapin::{BasicProperties, Connection, ConnectionProperties};
use rdkafka::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::Message;
use rdkafka::producer::{FutureProducer, FutureRecord};
use serde_json::Value;
use support::Broker;

const WAIT: Duration = Duration::from_secs(20);

/// The address clients use: the machine's own non-loopback address when it has one
/// (so that loopback-only rules are really exercised), else 127.0.0.2, which Linux
/// routes to `lo` but which, like all of 127/8, counts as loopback.
fn client_ip() -> (IpAddr, bool) {
    match support::non_loopback_ip() {
        Some(ip) => (ip, true),
        None => {
            eprintln!("no non-loopback address on this machine; using 127.0.0.2");
            (IpAddr::from([127, 0, 0, 2]), false)
        }
    }
}

fn at(ip: IpAddr, port_of: SocketAddr) -> SocketAddr {
    SocketAddr::new(ip, port_of.port())
}

fn ok(broker: &Broker, args: &[&str]) -> String {
    let (code, out, err) = broker.admin("guest", "guest", args);
    assert_eq!(code, 0, "trident {args:?}: {err}");
    out
}

fn amqp_code(e: &lapin::Error) -> Option<u16> {
    match e {
        lapin::Error::ProtocolError(e) => Some(e.get_id()),
        _ => None,
    }
}

fn producer(bootstrap: &str, user: &str, pass: &str, mechanism: &str) -> FutureProducer {
    ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("security.protocol", "SASL_PLAINTEXT")
        .set("sasl.mechanisms", mechanism)
        .set("sasl.username", user)
        .set("sasl.password", pass)
        .set("message.timeout.ms", "15000")
        .create()
        .expect("producer")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn users_made_with_the_cli_log_in_remotely_and_permissions_hold() {
    let (ip, remote) = client_ip();
    let advertised = ip.to_string();
    let broker = Broker::start_on_all_interfaces(&[("kafka.advertised_host", &advertised)]);

    ok(
        &broker,
        &[
            "users",
            "add",
            "alice",
            "--password",
            "down-the-rabbit-hole-7",
            "--tags",
            "management",
        ],
    );
    ok(&broker, &["permissions", "set", "alice", ".*", ".*", ".*"]);
    ok(
        &broker,
        &[
            "users",
            "add",
            "reader",
            "--password",
            "reads-only-please-3",
        ],
    );
    // No write pattern: may declare and consume, never publish or produce.
    ok(&broker, &["permissions", "set", "reader", ".*", "", ".*"]);
    let listed = ok(&broker, &["users", "list"]);
    assert!(
        listed.contains("alice") && listed.contains("management"),
        "{listed}"
    );

    // AMQP, from a non-loopback address, as the user the CLI made.
    let amqp = at(ip, broker.amqp);
    let conn = Connection::connect(
        &format!("amqp://alice:down-the-rabbit-hole-7@{amqp}/%2f"),
        ConnectionProperties::default(),
    )
    .await
    .expect("alice logs in over AMQP");
    let ch = conn.create_channel().await.expect("channel");
    ch.queue_declare(
        "inbox",
        QueueDeclareOptions::default(),
        FieldTable::default(),
    )
    .await
    .expect("declare");
    ch.confirm_select(ConfirmSelectOptions::default())
        .await
        .expect("confirms");
    ch.basic_publish(
        "",
        "inbox",
        BasicPublishOptions::default(),
        b"hi",
        BasicProperties::default(),
    )
    .await
    .expect("publish")
    .await
    .expect("confirmed");
    let got = ch
        .basic_get("inbox", BasicGetOptions { no_ack: true })
        .await
        .expect("get")
        .expect("a message");
    assert_eq!(got.delivery.data, b"hi");

    // The connection is listed with its peer, and an operator can close it (320).
    let conns = ok(&broker, &["--format", "json", "connections", "list"]);
    let conns: Value = serde_json::from_str(&conns).expect("json");
    let mine = conns
        .as_array()
        .and_then(|c| {
            c.iter()
                .find(|c| c["user"] == "alice" && c["protocol"] == "amqp")
        })
        .cloned()
        .expect("alice's connection is listed");
    assert_eq!(mine["peer_host"], ip.to_string());
    let name = mine["name"].as_str().expect("name").to_string();

    // The user without write permission: refused publish with 403 ACCESS_REFUSED.
    let reader = Connection::connect(
        &format!("amqp://reader:reads-only-please-3@{amqp}/%2f"),
        ConnectionProperties::default(),
    )
    .await
    .expect("reader logs in");
    let rch = reader.create_channel().await.expect("channel");
    rch.confirm_select(ConfirmSelectOptions::default())
        .await
        .expect("confirms");
    let refused = match rch
        .basic_publish(
            "",
            "inbox",
            BasicPublishOptions::default(),
            b"no",
            BasicProperties::default(),
        )
        .await
    {
        Err(e) => e,
        Ok(confirm) => match tokio::time::timeout(WAIT, confirm)
            .await
            .expect("an answer")
        {
            Err(e) => e,
            Ok(c) => panic!("publish without write permission was accepted: {c:?}"),
        },
    };
    assert_eq!(amqp_code(&refused), Some(403), "{refused:?}");

    if remote {
        // guest/guest stays loopback-only, as in RabbitMQ.
        let e = Connection::connect(
            &format!("amqp://guest:guest@{amqp}/%2f"),
            ConnectionProperties::default(),
        )
        .await
        .expect_err("guest is refused from a non-loopback address");
        assert!(
            amqp_code(&e) == Some(403) || matches!(e, lapin::Error::IOError(_)),
            "{e:?}"
        );
        let (code, _, err) = support::http_request(
            at(ip, broker.http),
            "GET",
            "/api/overview",
            Some(("guest", "guest")),
            None,
        )
        .map(|(c, b)| (c, (), b))
        .expect("HTTP answer");
        assert_eq!(code, 401, "{err}");
    }

    ok(
        &broker,
        &["connections", "close", &name, "--reason", "maintenance"],
    );
    let closed = tokio::time::timeout(WAIT, async {
        loop {
            if !conn.status().connected() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    assert!(closed.is_ok(), "the closed connection is gone");

    // Kafka SASL from the same address, as the same users. (The librdkafka built for
    // the tests has no SCRAM provider without OpenSSL; SCRAM is covered by the Kafka
    // adapter's own protocol tests.)
    let bootstrap = at(ip, broker.kafka).to_string();
    let p = producer(&bootstrap, "alice", "down-the-rabbit-hole-7", "PLAIN");
    for _ in 0..2 {
        p.send(FutureRecord::to("audit").payload("entry").key("k"), WAIT)
            .await
            .unwrap_or_else(|(e, _)| panic!("alice produces: {e}"));
    }
    let c: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", &bootstrap)
        .set("security.protocol", "SASL_PLAINTEXT")
        .set("sasl.mechanisms", "PLAIN")
        .set("sasl.username", "alice")
        .set("sasl.password", "down-the-rabbit-hole-7")
        .set("group.id", "auditors")
        .set("auto.offset.reset", "earliest")
        .create()
        .expect("consumer");
    c.subscribe(&["audit"]).expect("subscribe");
    let mut read = 0;
    let deadline = std::time::Instant::now() + WAIT;
    while read < 2 && std::time::Instant::now() < deadline {
        if let Some(Ok(m)) = c.poll(Duration::from_millis(200)) {
            assert_eq!(m.payload(), Some(&b"entry"[..]));
            read += 1;
        }
    }
    assert_eq!(read, 2, "alice reads back both records");
    c.commit_consumer_state(rdkafka::consumer::CommitMode::Sync)
        .expect("commit");

    // The group is listed with its member and its assignment; an active group's
    // offsets cannot be reset (kafka-consumer-groups refuses too).
    let described = ok(
        &broker,
        &["--format", "json", "groups", "describe", "auditors"],
    );
    let described: Value = serde_json::from_str(&described).expect("json");
    assert_eq!(
        described["members"].as_array().map(Vec::len),
        Some(1),
        "{described}"
    );
    assert_eq!(
        described["members"][0]["assignment"][0]["topic"], "audit",
        "{described}"
    );
    assert_eq!(
        described["offsets"][0]["committed_offset"], 2,
        "{described}"
    );
    let (code, _, err) = broker.admin(
        "guest",
        "guest",
        &["groups", "reset-offsets", "auditors", "--to-earliest"],
    );
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("inactive"), "{err}");
    drop(c);
    let deadline = std::time::Instant::now() + WAIT;
    let reset = loop {
        let r = broker.admin(
            "guest",
            "guest",
            &["groups", "reset-offsets", "auditors", "--to-earliest"],
        );
        if r.0 == 0 || std::time::Instant::now() > deadline {
            break r;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(reset.0, 0, "reset once the consumer left: {}", reset.2);
    assert!(reset.1.contains("LAG"), "{}", reset.1);
    let described = ok(
        &broker,
        &["--format", "json", "groups", "describe", "auditors"],
    );
    let described: Value = serde_json::from_str(&described).expect("json");
    assert_eq!(described["lag"], 2, "{described}");

    let p = producer(&bootstrap, "reader", "reads-only-please-3", "PLAIN");
    let e = p
        .send(FutureRecord::to("audit").payload("nope").key("k"), WAIT)
        .await
        .expect_err("produce without write permission is refused");
    assert_eq!(
        e.0,
        KafkaError::MessageProduction(RDKafkaErrorCode::TopicAuthorizationFailed),
        "{e:?}"
    );

    let topics = ok(&broker, &["topics", "describe", "audit"]);
    assert!(topics.contains("END-OFFSET"), "{topics}");
}

#[test]
fn cli_refusals_have_reasons_and_exit_codes() {
    let broker = Broker::start();
    // Weak passwords never reach the broker.
    for (weak, why) in [
        ("", "empty"),
        ("short", "shorter"),
        ("password", "common"),
        ("bob12345", "user name"),
    ] {
        let (code, _, err) = broker.admin(
            "guest",
            "guest",
            &["users", "add", "bob", "--password", weak],
        );
        assert_eq!(code, 65, "{weak:?}: {err}");
        assert!(err.contains(why), "{weak:?}: {err}");
    }
    let (code, out, _) = broker.admin("guest", "guest", &["--format", "json", "users", "list"]);
    assert_eq!(code, 0);
    assert!(!out.contains("\"bob\""), "{out}");
    // The password may come from standard input instead of the command line.
    let mut child = std::process::Command::new(support::binary())
        .args(["users", "add", "bob"])
        .env("TRIDENT_ADMIN_URL", format!("http://{}", broker.http))
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn");
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().expect("stdin");
        stdin.write_all(b"a-long-stdin-secret\n").expect("write");
    }
    let out = child.wait_with_output().expect("wait");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let (code, _, err) = broker.admin(
        "guest",
        "guest",
        &["users", "add", "bob", "--password", "another-secret-9"],
    );
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("already exists"), "{err}");
    let (code, _, err) = broker.admin("guest", "wrong", &["users", "list"]);
    assert_eq!(code, 77, "{err}");
    let (code, _, err) = broker.admin("guest", "guest", &["queues", "delete", "nope"]);
    assert_eq!(code, 1, "{err}");
    let (code, _, err) = broker.admin(
        "guest",
        "guest",
        &["permissions", "set", "bob", "(", "", ""],
    );
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("invalid configure pattern"), "{err}");

    // A monitoring user may look but not delete.
    ok(
        &broker,
        &[
            "users",
            "add",
            "mon",
            "--password",
            "only-looking-42",
            "--tags",
            "monitoring",
        ],
    );
    let http = broker.http;
    support::http_request(
        http,
        "PUT",
        "/api/queues/%2F/jobs",
        Some(("guest", "guest")),
        Some("{}"),
    )
    .expect("declare");
    let (code, out, _) = broker.admin("mon", "only-looking-42", &["queues", "list"]);
    assert_eq!(code, 0);
    assert!(out.contains("jobs"), "{out}");
    let (code, _, err) = broker.admin("mon", "only-looking-42", &["queues", "delete", "jobs"]);
    assert_eq!(code, 77, "{err}");

    // Tag changes apply to the next request.
    ok(&broker, &["users", "tag", "mon", "administrator"]);
    let (code, _, err) = broker.admin("mon", "only-looking-42", &["queues", "purge", "jobs"]);
    assert_eq!(code, 0, "{err}");
    ok(
        &broker,
        &[
            "users",
            "passwd",
            "mon",
            "--password",
            "now-changed-again-5",
        ],
    );
    let (code, _, _) = broker.admin("mon", "only-looking-42", &["status"]);
    assert_eq!(code, 77);
    let (code, out, _) = broker.admin("mon", "now-changed-again-5", &["status"]);
    assert_eq!(code, 0);
    assert!(out.contains("Trident"), "{out}");

    // Nobody listening: 69.
    let (code, _, err) = {
        let out = std::process::Command::new(support::binary())
            .args(["--url", "http://127.0.0.1:9", "status"])
            .output()
            .expect("run");
        (
            out.status.code(),
            (),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    assert_eq!(code, Some(69), "{err}");
}

/// Everything an operator declared, with what differs between brokers left out.
fn comparable(defs: &str) -> Value {
    let mut v: Value = serde_json::from_str(defs).expect("definitions are JSON");
    if let Some(o) = v.as_object_mut() {
        o.remove("product_version");
    }
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn definitions_exported_from_one_broker_rebuild_a_fresh_one() {
    let a = Broker::start();
    ok(&a, &["vhosts", "add", "shop"]);
    ok(
        &a,
        &[
            "users",
            "add",
            "carol",
            "--password",
            "keeps-the-books-1",
            "--tags",
            "monitoring,management",
        ],
    );
    ok(
        &a,
        &[
            "permissions",
            "set",
            "carol",
            "^orders",
            "^orders",
            ".*",
            "--vhost",
            "shop",
        ],
    );
    ok(&a, &["permissions", "set", "carol", ".*", ".*", ".*"]);
    ok(
        &a,
        &[
            "topics",
            "create",
            "ledger",
            "--partitions",
            "3",
            "--retention-ms",
            "-1",
        ],
    );
    support::http_request(
        a.http,
        "PUT",
        "/api/topic-permissions/shop/carol",
        Some(("guest", "guest")),
        Some(r#"{"exchange":"amq.topic","write":"^orders\\.","read":".*"}"#),
    )
    .expect("topic permission");

    // Topology over AMQP, as an application would declare it.
    let conn = Connection::connect(
        &format!("amqp://guest:guest@{}/shop", a.amqp),
        ConnectionProperties::default(),
    )
    .await
    .expect("connect");
    let ch = conn.create_channel().await.expect("channel");
    ch.exchange_declare(
        "orders",
        lapin::ExchangeKind::Topic,
        lapin::options::ExchangeDeclareOptions {
            durable: true,
            ..Default::default()
        },
        FieldTable::default(),
    )
    .await
    .expect("exchange");
    let mut args = FieldTable::default();
    args.insert(
        "x-max-length".into(),
        lapin::types::AMQPValue::LongInt(1000),
    );
    args.insert(
        "x-dead-letter-exchange".into(),
        lapin::types::AMQPValue::LongString("orders".into()),
    );
    ch.queue_declare(
        "orders.eu",
        QueueDeclareOptions {
            durable: true,
            ..Default::default()
        },
        args,
    )
    .await
    .expect("queue");
    ch.queue_bind(
        "orders.eu",
        "orders",
        "eu.#",
        lapin::options::QueueBindOptions::default(),
        FieldTable::default(),
    )
    .await
    .expect("bind");
    conn.close(200, "bye").await.expect("close");

    let dir = tempfile::tempdir().expect("dir");
    let file = dir.path().join("defs.json");
    let file_s = file.to_str().expect("utf-8 path");
    ok(&a, &["definitions", "export", file_s]);
    let exported = std::fs::read_to_string(&file).expect("read export");

    let b = Broker::start();
    // A file that fails to parse, or holds one bad object, imports nothing.
    let broken = dir.path().join("broken.json");
    std::fs::write(&broken, &exported[..exported.len() / 2]).expect("write");
    let (code, _, err) = b.admin(
        "guest",
        "guest",
        &["definitions", "import", broken.to_str().expect("path")],
    );
    assert_eq!(code, 65, "{err}");
    let mut bad: Value = serde_json::from_str(&exported).expect("json");
    bad["bindings"][0]["destination"] = "no-such-queue".into();
    let bad_file = dir.path().join("bad.json");
    std::fs::write(&bad_file, bad.to_string()).expect("write");
    let (code, _, err) = b.admin(
        "guest",
        "guest",
        &["definitions", "import", bad_file.to_str().expect("path")],
    );
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("bindings[0]"), "{err}");
    let untouched = ok(&b, &["--format", "json", "vhosts", "list"]);
    assert!(
        !untouched.contains("shop"),
        "nothing was imported: {untouched}"
    );

    ok(&b, &["definitions", "import", file_s]);
    let reexported = ok(&b, &["--format", "json", "definitions", "export"]);
    assert_eq!(comparable(&reexported), comparable(&exported));

    // The imported user logs in with the same password, over AMQP and the API.
    let conn = Connection::connect(
        &format!("amqp://carol:keeps-the-books-1@{}/shop", b.amqp),
        ConnectionProperties::default(),
    )
    .await
    .expect("carol logs in to the fresh broker");
    let ch = conn.create_channel().await.expect("channel");
    let q = ch
        .queue_declare(
            "orders.eu",
            QueueDeclareOptions {
                passive: true,
                ..Default::default()
            },
            FieldTable::default(),
        )
        .await
        .expect("the queue exists");
    assert_eq!(q.message_count(), 0);
    let (code, out, _) = b.admin(
        "carol",
        "keeps-the-books-1",
        &["topics", "describe", "ledger"],
    );
    assert_eq!(code, 0);
    assert!(out.contains("Partitions: 3"), "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_default_admin_with_a_password_from_settings_may_log_in_remotely() {
    let (ip, _) = client_ip();
    let broker = Broker::start_on_all_interfaces(&[
        ("auth.default_user", "admin"),
        ("auth.default_pass", "set-by-the-operator-1"),
    ]);
    let amqp = at(ip, broker.amqp);
    let conn = Connection::connect(
        &format!("amqp://admin:set-by-the-operator-1@{amqp}/%2f"),
        ConnectionProperties::default(),
    )
    .await
    .expect("the configured administrator logs in from a non-loopback address");
    conn.create_channel().await.expect("channel");
    // No guest account was created beside it.
    let e = Connection::connect(
        &format!("amqp://guest:guest@{}/%2f", broker.amqp),
        ConnectionProperties::default(),
    )
    .await
    .expect_err("there is no guest");
    assert!(
        amqp_code(&e) == Some(403) || matches!(e, lapin::Error::IOError(_)),
        "{e:?}"
    );
    let (code, out, err) = broker.admin("admin", "set-by-the-operator-1", &["users", "list"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("admin") && !out.contains("guest"), "{out}");
}
