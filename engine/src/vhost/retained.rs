//! Retained messages: the last message kept per exchange and routing key, handed to a
//! new subscriber whose pattern matches the key; and putting a message straight into
//! one queue (how such a message reaches that subscriber alone).
//!
//! Kept in memory (for matching) and in the metadata store (so they survive restarts),
//! in that order and under one lock, so the two never disagree about which of two
//! racing writes came last.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use bytes::Bytes;
use trident_core::message::now_ms;
use trident_core::topic_words::split_words;
use trident_core::{
    Arrival, Error, ExchangeName, Message, PatternWord, QueueName, Result, TopicPattern,
};
use trident_storage::{MetaOp, MetaStore, MetaTable, decode_message, encode_message};

use super::Vhost;
use crate::publish::{Confirm, ConfirmTicket, PublishOptions, Published};
use crate::queue::QueueCommand;

/// A vhost's retained messages, by exchange and routing key.
#[derive(Debug, Default)]
pub(crate) struct RetainedIndex {
    by_exchange: HashMap<ExchangeName, BTreeMap<String, Arc<Message>>>,
}

/// The store key of a retained message: vhost, exchange, routing key.
fn store_key(vhost: &str, exchange: &str, routing_key: &str) -> String {
    format!("{vhost}\u{0}{exchange}\u{0}{routing_key}")
}

/// What every stored key of one exchange's retained messages starts with.
pub(super) fn exchange_prefix(vhost: &str, exchange: &str) -> String {
    format!("{vhost}\u{0}{exchange}\u{0}")
}

impl RetainedIndex {
    /// Reads what the store holds for `vhost`, for the exchanges that `exists`. Entries
    /// that cannot be read are skipped with a warning: a damaged retained message must
    /// not keep the broker from starting. Entries of exchanges that no longer exist
    /// (a retain that committed just after its exchange's deletion) are ignored.
    pub(crate) fn load(
        meta: &MetaStore,
        vhost: &str,
        exists: impl Fn(&ExchangeName) -> bool,
    ) -> Result<Self> {
        let mut index = Self::default();
        let prefix = format!("{vhost}\u{0}");
        for (key, value) in meta.list_prefix_raw(MetaTable::Retained, &prefix)? {
            let rest = &key[prefix.len()..];
            let Some((exchange, routing_key)) = rest.split_once('\u{0}') else {
                tracing::warn!(vhost, key, "skipping retained message with a malformed key");
                continue;
            };
            let Ok(exchange) = ExchangeName::new(exchange) else {
                tracing::warn!(
                    vhost,
                    key,
                    "skipping retained message of an invalid exchange"
                );
                continue;
            };
            if !exists(&exchange) {
                continue;
            }
            match decode_message(&Bytes::from(value)) {
                Ok(m) => {
                    index
                        .by_exchange
                        .entry(exchange)
                        .or_default()
                        .insert(routing_key.to_string(), Arc::new(m));
                }
                Err(e) => {
                    tracing::warn!(vhost, key, error = %e, "skipping unreadable retained message");
                }
            }
        }
        Ok(index)
    }

    /// Forgets an exchange's retained messages (the exchange was deleted).
    pub(crate) fn forget_exchange(&mut self, exchange: &ExchangeName) {
        self.by_exchange.remove(exchange);
    }

    /// How many messages are retained, over all exchanges.
    pub(crate) fn len(&self) -> usize {
        self.by_exchange.values().map(BTreeMap::len).sum()
    }

    /// The live messages of `exchange` whose keys `pattern` matches, in key order, and
    /// the matching keys whose messages had expired at `now` (for the caller to forget).
    #[allow(clippy::type_complexity)]
    fn matching(
        &self,
        exchange: &ExchangeName,
        pattern: &TopicPattern,
        now: i64,
    ) -> (Vec<(String, Arc<Message>)>, Vec<String>) {
        let mut out = Vec::new();
        let mut expired = Vec::new();
        let Some(kept) = self.by_exchange.get(exchange) else {
            return (out, expired);
        };
        let mut consider = |key: &String, m: &Arc<Message>| {
            if !pattern.matches(split_words(key)) {
                return;
            }
            if m.is_expired(now) {
                expired.push(key.clone());
            } else {
                out.push((key.clone(), m.clone()));
            }
        };
        match literal_prefix(pattern) {
            None => kept.iter().for_each(|(k, m)| consider(k, m)),
            // Every key that starts with the pattern's leading words sorts in one range;
            // the pattern itself tells which of them match.
            Some(prefix) => kept
                .range(prefix.clone()..)
                .take_while(|(k, _)| k.starts_with(&prefix))
                .for_each(|(k, m)| consider(k, m)),
        }
        (out, expired)
    }
}

/// The stored keys a pattern can match all start with its leading exact words: a
/// superset of the matches, found by a range scan instead of a walk over every key.
fn literal_prefix(pattern: &TopicPattern) -> Option<String> {
    let mut prefix: Option<String> = None;
    for w in pattern.words() {
        let PatternWord::Exact(w) = w else { break };
        match &mut prefix {
            None => prefix = Some(w.clone()),
            Some(p) => {
                p.push('.');
                p.push_str(w);
            }
        }
    }
    prefix
}

impl Vhost {
    /// Keeps `message` as the retained message of `routing_key` on `exchange`,
    /// replacing the one before; `None` or an empty body clears it. Returns once the
    /// change is durable (fsynced; concurrent changes share one commit). A matching
    /// lookup sees the change as soon as it is made, before it is durable.
    pub async fn retain(
        &self,
        exchange: &ExchangeName,
        routing_key: &str,
        message: Option<Message>,
    ) -> Result<()> {
        let message = message.filter(|m| !m.body.is_empty());
        if let Some(m) = &message {
            let max = self.inner.engine.config.max_message_bytes;
            if m.body.len() > max {
                return Err(Error::MessageTooLarge {
                    size: m.body.len(),
                    max,
                });
            }
        }
        let key = store_key(self.inner.name.as_str(), exchange.as_str(), routing_key);
        // Encoded before the lock: a large message must not hold up other retains.
        let kept = message.map(|mut m| {
            m.exchange = exchange.as_str().to_string();
            m.routing_key = routing_key.to_string();
            let mut bytes = Vec::with_capacity(m.body.len() + 64);
            encode_message(&m, &mut bytes);
            (Arc::new(m), bytes)
        });
        let committed = {
            let mut index = self
                .inner
                .retained
                .lock()
                .unwrap_or_else(|p| p.into_inner());
            let ops = match kept {
                Some((m, bytes)) => {
                    index
                        .by_exchange
                        .entry(exchange.clone())
                        .or_default()
                        .insert(routing_key.to_string(), m);
                    vec![MetaOp::put_raw(MetaTable::Retained, key, bytes)]
                }
                None => {
                    if let Some(kept) = index.by_exchange.get_mut(exchange) {
                        kept.remove(routing_key);
                        if kept.is_empty() {
                            index.by_exchange.remove(exchange);
                        }
                    }
                    vec![MetaOp::delete(MetaTable::Retained, key)]
                }
            };
            // Submitted under the lock: the store applies changes in the order the
            // index took them.
            self.inner.engine.meta_writer.submit(ops)?
        };
        committed
            .await
            .map_err(|_| Error::Unavailable("the metadata writer stopped".into()))?
    }

    /// The retained messages of `exchange` whose routing keys `pattern` matches (the
    /// `$` rule included), in byte order of the keys. Messages whose declared lifetime
    /// has ended are left out (and forgotten).
    pub fn retained_matching(
        &self,
        exchange: &ExchangeName,
        pattern: &TopicPattern,
    ) -> Vec<(String, Arc<Message>)> {
        let now = now_ms();
        let mut index = self
            .inner
            .retained
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        let (out, expired) = index.matching(exchange, pattern, now);
        if !expired.is_empty() {
            let vhost = self.inner.name.as_str();
            let mut ops = Vec::with_capacity(expired.len());
            if let Some(kept) = index.by_exchange.get_mut(exchange) {
                for k in &expired {
                    kept.remove(k);
                    ops.push(MetaOp::delete(
                        MetaTable::Retained,
                        store_key(vhost, exchange.as_str(), k),
                    ));
                }
            }
            // Nobody waits for this: an expired message that comes back after a crash
            // is dropped again by the next lookup.
            if let Err(e) = self.inner.engine.meta_writer.submit(ops) {
                tracing::debug!(error = %e, "expired retained messages not removed");
            }
        }
        out
    }

    /// How many messages this vhost retains.
    pub fn retained_count(&self) -> usize {
        self.inner
            .retained
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .len()
    }

    /// Puts `message` straight into the queue `queue`, past every exchange, with the
    /// given arrival (for a retained message handed to one new subscriber: its
    /// binding's arguments and `replayed`). Length limits apply as for a publish, and
    /// the confirmation (`opts.confirm`) completes like a publish's. Not found when the
    /// queue does not exist.
    pub async fn enqueue(
        &self,
        queue: &QueueName,
        message: Message,
        arrival: Arrival,
        opts: PublishOptions,
    ) -> Result<Published> {
        let max = self.inner.engine.config.max_message_bytes;
        if message.body.len() > max {
            return Err(Error::MessageTooLarge {
                size: message.body.len(),
                max,
            });
        }
        let q = self
            .queue(queue)
            .ok_or_else(|| Error::not_found("queue", queue.as_str(), self.inner.name.as_str()))?;
        let (ticket, confirm): (Option<ConfirmTicket>, Option<Confirm>) = if opts.confirm {
            let (t, c) = ConfirmTicket::new(1);
            (Some(t), Some(c))
        } else {
            (None, None)
        };
        q.send(QueueCommand::Publish {
            message: Arc::new(message),
            arrival,
            ticket,
            key: None,
        })
        .await
        .map_err(|_| Error::not_found("queue", queue.as_str(), self.inner.name.as_str()))?;
        Ok(Published { routed: 1, confirm })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn words() -> impl Strategy<Value = Vec<String>> {
        // A small alphabet, so that keys share prefixes and differ right after them
        // (`a` / `a.b` / `ab` / `a-` / `$a`), where a range scan could go wrong.
        let word = prop::sample::select(vec!["a", "b", "ab", "a-", "", "$a", "$"]);
        prop::collection::vec(word.prop_map(String::from), 0..4)
    }

    fn pattern_words() -> impl Strategy<Value = Vec<PatternWord>> {
        let w = prop_oneof![
            3 => prop::sample::select(vec!["a", "b", "ab", "a-", "", "$a"])
                .prop_map(|w| PatternWord::Exact(w.to_string())),
            1 => Just(PatternWord::One),
            1 => Just(PatternWord::Many),
        ];
        prop::collection::vec(w, 0..4)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]
        /// The range scan finds exactly what matching every stored key would.
        #[test]
        fn matching_equals_brute_force(
            keys in prop::collection::vec(words(), 0..24),
            pattern in pattern_words(),
        ) {
            let Ok(pattern) = TopicPattern::new(pattern) else {
                return Ok(());
            };
            let x = ExchangeName::new("x").expect("name");
            let mut index = RetainedIndex::default();
            let kept = index.by_exchange.entry(x.clone()).or_default();
            for k in &keys {
                kept.insert(k.join("."), Arc::new(Message::new("m")));
            }
            let (found, expired) = index.matching(&x, &pattern, 0);
            prop_assert!(expired.is_empty());
            let found: Vec<String> = found.into_iter().map(|(k, _)| k).collect();
            let brute: Vec<String> = kept_keys(&index, &x)
                .into_iter()
                .filter(|k| pattern.matches(split_words(k)))
                .collect();
            prop_assert_eq!(found, brute);
        }
    }

    fn kept_keys(index: &RetainedIndex, x: &ExchangeName) -> Vec<String> {
        index
            .by_exchange
            .get(x)
            .map(|m| m.keys().cloned().collect())
            .unwrap_or_default()
    }

    #[test]
    fn literal_prefix_is_the_leading_exact_words() {
        let f = |s| TopicPattern::from_filter(s, '/', "+", "#").expect("filter");
        assert_eq!(literal_prefix(&f("a/b/+/c")), Some("a.b".into()));
        assert_eq!(literal_prefix(&f("a/b")), Some("a.b".into()));
        assert_eq!(literal_prefix(&f("#")), None);
        assert_eq!(literal_prefix(&f("+/a")), None);
        assert_eq!(literal_prefix(&f("a.b/#")), Some("a/b".into()));
    }
}
