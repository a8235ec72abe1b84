//! The owner task of one partition's log.
//!
//! Appends that arrive together are written together and, when any of them asked to be
//! durable, covered by one fsync before any of them is answered: group commit, so the
//! cost of "acknowledge after fsync" is paid per batch of requests, not per request.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::sync::{mpsc, oneshot, watch};
use tokio::time::Instant;
use trident_core::message::now_ms;
use trident_core::{BatchEncoding, Durability, Error, Offset, Result, TopicName};
use trident_storage::{LogConfig, SegmentLog};

use super::coalesce::{Coalescer, Reply};
use super::producer_snapshot;
use super::producer_state::{ProducerStates, SeqCheck};
use super::{AppendError, AppendRequest, AppendResult, PartitionRef, ReadResult};
use crate::config::EngineConfig;
use crate::metrics::Metrics;

const BATCH: usize = 256;

/// What readers see without asking the task.
#[derive(Debug)]
pub(crate) struct PartitionShared {
    pub high_watermark: AtomicU64,
    pub log_start: AtomicU64,
    pub size_bytes: AtomicU64,
    pub hw_tx: watch::Sender<Offset>,
}

#[derive(Debug)]
pub(crate) enum PartitionCommand {
    Append {
        req: AppendRequest,
        reply: oneshot::Sender<Result<AppendResult, AppendError>>,
    },
    /// One record, written in one batch with the records queued beside it.
    AppendRecord {
        record: trident_records::record::NewRecord,
        wait_durable: bool,
        reply: oneshot::Sender<Result<AppendResult, AppendError>>,
    },
    Read {
        offset: Offset,
        max_bytes: usize,
        reply: oneshot::Sender<Result<ReadResult>>,
    },
    OffsetForTimestamp {
        ts: i64,
        reply: oneshot::Sender<Result<Option<Offset>>>,
    },
    DeleteRecordsBefore {
        offset: Offset,
        reply: oneshot::Sender<Result<Offset>>,
    },
    UpdateConfig {
        config: LogConfig,
        reply: oneshot::Sender<Result<()>>,
    },
    Shutdown {
        delete: bool,
        reply: oneshot::Sender<()>,
    },
}

struct PartitionActor {
    name: String,
    dir: PathBuf,
    log: SegmentLog,
    shared: Arc<PartitionShared>,
    producers: ProducerStates,
    durability: Durability,
    metrics: Arc<Metrics>,
    dirty: bool,
    last_sync: Instant,
    retention_every: Duration,
    next_retention: Instant,
    /// Answers held back until the next sync.
    awaiting_sync: Vec<(Reply, AppendResult)>,
    /// Record appends of this round, written as one batch before anything else is
    /// handled (so that they keep their place among other commands) and at its end.
    coalescer: Coalescer,
}

pub(crate) fn spawn_partition(
    topic: TopicName,
    index: u32,
    dir: PathBuf,
    log_config: LogConfig,
    cfg: &EngineConfig,
    metrics: Arc<Metrics>,
) -> Result<PartitionRef> {
    let log = SegmentLog::open(&dir, log_config)?;
    let name = format!("{topic}-{index}");
    let producers = producer_snapshot::recover(&log, &name);
    let (hw_tx, _) = watch::channel(log.next_offset());
    let shared = Arc::new(PartitionShared {
        high_watermark: AtomicU64::new(log.next_offset()),
        log_start: AtomicU64::new(log.start_offset()),
        size_bytes: AtomicU64::new(log.size_bytes()),
        hw_tx,
    });
    let (tx, rx) = mpsc::channel(cfg.channel_capacity);
    let retention_every = Duration::from_millis(cfg.retention_check_ms.max(100));
    let actor = PartitionActor {
        name,
        dir,
        log,
        shared: shared.clone(),
        producers,
        durability: cfg.durability,
        metrics,
        dirty: false,
        last_sync: Instant::now(),
        retention_every,
        next_retention: Instant::now() + retention_every,
        awaiting_sync: Vec::new(),
        coalescer: Coalescer::default(),
    };
    tokio::spawn(actor.run(rx));
    Ok(PartitionRef {
        topic,
        index,
        tx,
        shared,
    })
}

impl PartitionRef {
    pub(crate) async fn shutdown(&self, delete: bool) {
        let (tx, rx) = oneshot::channel();
        if self
            .tx
            .send(PartitionCommand::Shutdown { delete, reply: tx })
            .await
            .is_ok()
        {
            let _ = rx.await;
        }
    }

    pub(crate) async fn update_config(&self, config: LogConfig) -> Result<()> {
        self.call(|reply| PartitionCommand::UpdateConfig { config, reply })
            .await?
    }
}

impl PartitionActor {
    async fn run(mut self, mut rx: mpsc::Receiver<PartitionCommand>) {
        loop {
            let deadline = self.next_deadline();
            let cmd = tokio::select! {
                cmd = rx.recv() => cmd,
                () = tokio::time::sleep_until(deadline) => {
                    self.on_timer();
                    continue;
                }
            };
            let Some(cmd) = cmd else {
                self.close();
                return;
            };
            if self.handle(cmd) {
                return;
            }
            for _ in 1..BATCH {
                match rx.try_recv() {
                    Ok(cmd) => {
                        if self.handle(cmd) {
                            return;
                        }
                    }
                    Err(_) => break,
                }
            }
            self.append_coalesced();
            self.flush();
        }
    }

    fn next_deadline(&self) -> Instant {
        let mut d = self.next_retention;
        if let Durability::Interval { interval_ms } = self.durability
            && self.dirty
        {
            d = d.min(self.last_sync + Duration::from_millis(interval_ms));
        }
        d
    }

    fn on_timer(&mut self) {
        if Instant::now() >= self.next_retention {
            self.next_retention = Instant::now() + self.retention_every;
            let expired = self.producers.expire(now_ms());
            if expired > 0 {
                tracing::debug!(partition = %self.name, producers = expired, "forgot idle producers");
            }
            match self.log.apply_retention(now_ms()) {
                Ok(0) => {}
                Ok(n) => {
                    tracing::info!(partition = %self.name, segments = n, "retention removed segments")
                }
                Err(e) => tracing::error!(partition = %self.name, error = %e, "retention failed"),
            }
            self.publish_state();
        }
        if matches!(self.durability, Durability::Interval { .. }) {
            self.sync_now();
        }
    }

    /// Returns true when the task must stop.
    fn handle(&mut self, cmd: PartitionCommand) -> bool {
        if !matches!(cmd, PartitionCommand::AppendRecord { .. }) {
            self.append_coalesced();
        }
        match cmd {
            PartitionCommand::Append { req, reply } => self.append(req, reply),
            PartitionCommand::AppendRecord {
                record,
                wait_durable,
                reply,
            } => {
                if self.coalescer.push(record, wait_durable, reply) {
                    self.append_coalesced();
                }
            }
            PartitionCommand::Read {
                offset,
                max_bytes,
                reply,
            } => {
                // Readers see only up to the published high watermark: batches written
                // but not yet as durable as their producer asked (acks=all waiting for
                // the group fsync) are invisible, and what a read returns always agrees
                // with the watermark it reports.
                let hw = self.shared.high_watermark.load(Ordering::Acquire);
                let result = if offset >= hw && offset <= self.log.next_offset() {
                    Ok(Vec::new())
                } else {
                    self.log.read(offset, max_bytes).map_err(Error::from)
                }
                .map(|mut batches| {
                    batches.retain(|b| b.base_offset < hw);
                    ReadResult {
                        batches,
                        high_watermark: hw,
                        log_start_offset: self.log.start_offset(),
                    }
                });
                if let Ok(r) = &result {
                    let n: u64 = r.batches.iter().map(|b| u64::from(b.record_count)).sum();
                    Metrics::add(&self.metrics.records_fetched, n);
                }
                let _ = reply.send(result);
            }
            PartitionCommand::OffsetForTimestamp { ts, reply } => {
                let _ = reply.send(self.log.offset_for_timestamp(ts).map_err(Error::from));
            }
            PartitionCommand::DeleteRecordsBefore { offset, reply } => {
                let result = self.log.delete_records_before(offset).map_err(Error::from);
                self.publish_state();
                let _ = reply.send(result);
            }
            PartitionCommand::UpdateConfig { config, reply } => {
                let _ = reply.send(self.log.set_config(config).map_err(Error::from));
            }
            PartitionCommand::Shutdown { delete, reply } => {
                if delete {
                    self.sync_now();
                    self.answer_waiters();
                    if let Err(e) = std::fs::remove_dir_all(&self.dir) {
                        tracing::warn!(partition = %self.name, error = %e, "could not remove partition directory");
                    }
                } else {
                    self.close();
                }
                let _ = reply.send(());
                return true;
            }
        }
        false
    }

    fn append(
        &mut self,
        mut req: AppendRequest,
        reply: oneshot::Sender<Result<AppendResult, AppendError>>,
    ) {
        if let Some(p) = &req.producer {
            match self.producers.check(p, req.record_count) {
                Ok(SeqCheck::Append) => {}
                Ok(SeqCheck::Duplicate(base_offset)) => {
                    let result = AppendResult {
                        base_offset,
                        log_start_offset: self.log.start_offset(),
                        duplicate: true,
                    };
                    // The original may still be waiting for this batch's fsync; the
                    // retry is answered no sooner than the original would be.
                    if req.wait_durable && self.durability == Durability::Fsync && self.dirty {
                        self.awaiting_sync.push((reply, result));
                    } else {
                        let _ = reply.send(Ok(result));
                    }
                    return;
                }
                Err(e) => {
                    let _ = reply.send(Err(e));
                    return;
                }
            }
        }
        let wait_durable = req.wait_durable;
        match self.write(&mut req) {
            Ok(result) => self.answer(wait_durable, std::iter::once((reply, result))),
            Err(e) => {
                let _ = reply.send(Err(e));
            }
        }
    }

    /// Writes the record appends gathered this round as one batch (or several, see
    /// `Coalescer::take`); each record's answer carries its own offset.
    fn append_coalesced(&mut self) {
        for batch in self.coalescer.take() {
            let mut req = batch.req;
            let wait_durable = req.wait_durable;
            match self.write(&mut req) {
                Ok(first) => {
                    let answers = (0u64..).zip(batch.replies).map(|(i, reply)| {
                        let result = AppendResult {
                            base_offset: first.base_offset + i,
                            ..first
                        };
                        (reply, result)
                    });
                    self.answer(wait_durable, answers);
                }
                Err(e) => {
                    for reply in batch.replies {
                        let _ = reply.send(Err(e.clone()));
                    }
                }
            }
        }
    }

    /// Writes one batch to the log (offset patched, producer state and metrics kept).
    fn write(&mut self, req: &mut AppendRequest) -> Result<AppendResult, AppendError> {
        let base = self.log.next_offset();
        if req.encoding == BatchEncoding::RecordBatchV2 && req.bytes.len() >= 8 {
            // The batch's first field is its base offset, which the producer leaves at
            // 0; the CRC does not cover it, so patching keeps the batch valid.
            req.bytes[..8].copy_from_slice(&(base as i64).to_be_bytes());
        }
        let segment_before = self.log.active_base();
        let written = self.log.append(
            req.record_count,
            req.max_timestamp,
            req.encoding,
            &req.bytes,
        );
        let base_offset = match written {
            Ok(b) => b,
            Err(e) => {
                tracing::error!(partition = %self.name, error = %e, "append failed");
                return Err(AppendError::Engine(Error::from(e).to_string()));
            }
        };
        self.dirty = true;
        if self.log.active_base() != segment_before {
            // The append rolled: everything before this batch is sealed and fsynced, and
            // the state does not include this batch yet, so it covers exactly the sealed
            // segments. Recovery then replays at most the active segment.
            producer_snapshot::write(&self.log, &self.producers, base_offset, &self.name);
        }
        if let Some(p) = &req.producer {
            self.producers
                .record(p, req.record_count, base_offset, now_ms());
        }
        Metrics::add(&self.metrics.records_appended, u64::from(req.record_count));
        Metrics::add(&self.metrics.bytes_appended, req.bytes.len() as u64);
        Ok(AppendResult {
            base_offset,
            log_start_offset: self.log.start_offset(),
            duplicate: false,
        })
    }

    /// Answers written appends: after the next group fsync when they asked for
    /// durability under `durability = fsync`, otherwise now.
    fn answer(
        &mut self,
        wait_durable: bool,
        answers: impl IntoIterator<Item = (Reply, AppendResult)>,
    ) {
        if wait_durable && self.durability == Durability::Fsync {
            self.awaiting_sync.extend(answers);
        } else {
            self.publish_state();
            for (reply, result) in answers {
                let _ = reply.send(Ok(result));
            }
        }
    }

    fn flush(&mut self) {
        if !self.awaiting_sync.is_empty() {
            self.sync_now();
        }
        // State first: a producer that sees its append acknowledged must also see the
        // high watermark that includes it.
        self.publish_state();
        self.answer_waiters();
    }

    fn answer_waiters(&mut self) {
        let failed = self.dirty && self.durability == Durability::Fsync;
        for (reply, result) in self.awaiting_sync.drain(..) {
            let _ = reply.send(if failed {
                Err(AppendError::Engine(
                    "the log could not be synced to disk".into(),
                ))
            } else {
                Ok(result)
            });
        }
    }

    /// Clean stop: make the log durable, answer whoever waited for that, and write the
    /// producer snapshot so that the next open replays nothing.
    fn close(&mut self) {
        self.sync_now();
        self.answer_waiters();
        if !self.dirty {
            producer_snapshot::write(
                &self.log,
                &self.producers,
                self.log.next_offset(),
                &self.name,
            );
        }
    }

    fn sync_now(&mut self) {
        if !self.dirty {
            return;
        }
        match tokio::task::block_in_place(|| self.log.sync()) {
            Ok(()) => {
                self.dirty = false;
                self.last_sync = Instant::now();
            }
            Err(e) => tracing::error!(partition = %self.name, error = %e, "log sync failed"),
        }
    }

    fn publish_state(&self) {
        let hw = self.log.next_offset();
        self.shared.high_watermark.store(hw, Ordering::Release);
        self.shared
            .log_start
            .store(self.log.start_offset(), Ordering::Release);
        self.shared
            .size_bytes
            .store(self.log.size_bytes(), Ordering::Relaxed);
        self.shared.hw_tx.send_if_modified(|v| {
            let changed = *v != hw;
            *v = hw;
            changed
        });
    }
}
