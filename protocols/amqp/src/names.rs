//! Names the server makes up: server-named queues (`amq.gen-…`), consumer tags
//! (`amq.ctag-…`) and direct reply-to addresses. They must not collide and should not
//! be guessable (a reply-to name is a capability to reach one channel).

use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};

/// The pseudo-queue of RabbitMQ's direct reply-to.
pub const REPLY_TO: &str = "amq.rabbitmq.reply-to";
/// Prefix of the per-channel reply queues that stand behind it.
pub const REPLY_TO_PREFIX: &str = "amq.rabbitmq.reply-to.";

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// 128 random bits. `RandomState` is seeded from the OS's randomness per instance; a
/// process-wide counter makes two calls in the same instant differ regardless.
fn random_u128() -> u128 {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let mut halves = [0u64; 2];
    for (i, half) in halves.iter_mut().enumerate() {
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u64(n);
        h.write_usize(i);
        *half = h.finish();
    }
    (u128::from(halves[0]) << 64) | u128::from(halves[1])
}

/// 22 URL-safe characters of randomness (what RabbitMQ's `amq.gen-` names look like).
pub fn random_token() -> String {
    let mut r = random_u128();
    (0..22)
        .map(|_| {
            let c = ALPHABET[(r & 63) as usize] as char;
            r >>= 6;
            c
        })
        .collect()
}

pub fn server_queue_name() -> String {
    format!("amq.gen-{}", random_token())
}

pub fn consumer_tag() -> String {
    format!("amq.ctag-{}", random_token())
}

pub fn reply_queue_name() -> String {
    format!("{REPLY_TO_PREFIX}{}", random_token())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_differ_and_look_right() {
        let a = server_queue_name();
        let b = server_queue_name();
        assert_ne!(a, b);
        assert!(a.starts_with("amq.gen-") && a.len() == 8 + 22);
        assert!(reply_queue_name().starts_with(REPLY_TO_PREFIX));
    }
}
