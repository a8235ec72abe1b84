//! [`SegmentLog`]: one partition of a partitioned log, as a directory of segments.

use std::fs::{self, File};
use std::path::{Path, PathBuf};

use trident_core::{BatchEncoding, LogBatch, Offset, TopicConfig};

use crate::entry::{EntryHeader, HEADER_LEN};
use crate::error::{Result, StorageError};
use crate::fsutil::{create_dir_durable, lock_dir, sync_dir, write_atomic};
use crate::segment::{RawBatch, Segment, file_name};

/// Name of the checkpoint that holds the log start offset set by
/// [`SegmentLog::delete_records_before`]: `u64 LE offset` + `u32 LE crc32c(offset)`.
const START_CHECKPOINT: &str = "log-start-offset";

/// One stored batch as [`SegmentLog::scan_batch_prefixes`] shows it: its framing and
/// the first bytes of its payload.
#[derive(Debug, Clone, Copy)]
pub struct BatchPrefix<'a> {
    pub base_offset: Offset,
    pub record_count: u32,
    pub max_timestamp: i64,
    /// `None` for an entry that is not one of the public encodings.
    pub encoding: Option<BatchEncoding>,
    /// The payload's first bytes: as many as asked for, fewer if the payload is shorter.
    pub prefix: &'a [u8],
}

/// Settings of one partition log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogConfig {
    /// Roll to a new segment when the next batch would push the active one past this
    /// size. At most `u32::MAX` (index positions are 32-bit).
    pub segment_bytes: u64,
    /// Roll when a batch's max timestamp is more than this after the active segment's
    /// first batch's (Kafka's `segment.ms`, judged on record time so it is reproducible).
    pub segment_ms: Option<i64>,
    /// [`SegmentLog::apply_retention`] deletes closed segments whose newest batch is
    /// older than this.
    pub retention_ms: Option<i64>,
    /// [`SegmentLog::apply_retention`] deletes the oldest closed segments while the log
    /// would still be at least this large without them.
    pub retention_bytes: Option<u64>,
    /// Bytes of log between two sparse index entries.
    pub index_interval_bytes: u32,
    /// Largest payload `append` accepts.
    pub max_batch_bytes: u32,
}

impl Default for LogConfig {
    fn default() -> Self {
        Self::from_topic(&TopicConfig::default(), 1_048_588)
    }
}

impl LogConfig {
    /// The log settings of a topic's partitions. `max_batch_bytes` is Kafka's
    /// `message.max.bytes` (default 1048588).
    pub fn from_topic(t: &TopicConfig, max_batch_bytes: u32) -> Self {
        LogConfig {
            segment_bytes: t.segment_bytes,
            segment_ms: t.segment_ms,
            retention_ms: t.retention_ms,
            retention_bytes: t.retention_bytes,
            index_interval_bytes: 4096,
            max_batch_bytes,
        }
    }

    fn validate(&self) -> Result<()> {
        if self.segment_bytes <= HEADER_LEN as u64 || self.segment_bytes > u64::from(u32::MAX) {
            return Err(StorageError::InvalidArgument(format!(
                "segment_bytes must be in ({HEADER_LEN}, {}], got {}",
                u32::MAX,
                self.segment_bytes
            )));
        }
        if self.max_batch_bytes == 0 {
            return Err(StorageError::InvalidArgument(
                "max_batch_bytes must be > 0".into(),
            ));
        }
        Ok(())
    }
}

/// One partition: an append-only sequence of batches with consecutive offsets, stored
/// as `{base_offset:020}.log` segments with sparse `.index` / `.timeindex` files.
///
/// # Durability contract
/// - [`append`](Self::append) only `write(2)`s: the batch survives a crash of this
///   process (`kill -9`) once `append` returns, but not a power loss.
/// - [`sync`](Self::sync) fdatasyncs the active segment (and the directory after files
///   were created or deleted): everything appended before it survives power loss.
/// - Rolling to a new segment seals the old one with an fsync of its log and indexes
///   *before* the new file is created (once per `segment_bytes`), so closed segments
///   are always complete and recovery only scans the active one.
/// - On [`open`](Self::open) every entry of the active segment is checked (framing,
///   offset continuity, CRC32C); the first bad entry and everything after it is cut
///   off. Indexes are hints rebuilt from the `.log` whenever in doubt.
/// - [`delete_records_before`](Self::delete_records_before) is durable when it returns.
/// - After a failed write that could not be undone or a failed fsync, the log refuses
///   further work with [`StorageError::Poisoned`]; reopening recovers.
///
/// One handle per directory (an advisory lock enforces it). Reads take `&self` and use
/// positioned reads only.
#[derive(Debug)]
pub struct SegmentLog {
    dir: PathBuf,
    cfg: LogConfig,
    _lock: File,
    /// Sorted by base offset; never empty; the last one is active.
    segments: Vec<Segment>,
    next_offset: Offset,
    /// From the checkpoint (0 if none).
    checkpoint_start: Offset,
    size: u64,
    dir_dirty: bool,
    poisoned: bool,
    scratch: Vec<u8>,
}

impl SegmentLog {
    /// Opens the log in `dir` (created if missing), recovering from any crash.
    pub fn open(dir: &Path, cfg: LogConfig) -> Result<Self> {
        cfg.validate()?;
        create_dir_durable(dir)?;
        let lock = lock_dir(dir)?;
        let interval = u64::from(cfg.index_interval_bytes);

        let mut bases = Vec::new();
        let read_dir = fs::read_dir(dir).map_err(|e| StorageError::io(dir, e))?;
        let mut others = Vec::new();
        for ent in read_dir {
            let ent = ent.map_err(|e| StorageError::io(dir, e))?;
            let name = ent.file_name();
            let Some(name) = name.to_str() else { continue };
            match parse_segment_name(name) {
                Some((base, "log")) => bases.push(base),
                Some((base, ext @ ("index" | "timeindex"))) => others.push((base, ext.to_string())),
                _ if name.ends_with(".tmp") => remove_quietly(&dir.join(name)),
                _ => {}
            }
        }
        bases.sort_unstable();
        // Index files whose log is gone are leftovers of an interrupted deletion.
        for (base, ext) in others {
            if bases.binary_search(&base).is_err() {
                remove_quietly(&dir.join(file_name(base, &ext)));
            }
        }

        let checkpoint_start = read_start_checkpoint(dir)?;
        let mut dir_dirty = false;
        // Whole segments below the checkpoint were due for deletion when we crashed.
        while bases.len() > 1 && bases[1] <= checkpoint_start {
            let base = bases.remove(0);
            for ext in ["log", "index", "timeindex"] {
                remove_quietly(&dir.join(file_name(base, ext)));
            }
            dir_dirty = true;
        }
        if bases.is_empty() {
            bases.push(checkpoint_start);
            dir_dirty = true;
        }

        let mut segments = Vec::with_capacity(bases.len());
        let last = bases.len() - 1;
        for &base in &bases[..last] {
            segments.push(Segment::open_closed(dir, base, interval)?);
        }
        let (active, next_offset) = Segment::recover_active(dir, bases[last], interval)?;
        segments.push(active);
        if checkpoint_start > next_offset {
            return Err(StorageError::corrupt(
                dir.join(START_CHECKPOINT),
                0,
                format!("log start offset {checkpoint_start} is beyond the log end {next_offset}"),
            ));
        }
        if dir_dirty {
            sync_dir(dir)?;
        }
        let size = segments.iter().map(Segment::size).sum();
        Ok(SegmentLog {
            dir: dir.to_path_buf(),
            cfg,
            _lock: lock,
            segments,
            next_offset,
            checkpoint_start,
            size,
            dir_dirty: false,
            poisoned: false,
            scratch: Vec::new(),
        })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn config(&self) -> &LogConfig {
        &self.cfg
    }

    /// Replaces retention and roll settings (Kafka AlterConfigs). They apply from the
    /// next append or retention pass; nothing already written changes.
    pub fn set_config(&mut self, cfg: LogConfig) -> Result<()> {
        cfg.validate()?;
        self.cfg = cfg;
        Ok(())
    }

    /// The offset the next appended record gets.
    pub fn next_offset(&self) -> Offset {
        self.next_offset
    }

    /// The first offset that may be read.
    pub fn start_offset(&self) -> Offset {
        self.checkpoint_start.max(self.first().base)
    }

    /// Bytes in all segment files.
    pub fn size_bytes(&self) -> u64 {
        self.size
    }

    pub fn segment_count(&self) -> usize {
        self.segments.len()
    }

    /// The base offset of every segment, oldest first; the last is the active one.
    pub(crate) fn segment_bases(&self) -> Vec<Offset> {
        self.segments.iter().map(|s| s.base).collect()
    }

    /// The base offset of the active segment. It changes exactly when an append rolled
    /// to a new segment, and everything below it was fsynced by that roll, which is
    /// what lets an owner checkpoint its own state at rolls.
    pub fn active_base(&self) -> Offset {
        self.segments.last().map_or(self.next_offset, |s| s.base)
    }

    /// Bytes in the active segment.
    pub(crate) fn active_size(&self) -> u64 {
        self.segments.last().map_or(0, Segment::size)
    }

    /// Replaces the owner's sidecar file `name` in the log directory with `data`,
    /// atomically and durably: after a crash it holds the old or the new contents,
    /// never a mix. Sidecars are checkpoints of state the owner derives from the log
    /// (a partition's producer sequences); the log never reads them itself, and
    /// [`destroy`](Self::destroy) removes them with the directory. A name is a plain
    /// file name that is none of the log's own files.
    pub fn write_sidecar(&self, name: &str, data: &[u8]) -> Result<()> {
        self.check_poisoned()?;
        write_atomic(&self.sidecar_path(name)?, data)
    }

    /// The contents of sidecar `name`, or `None` when there is none.
    pub fn read_sidecar(&self, name: &str) -> Result<Option<Vec<u8>>> {
        let path = self.sidecar_path(name)?;
        match fs::read(&path) {
            Ok(d) => Ok(Some(d)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(StorageError::io(&path, e)),
        }
    }

    fn sidecar_path(&self, name: &str) -> Result<PathBuf> {
        // No dot: segment files and the `.tmp` of atomic writes have one, so a sidecar
        // can never be mistaken for either (open() deletes stray `.tmp` files).
        let plain = !name.is_empty()
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if !plain || name == START_CHECKPOINT {
            return Err(StorageError::InvalidArgument(format!(
                "'{name}' is not a valid sidecar name"
            )));
        }
        Ok(self.dir.join(name))
    }

    /// Deletes the log's directory (topic deletion). Durable when it returns.
    pub fn destroy(self) -> Result<()> {
        let dir = self.dir.clone();
        drop(self);
        fs::remove_dir_all(&dir).map_err(|e| StorageError::io(&dir, e))?;
        if let Some(parent) = dir.parent() {
            sync_dir(parent)?;
        }
        Ok(())
    }

    fn first(&self) -> &Segment {
        &self.segments[0]
    }

    fn active(&mut self) -> &mut Segment {
        let last = self.segments.len() - 1;
        &mut self.segments[last]
    }

    fn check_poisoned(&self) -> Result<()> {
        if self.poisoned {
            return Err(StorageError::Poisoned {
                path: self.dir.clone(),
            });
        }
        Ok(())
    }

    /// Appends a batch of `record_count` records; returns its base offset. The payload
    /// is stored as given (callers patch offsets into it beforehand). Only writes; see
    /// the type's durability contract. Nothing is written when it returns an error.
    pub fn append(
        &mut self,
        record_count: u32,
        max_timestamp: i64,
        encoding: BatchEncoding,
        payload: &[u8],
    ) -> Result<Offset> {
        self.append_raw(record_count, max_timestamp, encoding as u8, payload)
    }

    pub(crate) fn append_raw(
        &mut self,
        record_count: u32,
        max_timestamp: i64,
        encoding: u8,
        payload: &[u8],
    ) -> Result<Offset> {
        self.check_poisoned()?;
        if record_count == 0 {
            return Err(StorageError::InvalidArgument(
                "a batch needs at least one record".into(),
            ));
        }
        if payload.len() > self.cfg.max_batch_bytes as usize {
            return Err(StorageError::BatchTooLarge {
                size: payload.len(),
                max: self.cfg.max_batch_bytes as usize,
            });
        }
        let base = self.next_offset;
        let Some(next) = base.checked_add(u64::from(record_count)) else {
            return Err(StorageError::InvalidArgument(
                "offset space exhausted".into(),
            ));
        };
        let entry_len = (HEADER_LEN + payload.len()) as u64;
        if self.should_roll(entry_len, max_timestamp, next) {
            self.roll()?;
        }
        let header = EntryHeader::new(encoding, base, record_count, max_timestamp, payload);
        let interval = u64::from(self.cfg.index_interval_bytes);
        let mut scratch = std::mem::take(&mut self.scratch);
        let res = self
            .active()
            .append(&header, payload, &mut scratch, interval);
        self.scratch = scratch;
        if self.scratch.capacity() > 4 * 1024 * 1024 {
            // Do not pin the memory of one unusually large batch forever.
            self.scratch = Vec::new();
        }
        if let Err(e) = res {
            if self.active().poisoned {
                self.poisoned = true;
            }
            return Err(e);
        }
        self.next_offset = next;
        self.size += entry_len;
        Ok(base)
    }

    /// Appends several batches as one write: `(record_count, max_timestamp, encoding,
    /// payload)` each, with consecutive offsets; returns the first base offset. All or
    /// nothing: on error nothing is appended. The whole group lands in one segment
    /// (rolling first if it does not fit), so a segment may exceed `segment_bytes` by
    /// at most one group; callers keep groups small (the queue store's are ~1 MiB).
    pub(crate) fn append_raw_many(&mut self, entries: &[(u32, i64, u8, &[u8])]) -> Result<Offset> {
        self.check_poisoned()?;
        let base = self.next_offset;
        let mut next = base;
        let mut total = 0u64;
        let mut max_ts = i64::MIN;
        for (count, ts, _, payload) in entries {
            if *count == 0 {
                return Err(StorageError::InvalidArgument(
                    "a batch needs at least one record".into(),
                ));
            }
            if payload.len() > self.cfg.max_batch_bytes as usize {
                return Err(StorageError::BatchTooLarge {
                    size: payload.len(),
                    max: self.cfg.max_batch_bytes as usize,
                });
            }
            next = next
                .checked_add(u64::from(*count))
                .ok_or_else(|| StorageError::InvalidArgument("offset space exhausted".into()))?;
            total += (HEADER_LEN + payload.len()) as u64;
            max_ts = max_ts.max(*ts);
        }
        if entries.is_empty() {
            return Ok(base);
        }
        if self.should_roll(total, max_ts, next) {
            self.roll()?;
        }
        let mut buf = std::mem::take(&mut self.scratch);
        buf.clear();
        let mut headers = Vec::with_capacity(entries.len());
        let mut offset = base;
        for (count, ts, encoding, payload) in entries {
            let h = EntryHeader::new(*encoding, offset, *count, *ts, payload);
            headers.push((buf.len() as u64, h));
            buf.extend_from_slice(&h.encode());
            buf.extend_from_slice(payload);
            offset += u64::from(*count);
        }
        let interval = u64::from(self.cfg.index_interval_bytes);
        let res = self.active().append_encoded(&buf, &headers, interval);
        self.scratch = buf;
        if self.scratch.capacity() > 4 * 1024 * 1024 {
            self.scratch = Vec::new();
        }
        if let Err(e) = res {
            if self.active().poisoned {
                self.poisoned = true;
            }
            return Err(e);
        }
        self.next_offset = next;
        self.size += total;
        Ok(base)
    }

    fn should_roll(&mut self, entry_len: u64, max_timestamp: i64, next: Offset) -> bool {
        let limit = self.cfg.segment_bytes;
        let segment_ms = self.cfg.segment_ms;
        let active = self.active();
        if active.size() == 0 {
            return false;
        }
        let by_size = active.size() + entry_len > limit;
        let by_time = match (segment_ms, active.first_timestamp()) {
            (Some(ms), Some(first)) => max_timestamp.saturating_sub(first) > ms,
            _ => false,
        };
        // Relative offsets in the index are 32-bit.
        let by_offsets = next - active.base > u64::from(u32::MAX);
        by_size || by_time || by_offsets
    }

    /// Seals the active segment (fsync) and starts a new one at `next_offset`.
    fn roll(&mut self) -> Result<()> {
        let next = self.next_offset;
        if let Err(e) = self.active().seal(next) {
            self.poisoned = true;
            return Err(e);
        }
        let seg = Segment::create(&self.dir, next)?;
        self.segments.push(seg);
        if let Err(e) = sync_dir(&self.dir) {
            self.poisoned = true;
            return Err(e);
        }
        self.dir_dirty = false;
        Ok(())
    }

    /// Starts a new segment if the active one holds anything (the queue store uses it
    /// to free the space of a fully acknowledged active segment).
    pub(crate) fn force_roll(&mut self) -> Result<()> {
        self.check_poisoned()?;
        if self.active().size() > 0 {
            self.roll()?;
        }
        Ok(())
    }

    /// Makes every append so far durable: fdatasync of the active segment, plus a
    /// directory fsync if files were created or deleted since the last one.
    pub fn sync(&mut self) -> Result<()> {
        self.check_poisoned()?;
        if let Err(e) = self.active().sync() {
            self.poisoned = true;
            return Err(e);
        }
        if self.dir_dirty {
            sync_dir(&self.dir)?;
            self.dir_dirty = false;
        }
        Ok(())
    }

    /// Batches that contain `from` or come after it, in order, up to `max_bytes` of
    /// payload but always at least one batch if there is one (Kafka fetch semantics).
    /// `from == next_offset()` yields nothing; outside `[start_offset, next_offset]` is
    /// [`StorageError::OffsetOutOfRange`].
    pub fn read(&self, from: Offset, max_bytes: usize) -> Result<Vec<LogBatch>> {
        self.read_raw(from, max_bytes)?
            .into_iter()
            .map(|b| {
                let encoding = BatchEncoding::from_u8(b.encoding).ok_or_else(|| {
                    StorageError::corrupt(
                        self.dir.join(file_name(b.base_offset, "log")),
                        0,
                        format!(
                            "batch {} has unknown encoding {}",
                            b.base_offset, b.encoding
                        ),
                    )
                })?;
                Ok(LogBatch {
                    base_offset: b.base_offset,
                    record_count: b.record_count,
                    max_timestamp: b.max_timestamp,
                    encoding,
                    bytes: b.bytes,
                })
            })
            .collect()
    }

    pub(crate) fn read_raw(&self, from: Offset, max_bytes: usize) -> Result<Vec<RawBatch>> {
        let start = self.start_offset();
        if from < start || from > self.next_offset {
            return Err(StorageError::OffsetOutOfRange {
                offset: from,
                start,
                end: self.next_offset,
            });
        }
        let mut out = Vec::new();
        if from == self.next_offset {
            return Ok(out);
        }
        let mut used = 0usize;
        for seg in &self.segments[self.segment_index(from)..] {
            if seg.read_into(from, max_bytes, &mut used, &mut out)? {
                break;
            }
        }
        Ok(out)
    }

    /// Index of the segment that holds `offset` (which must be >= the first base).
    fn segment_index(&self, offset: Offset) -> usize {
        self.segments
            .partition_point(|s| s.base <= offset)
            .saturating_sub(1)
    }

    /// Base offset of the first batch whose max timestamp is >= `ts` (clamped to the
    /// start offset), or `None` if there is none. The log does not look inside batches,
    /// so Kafka's exact per-record answer is the adapter's refinement of this.
    pub fn offset_for_timestamp(&self, ts: i64) -> Result<Option<Offset>> {
        let start = self.start_offset();
        for seg in &self.segments[self.segment_index(start)..] {
            if seg.max_timestamp().is_none_or(|m| m < ts) {
                continue;
            }
            if let Some(o) = seg.find_timestamp(ts, start)? {
                return Ok(Some(o));
            }
        }
        Ok(None)
    }

    /// Deletes closed segments that retention allows to go: by age (newest batch older
    /// than `retention_ms` before `now_ms`) and by size (oldest first while the rest is
    /// still at least `retention_bytes`). Never deletes the active segment. The deletion
    /// is made durable by the next [`sync`](Self::sync).
    pub fn apply_retention(&mut self, now_ms: i64) -> Result<u32> {
        self.check_poisoned()?;
        let mut deleted = 0;
        while self.segments.len() > 1 {
            let first = self.first();
            let by_time = match (self.cfg.retention_ms, first.max_timestamp()) {
                (Some(r), Some(m)) => now_ms.saturating_sub(m) > r,
                _ => false,
            };
            let by_size = self
                .cfg
                .retention_bytes
                .is_some_and(|r| self.size - first.size() >= r);
            if !(by_time || by_size) {
                break;
            }
            self.remove_first()?;
            deleted += 1;
        }
        Ok(deleted)
    }

    /// Kafka DeleteRecords: records below `offset` become unreadable. The new start
    /// offset is durable when this returns (the log is synced first, so the checkpoint
    /// never points past durable data); whole segments below it are deleted.
    pub fn delete_records_before(&mut self, offset: Offset) -> Result<Offset> {
        self.check_poisoned()?;
        let start = self.start_offset();
        if offset > self.next_offset {
            return Err(StorageError::OffsetOutOfRange {
                offset,
                start,
                end: self.next_offset,
            });
        }
        if offset <= start {
            return Ok(start);
        }
        self.sync()?;
        let mut buf = [0u8; 12];
        buf[..8].copy_from_slice(&offset.to_le_bytes());
        buf[8..].copy_from_slice(&crc32c::crc32c(&offset.to_le_bytes()).to_le_bytes());
        write_atomic(&self.dir.join(START_CHECKPOINT), &buf)?;
        self.checkpoint_start = offset;
        self.delete_segments_below(offset)?;
        Ok(self.start_offset())
    }

    /// Deletes closed segments that lie wholly below `offset`, without moving the
    /// checkpoint (the queue store tracks its own low-water mark). Returns how many.
    pub(crate) fn delete_segments_below(&mut self, offset: Offset) -> Result<u32> {
        let mut n = 0;
        while self.segments.len() > 1 && self.segments[1].base <= offset {
            self.remove_first()?;
            n += 1;
        }
        Ok(n)
    }

    fn remove_first(&mut self) -> Result<()> {
        let seg = self.segments.remove(0);
        self.size -= seg.size();
        self.dir_dirty = true;
        seg.delete()
    }

    /// Visits every batch from the one containing `from` (clamped to the oldest kept
    /// segment), in order, with up to `prefix_len` first bytes of its payload, without
    /// reading whole payloads. `f` returns false to stop. This is how an owner rebuilds
    /// state that its payload headers carry (the partition's producer sequences) after
    /// a crash, reading a few bytes per batch instead of the log.
    pub fn scan_batch_prefixes(
        &self,
        from: Offset,
        prefix_len: usize,
        mut f: impl FnMut(BatchPrefix<'_>) -> bool,
    ) -> Result<()> {
        self.scan_prefix(from, prefix_len, |h, prefix| {
            Ok(f(BatchPrefix {
                base_offset: h.base_offset,
                record_count: h.record_count,
                max_timestamp: h.max_timestamp,
                encoding: BatchEncoding::from_u8(h.encoding),
                prefix,
            }))
        })
    }

    /// Visits `(header, first prefix bytes of the payload)` of every batch from the one
    /// containing `from`, in order, without reading whole payloads. `f` returns false to
    /// stop.
    pub(crate) fn scan_prefix(
        &self,
        from: Offset,
        prefix: usize,
        mut f: impl FnMut(&EntryHeader, &[u8]) -> Result<bool>,
    ) -> Result<()> {
        if from >= self.next_offset {
            return Ok(());
        }
        let from = from.max(self.first().base);
        for seg in &self.segments[self.segment_index(from)..] {
            if seg.scan_prefix(from, prefix, &mut f)? {
                break;
            }
        }
        Ok(())
    }
}

fn parse_segment_name(name: &str) -> Option<(Offset, &str)> {
    let (stem, ext) = name.split_once('.')?;
    if stem.len() != 20 || !stem.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some((stem.parse().ok()?, ext))
}

fn remove_quietly(path: &Path) {
    if let Err(e) = fs::remove_file(path)
        && e.kind() != std::io::ErrorKind::NotFound
    {
        tracing::warn!(path = %path.display(), error = %e, "cannot remove leftover file");
    }
}

fn read_start_checkpoint(dir: &Path) -> Result<Offset> {
    let path = dir.join(START_CHECKPOINT);
    let data = match fs::read(&path) {
        Ok(d) => d,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(StorageError::io(&path, e)),
    };
    // Written by rename of a fsynced file, so a bad one is disk corruption, not a torn
    // write; guessing would either resurrect deleted records or hide live ones.
    let ok = data.len() == 12 && {
        let crc = u32::from_le_bytes([data[8], data[9], data[10], data[11]]);
        crc32c::crc32c(&data[..8]) == crc
    };
    if !ok {
        return Err(StorageError::corrupt(
            &path,
            0,
            "invalid log start checkpoint",
        ));
    }
    let mut b = [0u8; 8];
    b.copy_from_slice(&data[..8]);
    Ok(u64::from_le_bytes(b))
}
