//! A session's subscriptions: how each is written into the binding that makes it (so
//! that it survives with the session's queue, across restarts), and which of them a
//! delivered message matched, which decides its QoS and subscription identifiers.
//! No I/O.

use trident_core::{
    Binding, BindingDestination, ExchangeName, FieldTable, FieldValue, NO_LOCAL_ORIGIN_ARG,
    QueueName, TopicPattern, topic_words::split_words,
};

use crate::codec::{QoS, RetainHandling, SubscriptionOptions};
use crate::names::LEVEL;

/// Binding arguments of an MQTT subscription. The engine sees opaque arguments; the
/// adapter reads them back when a persistent session resumes.
pub const ARG_FILTER: &str = "x-mqtt-filter";
pub const ARG_QOS: &str = "x-mqtt-qos";
pub const ARG_SUBSCRIPTION_ID: &str = "x-mqtt-subscription-id";
pub const ARG_RETAIN_AS_PUBLISHED: &str = "x-mqtt-retain-as-published";

/// One subscription of a session (not a shared one: those have their own queue).
#[derive(Debug, Clone, PartialEq)]
pub struct Subscription {
    pub filter: String,
    pub pattern: TopicPattern,
    pub qos: QoS,
    pub no_local: bool,
    pub retain_as_published: bool,
    pub retain_handling: RetainHandling,
    pub id: Option<u32>,
}

/// Why a filter cannot become a subscription.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("topic filter {0:?} cannot be mapped onto a routing pattern")]
pub struct Unmappable(pub String);

impl Subscription {
    /// The subscription for a (validated) filter; the granted QoS is what was asked:
    /// Trident serves every QoS.
    pub fn new(
        filter: &str,
        options: &SubscriptionOptions,
        id: Option<u32>,
    ) -> Result<Self, Unmappable> {
        let pattern = TopicPattern::from_filter(filter, LEVEL, "+", "#")
            .map_err(|_| Unmappable(filter.to_owned()))?;
        Ok(Self {
            filter: filter.to_owned(),
            pattern,
            qos: options.qos,
            no_local: options.no_local,
            retain_as_published: options.retain_as_published,
            retain_handling: options.retain_handling,
            id,
        })
    }

    /// The binding from `exchange` to the session's `queue` that makes this
    /// subscription. `origin` is the client id, for no-local.
    pub fn binding(&self, exchange: &ExchangeName, queue: &QueueName, origin: &str) -> Binding {
        let mut args = FieldTable::new();
        args.insert(ARG_FILTER, FieldValue::LongString(self.filter.clone()));
        args.insert(ARG_QOS, FieldValue::U8(self.qos.as_u8()));
        if let Some(id) = self.id {
            args.insert(ARG_SUBSCRIPTION_ID, FieldValue::U32(id));
        }
        if self.retain_as_published {
            args.insert(ARG_RETAIN_AS_PUBLISHED, FieldValue::Bool(true));
        }
        if self.no_local {
            args.insert(
                NO_LOCAL_ORIGIN_ARG,
                FieldValue::LongString(origin.to_owned()),
            );
        }
        Binding::with_pattern(
            exchange.clone(),
            BindingDestination::Queue(queue.clone()),
            self.pattern.clone(),
            args,
        )
    }

    /// Reads back a subscription this adapter bound (`None` for any other binding).
    pub fn from_binding(b: &Binding) -> Option<Self> {
        let filter = b.arguments.get_str(ARG_FILTER)?;
        let qos = b
            .arguments
            .get_i64(ARG_QOS)
            .and_then(|q| u8::try_from(q).ok())
            .and_then(QoS::from_u8)?;
        let mut options = SubscriptionOptions::new(qos);
        options.no_local = b.arguments.get(NO_LOCAL_ORIGIN_ARG).is_some();
        options.retain_as_published = b
            .arguments
            .get(ARG_RETAIN_AS_PUBLISHED)
            .and_then(FieldValue::as_bool)
            .unwrap_or(false);
        let id = b
            .arguments
            .get_i64(ARG_SUBSCRIPTION_ID)
            .and_then(|i| u32::try_from(i).ok());
        Self::new(filter, &options, id).ok()
    }

    fn matches(&self, words: &[&str]) -> bool {
        self.pattern.matches(words.iter().copied())
    }
}

/// What the subscriptions a message matched make of its delivery.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Matched {
    /// The highest QoS granted among them ([MQTT-3.3.4-2] and the overlapping rule of
    /// 3.3.4: one message, at the maximum QoS).
    pub qos: Option<QoS>,
    /// All their subscription identifiers ([MQTT-3.3.4-4]).
    pub ids: Vec<u32>,
    /// Whether any of them keeps the published retain flag.
    pub retain_as_published: bool,
}

/// The subscriptions of `subs` that a message with `routing_key` matches. `own` is
/// true when the session itself published it (no-local subscriptions then do not count).
pub fn matched<'a>(
    subs: impl IntoIterator<Item = &'a Subscription>,
    routing_key: &str,
    own: bool,
) -> Matched {
    let words: Vec<&str> = split_words(routing_key).collect();
    let mut m = Matched::default();
    for s in subs {
        if (own && s.no_local) || !s.matches(&words) {
            continue;
        }
        m.qos = m.qos.max(Some(s.qos));
        m.ids.extend(s.id);
        m.retain_as_published |= s.retain_as_published;
    }
    m
}

/// What the bindings a message matched on its way into the session's queue say (the
/// engine hands their argument tables over with each delivery, also after a restart).
/// Tables that are not an MQTT subscription's are ignored.
pub fn matched_from_tables<'a>(tables: impl IntoIterator<Item = &'a FieldTable>) -> Matched {
    let mut m = Matched::default();
    for t in tables {
        let Some(qos) = t
            .get_i64(ARG_QOS)
            .and_then(|q| u8::try_from(q).ok())
            .and_then(QoS::from_u8)
        else {
            continue;
        };
        m.qos = m.qos.max(Some(qos));
        m.ids.extend(
            t.get_i64(ARG_SUBSCRIPTION_ID)
                .and_then(|i| u32::try_from(i).ok()),
        );
        m.retain_as_published |= t
            .get(ARG_RETAIN_AS_PUBLISHED)
            .and_then(FieldValue::as_bool)
            .unwrap_or(false);
    }
    m
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::names::routing_key_of;

    fn sub(filter: &str, qos: QoS, id: Option<u32>) -> Subscription {
        Subscription::new(filter, &SubscriptionOptions::new(qos), id).unwrap()
    }

    #[test]
    fn overlapping_subscriptions_give_the_highest_qos_and_every_id() {
        let subs = [
            sub("a/+", QoS::AtMostOnce, Some(1)),
            sub("a/#", QoS::ExactlyOnce, Some(2)),
            sub("b/#", QoS::AtLeastOnce, Some(3)),
        ];
        let m = matched(&subs, &routing_key_of("a/x"), false);
        assert_eq!(m.qos, Some(QoS::ExactlyOnce));
        assert_eq!(m.ids, vec![1, 2]);
        assert_eq!(matched(&subs, &routing_key_of("c"), false).qos, None);
    }

    #[test]
    fn dots_in_levels_and_dollar_topics() {
        let subs = [
            sub("a/b.c", QoS::AtLeastOnce, None),
            sub("#", QoS::AtMostOnce, None),
        ];
        assert_eq!(
            matched(&subs[..1], &routing_key_of("a/b.c"), false).qos,
            Some(QoS::AtLeastOnce)
        );
        assert_eq!(
            matched(&subs[..1], &routing_key_of("a/b/c"), false).qos,
            None
        );
        assert_eq!(
            matched(&subs[1..], &routing_key_of("$SYS/x"), false).qos,
            None
        );
    }

    #[test]
    fn no_local_skips_own_messages_only() {
        let mut o = SubscriptionOptions::new(QoS::AtLeastOnce);
        o.no_local = true;
        let subs = [Subscription::new("t", &o, None).unwrap()];
        assert_eq!(matched(&subs, "t", true).qos, None);
        assert_eq!(matched(&subs, "t", false).qos, Some(QoS::AtLeastOnce));
    }

    #[test]
    fn matched_binding_tables_give_qos_and_ids() {
        let q = QueueName::new("q").unwrap();
        let x = ExchangeName::new("amq.topic").unwrap();
        let a = sub("a/#", QoS::AtLeastOnce, Some(4)).binding(&x, &q, "me");
        let b = sub("a/b", QoS::ExactlyOnce, None).binding(&x, &q, "me");
        let m = matched_from_tables([&a.arguments, &b.arguments, &FieldTable::new()]);
        assert_eq!(m.qos, Some(QoS::ExactlyOnce));
        assert_eq!(m.ids, vec![4]);
        assert_eq!(matched_from_tables([&FieldTable::new()]).qos, None);
    }

    #[test]
    fn a_subscription_survives_its_binding() {
        let mut o = SubscriptionOptions::new(QoS::ExactlyOnce);
        o.no_local = true;
        o.retain_as_published = true;
        let s = Subscription::new("x/+/y.z", &o, Some(77)).unwrap();
        let b = s.binding(
            &ExchangeName::new("amq.topic").unwrap(),
            &QueueName::new("q").unwrap(),
            "me",
        );
        let back = Subscription::from_binding(&b).unwrap();
        assert_eq!(back, s);
    }
}
