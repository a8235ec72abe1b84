//! Topic authorization as librdkafka sees it: a SASL user whose vhost `/` permissions
//! cover some topics sees only those in Metadata, gets TOPIC_AUTHORIZATION_FAILED for
//! the others when it names them, and the admin APIs refuse what it may not configure.
#![allow(clippy::unwrap_used)]

mod support;

use std::time::Duration;

use rdkafka::admin::{AdminClient, AdminOptions, AlterConfig, NewPartitions, ResourceSpecifier};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::types::RDKafkaRespErr;
use rdkafka::{Offset, TopicPartitionList};
use support::{Served, unique};
use trident_core::TopicName;
use trident_engine::{Permission, User};

const PASSWORD: &str = "s3cret";

/// A broker that requires SASL, with user `carol` who may read topics `shared-*` and
/// configure topics `carol-*`, and topics of both kinds plus one she may not see.
struct Setup {
    s: Served,
    shared: String,
    own: String,
    hidden: String,
}

fn setup() -> Setup {
    let mut config = support::kafka_config();
    config.sasl_required = true;
    let s = Served::start_with(config);
    let mut carol = User::new("carol", PASSWORD).unwrap();
    carol.permissions.insert(
        "/".into(),
        Permission {
            configure: "^carol-".into(),
            write: "".into(),
            read: "^shared-".into(),
        },
    );
    s.server().engine().users().put(carol).unwrap();
    let (shared, own, hidden) = (unique("shared"), unique("carol"), unique("hidden"));
    for name in [&shared, &own, &hidden] {
        let engine = s.server().engine();
        let mut cfg = engine.config().default_topic.clone();
        cfg.partitions = 1;
        s.rt.block_on(engine.create_topic(TopicName::new(name).unwrap(), cfg))
            .unwrap();
    }
    Setup {
        s,
        shared,
        own,
        hidden,
    }
}

fn as_carol(c: &mut ClientConfig, bootstrap: &str) {
    c.set("bootstrap.servers", bootstrap)
        .set("security.protocol", "SASL_PLAINTEXT")
        .set("sasl.mechanisms", "PLAIN")
        .set("sasl.username", "carol")
        .set("sasl.password", PASSWORD);
}

fn admin(bootstrap: &str) -> AdminClient<DefaultClientContext> {
    let mut c = ClientConfig::new();
    as_carol(&mut c, bootstrap);
    c.create().unwrap()
}

fn opts() -> AdminOptions {
    AdminOptions::new().operation_timeout(Some(Duration::from_secs(10)))
}

#[test]
fn metadata_lists_only_topics_the_user_may_describe() {
    let Setup {
        s,
        shared,
        own,
        hidden,
    } = setup();
    let a = admin(&s.bootstrap());
    let md = a
        .inner()
        .fetch_metadata(None, Duration::from_secs(10))
        .unwrap();
    let listed: Vec<&str> = md.topics().iter().map(|t| t.name()).collect();
    assert!(listed.contains(&shared.as_str()), "{listed:?}");
    assert!(listed.contains(&own.as_str()), "{listed:?}");
    assert!(!listed.contains(&hidden.as_str()), "{listed:?}");

    // Named explicitly, the hidden topic is refused, not reported missing.
    let md = a
        .inner()
        .fetch_metadata(Some(&hidden), Duration::from_secs(10))
        .unwrap();
    let t = &md.topics()[0];
    assert_eq!(t.name(), hidden);
    assert_eq!(
        t.error(),
        Some(RDKafkaRespErr::RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED)
    );
    assert!(t.partitions().is_empty());
    // And a visible one is described in full.
    let md = a
        .inner()
        .fetch_metadata(Some(&shared), Duration::from_secs(10))
        .unwrap();
    assert_eq!(md.topics()[0].error(), None);
    assert_eq!(md.topics()[0].partitions().len(), 1);
}

#[test]
fn admin_apis_need_configure_and_describe_configs_needs_read_or_configure() {
    let Setup {
        s,
        shared,
        own,
        hidden,
    } = setup();
    let a = admin(&s.bootstrap());

    // DescribeConfigs: read (shared) or configure (own) suffices; neither is refused.
    let described =
        s.rt.block_on(a.describe_configs(
            &[
                ResourceSpecifier::Topic(&shared),
                ResourceSpecifier::Topic(&own),
                ResourceSpecifier::Topic(&hidden),
            ],
            &opts(),
        ))
        .unwrap();
    let entries = |i: usize| described[i].as_ref().map(|r| r.entries.len()).unwrap();
    assert!(entries(0) > 0 && entries(1) > 0, "{described:?}");
    // rust-rdkafka drops a resource's error code (it wraps every resource in Ok); the
    // refusal shows as no entries here, and protocol.rs checks the code itself.
    assert_eq!(entries(2), 0, "{:?}", described[2]);

    // AlterConfigs: only where she may configure.
    fn alter(t: &str) -> AlterConfig<'_> {
        AlterConfig::new(ResourceSpecifier::Topic(t)).set("retention.ms", "60000")
    }
    let altered =
        s.rt.block_on(a.alter_configs(&[alter(&own), alter(&shared)], &opts()))
            .unwrap();
    // As with DescribeConfigs, rust-rdkafka reports every resource as altered; what
    // the broker did shows in the topics (and protocol.rs checks the codes).
    assert_eq!(altered.len(), 2);
    let engine = s.server().engine();
    assert_eq!(engine.topic(&own).unwrap().config.retention_ms, Some(60000));
    assert_ne!(
        engine.topic(&shared).unwrap().config.retention_ms,
        Some(60000)
    );

    // CreatePartitions: the same rule, and the refused topic keeps its partitions.
    let grown =
        s.rt.block_on(a.create_partitions(
            &[NewPartitions::new(&own, 3), NewPartitions::new(&shared, 3)],
            &opts(),
        ))
        .unwrap();
    assert!(grown[0].is_ok(), "{:?}", grown[0]);
    assert_eq!(
        grown[1].as_ref().err().map(|(_, code)| *code),
        Some(RDKafkaErrorCode::TopicAuthorizationFailed)
    );
    assert_eq!(engine.topic(&own).unwrap().partitions.len(), 3);
    assert_eq!(engine.topic(&shared).unwrap().partitions.len(), 1);

    // DeleteRecords on a topic she may only read is refused.
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition_offset(&shared, 0, Offset::Offset(0))
        .unwrap();
    let deleted = s.rt.block_on(a.delete_records(&tpl, &opts())).unwrap();
    assert_eq!(
        deleted.find_partition(&shared, 0).unwrap().error(),
        Err(KafkaError::OffsetFetch(
            RDKafkaErrorCode::TopicAuthorizationFailed
        ))
    );
}

#[test]
fn committing_offsets_needs_read_on_the_topic() {
    let Setup {
        s, shared, hidden, ..
    } = setup();
    let mut c = ClientConfig::new();
    as_carol(&mut c, &s.bootstrap());
    let consumer: BaseConsumer = c
        .set("group.id", unique("carols"))
        .set("enable.auto.commit", "false")
        .create()
        .unwrap();

    let mut ok = TopicPartitionList::new();
    ok.add_partition_offset(&shared, 0, Offset::Offset(0))
        .unwrap();
    consumer.commit(&ok, CommitMode::Sync).unwrap();

    let mut refused = TopicPartitionList::new();
    refused
        .add_partition_offset(&hidden, 0, Offset::Offset(0))
        .unwrap();
    let err = consumer.commit(&refused, CommitMode::Sync).unwrap_err();
    assert_eq!(
        err.rdkafka_error_code(),
        Some(RDKafkaErrorCode::TopicAuthorizationFailed),
        "{err}"
    );
    let committed = consumer
        .committed_offsets(ok, Duration::from_secs(10))
        .unwrap();
    assert_eq!(
        committed.find_partition(&shared, 0).unwrap().offset(),
        Offset::Offset(0)
    );
}
