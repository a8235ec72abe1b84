//! The queue store's journal (`acks`): an append-only file of fixed-size CRC'd records
//! saying which messages were removed and which were delivered.
//!
//! ```text
//! record (24 bytes): u8 kind | 3 zero bytes | u64 LE a | u64 LE b | u32 LE crc32c(bytes 0..20)
//!   kind 1 REMOVE:    sequence numbers a..b (half-open) were removed
//!   kind 2 BASE:      every sequence number below a was removed (b = 0); written first by
//!                     compaction
//!   kind 3 DELIVERED: sequence numbers a..b were delivered to a consumer at least once
//!                     (so a redelivery after a restart carries the redelivered flag)
//!   kind 4 PUB_ID:    the message at seq a was published by publisher b (idempotency key)
//!   kind 5 PUB_SEQ:   ... with publisher sequence number b; a key is the pair of a kind 4
//!                     and a kind 5 record with the same a (see `QueueStore`'s publisher
//!                     window); either one alone is ignored
//! ```
//!
//! Fixed-size records make damage easy to contain. A torn tail (a short record, or
//! whole records that fail their CRC after the last good one, as a power loss can leave)
//! is cut off. A bad record with good ones after it (a flipped bit, a bad sector) is
//! skipped and the records after it are kept: they sit on 24-byte boundaries whatever
//! the bad one holds. Skipping can only lose removals and marks, so the worst it does is
//! bring an acknowledged message back (at-least-once) or deliver one again without the
//! redelivered flag; it never removes a message. Skipping half of a publisher key loses
//! the key, which can only let a resend be stored twice. A journal written before kinds
//! 3-5 existed reads unchanged.

use std::fs::{File, OpenOptions};
use std::io::{BufReader, ErrorKind, Read, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use crate::error::{Result, StorageError};
use crate::fsutil::sync_dir;

const RECORD_LEN: usize = 24;
const KIND_REMOVE: u8 = 1;
const KIND_BASE: u8 = 2;
const KIND_DELIVERED: u8 = 3;
const KIND_PUB_ID: u8 = 4;
const KIND_PUB_SEQ: u8 = 5;
/// Buffered records are written out once this many bytes accumulate.
const FLUSH_AT: usize = 64 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AckRecord {
    Remove {
        from: u64,
        to: u64,
    },
    Base {
        below: u64,
    },
    Delivered {
        from: u64,
        to: u64,
    },
    /// Half of a publisher key: the message at `at` came from `publisher`.
    PubId {
        at: u64,
        publisher: u64,
    },
    /// The other half: with publisher sequence number `seq`.
    PubSeq {
        at: u64,
        seq: u64,
    },
}

impl AckRecord {
    fn encode(&self) -> [u8; RECORD_LEN] {
        let (kind, a, b) = match *self {
            AckRecord::Remove { from, to } => (KIND_REMOVE, from, to),
            AckRecord::Base { below } => (KIND_BASE, below, 0),
            AckRecord::Delivered { from, to } => (KIND_DELIVERED, from, to),
            AckRecord::PubId { at, publisher } => (KIND_PUB_ID, at, publisher),
            AckRecord::PubSeq { at, seq } => (KIND_PUB_SEQ, at, seq),
        };
        let mut r = [0u8; RECORD_LEN];
        r[0] = kind;
        r[4..12].copy_from_slice(&a.to_le_bytes());
        r[12..20].copy_from_slice(&b.to_le_bytes());
        let crc = crc32c::crc32c(&r[..20]);
        r[20..24].copy_from_slice(&crc.to_le_bytes());
        r
    }

    fn decode(r: &[u8; RECORD_LEN]) -> Option<Self> {
        let crc = u32::from_le_bytes([r[20], r[21], r[22], r[23]]);
        if crc32c::crc32c(&r[..20]) != crc || r[1..4] != [0, 0, 0] {
            return None;
        }
        let mut a = [0u8; 8];
        a.copy_from_slice(&r[4..12]);
        let mut b = [0u8; 8];
        b.copy_from_slice(&r[12..20]);
        let (a, b) = (u64::from_le_bytes(a), u64::from_le_bytes(b));
        match r[0] {
            KIND_REMOVE if a < b => Some(AckRecord::Remove { from: a, to: b }),
            KIND_BASE if b == 0 => Some(AckRecord::Base { below: a }),
            KIND_DELIVERED if a < b => Some(AckRecord::Delivered { from: a, to: b }),
            KIND_PUB_ID => Some(AckRecord::PubId {
                at: a,
                publisher: b,
            }),
            KIND_PUB_SEQ => Some(AckRecord::PubSeq { at: a, seq: b }),
            _ => None,
        }
    }
}

/// What [`AckFile::open`] read.
#[derive(Debug)]
pub(crate) struct Opened {
    /// The good records, in file order.
    pub records: Vec<AckRecord>,
    /// Bad records skipped between good ones (the journal should be rewritten).
    pub skipped: u64,
}

#[derive(Debug)]
pub(crate) struct AckFile {
    path: PathBuf,
    file: File,
    /// Bytes on disk (written, not necessarily synced).
    size: u64,
    records: u64,
    /// Records not yet written, batched into one write per `flush` (the queue flushes at
    /// the end of each batch of commands, and before it hands out deliveries whose marks
    /// are here) or per `FLUSH_AT` bytes.
    buf: Vec<u8>,
    /// The latest removal and delivery runs, still growing: consecutive acks or
    /// deliveries (the usual FIFO case) become one record each however they interleave.
    open_remove: Option<(u64, u64)>,
    open_delivered: Option<(u64, u64)>,
    dirty: bool,
    pub poisoned: bool,
}

impl AckFile {
    /// Opens (or creates) the journal and returns its valid records. A torn or corrupt
    /// tail is cut off (and the cut fsynced); bad records before good ones are skipped
    /// and counted in [`Opened::skipped`] (the caller should rewrite the journal).
    pub fn open(path: &Path) -> Result<(Self, Opened)> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .map_err(|e| StorageError::io(path, e))?;
        let len = file
            .metadata()
            .map_err(|e| StorageError::io(path, e))?
            .len();
        let mut records = Vec::new();
        let mut reader = BufReader::with_capacity(256 * 1024, &file);
        let mut rec = [0u8; RECORD_LEN];
        // End of the last good record, and bad records seen before it.
        let mut valid = 0u64;
        let mut pos = 0u64;
        let mut bad_since_valid = 0u64;
        let mut skipped = 0u64;
        loop {
            match reader.read_exact(&mut rec) {
                Ok(()) => {}
                Err(e) if e.kind() == ErrorKind::UnexpectedEof => break,
                Err(e) => return Err(StorageError::io(path, e)),
            }
            pos += RECORD_LEN as u64;
            match AckRecord::decode(&rec) {
                Some(r) => {
                    records.push(r);
                    valid = pos;
                    skipped += bad_since_valid;
                    bad_since_valid = 0;
                }
                None => bad_since_valid += 1,
            }
        }
        drop(reader);
        if skipped > 0 {
            tracing::warn!(path = %path.display(), skipped_records = skipped,
                "skipping corrupt records inside the ack journal; the acks they held are lost and those messages will be redelivered");
        }
        if valid < len {
            tracing::warn!(path = %path.display(), valid_bytes = valid, file_bytes = len,
                "truncating torn or corrupt tail of the ack journal; later acks are lost and those messages will be redelivered");
            file.set_len(valid)
                .and_then(|()| file.sync_data())
                .map_err(|e| StorageError::io(path, e))?;
        }
        // Skipped records stay in the file (and in `records`' count) until the caller
        // rewrites it.
        let n = records.len() as u64 + skipped;
        Ok((
            AckFile {
                path: path.to_path_buf(),
                file,
                size: valid,
                records: n,
                buf: Vec::new(),
                open_remove: None,
                open_delivered: None,
                dirty: false,
                poisoned: false,
            },
            Opened { records, skipped },
        ))
    }

    pub fn records(&self) -> u64 {
        self.records
    }

    /// Queues a record; consecutive ranges of the same kind are merged while buffered.
    pub fn push(&mut self, rec: AckRecord) -> Result<()> {
        let (open, from, to) = match rec {
            AckRecord::Remove { from, to } => (&mut self.open_remove, from, to),
            AckRecord::Delivered { from, to } => (&mut self.open_delivered, from, to),
            AckRecord::Base { .. } | AckRecord::PubId { .. } | AckRecord::PubSeq { .. } => {
                self.emit(rec);
                return Ok(());
            }
        };
        match open {
            Some((_, end)) if *end == from => *end = to,
            _ => {
                let previous = open.replace((from, to));
                if let Some((f, t)) = previous {
                    let prev = match rec {
                        AckRecord::Delivered { .. } => AckRecord::Delivered { from: f, to: t },
                        _ => AckRecord::Remove { from: f, to: t },
                    };
                    self.emit(prev);
                }
            }
        }
        if self.buf.len() >= FLUSH_AT {
            self.flush()?;
        }
        Ok(())
    }

    fn emit(&mut self, rec: AckRecord) {
        self.buf.extend_from_slice(&rec.encode());
        self.records += 1;
    }

    /// Whether records are waiting to be written.
    pub fn has_pending(&self) -> bool {
        !self.buf.is_empty() || self.open_remove.is_some() || self.open_delivered.is_some()
    }

    /// Writes buffered records to the file (no fsync).
    pub fn flush(&mut self) -> Result<()> {
        if self.poisoned {
            return Err(StorageError::Poisoned {
                path: self.path.clone(),
            });
        }
        if let Some((from, to)) = self.open_remove.take() {
            self.emit(AckRecord::Remove { from, to });
        }
        if let Some((from, to)) = self.open_delivered.take() {
            self.emit(AckRecord::Delivered { from, to });
        }
        if self.buf.is_empty() {
            return Ok(());
        }
        if let Err(e) = self.file.write_all_at(&self.buf, self.size) {
            // Cut back any partial record so later ones stay readable.
            if self.file.set_len(self.size).is_err() {
                self.poisoned = true;
            }
            return Err(StorageError::io(&self.path, e));
        }
        self.size += self.buf.len() as u64;
        self.buf.clear();
        self.dirty = true;
        Ok(())
    }

    /// Flushes and fdatasyncs.
    pub fn sync(&mut self) -> Result<()> {
        self.flush()?;
        if self.dirty {
            if let Err(e) = self.file.sync_data() {
                self.poisoned = true;
                return Err(StorageError::io(&self.path, e));
            }
            self.dirty = false;
        }
        Ok(())
    }

    /// Replaces the journal with `records`, atomically and durably (write a temporary
    /// file, fsync, rename over, fsync the directory). Pending buffered records are
    /// dropped: the caller's state, which `records` describes, already includes them.
    pub fn rewrite(&mut self, records: impl Iterator<Item = AckRecord>) -> Result<()> {
        let tmp = self.path.with_extension("compact.tmp");
        let mut f = File::create(&tmp).map_err(|e| StorageError::io(&tmp, e))?;
        let mut w = std::io::BufWriter::with_capacity(256 * 1024, &mut f);
        let mut n = 0u64;
        for r in records {
            w.write_all(&r.encode())
                .map_err(|e| StorageError::io(&tmp, e))?;
            n += 1;
        }
        w.flush().map_err(|e| StorageError::io(&tmp, e))?;
        drop(w);
        f.sync_all().map_err(|e| StorageError::io(&tmp, e))?;
        drop(f);
        std::fs::rename(&tmp, &self.path).map_err(|e| StorageError::io(&self.path, e))?;
        let dir = self.path.parent().unwrap_or(Path::new("."));
        sync_dir(dir)?;
        self.file = OpenOptions::new()
            .read(true)
            .write(true)
            .open(&self.path)
            .map_err(|e| StorageError::io(&self.path, e))?;
        self.size = n * RECORD_LEN as u64;
        self.records = n;
        self.buf.clear();
        self.open_remove = None;
        self.open_delivered = None;
        self.dirty = false;
        self.poisoned = false;
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip_and_reject_damage() {
        for r in [
            AckRecord::Remove { from: 3, to: 9 },
            AckRecord::Base { below: 77 },
            AckRecord::Delivered { from: 4, to: 5 },
            AckRecord::PubId {
                at: 6,
                publisher: 1 << 40,
            },
            AckRecord::PubSeq { at: 6, seq: 0 },
        ] {
            let e = r.encode();
            assert_eq!(AckRecord::decode(&e), Some(r));
            for i in 0..RECORD_LEN {
                let mut bad = e;
                bad[i] ^= 0x40;
                assert_eq!(AckRecord::decode(&bad), None, "flip at {i}");
            }
        }
        assert_eq!(AckRecord::decode(&[0u8; RECORD_LEN]), None);
    }

    #[test]
    fn torn_tail_is_cut_and_sequential_acks_merge() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("acks");
        let (mut f, opened) = AckFile::open(&path).unwrap();
        assert!(opened.records.is_empty());
        for s in 0..10 {
            // Interleaved deliveries and acks still merge into one run of each.
            f.push(AckRecord::Delivered { from: s, to: s + 1 }).unwrap();
            f.push(AckRecord::Remove { from: s, to: s + 1 }).unwrap();
        }
        f.push(AckRecord::Remove { from: 20, to: 21 }).unwrap();
        f.sync().unwrap();
        drop(f);
        assert_eq!(
            std::fs::metadata(&path).unwrap().len(),
            3 * RECORD_LEN as u64
        );
        // A torn third record.
        let mut data = std::fs::read(&path).unwrap();
        data.extend_from_slice(&AckRecord::Remove { from: 30, to: 31 }.encode()[..10]);
        std::fs::write(&path, &data).unwrap();
        let (_f, opened) = AckFile::open(&path).unwrap();
        assert_eq!(opened.skipped, 0);
        assert_eq!(
            opened.records,
            vec![
                AckRecord::Remove { from: 0, to: 10 },
                AckRecord::Remove { from: 20, to: 21 },
                AckRecord::Delivered { from: 0, to: 10 },
            ]
        );
        assert_eq!(
            std::fs::metadata(&path).unwrap().len(),
            3 * RECORD_LEN as u64
        );
    }

    #[test]
    fn bad_records_between_good_ones_are_skipped_and_a_bad_tail_is_cut() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("acks");
        let good = [
            AckRecord::Base { below: 2 },
            AckRecord::Remove { from: 3, to: 4 },
            AckRecord::Remove { from: 5, to: 6 },
            AckRecord::Delivered { from: 2, to: 9 },
        ];
        let mut data = Vec::new();
        for (i, r) in good.iter().enumerate() {
            let mut e = r.encode();
            if i == 1 {
                // A flipped bit in the second record.
                e[7] ^= 0x01;
            }
            data.extend_from_slice(&e);
        }
        // What a power loss can leave past the end: zeroed whole records, half a record.
        data.extend_from_slice(&[0u8; 2 * RECORD_LEN + 7]);
        std::fs::write(&path, &data).unwrap();
        let (mut f, opened) = AckFile::open(&path).unwrap();
        assert_eq!(opened.skipped, 1);
        assert_eq!(opened.records, vec![good[0], good[2], good[3]]);
        assert_eq!(
            std::fs::metadata(&path).unwrap().len(),
            4 * RECORD_LEN as u64,
            "the tail is cut after the last good record"
        );
        // Appends land after the kept records and read back.
        f.push(AckRecord::Remove { from: 8, to: 9 }).unwrap();
        f.sync().unwrap();
        drop(f);
        let (_f, opened) = AckFile::open(&path).unwrap();
        assert_eq!(opened.skipped, 1);
        assert_eq!(opened.records.len(), 4);
        assert_eq!(opened.records[3], AckRecord::Remove { from: 8, to: 9 });
    }
}
