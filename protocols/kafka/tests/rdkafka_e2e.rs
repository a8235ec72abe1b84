//! End to end with librdkafka (the rdkafka crate) against an in-process listener over a
//! real engine: topics, keyed produce, consumer groups, rebalances, commits across a
//! restart, rewinds, compression, idempotence, timestamps, admin.
#![allow(clippy::unwrap_used)]

mod support;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::{Duration, Instant};

use rdkafka::admin::{
    AdminClient, AdminOptions, AlterConfig, NewPartitions, NewTopic, ResourceSpecifier,
    TopicReplication,
};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::message::Message;
use rdkafka::producer::{FutureProducer, FutureRecord, Producer};
use rdkafka::{Offset, TopicPartitionList};
use support::{RawClient, Served, unique};
use trident_kafka::codec::api::key;
use trident_kafka::messages::groups::*;

const WAIT: Duration = Duration::from_secs(20);

fn admin(bs: &str) -> AdminClient<DefaultClientContext> {
    ClientConfig::new()
        .set("bootstrap.servers", bs)
        .create()
        .unwrap()
}

fn producer(bs: &str, extra: &[(&str, &str)]) -> FutureProducer {
    let mut c = ClientConfig::new();
    c.set("bootstrap.servers", bs)
        .set("linger.ms", "5")
        .set("message.timeout.ms", "20000");
    for (k, v) in extra {
        c.set(*k, *v);
    }
    c.create().unwrap()
}

fn consumer(bs: &str, group: &str, extra: &[(&str, &str)]) -> BaseConsumer {
    let mut c = ClientConfig::new();
    c.set("bootstrap.servers", bs)
        .set("group.id", group)
        .set("auto.offset.reset", "earliest")
        .set("enable.auto.commit", "false")
        .set("session.timeout.ms", "6000")
        .set("heartbeat.interval.ms", "300")
        .set("fetch.wait.max.ms", "100");
    for (k, v) in extra {
        c.set(*k, *v);
    }
    c.create().unwrap()
}

fn create_topic(s: &Served, name: &str, partitions: i32) {
    let results =
        s.rt.block_on(admin(&s.bootstrap()).create_topics(
            &[NewTopic::new(name, partitions, TopicReplication::Fixed(1))],
            &AdminOptions::new().operation_timeout(Some(Duration::from_secs(10))),
        ))
        .unwrap();
    for r in results {
        r.unwrap();
    }
}

/// Produces `(key, value, timestamp)` records; returns (partition, offset) of each.
fn produce(
    s: &Served,
    p: &FutureProducer,
    topic: &str,
    records: &[(Option<String>, String, Option<i64>)],
) -> Vec<(i32, i64)> {
    s.rt.block_on(async {
        let mut futures = Vec::new();
        for (k, v, ts) in records {
            let mut rec = FutureRecord::to(topic).payload(v.as_bytes());
            if let Some(k) = k {
                rec = rec.key(k.as_bytes());
            }
            if let Some(ts) = ts {
                rec = rec.timestamp(*ts);
            }
            futures.push(p.send_result(rec).map_err(|(e, _)| e).unwrap());
        }
        let mut out = Vec::new();
        for f in futures {
            let d = f.await.unwrap().map_err(|(e, _)| e).unwrap();
            out.push((d.partition, d.offset));
        }
        out
    })
}

/// Polls until `n` messages arrived (or the deadline): (partition, offset, key, value).
fn consume(c: &BaseConsumer, n: usize) -> Vec<(i32, i64, Option<String>, String)> {
    let deadline = Instant::now() + WAIT;
    let mut out = Vec::new();
    while out.len() < n && Instant::now() < deadline {
        if let Some(m) = c.poll(Duration::from_millis(100)) {
            let m = m.unwrap();
            out.push((
                m.partition(),
                m.offset(),
                m.key().map(|k| String::from_utf8_lossy(k).into_owned()),
                String::from_utf8_lossy(m.payload().unwrap_or_default()).into_owned(),
            ));
        }
    }
    out
}

fn assigned(c: &BaseConsumer) -> usize {
    c.assignment().map(|a| a.count()).unwrap_or(0)
}

fn plain(values: impl IntoIterator<Item = String>) -> Vec<(Option<String>, String, Option<i64>)> {
    values.into_iter().map(|v| (None, v, None)).collect()
}

#[test]
fn keyed_records_land_on_one_partition_per_key() {
    let s = Served::start();
    let topic = unique("keys");
    create_topic(&s, &topic, 3);
    let md = admin(&s.bootstrap())
        .inner()
        .fetch_metadata(Some(&topic), Duration::from_secs(5))
        .unwrap();
    assert_eq!(md.topics()[0].partitions().len(), 3);

    let p = producer(&s.bootstrap(), &[]);
    let records: Vec<_> = (0..60)
        .map(|i| (Some(format!("key-{}", i % 12)), format!("v{i}"), None))
        .collect();
    let placed = produce(&s, &p, &topic, &records);
    let mut by_key: HashMap<String, BTreeSet<i32>> = HashMap::new();
    for ((k, _, _), (part, _)) in records.iter().zip(&placed) {
        by_key.entry(k.clone().unwrap()).or_default().insert(*part);
    }
    assert!(
        by_key.values().all(|ps| ps.len() == 1),
        "a key spread over partitions: {by_key:?}"
    );
    let used: BTreeSet<i32> = by_key.values().flatten().copied().collect();
    assert!(
        used.len() >= 2,
        "12 keys all hashed to one partition: {used:?}"
    );

    // Read back without a group: every record where the producer was told it went.
    let c = consumer(&s.bootstrap(), "unused", &[]);
    let mut tpl = TopicPartitionList::new();
    for part in 0..3 {
        tpl.add_partition_offset(&topic, part, Offset::Beginning)
            .unwrap();
    }
    c.assign(&tpl).unwrap();
    let got = consume(&c, 60);
    assert_eq!(got.len(), 60);
    let placed_by_value: HashMap<String, (i32, i64)> = records
        .iter()
        .zip(&placed)
        .map(|((_, v, _), at)| (v.clone(), *at))
        .collect();
    for (part, offset, _, value) in &got {
        assert_eq!(placed_by_value[value], (*part, *offset));
    }
}

#[test]
fn two_members_split_partitions_and_a_third_stays_idle() {
    let s = Served::start();
    let topic = unique("split");
    create_topic(&s, &topic, 2);
    let group = unique("g");

    let c1 = consumer(&s.bootstrap(), &group, &[]);
    let t0 = Instant::now();
    c1.subscribe(&[&topic]).unwrap();
    while assigned(&c1) == 0 && t0.elapsed() < WAIT {
        c1.poll(Duration::from_millis(20));
    }
    let join = t0.elapsed();
    println!(
        "group join time (one member, librdkafka): {} ms",
        join.as_millis()
    );
    assert_eq!(assigned(&c1), 2);
    assert!(join < Duration::from_secs(2), "joining took {join:?}");

    let c2 = consumer(&s.bootstrap(), &group, &[]);
    c2.subscribe(&[&topic]).unwrap();
    let t1 = Instant::now();
    while !(assigned(&c1) == 1 && assigned(&c2) == 1) && t1.elapsed() < WAIT {
        c1.poll(Duration::from_millis(20));
        c2.poll(Duration::from_millis(20));
    }
    println!("rebalance to two members: {} ms", t1.elapsed().as_millis());
    assert_eq!((assigned(&c1), assigned(&c2)), (1, 1));

    let c3 = consumer(&s.bootstrap(), &group, &[]);
    c3.subscribe(&[&topic]).unwrap();
    let t2 = Instant::now();
    // Wait until the group is stable with three members, then check who got what.
    let members = |s: &Served| {
        s.server()
            .broker
            .coordinator
            .describe(&group)
            .map(|d| (d.group_state, d.members.len()))
    };
    while members(&s) != Some(("Stable".into(), 3)) && t2.elapsed() < WAIT {
        for c in [&c1, &c2, &c3] {
            c.poll(Duration::from_millis(20));
        }
    }
    for _ in 0..10 {
        for c in [&c1, &c2, &c3] {
            c.poll(Duration::from_millis(20));
        }
    }
    let mut counts = vec![assigned(&c1), assigned(&c2), assigned(&c3)];
    counts.sort_unstable();
    assert_eq!(counts, vec![0, 1, 1], "two partitions over three members");

    // Records produced now reach exactly the two active members.
    let p = producer(&s.bootstrap(), &[]);
    produce(&s, &p, &topic, &plain((0..20).map(|i| format!("m{i}"))));
    let mut total = 0;
    let deadline = Instant::now() + WAIT;
    while total < 20 && Instant::now() < deadline {
        for c in [&c1, &c2, &c3] {
            if let Some(Ok(_)) = c.poll(Duration::from_millis(20)) {
                total += 1;
            }
        }
    }
    assert_eq!(total, 20);
}

/// ConsumerProtocolSubscription v0 for one topic.
fn subscription(topic: &str) -> bytes::Bytes {
    let mut b = vec![0, 0, 0, 0, 0, 1];
    b.extend_from_slice(&(topic.len() as i16).to_be_bytes());
    b.extend_from_slice(topic.as_bytes());
    b.extend_from_slice(&(-1i32).to_be_bytes());
    bytes::Bytes::from(b)
}

#[test]
fn a_member_that_dies_is_replaced_within_its_session_timeout() {
    let s = Served::start();
    let topic = unique("dead");
    create_topic(&s, &topic, 2);
    let group = unique("g");
    let c1 = consumer(&s.bootstrap(), &group, &[]);
    c1.subscribe(&[&topic]).unwrap();
    let t0 = Instant::now();
    while assigned(&c1) < 2 && t0.elapsed() < WAIT {
        c1.poll(Duration::from_millis(20));
    }
    assert_eq!(assigned(&c1), 2);

    // A second member joins over the raw protocol, takes a partition, then goes silent
    // without leaving: a crashed process.
    let addr = s.server().addr;
    let (g, t) = (group.clone(), topic.clone());
    let member = s.rt.spawn(async move {
        let mut raw = RawClient::connect(addr).await;
        let join = JoinGroupRequest {
            group_id: g.clone(),
            session_timeout_ms: 2000,
            rebalance_timeout_ms: 10000,
            member_id: String::new(),
            group_instance_id: None,
            protocol_type: "consumer".into(),
            protocols: vec![JoinGroupRequestProtocol {
                name: "range".into(),
                metadata: subscription(&t),
            }],
            reason: None,
        };
        let j: JoinGroupResponse = raw.call(key::JOIN_GROUP, 5, &join).await.unwrap();
        assert_eq!(j.error_code, 0);
        let sync = SyncGroupRequest {
            group_id: g,
            generation_id: j.generation_id,
            member_id: j.member_id.clone(),
            ..Default::default()
        };
        let r: SyncGroupResponse = raw.call(key::SYNC_GROUP, 3, &sync).await.unwrap();
        assert_eq!(r.error_code, 0);
        // Keep the socket open but never heartbeat again.
        tokio::time::sleep(Duration::from_secs(30)).await;
        drop(raw);
    });
    let t1 = Instant::now();
    while assigned(&c1) != 1 && t1.elapsed() < WAIT {
        c1.poll(Duration::from_millis(20));
    }
    assert_eq!(assigned(&c1), 1, "the new member took a partition");
    let died = Instant::now();
    while assigned(&c1) != 2 && died.elapsed() < WAIT {
        c1.poll(Duration::from_millis(20));
    }
    let took = died.elapsed();
    println!(
        "dead member's partition reassigned after {} ms (session timeout 2000 ms)",
        took.as_millis()
    );
    assert_eq!(assigned(&c1), 2);
    assert!(took < Duration::from_secs(5), "took {took:?}");
    member.abort();
}

#[test]
fn committed_offsets_survive_a_restart() {
    let mut s = Served::start();
    let topic = unique("resume");
    create_topic(&s, &topic, 1);
    let group = unique("g");
    let p = producer(&s.bootstrap(), &[("acks", "all")]);
    produce(&s, &p, &topic, &plain((0..10).map(|i| format!("r{i}"))));
    drop(p);

    let c = consumer(&s.bootstrap(), &group, &[]);
    c.subscribe(&[&topic]).unwrap();
    let got = consume(&c, 5);
    assert_eq!(got.len(), 5);
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition_offset(&topic, 0, Offset::Offset(5))
        .unwrap();
    c.commit(&tpl, CommitMode::Sync).unwrap();
    drop(c);

    s.restart();
    let c = consumer(&s.bootstrap(), &group, &[]);
    c.subscribe(&[&topic]).unwrap();
    let got = consume(&c, 5);
    assert_eq!(
        got.first().map(|m| m.1),
        Some(5),
        "resumes at the committed offset"
    );
    assert_eq!(
        got.iter().map(|m| m.3.clone()).collect::<Vec<_>>(),
        (5..10).map(|i| format!("r{i}")).collect::<Vec<_>>()
    );
}

#[test]
fn seeking_to_the_beginning_replays() {
    let s = Served::start();
    let topic = unique("rewind");
    create_topic(&s, &topic, 1);
    let p = producer(&s.bootstrap(), &[]);
    produce(&s, &p, &topic, &plain((0..5).map(|i| format!("x{i}"))));
    let c = consumer(&s.bootstrap(), &unique("g"), &[]);
    c.subscribe(&[&topic]).unwrap();
    let first = consume(&c, 5);
    assert_eq!(first.len(), 5);
    c.seek(&topic, 0, Offset::Beginning, Duration::from_secs(5))
        .unwrap();
    let again = consume(&c, 5);
    assert_eq!(
        again.iter().map(|m| m.1).collect::<Vec<_>>(),
        vec![0, 1, 2, 3, 4],
        "replayed from offset 0"
    );
}

#[test]
fn all_four_compression_codecs_are_stored_as_sent() {
    let s = Served::start();
    for (codec, id) in [("gzip", 1u8), ("snappy", 2), ("lz4", 3), ("zstd", 4)] {
        let topic = unique(codec);
        create_topic(&s, &topic, 1);
        let p = producer(
            &s.bootstrap(),
            &[("compression.type", codec), ("linger.ms", "50")],
        );
        let values: Vec<String> = (0..200)
            .map(|i| format!("{codec}-{i}-{}", "z".repeat(50)))
            .collect();
        let base = 1_600_000_000_000i64;
        let records: Vec<_> = values
            .iter()
            .enumerate()
            .map(|(i, v)| (None, v.clone(), Some(base + i as i64)))
            .collect();
        produce(&s, &p, &topic, &records);

        // The log holds the producer's compressed batches.
        let part = s.server().engine().topic(&topic).unwrap().partitions[0].clone();
        let read = s.rt.block_on(part.read(0, 1 << 20)).unwrap();
        assert!(!read.batches.is_empty());
        for b in &read.batches {
            assert_eq!(
                b.bytes[22] & 0x07,
                id,
                "{codec} batch stored with its codec"
            );
        }

        let c = consumer(&s.bootstrap(), &unique("g"), &[]);
        // By timestamp inside compressed batches: the exact record, as Kafka answers.
        let mut tpl = TopicPartitionList::new();
        tpl.add_partition_offset(&topic, 0, Offset::Offset(base + 150))
            .unwrap();
        let found = c.offsets_for_times(tpl, Duration::from_secs(5)).unwrap();
        let at = found.find_partition(&topic, 0).unwrap().offset();
        assert_eq!(at, Offset::Offset(150), "{codec}");
        c.subscribe(&[&topic]).unwrap();
        let got = consume(&c, 200);
        assert_eq!(
            got.into_iter().map(|m| m.3).collect::<Vec<_>>(),
            values,
            "{codec}"
        );
    }
}

#[test]
fn idempotent_producer_delivers_exactly_once_in_order() {
    let s = Served::start();
    let topic = unique("idem");
    create_topic(&s, &topic, 1);
    let p = producer(
        &s.bootstrap(),
        &[
            ("enable.idempotence", "true"),
            ("max.in.flight.requests.per.connection", "5"),
            ("batch.num.messages", "50"),
        ],
    );
    let values: Vec<String> = (0..2000).map(|i| format!("i{i}")).collect();
    let placed = produce(&s, &p, &topic, &plain(values.clone()));
    let offsets: Vec<i64> = placed.iter().map(|x| x.1).collect();
    assert_eq!(offsets, (0..2000).collect::<Vec<i64>>());
    let c = consumer(&s.bootstrap(), &unique("g"), &[]);
    c.subscribe(&[&topic]).unwrap();
    let got = consume(&c, 2000);
    assert_eq!(got.into_iter().map(|m| m.3).collect::<Vec<_>>(), values);
}

#[test]
fn offsets_are_found_by_timestamp() {
    let s = Served::start();
    let topic = unique("time");
    create_topic(&s, &topic, 1);
    let p = producer(&s.bootstrap(), &[]);
    let base = 1_700_000_000_000i64;
    let records: Vec<_> = (0..10)
        .map(|i| (None, format!("t{i}"), Some(base + i * 1000)))
        .collect();
    produce(&s, &p, &topic, &records);
    let c = consumer(&s.bootstrap(), &unique("g"), &[]);
    let query = |ts: i64| {
        let mut tpl = TopicPartitionList::new();
        tpl.add_partition_offset(&topic, 0, Offset::Offset(ts))
            .unwrap();
        let r = c.offsets_for_times(tpl, Duration::from_secs(5)).unwrap();
        r.find_partition(&topic, 0).unwrap().offset()
    };
    assert_eq!(query(base), Offset::Offset(0));
    assert_eq!(
        query(base + 3500),
        Offset::Offset(4),
        "first record at or after the time"
    );
    assert_eq!(query(base + 9000), Offset::Offset(9));
    assert_eq!(query(base + 60_000), Offset::End, "nothing that recent");
}

#[test]
fn admin_client_describes_and_alters_topics_and_groups() {
    let s = Served::start();
    let bs = s.bootstrap();
    let topic = unique("adm");
    create_topic(&s, &topic, 2);
    let a = admin(&bs);
    let opts = AdminOptions::new().operation_timeout(Some(Duration::from_secs(10)));

    let alter = AlterConfig::new(ResourceSpecifier::Topic(&topic)).set("retention.ms", "3600000");
    for r in s.rt.block_on(a.alter_configs(&[alter], &opts)).unwrap() {
        r.unwrap();
    }
    let described =
        s.rt.block_on(a.describe_configs(&[ResourceSpecifier::Topic(&topic)], &opts))
            .unwrap();
    let cfg = described.into_iter().next().unwrap().unwrap();
    let entries: BTreeMap<String, Option<String>> = cfg
        .entries
        .iter()
        .map(|e| (e.name.clone(), e.value.clone()))
        .collect();
    assert_eq!(entries["retention.ms"].as_deref(), Some("3600000"));
    assert_eq!(entries["cleanup.policy"].as_deref(), Some("delete"));

    for r in
        s.rt.block_on(a.create_partitions(&[NewPartitions::new(&topic, 4)], &opts))
            .unwrap()
    {
        r.unwrap();
    }
    assert_eq!(
        s.server().engine().topic(&topic).unwrap().partitions.len(),
        4
    );

    // A live group, as the admin tools see it.
    let group = unique("g");
    let c = consumer(&bs, &group, &[("client.id", "describe-me")]);
    c.subscribe(&[&topic]).unwrap();
    let t0 = Instant::now();
    while assigned(&c) == 0 && t0.elapsed() < WAIT {
        c.poll(Duration::from_millis(20));
    }
    let list = c
        .fetch_group_list(Some(&group), Duration::from_secs(5))
        .unwrap();
    let g = &list.groups()[0];
    assert_eq!(g.name(), group);
    assert_eq!(g.state(), "Stable");
    assert_eq!(g.protocol_type(), "consumer");
    assert_eq!(g.members().len(), 1);
    assert_eq!(g.members()[0].client_id(), "describe-me");
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition_offset(&topic, 0, Offset::Offset(0))
        .unwrap();
    c.commit(&tpl, CommitMode::Sync).unwrap();
    drop(c);

    let all = admin(&bs)
        .inner()
        .fetch_group_list(None, Duration::from_secs(5))
        .unwrap();
    assert!(all.groups().iter().any(|x| x.name() == group));
    for r in s.rt.block_on(a.delete_groups(&[&group], &opts)).unwrap() {
        r.unwrap();
    }
    assert!(s.server().engine().offsets().group(&group).is_empty());

    // DeleteRecords moves the log start; consumers see the new low watermark.
    let p = producer(&bs, &[]);
    let mut tpl = TopicPartitionList::new();
    let records: Vec<String> = (0..5).map(|i| format!("d{i}")).collect();
    let placed = s.rt.block_on(async {
        let mut out = Vec::new();
        for v in &records {
            let rec = FutureRecord::<(), _>::to(&topic)
                .payload(v.as_bytes())
                .partition(3);
            out.push(
                p.send(rec, Duration::from_secs(10))
                    .await
                    .map_err(|(e, _)| e)
                    .unwrap(),
            );
        }
        out
    });
    assert_eq!(placed.last().map(|d| d.offset), Some(4));
    tpl.add_partition_offset(&topic, 3, Offset::Offset(3))
        .unwrap();
    let deleted = s.rt.block_on(a.delete_records(&tpl, &opts)).unwrap();
    assert_eq!(
        deleted.find_partition(&topic, 3).unwrap().offset(),
        Offset::Offset(3)
    );
    let (low, high) = p
        .client()
        .fetch_watermarks(&topic, 3, Duration::from_secs(5))
        .unwrap();
    assert_eq!((low, high), (3, 5));

    for r in s.rt.block_on(a.delete_topics(&[&topic], &opts)).unwrap() {
        r.unwrap();
    }
    assert!(s.server().engine().topic(&topic).is_none());
}

#[test]
fn sasl_plain_with_librdkafka() {
    let mut config = support::kafka_config();
    config.sasl_required = true;
    let s = Served::start_with(config);
    let mut alice = trident_engine::User::new("alice", "wonderland").unwrap();
    alice
        .permissions
        .insert("/".into(), trident_engine::Permission::all());
    s.server().engine().users().put(alice).unwrap();
    let topic = unique("sasl");
    let auth = [
        ("security.protocol", "SASL_PLAINTEXT"),
        ("sasl.mechanisms", "PLAIN"),
        ("sasl.username", "alice"),
        ("sasl.password", "wonderland"),
    ];
    let p = producer(&s.bootstrap(), &auth);
    let placed = produce(&s, &p, &topic, &plain(["hello".to_string()]));
    assert_eq!(placed, vec![(0, 0)]);

    let bad = [
        ("security.protocol", "SASL_PLAINTEXT"),
        ("sasl.mechanisms", "PLAIN"),
        ("sasl.username", "alice"),
        ("sasl.password", "queen"),
        ("message.timeout.ms", "2000"),
    ];
    let p = producer(&s.bootstrap(), &bad);
    let r = s.rt.block_on(async {
        p.send_result(FutureRecord::<(), _>::to(&topic).payload("no"))
            .map_err(|(e, _)| e)
            .unwrap()
            .await
    });
    assert!(r.unwrap().is_err(), "a wrong password must not produce");
    p.flush(Duration::from_secs(1)).ok();
}
