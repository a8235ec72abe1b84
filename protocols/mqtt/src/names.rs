//! How MQTT names become engine names: topics and routing keys (a bijection), client
//! ids and the queue that holds a session, shared subscription groups and their queue.

use trident_core::{QueueName, to_routing_key};

/// The MQTT level separator.
pub const LEVEL: char = '/';

/// The routing key an MQTT topic is published with: `/` and `.` swap places, so
/// `a/b.c` is `a.b/c` and comes back unchanged ([`topic_of`]). RabbitMQ replaces `/`
/// by `.` only, which makes `a/b.c` and `a/b/c` the same key.
pub fn routing_key_of(topic: &str) -> String {
    to_routing_key(topic, LEVEL)
}

/// The MQTT topic of a routing key (the same swap; it is its own inverse). A message an
/// AMQP client publishes to `amq.topic` with key `a.b` arrives as topic `a/b`.
pub fn topic_of(routing_key: &str) -> String {
    to_routing_key(routing_key, LEVEL)
}

/// Queue names are at most 255 bytes (an AMQP limit the engine keeps); client ids and
/// filters may be longer. Names longer than this keep a prefix and a hash of the whole.
const NAME_ROOM: usize = 200;

/// The queue of a client's session.
pub fn session_queue(client_id: &str) -> Option<QueueName> {
    bounded("mqtt-session.", client_id)
}

/// The queue of a shared subscription: one per share name and filter, whose members
/// are its consumers (the engine balances them round robin).
pub fn shared_queue(group: &str, filter: &str) -> Option<QueueName> {
    // The group cannot contain '/' (the filter's first level follows it), so
    // "group/filter" names each pair once.
    bounded("mqtt-share.", &format!("{group}/{filter}"))
}

fn bounded(prefix: &str, name: &str) -> Option<QueueName> {
    let full = if name.len() <= NAME_ROOM {
        format!("{prefix}{name}")
    } else {
        let mut cut = NAME_ROOM - 20;
        while !name.is_char_boundary(cut) {
            cut -= 1;
        }
        format!("{prefix}{}~{:016x}", &name[..cut], fnv1a(name.as_bytes()))
    };
    QueueName::new(&full).ok()
}

/// FNV-1a, 64 bits: stable across runs and builds (std's hasher is not), which a name
/// that is stored on disk needs.
fn fnv1a(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topics_with_dots_survive_the_round_trip() {
        for t in [
            "a/b.c",
            "a/b/c",
            "a.b",
            "",
            "/",
            "$SYS/broker/uptime",
            "x//y",
        ] {
            assert_eq!(topic_of(&routing_key_of(t)), t);
        }
        assert_ne!(routing_key_of("a/b.c"), routing_key_of("a/b/c"));
        assert_eq!(routing_key_of("a/b"), "a.b");
    }

    #[test]
    fn long_client_ids_get_distinct_bounded_queue_names() {
        let a = "x".repeat(5000);
        let b = format!("{}y", "x".repeat(4999));
        let qa = session_queue(&a).map(|q| q.as_str().to_owned());
        let qb = session_queue(&b).map(|q| q.as_str().to_owned());
        assert!(qa.as_ref().is_some_and(|q| q.len() <= 255));
        assert_ne!(qa, qb);
        assert_eq!(
            session_queue("dev-1").map(|q| q.as_str().to_owned()),
            Some("mqtt-session.dev-1".to_owned())
        );
        // Multi-byte characters are cut on a boundary.
        assert!(session_queue(&"é".repeat(300)).is_some());
    }
}
