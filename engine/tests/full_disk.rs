//! A full disk: publishes that cannot be stored are refused (nacked) with a clear
//! reason, the engine keeps serving, and every message confirmed before the disk filled
//! is still there after a restart. Runs on a small tmpfs, which needs root (CI and the
//! development machines run as root); elsewhere the test says so and passes vacuously.

use std::path::{Path, PathBuf};
use std::process::Command;

use bytes::Bytes;
use trident_core::{ConnectionId, DeliveryMode, ExchangeName, Message, QueueDef, QueueName};
use trident_engine::{Engine, EngineConfig, Nack, PublishOptions};

struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(dir: &Path, size: &str) -> Option<Tmpfs> {
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir)
            .status()
            .is_ok_and(|s| s.success());
        ok.then(|| Tmpfs(dir.to_path_buf()))
    }

    fn resize(&self, size: &str) {
        let status = Command::new("mount")
            .args(["-o", &format!("remount,size={size}")])
            .arg(&self.0)
            .status()
            .expect("remount");
        assert!(status.success());
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        // A queue task may still be closing its files when the test ends (it answers
        // shutdown before it drops its store): detach lazily rather than leave the
        // mount behind.
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_disk_nacks_keeps_serving_and_loses_nothing_confirmed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let Some(fs) = Tmpfs::mount(dir.path(), "8m") else {
        eprintln!("SKIPPED: cannot mount a tmpfs here (not root)");
        return;
    };
    let data = dir.path().join("data");
    let q = QueueName::new("full").expect("name");
    let mut confirmed = 0u32;
    {
        let engine = Engine::open(EngineConfig::new(&data)).await.expect("open");
        let v = engine.vhost("/").expect("vhost");
        let mut def = QueueDef::new(q.clone());
        def.durable = true;
        v.declare_queue(def, ConnectionId(1))
            .await
            .expect("declare");
        let body = Bytes::from(vec![7u8; 64 * 1024]);
        let mut refusal = None;
        for i in 0..1_000u32 {
            let mut m = Message::new(body.clone());
            m.routing_key = "full".into();
            m.delivery_mode = DeliveryMode::Persistent;
            m.headers.insert("n", i64::from(i).into());
            let p = v
                .publish(
                    m,
                    &ExchangeName::default_exchange(),
                    PublishOptions {
                        confirm: true,
                        mandatory: false,
                    },
                )
                .await
                .expect("publish is accepted for routing");
            match p.confirm.expect("confirm").wait().await {
                Ok(()) => confirmed += 1,
                Err(nack) => {
                    refusal = Some(nack);
                    break;
                }
            }
        }
        let refusal = refusal.expect("an 8 MiB disk fills before 64 MiB are stored");
        assert!(
            matches!(refusal, Nack::Storage(_, ref why) if why.contains("No space") || why.contains("full")),
            "{refusal}"
        );
        assert!(confirmed > 10, "some messages fit: {confirmed}");

        // Still serving: a transient queue needs no disk.
        let t = QueueName::new("scratch").expect("name");
        v.declare_queue(QueueDef::new(t.clone()), ConnectionId(1))
            .await
            .expect("transient declare still works");
        let mut m = Message::new("ok");
        m.routing_key = "scratch".into();
        let p = v
            .publish(
                m,
                &ExchangeName::default_exchange(),
                PublishOptions::default(),
            )
            .await
            .expect("publish");
        assert_eq!(p.routed, 1);
        assert!(
            v.get(&t, true, ConnectionId(1))
                .await
                .expect("get")
                .is_some()
        );
        engine.shutdown().await;
    }
    fs.resize("64m");
    let engine = Engine::open(EngineConfig::new(&data))
        .await
        .expect("reopen");
    let v = engine.vhost("/").expect("vhost");
    for i in 0..confirmed {
        let d = v
            .get(&q, true, ConnectionId(1))
            .await
            .expect("get")
            .unwrap_or_else(|| panic!("confirmed message {i} of {confirmed} is missing"));
        assert_eq!(
            d.message.headers.get_i64("n"),
            Some(i64::from(i)),
            "in order"
        );
        assert_eq!(d.message.body.len(), 64 * 1024, "not torn");
    }
    engine.shutdown().await;
}

/// Adapter state on a full disk: a write that cannot be committed is an error (never
/// acknowledged), the store keeps answering, and everything acknowledged before is
/// there after a restart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn adapter_state_on_a_full_disk_fails_writes_and_keeps_acknowledged_ones() {
    let dir = tempfile::tempdir().expect("tempdir");
    let Some(fs) = Tmpfs::mount(dir.path(), "8m") else {
        eprintln!("SKIPPED: cannot mount a tmpfs here (not root)");
        return;
    };
    let data = dir.path().join("data");
    let mut acknowledged = 0u32;
    {
        let engine = Engine::open(EngineConfig::new(&data)).await.expect("open");
        let store = engine.adapter_store("mqtt").expect("namespace");
        let value = vec![5u8; 256 * 1024];
        let mut failure = None;
        for i in 0..1_000u32 {
            match store.put(&format!("will/{i:04}"), value.clone()).await {
                Ok(()) => acknowledged += 1,
                Err(e) => {
                    failure = Some(e);
                    break;
                }
            }
        }
        let failure = failure.expect("an 8 MiB disk fills before 256 MiB are stored");
        assert!(
            matches!(
                failure.kind(),
                trident_core::ErrorKind::ResourceExhausted | trident_core::ErrorKind::Storage
            ),
            "{failure}"
        );
        assert!(acknowledged > 2, "some writes fit: {acknowledged}");
        // Reads still work.
        assert!(store.get("will/0000").expect("get").is_some());
        drop(engine);
    }
    fs.resize("64m");
    let engine = Engine::open(EngineConfig::new(&data))
        .await
        .expect("reopen");
    let store = engine.adapter_store("mqtt").expect("namespace");
    let kept = store.scan_prefix("will/").expect("scan");
    assert!(
        kept.len() >= acknowledged as usize,
        "{} of {acknowledged} acknowledged writes found",
        kept.len()
    );
    for (i, (k, v)) in kept.iter().take(acknowledged as usize).enumerate() {
        assert_eq!(k, &format!("will/{i:04}"));
        assert_eq!(v.len(), 256 * 1024, "not torn");
    }
    // And it takes writes again once there is room.
    store.put("after", b"x".to_vec()).await.expect("put");
}
