use std::time::Duration;

use bytes::Bytes;
use tokio::time::Instant;

use super::*;
use crate::config::GroupConfig;

fn params(member: &str, client: &str) -> JoinParams {
    JoinParams {
        member_id: member.into(),
        instance_id: None,
        client_id: client.into(),
        client_host: "/127.0.0.1".into(),
        session_timeout: Duration::from_secs(6),
        rebalance_timeout: Duration::from_secs(10),
        protocol_type: "consumer".into(),
        protocols: vec![(
            "range".into(),
            Bytes::from_static(b"\0\0\0\0\0\x01\0\x01t\0\0\0\0"),
        )],
    }
}

fn cfg() -> GroupConfig {
    GroupConfig {
        initial_rebalance_delay: Duration::from_millis(100),
        ..GroupConfig::default()
    }
}

fn wait<T: std::fmt::Debug>(p: Pending<T>) -> tokio::sync::oneshot::Receiver<T> {
    match p {
        Pending::Wait(rx) => rx,
        Pending::Now(v) => panic!("expected to wait, got {v:?}"),
    }
}

#[test]
fn lone_member_joins_after_the_initial_delay() {
    let c = Coordinator::new(cfg());
    let t0 = Instant::now();
    let mut rx = wait(c.join("g", params("", "c1"), t0));
    c.tick(t0 + Duration::from_millis(50));
    assert!(rx.try_recv().is_err(), "still inside the initial delay");
    c.tick(t0 + Duration::from_millis(100));
    let resp = rx.try_recv().expect("joined");
    assert_eq!(resp.error_code, 0);
    assert_eq!(resp.generation_id, 1);
    assert_eq!(resp.leader, resp.member_id);
    assert_eq!(resp.members.len(), 1);
    assert!(resp.member_id.starts_with("c1-"));

    let mut sync = wait(c.sync(
        "g",
        &resp.member_id,
        1,
        vec![(resp.member_id.clone(), Bytes::from_static(b"A"))],
        t0,
    ));
    let s = sync.try_recv().expect("leader sync answers at once");
    assert_eq!(s.assignment, Bytes::from_static(b"A"));
    assert_eq!(
        c.describe("g").map(|d| d.group_state),
        Some("Stable".to_string())
    );
}

#[test]
fn second_member_triggers_a_rebalance_and_both_get_assignments() {
    let c = Coordinator::new(cfg());
    let t0 = Instant::now();
    let mut rx1 = wait(c.join("g", params("", "a"), t0));
    c.tick(t0 + Duration::from_millis(100));
    let j1 = rx1.try_recv().expect("joined");
    let m1 = j1.member_id.clone();
    let _ = c.sync(
        "g",
        &m1,
        1,
        vec![(m1.clone(), Bytes::from_static(b"all"))],
        t0,
    );

    let t1 = t0 + Duration::from_secs(1);
    let mut rx2 = wait(c.join("g", params("", "b"), t1));
    assert_eq!(
        c.heartbeat("g", &m1, 1, t1),
        crate::error_code::REBALANCE_IN_PROGRESS
    );
    let mut rx1 = wait(c.join("g", params(&m1, "a"), t1));
    let j1 = rx1.try_recv().expect("complete once all rejoined");
    let j2 = rx2.try_recv().expect("complete once all rejoined");
    assert_eq!(j1.generation_id, 2);
    assert_eq!(j1.leader, m1, "the longest-standing member keeps leading");
    assert_eq!(j1.members.len(), 2);
    assert!(j2.members.is_empty());

    let mut s2 = wait(c.sync("g", &j2.member_id, 2, vec![], t1));
    assert!(s2.try_recv().is_err(), "followers wait for the leader");
    let mut s1 = wait(c.sync(
        "g",
        &m1,
        2,
        vec![
            (m1.clone(), Bytes::from_static(b"p0")),
            (j2.member_id.clone(), Bytes::from_static(b"p1")),
        ],
        t1,
    ));
    assert_eq!(
        s1.try_recv().map(|s| s.assignment).ok(),
        Some(Bytes::from_static(b"p0"))
    );
    assert_eq!(
        s2.try_recv().map(|s| s.assignment).ok(),
        Some(Bytes::from_static(b"p1"))
    );
}

#[test]
fn silent_member_expires_and_the_rest_rebalance() {
    let c = Coordinator::new(GroupConfig {
        initial_rebalance_delay: Duration::ZERO,
        ..cfg()
    });
    let t0 = Instant::now();
    let mut a = wait(c.join("g", params("", "a"), t0));
    let mut b = wait(c.join("g", params("", "b"), t0));
    c.tick(t0);
    // The first join completed alone (zero delay); the second started a new round.
    let ja = a.try_recv().expect("a");
    let mut a2 = wait(c.join("g", params(&ja.member_id, "a"), t0));
    let jb = b.try_recv().expect("b");
    let ja = a2.try_recv().expect("a again");
    assert_eq!(ja.generation_id, jb.generation_id);
    let gen_ = ja.generation_id;
    let _ = c.sync("g", &ja.leader, gen_, vec![], t0);

    // b keeps heartbeating, a goes silent.
    let t1 = t0 + Duration::from_secs(4);
    assert_eq!(c.heartbeat("g", &jb.member_id, gen_, t1), 0);
    c.tick(t0 + Duration::from_secs(7));
    assert_eq!(
        c.heartbeat("g", &jb.member_id, gen_, t0 + Duration::from_secs(7)),
        crate::error_code::REBALANCE_IN_PROGRESS
    );
    let mut b2 = wait(c.join("g", params(&jb.member_id, "b"), t0 + Duration::from_secs(7)));
    let jb2 = b2.try_recv().expect("b alone");
    assert_eq!(jb2.generation_id, gen_ + 1);
    assert_eq!(jb2.members.len(), 1);
}

#[test]
fn leave_and_unknown_members() {
    let c = Coordinator::new(GroupConfig {
        initial_rebalance_delay: Duration::ZERO,
        ..cfg()
    });
    let t0 = Instant::now();
    let mut a = wait(c.join("g", params("", "a"), t0));
    let ja = a.try_recv().expect("a");
    assert_eq!(
        c.heartbeat("g", "nobody", 1, t0),
        crate::error_code::UNKNOWN_MEMBER_ID
    );
    assert_eq!(
        c.heartbeat("g", &ja.member_id, 7, t0),
        crate::error_code::ILLEGAL_GENERATION
    );
    assert_eq!(c.delete("g"), Err(crate::error_code::NON_EMPTY_GROUP));
    assert_eq!(c.leave("g", &ja.member_id, None, t0), 0);
    assert_eq!(
        c.describe("g").map(|d| d.group_state),
        Some("Empty".to_string())
    );
    assert_eq!(c.delete("g"), Ok(true));
    match c.join("g", params("ghost", "a"), t0) {
        Pending::Now(r) => assert_eq!(r.error_code, crate::error_code::UNKNOWN_MEMBER_ID),
        Pending::Wait(_) => panic!("unknown member must be refused"),
    }
}

#[test]
fn incompatible_protocols_are_refused() {
    let c = Coordinator::new(cfg());
    let t0 = Instant::now();
    let _a = c.join("g", params("", "a"), t0);
    let mut p = params("", "b");
    p.protocols = vec![("sticky".into(), Bytes::new())];
    match c.join("g", p, t0) {
        Pending::Now(r) => assert_eq!(r.error_code, crate::error_code::INCONSISTENT_GROUP_PROTOCOL),
        Pending::Wait(_) => panic!("must be refused"),
    }
}
