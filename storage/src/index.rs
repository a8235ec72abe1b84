//! Sparse per-segment indexes: `.index` (relative offset -> file position) and
//! `.timeindex` (max timestamp so far -> relative offset).
//!
//! Both are flat arrays of fixed-size little-endian entries with no header. They are
//! hints: the `.log` is the truth, an index can always be rebuilt by scanning it, and a
//! lookup result is only a place to *start* scanning. That is why index writes are never
//! fsynced on the append path and why a failed index write disables the index (lookups
//! then start at the segment's beginning) instead of failing the append.
//!
//! Lookups binary-search the file with positioned reads rather than keeping entries in
//! memory: with one entry per 4 KiB of log, in-memory indexes would cost ~0.5% of the
//! data size in RAM across all segments of all partitions; the page cache does the
//! caching instead. The last entry is kept in memory because tailing consumers always
//! ask for the end.

use std::fs::{File, OpenOptions};
use std::marker::PhantomData;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use crate::error::{Result, StorageError};

pub(crate) trait IndexEntry: Copy + std::fmt::Debug {
    const LEN: usize;
    fn encode(&self, out: &mut [u8]);
    fn decode(b: &[u8]) -> Self;
}

/// `.index` entry: the batch starting at relative offset `rel` begins at byte `pos`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct OffsetEntry {
    pub rel: u32,
    pub pos: u32,
}

impl IndexEntry for OffsetEntry {
    const LEN: usize = 8;
    fn encode(&self, out: &mut [u8]) {
        out[0..4].copy_from_slice(&self.rel.to_le_bytes());
        out[4..8].copy_from_slice(&self.pos.to_le_bytes());
    }
    fn decode(b: &[u8]) -> Self {
        OffsetEntry {
            rel: u32::from_le_bytes([b[0], b[1], b[2], b[3]]),
            pos: u32::from_le_bytes([b[4], b[5], b[6], b[7]]),
        }
    }
}

/// `.timeindex` entry: every batch that starts before relative offset `rel` has a
/// `max_timestamp <= ts`. The last entry of a closed segment has `rel` = the segment's
/// end and `ts` = its largest timestamp.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TimeEntry {
    pub ts: i64,
    pub rel: u32,
}

impl IndexEntry for TimeEntry {
    const LEN: usize = 12;
    fn encode(&self, out: &mut [u8]) {
        out[0..8].copy_from_slice(&self.ts.to_le_bytes());
        out[8..12].copy_from_slice(&self.rel.to_le_bytes());
    }
    fn decode(b: &[u8]) -> Self {
        let mut ts = [0u8; 8];
        ts.copy_from_slice(&b[0..8]);
        TimeEntry {
            ts: i64::from_le_bytes(ts),
            rel: u32::from_le_bytes([b[8], b[9], b[10], b[11]]),
        }
    }
}

#[derive(Debug)]
pub(crate) struct IndexFile<E: IndexEntry> {
    path: PathBuf,
    file: File,
    count: u64,
    first: Option<E>,
    last: Option<E>,
    /// Set after a failed write: the file no longer matches what we think it holds.
    broken: bool,
    _e: PhantomData<E>,
}

impl<E: IndexEntry> IndexFile<E> {
    /// Creates (or empties) the index file.
    pub fn create(path: &Path) -> Result<Self> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(path)
            .map_err(|e| StorageError::io(path, e))?;
        Ok(Self::with(path, file, 0, None, None))
    }

    /// Opens an existing index of a closed segment. `Ok(None)` when the file is missing
    /// or not a whole number of entries: the caller rebuilds it.
    pub fn open(path: &Path) -> Result<Option<Self>> {
        let file = match OpenOptions::new().read(true).write(true).open(path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(StorageError::io(path, e)),
        };
        let len = file
            .metadata()
            .map_err(|e| StorageError::io(path, e))?
            .len();
        if len % E::LEN as u64 != 0 {
            return Ok(None);
        }
        let count = len / E::LEN as u64;
        let mut idx = Self::with(path, file, count, None, None);
        if count > 0 {
            idx.first = Some(idx.get(0)?);
            idx.last = Some(idx.get(count - 1)?);
        }
        Ok(Some(idx))
    }

    fn with(path: &Path, file: File, count: u64, first: Option<E>, last: Option<E>) -> Self {
        IndexFile {
            path: path.to_path_buf(),
            file,
            count,
            first,
            last,
            broken: false,
            _e: PhantomData,
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    #[cfg(test)]
    pub fn count(&self) -> u64 {
        self.count
    }

    pub fn first(&self) -> Option<E> {
        self.first
    }

    pub fn last(&self) -> Option<E> {
        self.last
    }

    pub fn append(&mut self, e: E) {
        if self.broken {
            return;
        }
        let mut buf = [0u8; 16];
        e.encode(&mut buf[..E::LEN]);
        let at = self.count * E::LEN as u64;
        if let Err(err) = self.file.write_all_at(&buf[..E::LEN], at) {
            tracing::warn!(path = %self.path.display(), error = %err,
                "index write failed; lookups in this segment fall back to scanning until the next open rebuilds it");
            self.broken = true;
            return;
        }
        self.count += 1;
        if self.first.is_none() {
            self.first = Some(e);
        }
        self.last = Some(e);
    }

    pub fn get(&self, i: u64) -> Result<E> {
        let mut buf = [0u8; 16];
        let pos = i * E::LEN as u64;
        crate::fsutil::read_exact_at(&self.file, &self.path, &mut buf[..E::LEN], pos)?;
        Ok(E::decode(&buf[..E::LEN]))
    }

    /// The last entry for which `before(entry)` holds, assuming `before` is true for a
    /// prefix of the entries (they are sorted). `None` when no entry qualifies or the
    /// index is broken: the caller scans from the segment's start.
    pub fn find_last(&self, before: impl Fn(&E) -> bool) -> Result<Option<E>> {
        if self.broken {
            return Ok(None);
        }
        match self.last {
            None => return Ok(None),
            Some(l) if before(&l) => return Ok(Some(l)),
            Some(_) => {}
        }
        // Invariant: entries < lo satisfy `before`, entries >= hi do not.
        let (mut lo, mut hi) = (0u64, self.count - 1);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            if before(&self.get(mid)?) {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        if lo == 0 {
            Ok(None)
        } else {
            Ok(Some(self.get(lo - 1)?))
        }
    }

    /// Best effort: a lost index is rebuilt on open, so a failed fsync only disables it.
    pub fn sync(&mut self) {
        if let Err(err) = self.file.sync_data() {
            tracing::warn!(path = %self.path.display(), error = %err, "index fsync failed");
            self.broken = true;
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn find_last_matches_linear_scan() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.index");
        let mut idx = IndexFile::<OffsetEntry>::create(&path).unwrap();
        for i in 0..100u32 {
            idx.append(OffsetEntry {
                rel: i * 10,
                pos: i * 4096,
            });
        }
        let idx = IndexFile::<OffsetEntry>::open(&path).unwrap().unwrap();
        assert_eq!(idx.count(), 100);
        for target in 0..1100u32 {
            let got = idx.find_last(|e| e.rel <= target).unwrap();
            let want = (target / 10).min(99);
            assert_eq!(
                got,
                Some(OffsetEntry {
                    rel: want * 10,
                    pos: want * 4096
                }),
                "target {target}"
            );
        }
        assert_eq!(idx.find_last(|_| false).unwrap(), None);
    }

    #[test]
    fn partial_file_is_rejected() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.timeindex");
        std::fs::write(&path, [0u8; 13]).unwrap();
        assert!(IndexFile::<TimeEntry>::open(&path).unwrap().is_none());
        assert!(
            IndexFile::<TimeEntry>::open(&dir.path().join("missing"))
                .unwrap()
                .is_none()
        );
    }
}
