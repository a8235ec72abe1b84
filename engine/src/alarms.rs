//! Resource alarms: what the broker's monitor measured, the watermarks it is compared
//! against, and whether one is crossed. The monitor (in the broker binary) writes the
//! measurements here; operators change the watermarks at run time through the
//! management API (RabbitMQ's `rabbitmqctl set_vm_memory_high_watermark` /
//! `set_disk_free_limit`); adapters subscribe and hold publishers back while an alarm
//! is raised; /metrics and the management API read the figures. Nothing here knows a
//! protocol.

use std::sync::Mutex;

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
    /// The memory the relative watermark is a fraction of (0 = unknown).
    pub mem_total: u64,
    /// The memory watermark as set (a fraction of `mem_total`, or bytes).
    pub mem_watermark: MemoryWatermark,
    /// The disk limit as set (bytes, or a multiple of `mem_total`).
    pub disk_watermark: DiskWatermark,
}

/// RabbitMQ's `vm_memory_high_watermark.relative` / `.absolute`. Zero in either form
/// switches the memory alarm off (RabbitMQ instead blocks every publisher at 0; we keep
/// the meaning the `alarms.memory_high_watermark` setting already has).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum MemoryWatermark {
    Relative(f64),
    Absolute(u64),
}

impl Default for MemoryWatermark {
    fn default() -> Self {
        MemoryWatermark::Relative(0.0)
    }
}

// Fractions are validated finite, so equality is total in practice.
impl Eq for MemoryWatermark {}

/// RabbitMQ's `disk_free_limit.absolute` / `.relative` (a multiple of the memory).
/// Zero switches the disk alarm off.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum DiskWatermark {
    Absolute(u64),
    MemRelative(f64),
}

impl Default for DiskWatermark {
    fn default() -> Self {
        DiskWatermark::Absolute(0)
    }
}

impl Eq for DiskWatermark {}

/// A watermark an operator gave that cannot be used.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum WatermarkError {
    #[error("a relative memory watermark must be a fraction between 0 and 1, got {0}")]
    BadFraction(f64),
    #[error("a memory-relative disk limit must be a finite number >= 0, got {0}")]
    BadMultiple(f64),
    #[error("the machine's memory is unknown, so a relative watermark cannot be used; give bytes")]
    NoMemoryTotal,
}

#[derive(Debug, Default)]
struct State {
    mem_watermark: MemoryWatermark,
    disk_watermark: DiskWatermark,
    mem_total: Option<u64>,
    /// The last measurements; `None` = not measurable (or not measured yet), in which
    /// case that alarm stays clear rather than blocking every publisher on a guess.
    mem_used: Option<u64>,
    disk_free: Option<u64>,
    mem_alarm: bool,
    disk_free_alarm: bool,
}

impl State {
    fn mem_limit(&self) -> u64 {
        match self.mem_watermark {
            MemoryWatermark::Absolute(b) => b,
            MemoryWatermark::Relative(f) => {
                self.mem_total.map(|t| (t as f64 * f) as u64).unwrap_or(0)
            }
        }
    }

    fn disk_free_limit(&self) -> u64 {
        match self.disk_watermark {
            DiskWatermark::Absolute(b) => b,
            DiskWatermark::MemRelative(m) => {
                self.mem_total.map(|t| (t as f64 * m) as u64).unwrap_or(0)
            }
        }
    }
}

#[derive(Debug)]
pub struct ResourceAlarms {
    /// `Some(reason)` while any alarm is raised (what AMQP's connection.blocked says).
    tx: watch::Sender<Option<String>>,
    state: Mutex<State>,
}

impl Default for ResourceAlarms {
    fn default() -> Self {
        Self {
            tx: watch::channel(None).0,
            state: Mutex::new(State::default()),
        }
    }
}

impl ResourceAlarms {
    /// Follows the alarm: `Some(reason)` while publishers must wait.
    pub fn subscribe(&self) -> watch::Receiver<Option<String>> {
        self.tx.subscribe()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // The state is plain numbers, valid after any panic mid-update.
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The watermarks at start (from the settings) and the memory a relative watermark
    /// is a fraction of.
    pub fn configure(
        &self,
        mem_total: Option<u64>,
        memory: MemoryWatermark,
        disk: DiskWatermark,
    ) -> Result<(), WatermarkError> {
        check_memory(memory, mem_total)?;
        check_disk(disk, mem_total)?;
        let mut s = self.lock();
        s.mem_total = mem_total;
        s.mem_watermark = memory;
        s.disk_watermark = disk;
        self.evaluate(&mut s);
        Ok(())
    }

    /// Changes the memory watermark and re-evaluates the alarm at once against the last
    /// measurement.
    pub fn set_memory_watermark(&self, w: MemoryWatermark) -> Result<(), WatermarkError> {
        let mut s = self.lock();
        check_memory(w, s.mem_total)?;
        tracing::info!(watermark = ?w, "memory high watermark set");
        s.mem_watermark = w;
        self.evaluate(&mut s);
        Ok(())
    }

    /// Changes the free-disk limit and re-evaluates the alarm at once.
    pub fn set_disk_watermark(&self, w: DiskWatermark) -> Result<(), WatermarkError> {
        let mut s = self.lock();
        check_disk(w, s.mem_total)?;
        tracing::info!(limit = ?w, "disk free limit set");
        s.disk_watermark = w;
        self.evaluate(&mut s);
        Ok(())
    }

    /// Records a measurement (`None`: that resource could not be measured) and raises
    /// or clears the alarms.
    pub fn measure(&self, mem_used: Option<u64>, disk_free: Option<u64>) {
        let mut s = self.lock();
        s.mem_used = mem_used;
        s.disk_free = disk_free;
        self.evaluate(&mut s);
    }

    /// Compares the last measurement with the limits (a limit of 0 means that alarm is
    /// off) and tells subscribers when the reason changes.
    fn evaluate(&self, s: &mut State) {
        let (mem_limit, disk_limit) = (s.mem_limit(), s.disk_free_limit());
        let mem = mem_limit > 0 && s.mem_used.is_some_and(|u| u >= mem_limit);
        let disk = disk_limit > 0 && s.disk_free.is_some_and(|f| f < disk_limit);
        if s.mem_alarm != mem {
            tracing::warn!(mem_used = ?s.mem_used, mem_limit, raised = mem, "memory alarm");
        }
        if s.disk_free_alarm != disk {
            tracing::warn!(disk_free = ?s.disk_free, disk_limit, raised = disk, "disk free alarm");
        }
        s.mem_alarm = mem;
        s.disk_free_alarm = disk;
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
        let s = self.lock();
        AlarmStatus {
            mem_used: s.mem_used.unwrap_or(0),
            mem_limit: if s.mem_used.is_some() {
                s.mem_limit()
            } else {
                0
            },
            disk_free: s.disk_free.unwrap_or(u64::MAX),
            disk_free_limit: if s.disk_free.is_some() {
                s.disk_free_limit()
            } else {
                0
            },
            mem_alarm: s.mem_alarm,
            disk_free_alarm: s.disk_free_alarm,
            mem_total: s.mem_total.unwrap_or(0),
            mem_watermark: s.mem_watermark,
            disk_watermark: s.disk_watermark,
        }
    }
}

fn check_memory(w: MemoryWatermark, total: Option<u64>) -> Result<(), WatermarkError> {
    match w {
        MemoryWatermark::Relative(f) if !(0.0..=1.0).contains(&f) => {
            Err(WatermarkError::BadFraction(f))
        }
        MemoryWatermark::Relative(f) if f > 0.0 && total.is_none() => {
            Err(WatermarkError::NoMemoryTotal)
        }
        _ => Ok(()),
    }
}

fn check_disk(w: DiskWatermark, total: Option<u64>) -> Result<(), WatermarkError> {
    match w {
        DiskWatermark::MemRelative(m) if !m.is_finite() || m < 0.0 => {
            Err(WatermarkError::BadMultiple(m))
        }
        DiskWatermark::MemRelative(m) if m > 0.0 && total.is_none() => {
            Err(WatermarkError::NoMemoryTotal)
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn alarms(mem_limit: u64, disk_limit: u64) -> ResourceAlarms {
        let a = ResourceAlarms::default();
        a.configure(
            Some(1000),
            MemoryWatermark::Absolute(mem_limit),
            DiskWatermark::Absolute(disk_limit),
        )
        .unwrap();
        a
    }

    #[test]
    fn alarms_raise_and_clear_with_the_reason_subscribers_see() {
        let a = alarms(100, 50);
        let mut rx = a.subscribe();
        a.measure(Some(10), Some(1000));
        assert!(!rx.has_changed().unwrap());
        a.measure(Some(100), Some(1000));
        assert!(rx.has_changed().unwrap());
        assert_eq!(rx.borrow_and_update().as_deref(), Some("low on memory"));
        a.measure(Some(10), Some(10));
        assert_eq!(rx.borrow_and_update().as_deref(), Some("low on disk"));
        assert!(a.status().disk_free_alarm && !a.status().mem_alarm);
        // A limit of 0 switches that alarm off, at once.
        a.set_disk_watermark(DiskWatermark::Absolute(0)).unwrap();
        assert_eq!(*rx.borrow_and_update(), None);
    }

    #[test]
    fn a_new_watermark_takes_effect_without_a_new_measurement() {
        let a = alarms(0, 0);
        let mut rx = a.subscribe();
        a.measure(Some(300), Some(500));
        assert_eq!(*rx.borrow_and_update(), None);
        // 0.25 of 1000 = 250 < 300 used.
        a.set_memory_watermark(MemoryWatermark::Relative(0.25))
            .unwrap();
        assert_eq!(rx.borrow_and_update().as_deref(), Some("low on memory"));
        assert_eq!(a.status().mem_limit, 250);
        a.set_memory_watermark(MemoryWatermark::Absolute(301))
            .unwrap();
        assert_eq!(*rx.borrow_and_update(), None);
        // 0.6 x 1000 = 600 > 500 free.
        a.set_disk_watermark(DiskWatermark::MemRelative(0.6))
            .unwrap();
        assert_eq!(rx.borrow_and_update().as_deref(), Some("low on disk"));
        assert_eq!(a.status().disk_free_limit, 600);
    }

    #[test]
    fn unusable_watermarks_are_refused_and_change_nothing() {
        let a = alarms(100, 50);
        for bad in [1.5, -0.1, f64::NAN] {
            assert!(
                a.set_memory_watermark(MemoryWatermark::Relative(bad))
                    .is_err()
            );
        }
        assert!(
            a.set_disk_watermark(DiskWatermark::MemRelative(-1.0))
                .is_err()
        );
        assert_eq!(a.status().mem_watermark, MemoryWatermark::Absolute(100));
        let unknown = ResourceAlarms::default();
        assert_eq!(
            unknown.set_memory_watermark(MemoryWatermark::Relative(0.4)),
            Err(WatermarkError::NoMemoryTotal)
        );
    }

    #[test]
    fn an_unmeasured_resource_raises_nothing() {
        let a = alarms(1, 1_000_000);
        a.measure(None, None);
        let s = a.status();
        assert!(!s.mem_alarm && !s.disk_free_alarm);
        assert_eq!((s.mem_limit, s.disk_free_limit), (0, 0));
    }
}
