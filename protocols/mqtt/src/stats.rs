//! MQTT counters: what `$SYS/broker/...` publishes and `/metrics` shows. Relaxed
//! atomics, bumped on hot paths.

use std::sync::atomic::{AtomicU64, Ordering};

#[derive(Debug, Default)]
pub struct MqttStats {
    pub connections_open: AtomicU64,
    pub connections_total: AtomicU64,
    pub messages_received: AtomicU64,
    pub messages_sent: AtomicU64,
    pub bytes_received: AtomicU64,
    pub bytes_sent: AtomicU64,
    /// PUBLISH packets refused because a session queue was full (setting
    /// `mqtt.queue_overflow = refuse`).
    pub publishes_refused: AtomicU64,
    /// Deliveries dropped because they exceeded the client's Maximum Packet Size
    /// ([MQTT-3.1.2-25]) or had expired.
    pub deliveries_dropped: AtomicU64,
    pub wills_published: AtomicU64,
    pub sessions_taken_over: AtomicU64,
}

impl MqttStats {
    pub fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    pub fn sub(counter: &AtomicU64, n: u64) {
        counter.fetch_sub(n, Ordering::Relaxed);
    }

    pub fn get(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }
}
