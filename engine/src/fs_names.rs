//! Directory names for queues and partitions. Names may hold any UTF-8 (queues) and
//! be up to 255 bytes, which would not survive as file names on every file system, so
//! the directory is a readable, sanitised prefix plus a stable hash of the full name.

/// FNV-1a, chosen because it is stable across Rust releases (std's hasher is not
/// promised to be) and the directory name must not change between versions.
pub(crate) fn stable_hash(parts: &[&str]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for part in parts {
        for b in part.bytes().chain(std::iter::once(0)) {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    }
    h
}

pub(crate) fn dir_name(parts: &[&str]) -> String {
    let readable: String = parts
        .last()
        .copied()
        .unwrap_or_default()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.' {
                c
            } else {
                '_'
            }
        })
        .take(48)
        .collect();
    format!("{readable}-{:016x}", stable_hash(parts))
}

#[cfg(test)]
mod tests {
    use super::dir_name;

    #[test]
    fn distinct_and_safe() {
        let a = dir_name(&["/", "orders"]);
        let b = dir_name(&["other", "orders"]);
        assert_ne!(a, b);
        assert!(a.starts_with("orders-"));
        let weird = dir_name(&["/", "../../etc/passwd"]);
        assert!(!weird.contains('/'));
    }
}
