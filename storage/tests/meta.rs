#![allow(clippy::unwrap_used)]
use serde::{Deserialize, Serialize};
use trident_core::{QueueDef, QueueName, TopicConfig};
use trident_storage::{MetaOp, MetaStore, MetaTable, StorageError};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct GroupOffset {
    offset: i64,
    metadata: String,
}

#[test]
fn put_get_delete_list_and_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("meta").join("meta.redb");
    {
        let m = MetaStore::open(&path).unwrap();
        let topic = TopicConfig {
            partitions: 3,
            ..TopicConfig::default()
        };
        m.put(MetaTable::Topics, "orders", &topic).unwrap();
        m.put(MetaTable::Topics, "payments", &TopicConfig::default())
            .unwrap();
        let q = QueueDef::new(QueueName::new("q1").unwrap());
        m.put(MetaTable::Queues, "/|q1", &q).unwrap();
        m.put(MetaTable::Vhosts, "/", &()).unwrap();
        assert_eq!(
            m.get::<TopicConfig>(MetaTable::Topics, "orders").unwrap(),
            Some(topic.clone())
        );
        assert_eq!(
            m.get::<TopicConfig>(MetaTable::Topics, "nope").unwrap(),
            None
        );
        assert_eq!(
            m.get::<QueueDef>(MetaTable::Queues, "/|q1").unwrap(),
            Some(q)
        );
        // Same key in another table is another record.
        assert_eq!(
            m.get::<TopicConfig>(MetaTable::Queues, "orders").unwrap(),
            None
        );
        // Wrong type: a typed error, not a panic.
        assert!(matches!(
            m.get::<u64>(MetaTable::Topics, "orders"),
            Err(StorageError::Serde { .. })
        ));
        assert!(m.delete(MetaTable::Topics, "payments").unwrap());
        assert!(!m.delete(MetaTable::Topics, "payments").unwrap());
        let all = m.list::<TopicConfig>(MetaTable::Topics).unwrap();
        assert_eq!(all, vec![("orders".to_string(), topic)]);
    }
    let m = MetaStore::open(&path).unwrap();
    assert_eq!(m.list::<TopicConfig>(MetaTable::Topics).unwrap().len(), 1);
    assert_eq!(
        m.list::<()>(MetaTable::Vhosts).unwrap(),
        vec![("/".to_string(), ())]
    );
}

#[test]
fn write_batch_and_prefix_listing() {
    let dir = tempfile::tempdir().unwrap();
    let m = MetaStore::open(&dir.path().join("meta.redb")).unwrap();
    let mut ops = Vec::new();
    for g in ["g1", "g2", "g10"] {
        for p in 0..3 {
            let v = GroupOffset {
                offset: p * 100,
                metadata: format!("{g}-{p}"),
            };
            ops.push(MetaOp::put(MetaTable::GroupOffsets, format!("{g}/orders/{p}"), &v).unwrap());
        }
    }
    m.write_batch(ops).unwrap();
    let g1 = m
        .list_prefix::<GroupOffset>(MetaTable::GroupOffsets, "g1/")
        .unwrap();
    assert_eq!(
        g1.iter().map(|(k, _)| k.as_str()).collect::<Vec<_>>(),
        ["g1/orders/0", "g1/orders/1", "g1/orders/2"]
    );
    assert_eq!(g1[2].1.offset, 200);
    assert_eq!(
        m.list_prefix::<GroupOffset>(MetaTable::GroupOffsets, "g")
            .unwrap()
            .len(),
        9
    );
    assert!(
        m.list_prefix::<GroupOffset>(MetaTable::GroupOffsets, "h")
            .unwrap()
            .is_empty()
    );
    // Mixed puts and deletes commit together.
    m.write_batch(vec![
        MetaOp::delete(MetaTable::GroupOffsets, "g1/orders/0"),
        MetaOp::delete(MetaTable::GroupOffsets, "g1/orders/1"),
        MetaOp::put(MetaTable::Settings, "cluster_name", "trident").unwrap(),
    ])
    .unwrap();
    assert_eq!(
        m.list_prefix::<GroupOffset>(MetaTable::GroupOffsets, "g1/")
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        m.get::<String>(MetaTable::Settings, "cluster_name")
            .unwrap()
            .as_deref(),
        Some("trident")
    );
    m.write_batch(Vec::new()).unwrap();
}

#[test]
fn second_open_of_the_same_file_fails_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("meta.redb");
    let _m = MetaStore::open(&path).unwrap();
    let e = MetaStore::open(&path).unwrap_err();
    let core: trident_core::Error = e.into();
    assert_eq!(core.kind(), trident_core::ErrorKind::Storage);
}

/// Tables with raw byte values (adapter state, kept messages): written with
/// `MetaOp::put_raw`, read back as bytes, listed by prefix, kept across a reopen.
#[test]
fn raw_tables_round_trip_and_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("meta.redb");
    {
        let m = MetaStore::open(&path).unwrap();
        m.write_batch(vec![
            MetaOp::put_raw(MetaTable::AdapterState, "ns\u{0}a", vec![0, 1, 2, 255]),
            MetaOp::put_raw(MetaTable::AdapterState, "ns\u{0}b", Vec::new()),
            MetaOp::put_raw(MetaTable::AdapterState, "other\u{0}a", vec![9]),
            MetaOp::put_raw(MetaTable::Retained, "k", vec![7; 100_000]),
        ])
        .unwrap();
    }
    let m = MetaStore::open(&path).unwrap();
    assert_eq!(
        m.get_raw(MetaTable::AdapterState, "ns\u{0}a").unwrap(),
        Some(vec![0, 1, 2, 255])
    );
    assert_eq!(
        m.get_raw(MetaTable::AdapterState, "ns\u{0}c").unwrap(),
        None
    );
    let listed = m
        .list_prefix_raw(MetaTable::AdapterState, "ns\u{0}")
        .unwrap();
    assert_eq!(
        listed,
        [
            ("ns\u{0}a".to_string(), vec![0, 1, 2, 255]),
            ("ns\u{0}b".to_string(), Vec::new())
        ]
    );
    assert_eq!(
        m.get_raw(MetaTable::Retained, "k")
            .unwrap()
            .map(|v| v.len()),
        Some(100_000)
    );
}

/// A prefix deletion removes exactly the keys under the prefix, atomically with the
/// other operations of its batch.
#[test]
fn delete_prefix_removes_only_keys_under_the_prefix() {
    let dir = tempfile::tempdir().unwrap();
    let m = MetaStore::open(&dir.path().join("meta.redb")).unwrap();
    m.write_batch(vec![
        MetaOp::put_raw(MetaTable::AdapterState, "ns\u{0}s/a", vec![1]),
        MetaOp::put_raw(MetaTable::AdapterState, "ns\u{0}s/a/1", vec![2]),
        MetaOp::put_raw(MetaTable::AdapterState, "ns\u{0}s/b", vec![3]),
        MetaOp::put_raw(MetaTable::AdapterState, "ns\u{0}t", vec![4]),
        MetaOp::put_raw(MetaTable::Retained, "ns\u{0}s/a", vec![5]),
    ])
    .unwrap();
    m.write_batch(vec![
        MetaOp::delete_prefix(MetaTable::AdapterState, "ns\u{0}s/a"),
        // Written after the deletion in the same batch: kept.
        MetaOp::put_raw(MetaTable::AdapterState, "ns\u{0}s/a/2", vec![6]),
    ])
    .unwrap();
    let keys: Vec<String> = m
        .list_prefix_raw(MetaTable::AdapterState, "")
        .unwrap()
        .into_iter()
        .map(|(k, _)| k)
        .collect();
    assert_eq!(keys, ["ns\u{0}s/a/2", "ns\u{0}s/b", "ns\u{0}t"]);
    assert_eq!(
        m.get_raw(MetaTable::Retained, "ns\u{0}s/a").unwrap(),
        Some(vec![5]),
        "other tables untouched"
    );
}
