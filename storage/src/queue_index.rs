//! The queue index: per sealed message segment, the body length of each message in it.
//!
//! Recovery needs the count and total body bytes of the live backlog (what
//! `x-max-length-bytes` counts). The count follows from sequence numbers and the
//! removal journal; the bytes would take reading a header of every stored message,
//! which for a deep backlog is reading the whole backlog from disk. So each segment,
//! when it is sealed, gets a small file with its messages' body lengths (4 bytes each,
//! about 1% of the data), and recovery reads those instead.
//!
//! ```text
//! index/{base:020}.qidx:
//!   magic "TQIX" | u8 version 1 | 3 zero bytes | u64 LE base | u32 LE count
//!   | count x u32 LE body length | u32 LE crc32c(everything before)
//! ```
//!
//! The files are hints, like the segment indexes: written with a rename (never torn),
//! not fsynced; one that is missing (a store written before the index existed), does
//! not match its segment or fails its CRC is rebuilt from the segment.

use std::path::{Path, PathBuf};

use crate::error::{Result, StorageError};

const MAGIC: &[u8; 4] = b"TQIX";
const VERSION: u8 = 1;
const HEADER: usize = 4 + 4 + 8 + 4;
pub(crate) const DIR: &str = "index";

pub(crate) fn path(dir: &Path, base: u64) -> PathBuf {
    dir.join(DIR).join(format!("{base:020}.qidx"))
}

/// Writes the index of the segment starting at `base` (atomically: temporary file and
/// rename).
pub(crate) fn write(dir: &Path, base: u64, lengths: &[u32]) -> Result<()> {
    let count = u32::try_from(lengths.len())
        .map_err(|_| StorageError::InvalidArgument("segment holds too many messages".into()))?;
    let mut buf = Vec::with_capacity(HEADER + 4 * lengths.len() + 4);
    buf.extend_from_slice(MAGIC);
    buf.extend_from_slice(&[VERSION, 0, 0, 0]);
    buf.extend_from_slice(&base.to_le_bytes());
    buf.extend_from_slice(&count.to_le_bytes());
    for l in lengths {
        buf.extend_from_slice(&l.to_le_bytes());
    }
    let crc = crc32c::crc32c(&buf);
    buf.extend_from_slice(&crc.to_le_bytes());
    let target = path(dir, base);
    let tmp = target.with_extension("qidx.tmp");
    std::fs::write(&tmp, &buf).map_err(|e| StorageError::io(&tmp, e))?;
    std::fs::rename(&tmp, &target).map_err(|e| StorageError::io(&target, e))
}

/// Why an index could not be used.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Unusable {
    Missing,
    Damaged(String),
}

/// Reads the index of the segment starting at `base`, which must hold `count` messages.
pub(crate) fn read(dir: &Path, base: u64, count: u64) -> std::result::Result<Vec<u32>, Unusable> {
    let p = path(dir, base);
    let data = match std::fs::read(&p) {
        Ok(d) => d,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(Unusable::Missing),
        Err(e) => return Err(Unusable::Damaged(e.to_string())),
    };
    let damaged = |why: &str| Err(Unusable::Damaged(why.to_string()));
    if data.len() < HEADER + 4 {
        return damaged("too short");
    }
    let (body, crc) = data.split_at(data.len() - 4);
    let crc = u32::from_le_bytes([crc[0], crc[1], crc[2], crc[3]]);
    if crc32c::crc32c(body) != crc {
        return damaged("checksum mismatch");
    }
    if &body[..4] != MAGIC || body[4] != VERSION {
        return damaged("not a queue index");
    }
    let mut b = [0u8; 8];
    b.copy_from_slice(&body[8..16]);
    if u64::from_le_bytes(b) != base {
        return damaged("names another segment");
    }
    let n = u32::from_le_bytes([body[16], body[17], body[18], body[19]]);
    if u64::from(n) != count || body.len() != HEADER + 4 * n as usize {
        return damaged("message count does not match the segment");
    }
    Ok(body[HEADER..]
        .chunks_exact(4)
        .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect())
}

/// Deletes the index of a segment that is gone (quietly: a leftover only costs space).
pub(crate) fn remove(dir: &Path, base: u64) {
    let p = path(dir, base);
    if let Err(e) = std::fs::remove_file(&p)
        && e.kind() != std::io::ErrorKind::NotFound
    {
        tracing::warn!(path = %p.display(), error = %e, "cannot remove a queue index file");
    }
}

/// The bases of the index files present (leftover temporaries are removed).
pub(crate) fn list(dir: &Path) -> Result<Vec<u64>> {
    let d = dir.join(DIR);
    let entries = match std::fs::read_dir(&d) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(StorageError::io(&d, e)),
    };
    let mut out = Vec::new();
    for e in entries {
        let e = e.map_err(|e| StorageError::io(&d, e))?;
        let name = e.file_name();
        let Some(name) = name.to_str() else { continue };
        if name.ends_with(".tmp") {
            let _ = std::fs::remove_file(e.path());
        } else if let Some(stem) = name.strip_suffix(".qidx")
            && let Ok(base) = stem.parse::<u64>()
        {
            out.push(base);
        }
    }
    out.sort_unstable();
    Ok(out)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_every_damage_is_caught() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join(DIR)).unwrap();
        let lengths = vec![3, 0, 70_000, 12];
        write(dir.path(), 40, &lengths).unwrap();
        assert_eq!(read(dir.path(), 40, 4).unwrap(), lengths);
        assert!(matches!(read(dir.path(), 40, 5), Err(Unusable::Damaged(_))));
        assert_eq!(read(dir.path(), 44, 4), Err(Unusable::Missing));
        let p = path(dir.path(), 40);
        let good = std::fs::read(&p).unwrap();
        for i in 0..good.len() {
            let mut bad = good.clone();
            bad[i] ^= 0x10;
            std::fs::write(&p, &bad).unwrap();
            assert!(
                read(dir.path(), 40, 4).is_err(),
                "flip at {i} went unnoticed"
            );
        }
        std::fs::write(&p, &good[..good.len() - 1]).unwrap();
        assert!(read(dir.path(), 40, 4).is_err());
        assert_eq!(list(dir.path()).unwrap(), vec![40]);
    }
}
