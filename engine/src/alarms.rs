//! Resource alarms: what the broker's monitor measured and whether a watermark is
//! crossed. The monitor (in the broker binary) writes here; adapters subscribe and
//! hold publishers back while an alarm is raised; /metrics and the management API
//! read the figures. Nothing here knows a protocol.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use tokio::sync::watch;

/// One measurement and the limits it was compared against.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AlarmStatus {
    pub mem_used: u64,
    pub mem_limit: u64,
    pub disk_free: u64,
    pub disk_free_limit: u64,
    pub mem_alarm: bool,
    pub disk_free_alarm: bool,
}

#[derive(Debug)]
pub struct ResourceAlarms {
    /// `Some(reason)` while any alarm is raised (what AMQP's connection.blocked says).
    tx: watch::Sender<Option<String>>,
    mem_used: AtomicU64,
    mem_limit: AtomicU64,
    disk_free: AtomicU64,
    disk_free_limit: AtomicU64,
    mem_alarm: AtomicBool,
    disk_free_alarm: AtomicBool,
}

impl Default for ResourceAlarms {
    fn default() -> Self {
        Self {
            tx: watch::channel(None).0,
            mem_used: AtomicU64::new(0),
            mem_limit: AtomicU64::new(0),
            disk_free: AtomicU64::new(0),
            disk_free_limit: AtomicU64::new(0),
            mem_alarm: AtomicBool::new(false),
            disk_free_alarm: AtomicBool::new(false),
        }
    }
}

impl ResourceAlarms {
    /// Follows the alarm: `Some(reason)` while publishers must wait.
    pub fn subscribe(&self) -> watch::Receiver<Option<String>> {
        self.tx.subscribe()
    }

    /// Records a measurement; raises or clears the alarms (a limit of 0 means that
    /// alarm is off) and tells subscribers when the reason changes.
    pub fn record(&self, mem_used: u64, mem_limit: u64, disk_free: u64, disk_free_limit: u64) {
        let mem = mem_limit > 0 && mem_used >= mem_limit;
        let disk = disk_free_limit > 0 && disk_free < disk_free_limit;
        self.mem_used.store(mem_used, Ordering::Relaxed);
        self.mem_limit.store(mem_limit, Ordering::Relaxed);
        self.disk_free.store(disk_free, Ordering::Relaxed);
        self.disk_free_limit
            .store(disk_free_limit, Ordering::Relaxed);
        let was_mem = self.mem_alarm.swap(mem, Ordering::Relaxed);
        let was_disk = self.disk_free_alarm.swap(disk, Ordering::Relaxed);
        if was_mem != mem {
            tracing::warn!(mem_used, mem_limit, raised = mem, "memory alarm");
        }
        if was_disk != disk {
            tracing::warn!(disk_free, disk_free_limit, raised = disk, "disk free alarm");
        }
        // RabbitMQ's wording, which clients show to users.
        let reason = match (mem, disk) {
            (false, false) => None,
            (true, false) => Some("low on memory".to_string()),
            (false, true) => Some("low on disk".to_string()),
            (true, true) => Some("low on memory and disk".to_string()),
        };
        self.tx.send_if_modified(|r| {
            if *r == reason {
                false
            } else {
                *r = reason;
                true
            }
        });
    }

    pub fn status(&self) -> AlarmStatus {
        AlarmStatus {
            mem_used: self.mem_used.load(Ordering::Relaxed),
            mem_limit: self.mem_limit.load(Ordering::Relaxed),
            disk_free: self.disk_free.load(Ordering::Relaxed),
            disk_free_limit: self.disk_free_limit.load(Ordering::Relaxed),
            mem_alarm: self.mem_alarm.load(Ordering::Relaxed),
            disk_free_alarm: self.disk_free_alarm.load(Ordering::Relaxed),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn alarms_raise_and_clear_with_the_reason_subscribers_see() {
        let a = ResourceAlarms::default();
        let mut rx = a.subscribe();
        a.record(10, 100, 1000, 50);
        assert!(!rx.has_changed().unwrap());
        a.record(100, 100, 1000, 50);
        assert!(rx.has_changed().unwrap());
        assert_eq!(rx.borrow_and_update().as_deref(), Some("low on memory"));
        a.record(10, 100, 10, 50);
        assert_eq!(rx.borrow_and_update().as_deref(), Some("low on disk"));
        assert!(a.status().disk_free_alarm && !a.status().mem_alarm);
        // A limit of 0 switches that alarm off.
        a.record(10, 0, 10, 0);
        assert_eq!(*rx.borrow_and_update(), None);
    }
}
