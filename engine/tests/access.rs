//! Identity and tenancy in the engine: vhosts and users survive restarts, deleting a
//! vhost takes its queues and permissions along, logins follow the loopback rule, and
//! the default administrator comes from the configuration.

use std::net::IpAddr;

use trident_core::{ConnectionId, QueueDef, QueueName};
use trident_engine::{DefaultUser, Engine, EngineConfig, Permission, User};

const LOOPBACK: IpAddr = IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);
const REMOTE: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(192, 0, 2, 7));

async fn open(dir: &std::path::Path, default_user: DefaultUser) -> Engine {
    let mut cfg = EngineConfig::new(dir);
    cfg.default_user = default_user;
    Engine::open(cfg).await.expect("engine opens")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vhosts_and_users_persist_and_a_deleted_vhost_takes_everything_along() {
    let dir = tempfile::tempdir().expect("dir");
    let engine = open(dir.path(), DefaultUser::default()).await;
    assert!(engine.create_vhost("shop").await.expect("create"));
    assert!(
        !engine.create_vhost("shop").await.expect("again"),
        "idempotent"
    );
    let mut alice = User::new("alice", "pw-alice").expect("user");
    alice.permissions.insert("shop".into(), Permission::all());
    alice.permissions.insert("/".into(), Permission::all());
    engine.users().put(alice).expect("put");
    let v = engine.vhost("shop").expect("vhost");
    let mut def = QueueDef::new(QueueName::new("orders").expect("name"));
    def.durable = true;
    v.declare_queue(def, ConnectionId(1))
        .await
        .expect("declare");
    engine.shutdown().await;
    // Every handle holds the metadata store open.
    drop((v, engine));

    let engine = open(dir.path(), DefaultUser::default()).await;
    assert!(engine.has_vhost("shop"), "the vhost survives a restart");
    let v = engine.vhost("shop").expect("vhost");
    assert!(v.queue(&QueueName::new("orders").expect("name")).is_some());
    drop(v);
    assert!(engine.authenticate("alice", "pw-alice", REMOTE).is_ok());

    engine.delete_vhost("shop").await.expect("delete");
    assert!(!engine.has_vhost("shop"));
    let alice = engine.users().get("alice").expect("alice");
    assert!(
        alice.permission("shop").is_none(),
        "permissions there are gone"
    );
    assert!(alice.permission("/").is_some(), "others stay");
    assert!(engine.delete_vhost("shop").await.is_err(), "unknown vhost");
    engine.shutdown().await;
    drop(engine);

    let engine = open(dir.path(), DefaultUser::default()).await;
    assert!(!engine.has_vhost("shop"), "the deletion survives a restart");
    // Recreated, it is empty: the old queue did not come back with it.
    engine.create_vhost("shop").await.expect("recreate");
    let v = engine.vhost("shop").expect("vhost");
    assert!(v.queues().is_empty());
    engine.shutdown().await;
}

#[tokio::test]
async fn the_default_administrator_and_the_loopback_rule() {
    let dir = tempfile::tempdir().expect("dir");
    let engine = open(dir.path(), DefaultUser::default()).await;
    let guest = engine
        .authenticate("guest", "guest", LOOPBACK)
        .expect("guest on loopback");
    assert!(guest.has_tag("administrator"));
    assert!(
        engine.authenticate("guest", "guest", REMOTE).is_err(),
        "loopback only"
    );
    let mapped: IpAddr = "::ffff:127.0.0.1".parse().expect("ip");
    assert!(
        engine.authenticate("guest", "guest", mapped).is_ok(),
        "v4-mapped loopback"
    );
    assert!(engine.authenticate("guest", "nope", LOOPBACK).is_err());
    engine.shutdown().await;

    let dir = tempfile::tempdir().expect("dir");
    let admin = DefaultUser {
        name: "root".into(),
        password: Some("s3t-explicitly".into()),
    };
    let engine = open(dir.path(), admin).await;
    assert!(
        engine
            .authenticate("root", "s3t-explicitly", REMOTE)
            .is_ok()
    );
    assert!(engine.users().get("guest").is_none(), "no guest beside it");
    engine.shutdown().await;
}

#[tokio::test]
async fn permission_changes_are_validated_and_durable() {
    let dir = tempfile::tempdir().expect("dir");
    let engine = open(dir.path(), DefaultUser::default()).await;
    engine
        .users()
        .put(User::new("bob", "pw").expect("user"))
        .expect("put");
    let bad = Permission {
        configure: "[".into(),
        write: String::new(),
        read: String::new(),
    };
    assert!(engine.users().set_permission("bob", "/", bad).is_err());
    assert!(
        engine
            .users()
            .set_permission("nobody", "/", Permission::all())
            .is_err()
    );
    engine
        .users()
        .set_permission("bob", "/", Permission::all())
        .expect("set");
    engine.shutdown().await;
    drop(engine);
    let engine = open(dir.path(), DefaultUser::default()).await;
    let bob = engine.users().get("bob").expect("bob");
    assert!(bob.may("/", trident_engine::Access::Write, "anything"));
    assert!(engine.users().clear_permission("bob", "/").expect("clear"));
    assert!(!engine.users().clear_permission("bob", "/").expect("again"));
    engine.shutdown().await;
}
