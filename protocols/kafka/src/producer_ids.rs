//! Producer ids for idempotent producers (InitProducerId).
//!
//! Ids must never be reused, even across restarts, or a new producer could be taken for
//! an old one's retry. Rather than persisting a counter, ids start from the wall clock
//! shifted left by 10 bits: a restart begins above every id handed out before, as long
//! as fewer than 1024 ids per millisecond of uptime were allocated (each further one
//! just moves the counter ahead of the clock; the next start resumes from the clock).

use std::sync::atomic::{AtomicI64, Ordering};

use trident_core::message::now_ms;

#[derive(Debug)]
pub struct ProducerIds {
    next: AtomicI64,
}

impl Default for ProducerIds {
    fn default() -> Self {
        Self::new()
    }
}

impl ProducerIds {
    pub fn new() -> Self {
        Self {
            next: AtomicI64::new(Self::clock()),
        }
    }

    fn clock() -> i64 {
        now_ms().max(0) << 10
    }

    pub fn allocate(&self) -> i64 {
        let floor = Self::clock();
        // Keep up with the clock so that a long-running broker's ids stay above what
        // a restart would start from.
        self.next.fetch_max(floor, Ordering::Relaxed);
        self.next.fetch_add(1, Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_grow_and_exceed_a_later_restart_floor_only_by_allocation() {
        let ids = ProducerIds::new();
        let a = ids.allocate();
        let b = ids.allocate();
        assert!(b > a && a > 0);
        let later = ProducerIds::new();
        assert!(later.allocate() >= a);
    }
}
