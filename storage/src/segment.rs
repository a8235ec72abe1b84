//! One segment of a log: `{base:020}.log` plus its `.index` and `.timeindex`.
//!
//! A segment is append-only while it is the active (last) one and immutable once the log
//! rolls past it. Rolling *seals* it: a final time-index entry records its largest
//! timestamp, and the log and both indexes are fsynced. Hence every closed segment is
//! complete and durable, and crash recovery only ever has to scan the active one.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use bytes::Bytes;
use trident_core::Offset;

use crate::entry::{EntryHeader, HEADER_LEN};
use crate::error::{Result, StorageError};
use crate::fsutil::read_exact_at;
use crate::index::{IndexFile, OffsetEntry, TimeEntry};

/// A stored batch with its raw encoding tag (the queue store uses a tag of its own).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct RawBatch {
    pub base_offset: Offset,
    pub record_count: u32,
    pub max_timestamp: i64,
    pub encoding: u8,
    pub bytes: Bytes,
}

pub(crate) fn file_name(base: Offset, ext: &str) -> String {
    format!("{base:020}.{ext}")
}

/// Reads at least this much per positioned read when walking entries, so that small
/// batches cost one syscall per chunk rather than one per batch.
const MIN_CHUNK: usize = 64 * 1024;
/// Upper bound of one read's buffer (a single larger entry is still read whole).
const MAX_CHUNK: usize = 8 * 1024 * 1024;
/// Piece size when checksumming an entry too large to buffer during recovery.
const CRC_PIECE: usize = 1024 * 1024;

#[derive(Debug)]
pub(crate) struct Segment {
    pub base: Offset,
    log_path: PathBuf,
    log: File,
    t: Tracker,
    /// Written since the last fsync.
    dirty: bool,
    /// A failed write could not be undone: the file holds bytes we do not account for.
    pub poisoned: bool,
}

/// What the segment knows about its contents, kept apart from the file handle so a
/// scan can read the file while updating it.
#[derive(Debug)]
struct Tracker {
    base: Offset,
    index: IndexFile<OffsetEntry>,
    time_index: IndexFile<TimeEntry>,
    /// Bytes of valid entries; reads never look past it even if the file is longer.
    size: u64,
    max_timestamp: Option<i64>,
    /// `max_timestamp` of the first batch: time-based rolling compares against it.
    first_timestamp: Option<i64>,
    bytes_since_index: u64,
}

impl Tracker {
    /// Bookkeeping for an entry written at `pos` (on append and while rebuilding).
    fn track(&mut self, pos: u64, h: &EntryHeader, interval: u64) {
        if self.bytes_since_index >= interval
            && let (Ok(rel), Ok(p)) = (u32::try_from(h.base_offset - self.base), u32::try_from(pos))
        {
            self.index.append(OffsetEntry { rel, pos: p });
            // The time entry says "everything before this batch has max_timestamp <= ts",
            // so it is taken before this batch's timestamp is folded in.
            if let Some(ts) = self.max_timestamp
                && self.time_index.last().is_none_or(|l| ts > l.ts)
            {
                self.time_index.append(TimeEntry { ts, rel });
            }
            self.bytes_since_index = 0;
        }
        self.bytes_since_index += h.entry_len();
        self.max_timestamp = Some(
            self.max_timestamp
                .map_or(h.max_timestamp, |m| m.max(h.max_timestamp)),
        );
        if self.first_timestamp.is_none() {
            self.first_timestamp = Some(h.max_timestamp);
        }
        self.size = pos + h.entry_len();
    }
}

impl Segment {
    fn open_log(dir: &Path, base: Offset, create: bool) -> Result<(PathBuf, File)> {
        let log_path = dir.join(file_name(base, "log"));
        let log = OpenOptions::new()
            .read(true)
            .write(true)
            .create(create)
            .truncate(false)
            .open(&log_path)
            .map_err(|e| StorageError::io(&log_path, e))?;
        Ok((log_path, log))
    }

    fn assemble(
        base: Offset,
        log_path: PathBuf,
        log: File,
        index: IndexFile<OffsetEntry>,
        time_index: IndexFile<TimeEntry>,
    ) -> Self {
        Segment {
            base,
            log_path,
            log,
            t: Tracker {
                base,
                index,
                time_index,
                size: 0,
                max_timestamp: None,
                first_timestamp: None,
                bytes_since_index: 0,
            },
            dirty: false,
            poisoned: false,
        }
    }

    /// Creates a new, empty segment (its files are truncated if they exist).
    pub fn create(dir: &Path, base: Offset) -> Result<Self> {
        let (log_path, log) = Self::open_log(dir, base, true)?;
        log.set_len(0).map_err(|e| StorageError::io(&log_path, e))?;
        let index = IndexFile::create(&dir.join(file_name(base, "index")))?;
        let time_index = IndexFile::create(&dir.join(file_name(base, "timeindex")))?;
        Ok(Self::assemble(base, log_path, log, index, time_index))
    }

    /// Opens a sealed segment. Its indexes are trusted after a structural check; if the
    /// check fails they are rebuilt by scanning (and then a corrupt entry is an error,
    /// since a closed segment cannot simply be cut short without leaving a gap).
    pub fn open_closed(dir: &Path, base: Offset, index_interval: u64) -> Result<Self> {
        let (log_path, log) = Self::open_log(dir, base, false)?;
        let size = log
            .metadata()
            .map_err(|e| StorageError::io(&log_path, e))?
            .len();
        let index = IndexFile::<OffsetEntry>::open(&dir.join(file_name(base, "index")))?;
        let time_index = IndexFile::<TimeEntry>::open(&dir.join(file_name(base, "timeindex")))?;
        if let (Some(index), Some(time_index)) = (index, time_index)
            && indexes_plausible(&index, &time_index, size)
        {
            let mut seg = Self::assemble(base, log_path, log, index, time_index);
            seg.t.size = size;
            seg.t.max_timestamp = seg.t.time_index.last().map(|e| e.ts);
            return Ok(seg);
        }
        tracing::warn!(segment = %log_path.display(), "rebuilding indexes of closed segment");
        let index = IndexFile::create(&dir.join(file_name(base, "index")))?;
        let time_index = IndexFile::create(&dir.join(file_name(base, "timeindex")))?;
        let mut seg = Self::assemble(base, log_path, log, index, time_index);
        let (end, next, damage) = seg.scan_and_index(size, index_interval)?;
        if let Some((pos, reason)) = damage {
            return Err(StorageError::corrupt(&seg.log_path, pos, reason));
        }
        if end != size {
            return Err(StorageError::corrupt(&seg.log_path, end, "trailing bytes"));
        }
        seg.seal(next)?;
        Ok(seg)
    }

    /// Opens (or creates) the active segment, validating every entry and cutting off a
    /// torn or corrupt tail. Its indexes are always rebuilt. Returns the segment and the
    /// offset after its last valid batch.
    pub fn recover_active(dir: &Path, base: Offset, index_interval: u64) -> Result<(Self, Offset)> {
        let (log_path, log) = Self::open_log(dir, base, true)?;
        let file_len = log
            .metadata()
            .map_err(|e| StorageError::io(&log_path, e))?
            .len();
        let index = IndexFile::create(&dir.join(file_name(base, "index")))?;
        let time_index = IndexFile::create(&dir.join(file_name(base, "timeindex")))?;
        let mut seg = Self::assemble(base, log_path, log, index, time_index);
        let (end, next, damage) = seg.scan_and_index(file_len, index_interval)?;
        if end < file_len {
            let reason = damage.map_or_else(|| "trailing bytes".to_string(), |(_, r)| r);
            tracing::warn!(segment = %seg.log_path.display(), valid_bytes = end, file_bytes = file_len,
                next_offset = next, %reason, "truncating torn or corrupt tail of the active segment");
            seg.log
                .set_len(end)
                .map_err(|e| StorageError::io(&seg.log_path, e))?;
            // Make the cut durable before anything new is appended after it, so a power
            // loss cannot bring the old garbage back behind new data.
            seg.log
                .sync_data()
                .map_err(|e| StorageError::io(&seg.log_path, e))?;
        }
        Ok((seg, next))
    }

    /// Walks entries from the start, checking framing, offsets and CRCs, and indexes each
    /// valid one. Returns (valid end, next offset, first damage). I/O errors propagate;
    /// bad data only stops the walk.
    fn scan_and_index(&mut self, file_len: u64, interval: u64) -> Result<ScanOutcome> {
        let mut cur = Cursor::new(
            &self.log,
            &self.log_path,
            0,
            file_len,
            CRC_PIECE,
            Some(self.base),
        );
        let mut damage = None;
        let mut valid_next = self.base;
        loop {
            let (pos, h) = match cur.next() {
                Ok(Some(x)) => x,
                Ok(None) => break,
                Err(StorageError::Corrupt {
                    position, reason, ..
                }) => {
                    damage = Some((position, reason));
                    break;
                }
                Err(e) => return Err(e),
            };
            if !cur.verify_crc(pos, &h)? {
                damage = Some((pos, "checksum mismatch".to_string()));
                break;
            }
            self.t.track(pos, &h, interval);
            valid_next = h.next_offset();
        }
        Ok((self.t.size, valid_next, damage))
    }

    pub fn size(&self) -> u64 {
        self.t.size
    }

    pub fn max_timestamp(&self) -> Option<i64> {
        self.t.max_timestamp
    }

    pub fn first_timestamp(&self) -> Option<i64> {
        self.t.first_timestamp
    }

    /// Appends one entry with a single `pwrite`. On failure the file is cut back to its
    /// previous length so a partial entry never sits in front of later ones.
    pub fn append(
        &mut self,
        h: &EntryHeader,
        payload: &[u8],
        scratch: &mut Vec<u8>,
        interval: u64,
    ) -> Result<()> {
        scratch.clear();
        scratch.extend_from_slice(&h.encode());
        scratch.extend_from_slice(payload);
        let pos = self.t.size;
        if let Err(e) = self.log.write_all_at(scratch, pos) {
            if let Err(e2) = self.log.set_len(pos) {
                tracing::error!(segment = %self.log_path.display(), error = %e2,
                    "cannot remove a partially written entry; the log needs a reopen");
                self.poisoned = true;
            }
            return Err(StorageError::io(&self.log_path, e));
        }
        self.dirty = true;
        self.t.track(pos, h, interval);
        Ok(())
    }

    /// Appends several entries, already encoded back to back in `buf` (each at the
    /// relative position given with its header), with a single `pwrite`: one system
    /// call for a whole batch of small messages. All or nothing, like [`Self::append`].
    pub fn append_encoded(
        &mut self,
        buf: &[u8],
        entries: &[(u64, EntryHeader)],
        interval: u64,
    ) -> Result<()> {
        let pos = self.t.size;
        if let Err(e) = self.log.write_all_at(buf, pos) {
            if let Err(e2) = self.log.set_len(pos) {
                tracing::error!(segment = %self.log_path.display(), error = %e2,
                    "cannot remove partially written entries; the log needs a reopen");
                self.poisoned = true;
            }
            return Err(StorageError::io(&self.log_path, e));
        }
        self.dirty = true;
        for (rel, h) in entries {
            self.t.track(pos + rel, h, interval);
        }
        Ok(())
    }

    /// fdatasync of the `.log` if anything was written since the last one.
    pub fn sync(&mut self) -> Result<()> {
        if self.dirty {
            if let Err(e) = self.log.sync_data() {
                self.poisoned = true;
                return Err(StorageError::io(&self.log_path, e));
            }
            self.dirty = false;
        }
        Ok(())
    }

    /// Closes the segment for appends: final time-index entry, then fsync of everything.
    pub fn seal(&mut self, end: Offset) -> Result<()> {
        if let (Some(ts), Ok(rel)) = (self.t.max_timestamp, u32::try_from(end - self.base))
            && self.t.time_index.last().is_none_or(|l| ts > l.ts)
        {
            self.t.time_index.append(TimeEntry { ts, rel });
        }
        self.dirty = true;
        self.sync()?;
        self.t.index.sync();
        self.t.time_index.sync();
        Ok(())
    }

    /// Removes the segment's files. The `.log` goes first: it is what makes a segment
    /// exist on open, and leftover index files are cleaned up there.
    pub fn delete(self) -> Result<()> {
        std::fs::remove_file(&self.log_path).map_err(|e| StorageError::io(&self.log_path, e))?;
        for p in [self.t.index.path(), self.t.time_index.path()] {
            match std::fs::remove_file(p) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(StorageError::io(p, e)),
            }
        }
        Ok(())
    }

    /// Position of the indexed batch at or before `offset` (0 when none is indexed).
    fn start_position(&self, offset: Offset) -> Result<u64> {
        let hint = self
            .t
            .index
            .find_last(|e| self.base + u64::from(e.rel) <= offset)?;
        Ok(hint.map_or(0, |e| u64::from(e.pos)))
    }

    fn cursor(&self, pos: u64, chunk: usize) -> Cursor<'_> {
        Cursor::new(&self.log, &self.log_path, pos, self.t.size, chunk, None)
    }

    /// Visits batch headers from the one containing `from` onwards, starting at the
    /// index hint. If the hint does not land on a plausible entry (the index is only a
    /// hint), the walk restarts at the segment's start. `f` returns false to stop.
    fn walk(
        &self,
        from: Offset,
        chunk: usize,
        mut f: impl FnMut(&mut Cursor<'_>, u64, &EntryHeader) -> Result<bool>,
    ) -> Result<bool> {
        let start = self.start_position(from)?;
        let mut cur = self.cursor(start, chunk);
        let mut first = true;
        loop {
            let step = cur.next();
            if first && start != 0 {
                first = false;
                let bad = match &step {
                    Err(StorageError::Corrupt { .. }) => true,
                    Ok(Some((_, h))) => h.base_offset > from,
                    _ => false,
                };
                if bad {
                    tracing::warn!(segment = %self.log_path.display(), "index hint is wrong; scanning from the segment start");
                    return self.walk_from_zero(from, chunk, f);
                }
            }
            let Some((pos, h)) = step? else {
                return Ok(false);
            };
            if h.next_offset() <= from {
                continue;
            }
            if !f(&mut cur, pos, &h)? {
                return Ok(true);
            }
        }
    }

    fn walk_from_zero(
        &self,
        from: Offset,
        chunk: usize,
        mut f: impl FnMut(&mut Cursor<'_>, u64, &EntryHeader) -> Result<bool>,
    ) -> Result<bool> {
        let mut cur = self.cursor(0, chunk);
        while let Some((pos, h)) = cur.next()? {
            if h.next_offset() > from && !f(&mut cur, pos, &h)? {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// Appends batches containing or following `from` to `out`, stopping before the byte
    /// budget is exceeded (but always returning one batch overall). Returns true when
    /// the budget stopped it, false when the segment ran out.
    pub fn read_into(
        &self,
        from: Offset,
        max_bytes: usize,
        used: &mut usize,
        out: &mut Vec<RawBatch>,
    ) -> Result<bool> {
        let chunk = max_bytes
            .saturating_sub(*used)
            .saturating_add(HEADER_LEN)
            .clamp(MIN_CHUNK, MAX_CHUNK);
        self.walk(from, chunk, |cur, pos, h| {
            let len = h.payload_len as usize;
            if !out.is_empty() && used.saturating_add(len) > max_bytes {
                return Ok(false);
            }
            let bytes = cur.payload(pos, h)?;
            if !h.crc_matches(&bytes) {
                return Err(StorageError::corrupt(
                    &self.log_path,
                    pos,
                    "checksum mismatch",
                ));
            }
            out.push(RawBatch {
                base_offset: h.base_offset,
                record_count: h.record_count,
                max_timestamp: h.max_timestamp,
                encoding: h.encoding,
                bytes,
            });
            *used = used.saturating_add(len);
            Ok(*used < max_bytes)
        })
    }

    /// Base offset of the first batch at or after `min_offset` whose max timestamp is
    /// >= `ts` (clamped up to `min_offset`).
    pub fn find_timestamp(&self, ts: i64, min_offset: Offset) -> Result<Option<Offset>> {
        let hint = self.t.time_index.find_last(|e| e.ts < ts)?;
        let from = hint
            .map_or(self.base, |e| self.base + u64::from(e.rel))
            .max(min_offset);
        let mut found = None;
        self.walk(from, MIN_CHUNK, |_, _, h| {
            if h.max_timestamp >= ts {
                found = Some(h.base_offset.max(min_offset));
                return Ok(false);
            }
            Ok(true)
        })?;
        Ok(found)
    }

    /// Calls `f(header, first bytes of payload)` for every batch from the one containing
    /// `from`, reading only `prefix` payload bytes of each. `f` returns false to stop.
    pub fn scan_prefix(
        &self,
        from: Offset,
        prefix: usize,
        mut f: impl FnMut(&EntryHeader, &[u8]) -> Result<bool>,
    ) -> Result<bool> {
        self.walk(from, MIN_CHUNK, |cur, pos, h| {
            let p = cur.prefix(pos, h, prefix)?;
            f(h, &p)
        })
    }
}

/// A cheap structural check of a sealed segment's indexes (reading only first and last
/// entries): monotonic, inside the log, and a time index that knows the max timestamp.
fn indexes_plausible(
    index: &IndexFile<OffsetEntry>,
    time_index: &IndexFile<TimeEntry>,
    size: u64,
) -> bool {
    let offsets_ok = match (index.first(), index.last()) {
        (None, None) => true,
        (Some(f), Some(l)) => f.rel <= l.rel && f.pos <= l.pos && u64::from(l.pos) < size,
        _ => false,
    };
    let times_ok = match (time_index.first(), time_index.last()) {
        (None, None) => size == 0,
        (Some(f), Some(l)) => f.ts <= l.ts && f.rel <= l.rel,
        _ => false,
    };
    offsets_ok && times_ok
}

/// What a validating scan found: the valid length, the offset after the last valid
/// batch, and where and why it stopped early (if it did).
type ScanOutcome = (u64, Offset, Option<(u64, String)>);

/// Sequential reader over a segment's entries using positioned reads into a chunk
/// buffer. Every length is checked against `end` before anything is allocated, so a
/// corrupt length can never make it allocate more than the file holds.
pub(crate) struct Cursor<'a> {
    file: &'a File,
    path: &'a Path,
    pos: u64,
    end: u64,
    buf: Bytes,
    buf_pos: u64,
    chunk: usize,
    /// Offset the next entry must start at, once known.
    expect: Option<Offset>,
}

impl<'a> Cursor<'a> {
    fn new(
        file: &'a File,
        path: &'a Path,
        pos: u64,
        end: u64,
        chunk: usize,
        expect: Option<Offset>,
    ) -> Self {
        Cursor {
            file,
            path,
            pos,
            end,
            buf: Bytes::new(),
            buf_pos: 0,
            chunk,
            expect,
        }
    }

    /// Makes `[at, at + len)` available in the buffer. Callers guarantee `at + len <= end`.
    fn ensure(&mut self, at: u64, len: usize) -> Result<()> {
        let have_end = self.buf_pos + self.buf.len() as u64;
        if at >= self.buf_pos && at + len as u64 <= have_end {
            return Ok(());
        }
        let avail = usize::try_from(self.end - at).unwrap_or(usize::MAX);
        let n = len.max(self.chunk.min(avail));
        let mut v = vec![0u8; n];
        read_exact_at(self.file, self.path, &mut v, at)?;
        self.buf = Bytes::from(v);
        self.buf_pos = at;
        Ok(())
    }

    fn slice(&self, at: u64, len: usize) -> Bytes {
        let s = (at - self.buf_pos) as usize;
        self.buf.slice(s..s + len)
    }

    /// The next entry's position and header, or `None` at the end. Framing problems
    /// are `Corrupt` errors at the entry's position.
    pub fn next(&mut self) -> Result<Option<(u64, EntryHeader)>> {
        if self.pos >= self.end {
            return Ok(None);
        }
        let pos = self.pos;
        if self.end - pos < HEADER_LEN as u64 {
            return Err(StorageError::corrupt(self.path, pos, "truncated header"));
        }
        self.ensure(pos, HEADER_LEN)?;
        let raw = self.slice(pos, HEADER_LEN);
        let h = EntryHeader::decode(&raw).map_err(|r| StorageError::corrupt(self.path, pos, r))?;
        if h.entry_len() > self.end - pos {
            return Err(StorageError::corrupt(
                self.path,
                pos,
                "entry extends past the end",
            ));
        }
        if let Some(e) = self.expect
            && h.base_offset != e
        {
            return Err(StorageError::corrupt(self.path, pos, "offset gap"));
        }
        self.expect = Some(h.next_offset());
        self.pos = pos + h.entry_len();
        Ok(Some((pos, h)))
    }

    pub fn payload(&mut self, pos: u64, h: &EntryHeader) -> Result<Bytes> {
        let at = pos + HEADER_LEN as u64;
        let len = h.payload_len as usize;
        self.ensure(at, len)?;
        Ok(self.slice(at, len))
    }

    pub fn prefix(&mut self, pos: u64, h: &EntryHeader, n: usize) -> Result<Bytes> {
        let at = pos + HEADER_LEN as u64;
        let len = n.min(h.payload_len as usize);
        self.ensure(at, len)?;
        Ok(self.slice(at, len))
    }

    /// Checks the entry's CRC, streaming entries larger than the chunk in pieces so
    /// recovery never allocates per entry more than a piece.
    pub fn verify_crc(&mut self, pos: u64, h: &EntryHeader) -> Result<bool> {
        let len = h.payload_len as usize;
        if len <= self.chunk {
            let p = self.payload(pos, h)?;
            return Ok(h.crc_matches(&p));
        }
        let mut crc = h.crc_seed();
        let mut piece = vec![0u8; CRC_PIECE];
        let mut at = pos + HEADER_LEN as u64;
        let mut left = len;
        while left > 0 {
            let n = left.min(CRC_PIECE);
            read_exact_at(self.file, self.path, &mut piece[..n], at)?;
            crc = crc32c::crc32c_append(crc, &piece[..n]);
            at += n as u64;
            left -= n;
        }
        Ok(crc == h.crc)
    }
}
