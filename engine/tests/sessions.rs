//! Session seams: an exclusive queue handed to a new connection, and a queue's idle
//! expiry changed after declare (persisted for durable queues).

use std::time::Duration;

use trident_core::{ConnectionId, ErrorKind, QueueDef, QueueName};
use trident_engine::{Engine, EngineConfig, Vhost};

const C1: ConnectionId = ConnectionId(1);
const C2: ConnectionId = ConnectionId(2);
const C3: ConnectionId = ConnectionId(3);

fn qn(s: &str) -> QueueName {
    QueueName::new(s).expect("queue name")
}

async fn open(dir: &std::path::Path) -> (Engine, Vhost) {
    let engine = Engine::open(EngineConfig::new(dir))
        .await
        .expect("engine opens");
    let vhost = engine.vhost("/").expect("default vhost");
    (engine, vhost)
}

#[tokio::test]
async fn an_exclusive_queue_moves_to_the_new_connection_and_survives_the_old_ones_close() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (engine, v) = open(dir.path()).await;
    let mut def = QueueDef::new(qn("session"));
    def.exclusive = true;
    v.declare_queue(def, C1).await.expect("declare");

    // Only the owner may hand it over.
    let err = v
        .transfer_queue_owner(&qn("session"), C3, C2)
        .await
        .expect_err("not the owner");
    assert_eq!(err.kind(), ErrorKind::ResourceLocked);

    v.transfer_queue_owner(&qn("session"), C1, C2)
        .await
        .expect("transfer");
    assert_eq!(v.queue(&qn("session")).expect("queue").owner(), Some(C2));
    assert!(
        v.queue_for(&qn("session"), C1).is_err(),
        "old owner locked out"
    );

    engine.connection_closed(C1).await;
    assert!(v.queue(&qn("session")).is_some(), "old close keeps it");
    engine.connection_closed(C2).await;
    assert!(
        v.queue(&qn("session")).is_none(),
        "new owner's close deletes it"
    );
}

#[tokio::test]
async fn a_shortened_expiry_deletes_an_idle_queue_and_off_keeps_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (_engine, v) = open(dir.path()).await;
    v.declare_queue(QueueDef::new(qn("short")), C1)
        .await
        .expect("declare");
    v.declare_queue(QueueDef::new(qn("kept")), C1)
        .await
        .expect("declare");
    v.set_queue_expires(&qn("short"), Some(50), C1)
        .await
        .expect("set");
    v.set_queue_expires(&qn("kept"), Some(50), C1)
        .await
        .expect("set");
    v.set_queue_expires(&qn("kept"), None, C1)
        .await
        .expect("unset");
    let mut gone = false;
    for _ in 0..100 {
        tokio::time::sleep(Duration::from_millis(20)).await;
        if v.queue(&qn("short")).is_none() {
            gone = true;
            break;
        }
    }
    assert!(gone, "queue with a 50 ms expiry was deleted");
    assert!(v.queue(&qn("kept")).is_some());
}

#[tokio::test]
async fn an_updated_expiry_of_a_durable_queue_holds_after_a_restart() {
    let dir = tempfile::tempdir().expect("tempdir");
    {
        let (engine, v) = open(dir.path()).await;
        let mut def = QueueDef::new(qn("durable"));
        def.durable = true;
        def.args.expires_ms = Some(3_600_000);
        v.declare_queue(def, C1).await.expect("declare");
        v.set_queue_expires(&qn("durable"), Some(60_000), C1)
            .await
            .expect("set");
        engine.shutdown().await;
    }
    let (_engine, v) = open(dir.path()).await;
    let q = v.queue(&qn("durable")).expect("recovered");
    assert_eq!(q.def().args.expires_ms, Some(60_000));
}
