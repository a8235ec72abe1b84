//! Opening a queue store: the ack journal is replayed into the removed and delivered
//! sets and the publisher-key window, then the live count and bytes come from the
//! queue index of each sealed segment plus a scan of the active one.

use std::collections::VecDeque;
use std::path::Path;

use trident_core::{PublisherSeq, PublisherWindow};

use super::{ACK_FILE, MESSAGES_DIR, PREFIX_LEN, QueueStore, QueueStoreConfig, Recovered};
use crate::error::{Result, StorageError};
use crate::fsutil::{create_dir_durable, sync_dir};
use crate::journal::{AckFile, AckRecord};
use crate::log::{LogConfig, SegmentLog};
use crate::queue_index::{self, Unusable};
use crate::seq_set::SeqSet;

impl QueueStore {
    /// Opens (or creates) the store in `dir` and recovers it.
    pub fn open(dir: &Path, cfg: QueueStoreConfig) -> Result<(Self, Recovered)> {
        create_dir_durable(dir)?;
        let log_cfg = LogConfig {
            segment_bytes: cfg.segment_bytes,
            segment_ms: None,
            retention_ms: None,
            retention_bytes: None,
            index_interval_bytes: 4096,
            max_batch_bytes: cfg.max_message_bytes,
        };
        let log = SegmentLog::open(&dir.join(MESSAGES_DIR), log_cfg)?;
        let leftover = dir.join(ACK_FILE).with_extension("compact.tmp");
        if leftover.exists() {
            std::fs::remove_file(&leftover).map_err(|e| StorageError::io(&leftover, e))?;
        }
        let ack_path = dir.join(ACK_FILE);
        let ack_existed = ack_path.exists();
        let (acks, opened) = AckFile::open(&ack_path)?;
        if !ack_existed {
            // Without this a power loss could lose the journal's directory entry, and
            // with it removals that sync() reported durable.
            sync_dir(dir)?;
        }
        create_dir_durable(&dir.join(queue_index::DIR))?;
        let mut removed = SeqSet::new(log.start_offset());
        let mut delivered = SeqSet::new(0);
        // Publisher keys by message seq: (publisher, seq) halves, paired up below.
        let mut halves: std::collections::BTreeMap<u64, (Option<u64>, Option<u64>)> =
            Default::default();
        for r in opened.records {
            match r {
                AckRecord::Remove { from, to } => {
                    removed.insert(from, to);
                }
                AckRecord::Base { below } => removed.set_base(below),
                AckRecord::Delivered { from, to } => {
                    delivered.insert(from, to);
                }
                AckRecord::PubId { at, publisher } => {
                    halves.entry(at).or_default().0 = Some(publisher)
                }
                AckRecord::PubSeq { at, seq } => halves.entry(at).or_default().1 = Some(seq),
            }
        }
        let next_seq = log.next_offset();
        let mut publishers = PublisherWindow::default();
        let mut untrusted = false;
        for (at, half) in halves {
            match half {
                // The message is stored: a resend is a duplicate.
                (Some(p), Some(s)) if at < next_seq => {
                    publishers.insert(PublisherSeq::new(p, s), at);
                }
                // Its message was lost in the crash (the resend must be stored), or half
                // a key: gone from the journal with the compaction below.
                _ => untrusted = true,
            }
        }
        let clamped = removed.clamp(next_seq);
        if clamped {
            tracing::warn!(dir = %dir.display(), next_seq,
                "ack journal names messages the log lost in a crash; forgetting those removals");
        }
        // Marks of lost messages must not flag a new message that reuses the seq; no
        // warning, since marks are written before the fsync that makes messages durable.
        let clamped = delivered.clamp(next_seq) | clamped;
        delivered.set_base(removed.lwm());
        let active_base = log.active_base();
        let mut store = QueueStore {
            dir: dir.to_path_buf(),
            log,
            acks,
            removed,
            delivered,
            segment_bytes: cfg.segment_bytes,
            scratch: Vec::new(),
            active_base,
            active_lengths: Vec::new(),
            indexed: VecDeque::new(),
            publishers,
            keys_unsynced: false,
        };
        // A journal with bad records inside is rewritten from what was read, so the
        // damage is reported once and the next open reads a clean file.
        if clamped || untrusted || opened.skipped > 0 || store.needs_compaction() {
            store.compact()?;
        }
        let (messages, bytes) = store.recover_index()?;
        let first_seq = store.removed.lwm();
        Ok((
            store,
            Recovered {
                messages,
                bytes,
                first_seq,
                next_seq,
            },
        ))
    }

    /// Counts the live messages and their body bytes from the queue index of each
    /// sealed segment (rebuilding what is missing or damaged) and a scan of the active
    /// segment, which recovery has just read anyway.
    fn recover_index(&mut self) -> Result<(u64, u64)> {
        let bases = self.log.segment_bases();
        let next = self.log.next_offset();
        let lwm = self.removed.lwm();
        let sealed = &bases[..bases.len().saturating_sub(1)];
        for base in queue_index::list(&self.dir)? {
            // Leftovers: the index of a segment deleted (or never sealed) before a crash.
            if sealed.binary_search(&base).is_err() {
                queue_index::remove(&self.dir, base);
            }
        }
        let (mut messages, mut bytes) = (0u64, 0u64);
        for (i, &base) in bases.iter().enumerate() {
            let end = bases.get(i + 1).copied().unwrap_or(next);
            if i + 1 == bases.len() {
                self.active_lengths = self.scan_lengths(base, end)?;
                let (m, b) = self.sum_live(base, &self.active_lengths, lwm);
                (messages, bytes) = (messages + m, bytes + b);
                break;
            }
            if end <= lwm {
                // Wholly removed: the next sync deletes it.
                continue;
            }
            let lengths = match queue_index::read(&self.dir, base, end - base) {
                Ok(l) => l,
                Err(why) => {
                    match why {
                        Unusable::Missing => {
                            tracing::info!(dir = %self.dir.display(), segment = base,
                            "building the queue index of a sealed segment (written before the index existed)")
                        }
                        Unusable::Damaged(why) => {
                            tracing::warn!(dir = %self.dir.display(), segment = base,
                            %why, "queue index damaged; rebuilding it from the segment")
                        }
                    }
                    let l = self.scan_lengths(base, end)?;
                    if let Err(e) = queue_index::write(&self.dir, base, &l) {
                        tracing::warn!(dir = %self.dir.display(), error = %e, "cannot write the queue index");
                    }
                    l
                }
            };
            self.indexed.push_back(base);
            let (m, b) = self.sum_live(base, &lengths, lwm);
            (messages, bytes) = (messages + m, bytes + b);
        }
        Ok((messages, bytes))
    }

    /// The body lengths of the messages `base..end`, read from their entries.
    fn scan_lengths(&self, base: u64, end: u64) -> Result<Vec<u32>> {
        let mut lengths = Vec::with_capacity(usize::try_from(end - base).unwrap_or(0));
        if base >= end {
            return Ok(lengths);
        }
        let path = self.dir.join(MESSAGES_DIR);
        self.log.scan_prefix(base, PREFIX_LEN, |h, prefix| {
            if h.base_offset >= end {
                return Ok(false);
            }
            let p: [u8; PREFIX_LEN] = prefix.try_into().map_err(|_| {
                StorageError::corrupt(
                    &path,
                    h.base_offset,
                    format!("entry {} is not a queue message", h.base_offset),
                )
            })?;
            if h.record_count != 1 || h.base_offset != base + lengths.len() as u64 {
                return Err(StorageError::corrupt(
                    &path,
                    h.base_offset,
                    format!("entry {} is not a queue message", h.base_offset),
                ));
            }
            lengths.push(u32::from_le_bytes(p));
            Ok(true)
        })?;
        Ok(lengths)
    }

    /// How many of the messages `base..base + lengths.len()` at or above `lwm` are not
    /// removed, and their body bytes.
    fn sum_live(&self, base: u64, lengths: &[u32], lwm: u64) -> (u64, u64) {
        let end = base + lengths.len() as u64;
        let (mut count, mut bytes) = (0u64, 0u64);
        let mut cur = self.removed.next_present(base.max(lwm));
        while cur < end {
            let stop = self.removed.next_member(cur).min(end);
            let span = &lengths[(cur - base) as usize..(stop - base) as usize];
            bytes += span.iter().map(|&l| u64::from(l)).sum::<u64>();
            count += stop - cur;
            cur = self.removed.next_present(stop);
        }
        (count, bytes)
    }
}
