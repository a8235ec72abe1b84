//! The machine a run measured on, for every report: CPUs, memory, OS.

use serde::Serialize;

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Machine {
    pub cpus: usize,
    /// Total memory in bytes (0 when unknown).
    pub memory: u64,
    pub os: String,
}

impl Machine {
    pub fn this() -> Machine {
        Machine {
            cpus: std::thread::available_parallelism().map_or(1, |n| n.get()),
            memory: std::fs::read_to_string("/proc/meminfo")
                .ok()
                .and_then(|s| mem_total(&s))
                .unwrap_or(0),
            os: os_name(),
        }
    }
}

/// `MemTotal:  16318412 kB` in bytes.
fn mem_total(meminfo: &str) -> Option<u64> {
    let line = meminfo.lines().find(|l| l.starts_with("MemTotal:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

fn os_name() -> String {
    let pretty = std::fs::read_to_string("/etc/os-release")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("PRETTY_NAME="))
                .map(|v| v.trim_matches('"').to_string())
        });
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .ok()
        .map(|s| s.trim().to_string());
    let arch = std::env::consts::ARCH;
    match (pretty, kernel) {
        (Some(p), Some(k)) => format!("{p}, Linux {k}, {arch}"),
        (Some(p), None) => format!("{p}, {arch}"),
        _ => format!("{}, {arch}", std::env::consts::OS),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_meminfo() {
        assert_eq!(
            mem_total("MemFree: 1 kB\nMemTotal:       2048 kB\n"),
            Some(2 * 1024 * 1024)
        );
        assert_eq!(mem_total("nothing"), None);
        assert!(Machine::this().cpus >= 1);
    }
}
