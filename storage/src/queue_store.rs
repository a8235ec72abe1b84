//! [`QueueStore`]: the disk side of one durable queue.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};

use bytes::Bytes;
use trident_core::{Arrival, Message, PublisherWindow};

use crate::entry::{ENCODING_QUEUE_ARRIVAL, ENCODING_QUEUE_MESSAGE};
use crate::error::{Result, StorageError};
use crate::fsutil::sync_dir;
use crate::journal::{AckFile, AckRecord};
use crate::log::SegmentLog;
use crate::message_codec::{decode_arrival, decode_message, encode_arrival, encode_message};
use crate::queue_index;
use crate::seq_set::SeqSet;

mod keys;
mod recover;

const MESSAGES_DIR: &str = "messages";
const ACK_FILE: &str = "acks";
/// Bytes before the encoded message in each entry: the body length, so that the queue
/// index can be rebuilt from a segment without decoding every message.
const PREFIX_LEN: usize = 4;
/// Compact the ack journal when it holds more than twice the records needed to
/// describe the current state, plus this slack (so small queues never bother).
const COMPACT_SLACK: u64 = 4096;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueStoreConfig {
    /// Size of message segment files. Space is reclaimed a whole segment at a time, once
    /// every message in it is removed.
    pub segment_bytes: u64,
    /// Largest encoded message (body plus properties and headers) accepted.
    pub max_message_bytes: u32,
}

impl Default for QueueStoreConfig {
    fn default() -> Self {
        QueueStoreConfig {
            segment_bytes: 64 * 1024 * 1024,
            // RabbitMQ's default max_message_size (128 MiB) plus room for properties.
            max_message_bytes: 128 * 1024 * 1024 + 64 * 1024,
        }
    }
}

/// What [`QueueStore::open`] found on disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Recovered {
    /// Messages not removed.
    pub messages: u64,
    /// Sum of their body sizes (what `x-max-length-bytes` counts).
    pub bytes: u64,
    /// The lowest sequence number not removed: where reading should start.
    pub first_seq: u64,
    /// The sequence number the next append gets.
    pub next_seq: u64,
}

/// A message read back from a [`QueueStore`].
#[derive(Debug, Clone, PartialEq)]
pub struct StoredMessage {
    pub seq: u64,
    pub message: Message,
    /// What was stored with it ([`Arrival::default`] for entries written without).
    pub arrival: Arrival,
}

/// The disk side of one durable queue: FIFO appends, removals in any order, and a
/// record of which messages were delivered.
///
/// Layout: `dir/messages/` is a [`SegmentLog`] with one entry per message (the entry's
/// offset is the message's sequence number; payload = `u32 LE body length` + the
/// [`crate::message_codec`] encoding, or for a message stored with a non-plain
/// [`Arrival`] (entry encoding `0x81` instead of `0x80`) `u32 LE body length` + the
/// arrival encoding + the message encoding); `dir/acks` is a journal of removals and
/// delivery marks (see `journal.rs`); `dir/index/` holds the queue index, the body
/// lengths of each sealed segment's messages (see `queue_index.rs`). Message segments
/// wholly below the low-water mark (lowest un-removed seq) are deleted with their index;
/// the journal is compacted (write new, fsync, rename, fsync dir) when it grows to more
/// than twice what the current state needs.
///
/// # Durability contract
/// - [`append`](Self::append) writes the message to the OS (survives `kill -9`, not a
///   power loss). Removals ([`ack`](Self::ack), [`ack_range`](Self::ack_range),
///   [`purge_all`](Self::purge_all)) and delivery marks
///   ([`mark_delivered`](Self::mark_delivered)) are buffered in memory until
///   [`flush`](Self::flush) (which writes them to the OS: they survive `kill -9`) or
///   [`sync`](Self::sync); a lost removal means the message comes back (at-least-once),
///   never that another message disappears; a lost mark means a redelivery without the
///   redelivered flag.
/// - After [`sync`](Self::sync) returns, every appended message survives `kill -9` and
///   power loss, and every removal and mark is durable: removed messages are not
///   returned after a restart. Sync fsyncs the messages before the journal, and
///   recovery discards removals and marks of sequence numbers the message log no longer
///   has, so neither can outlive (and later hit a new message reusing) the seq of a lost
///   message.
/// - Removed messages are never returned by [`read`](Self::read), synced or not.
/// - A message appended with a publisher key ([`append_keyed`](Self::append_keyed)) has
///   the key written to the journal first (its own write, before the message's), and
///   [`sync`](Self::sync) fsyncs the journal before the messages when keys were written:
///   whenever the message survives, so does its key. The keys outlive the messages (the
///   publisher's resend may come after the message was consumed): the last
///   [`trident_core::PUBLISHER_WINDOW`] of them are kept through compaction. Recovery
///   trusts a key only if its message's seq is below the recovered next seq (the message
///   was stored); the others are dropped from the journal at once, so that they cannot
///   claim a new message that reuses the seq. So after a crash a resend is stored again
///   exactly when its first copy was lost. (Power loss: the kernel may write a message
///   back before the journal fsync of its batch; its key can then be lost and a resend
///   stored twice. The publisher was not confirmed in that case.)
///
/// # Recovery cost
/// [`open`](Self::open) validates the active segment (as [`SegmentLog::open`] does) and
/// reads the journal and the queue index; it does not read the messages of sealed
/// segments. A missing or damaged index file is rebuilt from its segment (a warning).
/// A damaged journal is read around the damage (see `journal.rs`) and rewritten clean;
/// it can bring back messages whose removal records were hit, never lose one.
#[derive(Debug)]
pub struct QueueStore {
    dir: PathBuf,
    log: SegmentLog,
    acks: AckFile,
    removed: SeqSet,
    /// Messages delivered at least once (only those not removed matter).
    delivered: SeqSet,
    segment_bytes: u64,
    scratch: Vec<u8>,
    /// First seq of the active message segment, and the body length of every message
    /// in it (in seq order): the segment's queue index once it is sealed.
    active_base: u64,
    active_lengths: Vec<u32>,
    /// Bases of the sealed segments whose index file exists, oldest first.
    indexed: VecDeque<u64>,
    /// The publisher keys of the latest keyed appends, with their messages' seqs.
    publishers: PublisherWindow<u64>,
    /// Keys were written since the last sync (it must fsync the journal first).
    keys_unsynced: bool,
}

impl QueueStore {
    /// After an append: if the log rolled to a new segment, the sealed one gets its
    /// queue index (a hint: failing to write it only means rebuilding it later).
    fn after_append(&mut self) {
        let active = self.log.active_base();
        if active == self.active_base {
            return;
        }
        let sealed = self.active_base;
        let lengths = std::mem::take(&mut self.active_lengths);
        self.active_base = active;
        if active <= self.removed.lwm() {
            // Wholly removed already; the next sync deletes it.
            return;
        }
        match queue_index::write(&self.dir, sealed, &lengths) {
            Ok(()) => self.indexed.push_back(sealed),
            Err(e) => {
                tracing::warn!(dir = %self.dir.display(), error = %e, "cannot write the queue index")
            }
        }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The seq the next append gets.
    pub fn next_seq(&self) -> u64 {
        self.log.next_offset()
    }

    /// The lowest seq not removed (== `next_seq()` when empty).
    pub fn first_seq(&self) -> u64 {
        self.removed.lwm()
    }

    /// Messages stored and not removed.
    pub fn len(&self) -> u64 {
        self.next_seq() - self.removed.lwm() - self.removed.members_above_lwm()
    }

    /// Whether the message was delivered at least once (in this run or, as far as the
    /// journal recorded it, before a restart).
    pub fn was_delivered(&self, seq: u64) -> bool {
        // The delivered set also covers removed seqs below the low-water mark (that
        // keeps it to a few ranges); those are not messages any more.
        self.delivered.contains(seq) && !self.removed.contains(seq)
    }

    /// Records that a stored message was handed to a consumer, so that a delivery
    /// after a restart carries the redelivered flag. Buffered like removals: call
    /// [`Self::flush`] before the delivery leaves the broker.
    pub fn mark_delivered(&mut self, seq: u64) -> Result<()> {
        if seq >= self.next_seq() || self.removed.contains(seq) {
            return Ok(());
        }
        if self.delivered.insert(seq, seq + 1) > 0 {
            self.acks.push(AckRecord::Delivered {
                from: seq,
                to: seq + 1,
            })?;
        }
        Ok(())
    }

    /// Whether removals or marks wait to be written.
    pub fn has_unwritten(&self) -> bool {
        self.acks.has_pending()
    }

    /// Writes buffered removals and delivery marks to the OS (no fsync): from here they
    /// survive `kill -9`. One write for everything buffered.
    pub fn flush(&mut self) -> Result<()> {
        self.acks.flush()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Bytes of message segment files on disk.
    pub fn disk_bytes(&self) -> u64 {
        self.log.size_bytes()
    }

    /// Appends a message; returns its sequence number. Write only (see the contract).
    pub fn append(&mut self, msg: &Message) -> Result<u64> {
        self.append_with_arrival(msg, &Arrival::default())
    }

    /// Appends a message with what the queue keeps beside it; returns its seq.
    pub fn append_with_arrival(&mut self, msg: &Message, arrival: &Arrival) -> Result<u64> {
        self.append_keyed(msg, arrival, None)
    }

    fn append_one(&mut self, msg: &Message, arrival: &Arrival) -> Result<u64> {
        let mut buf = std::mem::take(&mut self.scratch);
        buf.clear();
        let encoding = encode_entry(msg, arrival, &mut buf);
        let res = self.log.append_raw(1, msg.timestamp_ms, encoding, &buf);
        if buf.capacity() <= 1024 * 1024 {
            self.scratch = buf;
        }
        let seq = res?;
        self.after_append();
        self.active_lengths
            .push(u32::try_from(msg.body.len()).unwrap_or(u32::MAX));
        Ok(seq)
    }

    /// Appends several messages with one write; returns the seq of the first (the rest
    /// follow consecutively). All or nothing. Same durability as [`Self::append`]; this
    /// is what keeps a queue that pages a deep backlog to disk at one system call per
    /// batch instead of one per message.
    pub fn append_many(&mut self, msgs: &[&Message]) -> Result<u64> {
        let plain = Arrival::default();
        let with: Vec<(&Message, &Arrival)> = msgs.iter().map(|m| (*m, &plain)).collect();
        self.append_many_with_arrival(&with)
    }

    /// [`Self::append_many`] with what the queue keeps beside each message.
    pub fn append_many_with_arrival(&mut self, msgs: &[(&Message, &Arrival)]) -> Result<u64> {
        self.append_many_keyed(msgs, &[])
    }

    fn append_batch(&mut self, msgs: &[(&Message, &Arrival)]) -> Result<u64> {
        let mut buf = std::mem::take(&mut self.scratch);
        buf.clear();
        let mut spans = Vec::with_capacity(msgs.len());
        for (msg, arrival) in msgs {
            let start = buf.len();
            let encoding = encode_entry(msg, arrival, &mut buf);
            spans.push((start, buf.len(), msg.timestamp_ms, encoding));
        }
        let entries: Vec<(u32, i64, u8, &[u8])> = spans
            .iter()
            .map(|&(a, b, ts, encoding)| (1, ts, encoding, &buf[a..b]))
            .collect();
        let res = self.log.append_raw_many(&entries);
        drop(entries);
        if buf.capacity() <= 4 * 1024 * 1024 {
            self.scratch = buf;
        }
        let first = res?;
        self.after_append();
        self.active_lengths.extend(
            msgs.iter()
                .map(|(m, _)| u32::try_from(m.body.len()).unwrap_or(u32::MAX)),
        );
        Ok(first)
    }

    /// Records the removal of one message (acked, dropped, dead-lettered, expired...).
    /// Removing an already removed seq is a no-op; a seq never appended is an error.
    pub fn ack(&mut self, seq: u64) -> Result<()> {
        self.ack_range(seq, seq.saturating_add(1)).map(|_| ())
    }

    /// Removes every message in `from..to`; returns how many were not removed before.
    pub fn ack_range(&mut self, from: u64, to: u64) -> Result<u64> {
        let next = self.next_seq();
        if to > next {
            return Err(StorageError::InvalidArgument(format!(
                "cannot remove up to seq {to}: the queue's next seq is {next}"
            )));
        }
        let newly = self.removed.insert(from, to);
        if newly > 0 {
            self.acks.push(AckRecord::Remove { from, to })?;
        }
        Ok(newly)
    }

    /// Removes every message; returns how many there were.
    pub fn purge_all(&mut self) -> Result<u64> {
        let from = self.removed.lwm();
        self.ack_range(from, self.next_seq())
    }

    /// Makes all appends, removals and marks durable: fdatasync of the message segment,
    /// then of the journal. Afterwards reclaims message segments below the low-water
    /// mark (with their index) and compacts the journal when due.
    pub fn sync(&mut self) -> Result<()> {
        if self.keys_unsynced {
            // Keys before their messages (see the durability contract).
            self.acks.sync()?;
            self.keys_unsynced = false;
        }
        self.log.sync()?;
        self.acks.sync()?;
        let lwm = self.removed.lwm();
        // The removals that make these segments garbage are durable now.
        self.log.delete_segments_below(lwm)?;
        if lwm == self.next_seq()
            && self.log.active_size() >= (self.segment_bytes / 2).min(4 * 1024 * 1024)
        {
            // A drained queue would otherwise keep a large, fully removed active segment
            // until enough new messages arrive to roll it.
            self.log.force_roll()?;
            self.after_append();
            self.log.delete_segments_below(lwm)?;
            self.log.sync()?;
        }
        let first = self.log.segment_bases().first().copied().unwrap_or(lwm);
        while let Some(&base) = self.indexed.front()
            && base < first
        {
            queue_index::remove(&self.dir, base);
            self.indexed.pop_front();
        }
        // Marks below the low-water mark describe removed messages: forget them.
        self.delivered.set_base(lwm);
        if self.needs_compaction() {
            self.compact()?;
        }
        Ok(())
    }

    fn needs_compaction(&self) -> bool {
        let needed = self.removed.range_count()
            + self.delivered.range_count()
            + 2 * self.publishers.len()
            + 2;
        self.acks.records() > 2 * needed as u64 + COMPACT_SLACK
    }

    /// Rewrites the journal as BASE(lwm), one REMOVE per range, the delivery marks
    /// of messages not removed and the publisher keys remembered, durably.
    fn compact(&mut self) -> Result<()> {
        let lwm = self.removed.lwm();
        self.delivered.set_base(lwm);
        let base = std::iter::once(AckRecord::Base { below: lwm });
        let ranges = self
            .removed
            .ranges()
            .map(|(from, to)| AckRecord::Remove { from, to });
        let marked_prefix = (self.delivered.lwm() > lwm).then_some(AckRecord::Delivered {
            from: lwm,
            to: self.delivered.lwm(),
        });
        let marks = self
            .delivered
            .ranges()
            .map(|(from, to)| AckRecord::Delivered { from, to });
        let keys = self.publishers.iter().flat_map(|(k, &at)| {
            [
                AckRecord::PubId {
                    at,
                    publisher: k.publisher,
                },
                AckRecord::PubSeq { at, seq: k.seq },
            ]
        });
        self.acks.rewrite(
            base.chain(ranges)
                .chain(marked_prefix)
                .chain(marks)
                .chain(keys),
        )?;
        // The rewrite is fsynced: the keys in it are durable.
        self.keys_unsynced = false;
        Ok(())
    }

    /// Up to `max_count` messages from `from_seq` on, in seq order, skipping removed
    /// ones, stopping before `max_bytes` of stored size is exceeded (but returning at
    /// least one message when there is one).
    pub fn read(
        &self,
        from_seq: u64,
        max_count: usize,
        max_bytes: usize,
    ) -> Result<Vec<(u64, Message)>> {
        Ok(self
            .read_with_arrival(from_seq, max_count, max_bytes)?
            .into_iter()
            .map(|s| (s.seq, s.message))
            .collect())
    }

    /// [`Self::read`], with what was stored beside each message.
    pub fn read_with_arrival(
        &self,
        from_seq: u64,
        max_count: usize,
        max_bytes: usize,
    ) -> Result<Vec<StoredMessage>> {
        let mut out = Vec::new();
        let next = self.next_seq();
        let mut cur = from_seq;
        let mut used = 0usize;
        while out.len() < max_count && (out.is_empty() || used < max_bytes) {
            cur = self.removed.next_present(cur);
            if cur >= next {
                break;
            }
            let batches = self.log.read_raw(cur, max_bytes.saturating_sub(used))?;
            if batches.is_empty() {
                break;
            }
            for b in batches {
                let seq = b.base_offset;
                cur = seq + u64::from(b.record_count);
                if self.removed.contains(seq) {
                    continue;
                }
                let len = b.bytes.len();
                if out.len() >= max_count
                    || (!out.is_empty() && used.saturating_add(len) > max_bytes)
                {
                    return Ok(out);
                }
                out.push(self.decode(seq, b.encoding, b.record_count, b.bytes)?);
                used = used.saturating_add(len);
            }
        }
        Ok(out)
    }

    fn decode(&self, seq: u64, encoding: u8, count: u32, bytes: Bytes) -> Result<StoredMessage> {
        let known = encoding == ENCODING_QUEUE_MESSAGE || encoding == ENCODING_QUEUE_ARRIVAL;
        if !known || count != 1 || bytes.len() < PREFIX_LEN {
            return Err(StorageError::corrupt(
                self.dir.join(MESSAGES_DIR),
                seq,
                format!("entry {seq} is not a queue message"),
            ));
        }
        let mut rest = bytes.slice(PREFIX_LEN..);
        let mut arrival = Arrival::default();
        if encoding == ENCODING_QUEUE_ARRIVAL {
            let (a, used) = decode_arrival(&rest)?;
            arrival = a;
            rest = rest.slice(used..);
        }
        Ok(StoredMessage {
            seq,
            message: decode_message(&rest)?,
            arrival,
        })
    }

    /// Syncs and closes the store.
    pub fn close(mut self) -> Result<()> {
        self.sync()
    }

    /// Deletes the store's files (queue deletion). Durable when it returns.
    pub fn destroy(self) -> Result<()> {
        let dir = self.dir.clone();
        drop(self);
        std::fs::remove_dir_all(&dir).map_err(|e| StorageError::io(&dir, e))?;
        if let Some(parent) = dir.parent() {
            sync_dir(parent)?;
        }
        Ok(())
    }
}

/// Writes one entry's payload; returns its encoding tag. A plain arrival writes the
/// original layout, so queues that never use arrivals keep their format unchanged.
fn encode_entry(msg: &Message, arrival: &Arrival, buf: &mut Vec<u8>) -> u8 {
    let body_len = u32::try_from(msg.body.len()).unwrap_or(u32::MAX);
    buf.extend_from_slice(&body_len.to_le_bytes());
    if arrival.is_plain() {
        encode_message(msg, buf);
        ENCODING_QUEUE_MESSAGE
    } else {
        encode_arrival(arrival, buf);
        encode_message(msg, buf);
        ENCODING_QUEUE_ARRIVAL
    }
}

impl Drop for QueueStore {
    /// Hands buffered removals and marks to the OS so a clean shutdown without `sync`
    /// loses none of them to a process exit (a power loss still can).
    fn drop(&mut self) {
        if let Err(e) = self.acks.flush() {
            tracing::warn!(dir = %self.dir.display(), error = %e, "cannot flush buffered acks on close");
        }
    }
}
