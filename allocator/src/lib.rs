//! The broker's allocator (mimalloc) and when its worker threads give freed memory back.
//!
//! mimalloc returns memory to the operating system lazily. A page whose blocks were freed
//! stays with the thread that allocated from it until that thread collects its heap
//! (blocks freed by other threads wait on the page's own list until then), and free pages
//! are purged (`madvise`) only when a later allocation or collection notices that their
//! purge delay has passed. A broker's load is bursty and its threads then go quiet: 10,000
//! Kafka connections that closed left 49 MiB resident that no thread ever looked at again
//! (docs/benchmarks.md, "Idle connections"); a forced collection on each worker brought
//! the process back to its baseline, so nothing was still in use.
//!
//! So each runtime worker collects its own heap when it goes idle (tokio's
//! `on_thread_park`), at most once per [`COLLECT_EVERY`]: a busy worker parks thousands
//! of times a second and must not walk its heap each time, and a worker that is busy
//! reuses its free pages anyway. Collection is not forced: pages freed to the arenas
//! are still purged after mimalloc's own delay, by the next collection that sees it
//! expired, so memory that a burst frees and the next burst wants again is not handed
//! to the kernel and faulted back in between. The broker's periodic tasks (the alarm
//! monitor, the group coordinator's ticker, the rates sampler) wake the workers every
//! second or so, which gives each of them its next chance to collect.

use std::cell::Cell;
use std::time::{Duration, Instant};

pub use mimalloc::MiMalloc;

/// The least time between two collections by one worker.
pub const COLLECT_EVERY: Duration = Duration::from_secs(1);

thread_local! {
    static LAST_COLLECT: Cell<Option<Instant>> = const { Cell::new(None) };
}

/// Hook for `tokio::runtime::Builder::on_thread_park`: gives the calling worker's
/// freed memory back when it is due.
pub fn on_worker_idle() {
    let now = Instant::now();
    let due = LAST_COLLECT.with(|last| {
        let due = is_due(last.get(), now);
        if due {
            last.set(Some(now));
        }
        due
    });
    if due {
        collect_this_thread();
    }
}

fn is_due(last: Option<Instant>, now: Instant) -> bool {
    last.is_none_or(|t| now.saturating_duration_since(t) >= COLLECT_EVERY)
}

/// Frees the calling thread's empty pages, takes in the blocks other threads freed on
/// its pages, and purges what has waited out the purge delay.
#[allow(unsafe_code)]
fn collect_this_thread() {
    // SAFETY: mi_collect has no preconditions: it takes no pointers and works on the
    // calling thread's own heap (initialising it if the thread has none), which is the
    // allocator every Rust allocation of this process goes through.
    unsafe { libmimalloc_sys::mi_collect(false) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[global_allocator]
    static GLOBAL: MiMalloc = MiMalloc;

    #[test]
    fn a_worker_collects_first_then_at_most_once_per_interval() {
        let t0 = Instant::now();
        assert!(is_due(None, t0));
        assert!(!is_due(Some(t0), t0));
        assert!(!is_due(Some(t0), t0 + COLLECT_EVERY / 2));
        assert!(is_due(Some(t0), t0 + COLLECT_EVERY));
        // A clock that seems to go back never makes it due early.
        assert!(!is_due(Some(t0 + COLLECT_EVERY), t0));
    }

    #[test]
    fn collecting_with_memory_freed_by_another_thread_is_sound() {
        // Blocks allocated here and freed elsewhere are what collection takes back.
        let blocks: Vec<Vec<u8>> = (0..10_000).map(|i| vec![0u8; 64 + i % 512]).collect();
        let total: usize = blocks.iter().map(Vec::len).sum();
        let freed = std::thread::spawn(move || {
            let n = blocks.iter().map(Vec::len).sum::<usize>();
            drop(blocks);
            n
        })
        .join()
        .unwrap_or(0);
        assert_eq!(freed, total);
        collect_this_thread();
        // The heap is intact: it allocates and reads back as before.
        let again = vec![7u8; 4096];
        assert!(again.iter().all(|&b| b == 7));
    }
}
