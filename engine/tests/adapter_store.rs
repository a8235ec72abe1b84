//! The adapter store: namespaced, atomic, durable key-value state for protocol
//! adapters, kept across an engine dropped without shutdown and across `kill -9`.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use trident_core::ErrorKind;
use trident_engine::{Engine, EngineConfig, Metrics};

async fn open(dir: &std::path::Path) -> Engine {
    Engine::open(EngineConfig::new(dir))
        .await
        .expect("engine opens")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn namespaces_batches_prefixes_and_a_reopen_after_drop() {
    let dir = tempfile::tempdir().expect("tempdir");
    {
        let engine = open(dir.path()).await;
        let mqtt = engine.adapter_store("mqtt").expect("namespace");
        let other = engine.adapter_store("mqtt2").expect("namespace");
        mqtt.put("session/a", b"A".to_vec()).await.expect("put");
        mqtt.put("session/b", b"B".to_vec()).await.expect("put");
        mqtt.put("qos2/a/1", Vec::new()).await.expect("put");
        mqtt.put("qos2/a/2", Vec::new()).await.expect("put");
        other
            .put("session/a", b"other".to_vec())
            .await
            .expect("put");
        assert_eq!(mqtt.get("session/a").expect("get"), Some(b"A".to_vec()));
        assert_eq!(
            other.get("session/a").expect("get"),
            Some(b"other".to_vec()),
            "namespaces do not see each other, even when one's name prefixes the other's"
        );

        // One atomic batch: a client's session goes with all its packet ids, and a new
        // record is written in the same commit.
        let mut b = mqtt.batch();
        b.delete_prefix("qos2/a/")
            .delete("session/a")
            .put("session/c", b"C".to_vec());
        b.commit().await.expect("commit");
        mqtt.delete("absent")
            .await
            .expect("deleting nothing is fine");
        // Dropped without shutdown: nothing is flushed on the way out.
        drop(engine);
    }
    let engine = open(dir.path()).await;
    let mqtt = engine.adapter_store("mqtt").expect("namespace");
    assert_eq!(
        mqtt.scan_prefix("").expect("scan"),
        vec![
            ("session/b".to_string(), b"B".to_vec()),
            ("session/c".to_string(), b"C".to_vec()),
        ]
    );
    assert_eq!(mqtt.scan_prefix("qos2/").expect("scan"), vec![]);
    let other = engine.adapter_store("mqtt2").expect("namespace");
    assert_eq!(other.scan_prefix("session/").expect("scan").len(), 1);
    for bad in ["", "a\u{0}b"] {
        assert_eq!(
            engine.adapter_store(bad).expect_err("refused").kind(),
            ErrorKind::InvalidArgument
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_writers_are_all_committed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let engine = open(dir.path()).await;
    let store = engine.adapter_store("mqtt").expect("namespace");
    let writers: Vec<_> = (0..200u32)
        .map(|i| {
            let store = store.clone();
            tokio::spawn(async move {
                store
                    .put(&format!("k/{i:03}"), i.to_le_bytes().to_vec())
                    .await
            })
        })
        .collect();
    for w in writers {
        w.await.expect("task").expect("put");
    }
    let all = store.scan_prefix("k/").expect("scan");
    assert_eq!(all.len(), 200);
    let m = engine.metrics();
    let (writes, commits) = (Metrics::get(&m.meta_writes), Metrics::get(&m.meta_commits));
    assert_eq!(writes, 200, "every write counted once");
    assert!((1..=200).contains(&commits), "{commits} commits");
    println!("200 concurrent writes took {commits} commits");
    for (i, (k, v)) in all.iter().enumerate() {
        assert_eq!(k, &format!("k/{i:03}"));
        assert_eq!(v, &(i as u32).to_le_bytes().to_vec());
    }
}

const CHILD_DIR: &str = "TRIDENT_TEST_ADAPTER_STORE_CHILD_DIR";
const WRITES: usize = 100;

/// Run by `state_acknowledged_before_kill_9_is_there_after_restart` in a child
/// process (ignored otherwise): writes, reports each write once it returned, then
/// waits to be killed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "run as a child process by the kill -9 test"]
async fn child_writes_then_waits_to_be_killed() {
    let Ok(dir) = std::env::var(CHILD_DIR) else {
        return;
    };
    let engine = open(std::path::Path::new(&dir)).await;
    let store = engine.adapter_store("mqtt").expect("namespace");
    for i in 0..WRITES {
        store
            .put(&format!("pid/{i:03}"), vec![1])
            .await
            .expect("put");
        if i % 10 == 9 {
            // Removed again before the kill: must stay removed.
            store.delete(&format!("pid/{i:03}")).await.expect("delete");
        }
        println!("committed {i}");
    }
    println!("ready");
    tokio::time::sleep(std::time::Duration::from_secs(120)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn state_acknowledged_before_kill_9_is_there_after_restart() {
    let dir = tempfile::tempdir().expect("tempdir");
    let exe = std::env::current_exe().expect("test binary");
    let mut child = Command::new(exe)
        .args([
            "--ignored",
            "--exact",
            "child_writes_then_waits_to_be_killed",
            "--nocapture",
        ])
        .env(CHILD_DIR, dir.path())
        .stdout(Stdio::piped())
        .spawn()
        .expect("child starts");
    let stdout = child.stdout.take().expect("stdout");
    let mut committed = 0;
    for line in BufReader::new(stdout).lines() {
        let line = line.expect("child output");
        if line.starts_with("committed ") {
            committed += 1;
        }
        if line == "ready" {
            break;
        }
    }
    assert_eq!(committed, WRITES, "the child reported every write");
    // SIGKILL: no destructor, no flush.
    child.kill().expect("kill -9");
    child.wait().expect("reaped");

    let engine = open(dir.path()).await;
    let store = engine.adapter_store("mqtt").expect("namespace");
    let keys: Vec<String> = store
        .scan_prefix("pid/")
        .expect("scan")
        .into_iter()
        .map(|(k, _)| k)
        .collect();
    let want: Vec<String> = (0..WRITES)
        .filter(|i| i % 10 != 9)
        .map(|i| format!("pid/{i:03}"))
        .collect();
    assert_eq!(keys, want);
}
