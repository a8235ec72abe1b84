//! Publisher keys: a keyed append writes `(publisher, seq) -> message seq` to the ack
//! journal before the message, so a publisher's resend after a crash is recognised as
//! stored (see the durability contract on [`QueueStore`]).

use trident_core::{Arrival, Message, PublisherSeq};

use super::QueueStore;
use crate::error::Result;
use crate::journal::AckRecord;

impl QueueStore {
    /// Whether a message with this publisher key is stored (or was, and was removed).
    pub fn has_key(&self, key: &PublisherSeq) -> bool {
        self.publishers.contains(key)
    }

    /// The publisher keys the store remembers, oldest first.
    pub fn keys(&self) -> impl Iterator<Item = PublisherSeq> + '_ {
        self.publishers.iter().map(|(k, _)| k)
    }

    /// Writes the keys of messages about to be appended from `next_seq()` on, before
    /// the messages (see the durability contract).
    fn write_keys(&mut self, keys: &[Option<PublisherSeq>]) -> Result<bool> {
        let first = self.next_seq();
        let mut any = false;
        for (i, key) in keys.iter().enumerate() {
            let Some(k) = key else { continue };
            let at = first + i as u64;
            self.acks.push(AckRecord::PubId {
                at,
                publisher: k.publisher,
            })?;
            self.acks.push(AckRecord::PubSeq { at, seq: k.seq })?;
            self.publishers.insert(*k, at);
            any = true;
        }
        if any {
            self.keys_unsynced = true;
            self.acks.flush()?;
        }
        Ok(any)
    }

    /// The append after [`Self::write_keys`] failed: its keys name no message. They go
    /// from memory and, by a compaction, from the journal (the next message reuses
    /// the seq).
    fn unwrite_keys(&mut self, keys: &[Option<PublisherSeq>]) {
        if keys.iter().all(Option::is_none) {
            return;
        }
        for k in keys.iter().flatten() {
            self.publishers.remove(k);
        }
        if let Err(e) = self.compact() {
            tracing::warn!(dir = %self.dir.display(), error = %e,
                "cannot drop the publisher keys of a failed append from the journal");
        }
    }

    /// [`Self::append_with_arrival`] with the publisher key of the message, if it has
    /// one: written to the journal before the message.
    pub fn append_keyed(
        &mut self,
        msg: &Message,
        arrival: &Arrival,
        key: Option<PublisherSeq>,
    ) -> Result<u64> {
        let keys = [key];
        let keyed = match self.write_keys(&keys) {
            Ok(k) => k,
            Err(e) => {
                self.unwrite_keys(&keys);
                return Err(e);
            }
        };
        let res = self.append_one(msg, arrival);
        if keyed && res.is_err() {
            self.unwrite_keys(&keys);
        }
        res
    }

    /// [`Self::append_many_with_arrival`] with the publisher keys of the messages
    /// (`keys[i]` for `msgs[i]`; missing ones are none): one journal write for the
    /// keys, then one for the messages.
    pub fn append_many_keyed(
        &mut self,
        msgs: &[(&Message, &Arrival)],
        keys: &[Option<PublisherSeq>],
    ) -> Result<u64> {
        let keys = &keys[..keys.len().min(msgs.len())];
        let keyed = match self.write_keys(keys) {
            Ok(k) => k,
            Err(e) => {
                self.unwrite_keys(keys);
                return Err(e);
            }
        };
        let res = self.append_batch(msgs);
        if keyed && res.is_err() {
            self.unwrite_keys(keys);
        }
        res
    }
}
