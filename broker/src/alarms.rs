//! The resource monitor: measures the broker's memory and the free disk under the data
//! directory, compares them with the watermarks and records the result in the engine
//! (`trident_engine::ResourceAlarms`), which the adapters obey.

use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio::sync::watch;
use trident_config::AlarmSettings;
use trident_engine::{DiskWatermark, Engine, MemoryWatermark};

/// The memory the broker may use: the machine's RAM, or the container's cgroup limit
/// when that is lower (cgroup v2 `memory.max`, v1 `memory.limit_in_bytes`).
pub fn available_memory() -> Option<u64> {
    let ram = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|s| kib_field(&s, "MemTotal:"));
    let cgroup = [
        "/sys/fs/cgroup/memory.max",
        "/sys/fs/cgroup/memory/memory.limit_in_bytes",
    ]
    .iter()
    .filter_map(|p| std::fs::read_to_string(p).ok())
    // "max" (v2) or a huge number (v1) mean no limit.
    .filter_map(|s| s.trim().parse::<u64>().ok())
    .find(|&v| v < (1 << 60));
    match (ram, cgroup) {
        (Some(r), Some(c)) => Some(r.min(c)),
        (r, c) => r.or(c),
    }
}

/// The broker's resident memory (VmRSS), what the operating system counts against it.
fn resident_memory() -> Option<u64> {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| kib_field(&s, "VmRSS:"))
}

/// A `Name:   123 kB` line of /proc, in bytes.
fn kib_field(text: &str, name: &str) -> Option<u64> {
    let line = text.lines().find(|l| l.starts_with(name))?;
    let kib: u64 = line[name.len()..].split_whitespace().next()?.parse().ok()?;
    Some(kib.saturating_mul(1024))
}

/// Free space for an unprivileged writer on the file system holding `dir`.
// The statvfs field types differ between platforms (u64 here, u32 on some).
#[allow(clippy::useless_conversion)]
fn disk_free(dir: &Path) -> Option<u64> {
    let s = nix::sys::statvfs::statvfs(dir).ok()?;
    Some(u64::from(s.blocks_available()).saturating_mul(u64::from(s.fragment_size())))
}

/// The watermarks the settings give (the management API may change them later).
pub fn watermarks(s: &AlarmSettings) -> (MemoryWatermark, DiskWatermark) {
    let memory = match s.memory_high_watermark_bytes {
        Some(b) => MemoryWatermark::Absolute(b),
        None => MemoryWatermark::Relative(s.memory_fraction()),
    };
    (memory, DiskWatermark::Absolute(s.disk_free_limit_bytes))
}

/// Measures until shutdown.
pub async fn monitor(
    engine: Engine,
    settings: AlarmSettings,
    data_dir: PathBuf,
    mut shutdown: watch::Receiver<bool>,
) {
    let (memory, disk) = watermarks(&settings);
    let total = available_memory();
    if let Err(e) = engine.alarms().configure(total, memory, disk) {
        // Only a relative watermark on a machine whose memory is unknown: the memory
        // alarm stays off rather than guessing.
        tracing::warn!(error = %e, "memory alarm off");
        let _ = engine
            .alarms()
            .configure(total, MemoryWatermark::Absolute(0), disk);
    }
    let status = engine.alarms().status();
    tracing::info!(
        mem_total = status.mem_total,
        memory_watermark = ?status.mem_watermark,
        disk_free_limit = ?status.disk_watermark,
        "resource alarms armed"
    );
    let mut tick = tokio::time::interval(Duration::from_millis(settings.check_interval_ms));
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            r = shutdown.changed() => if r.is_err() || *shutdown.borrow() {
                break;
            },
        }
        // Unmeasurable (no /proc, say): that alarm stays clear (the engine's rule).
        engine
            .alarms()
            .measure(resident_memory(), disk_free(&data_dir));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proc_fields_are_read_in_bytes() {
        let s = "MemTotal:       16318416 kB\nMemFree: 1 kB\n";
        assert_eq!(kib_field(s, "MemTotal:"), Some(16_318_416 * 1024));
        assert_eq!(kib_field(s, "Nope:"), None);
    }

    #[test]
    fn this_machine_is_measurable() {
        assert!(available_memory().is_some_and(|m| m > 0));
        assert!(resident_memory().is_some_and(|m| m > 0));
        assert!(disk_free(Path::new(".")).is_some());
    }
}
