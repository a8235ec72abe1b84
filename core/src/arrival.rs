//! What a queue keeps with a message besides the message itself: the arguments of the
//! bindings it matched on its way in, and whether it was replayed from stored state.
//! Consumers receive both with every delivery, so an adapter can compute options per
//! subscription (the binding arguments it wrote) without keeping its own copy of them.

use std::sync::Arc;

use crate::value::FieldTable;

/// The argument tables of the bindings a message matched on its way into one queue.
///
/// Only bindings with arguments that describe the subscription are listed: bindings
/// without arguments, and headers-exchange bindings (whose arguments are their match
/// criteria), are not. So for plain bindings this is empty and costs nothing; one
/// match costs a reference count, several share one allocation.
#[derive(Debug, Clone, Default)]
pub struct MatchedBindings(Repr);

#[derive(Debug, Clone, Default)]
enum Repr {
    #[default]
    None,
    One(Arc<FieldTable>),
    Many(Arc<[Arc<FieldTable>]>),
}

impl MatchedBindings {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn from_tables(tables: impl IntoIterator<Item = Arc<FieldTable>>) -> Self {
        let mut it = tables.into_iter();
        let Some(first) = it.next() else {
            return Self::default();
        };
        let Some(second) = it.next() else {
            return Self(Repr::One(first));
        };
        Self(Repr::Many([first, second].into_iter().chain(it).collect()))
    }

    pub fn is_empty(&self) -> bool {
        matches!(self.0, Repr::None)
    }

    pub fn len(&self) -> usize {
        match &self.0 {
            Repr::None => 0,
            Repr::One(_) => 1,
            Repr::Many(all) => all.len(),
        }
    }

    /// The tables, shared with the routing table that matched them.
    pub fn tables(&self) -> &[Arc<FieldTable>] {
        match &self.0 {
            Repr::None => &[],
            Repr::One(one) => std::slice::from_ref(one),
            Repr::Many(all) => all,
        }
    }

    pub fn iter(&self) -> impl Iterator<Item = &FieldTable> {
        self.tables().iter().map(|t| &**t)
    }
}

impl PartialEq for MatchedBindings {
    fn eq(&self, other: &Self) -> bool {
        self.tables().len() == other.tables().len()
            && self.iter().zip(other.iter()).all(|(a, b)| a == b)
    }
}

/// How a message came into one queue.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Arrival {
    /// The bindings it matched (empty when it was put straight into the queue, or
    /// matched only bindings without arguments).
    pub matched: MatchedBindings,
    /// It was replayed from stored state (a kept last value handed to a new
    /// subscriber) rather than routed as it was published.
    pub replayed: bool,
}

impl Arrival {
    /// Nothing beyond the message: what every plain publish gets.
    pub fn is_plain(&self) -> bool {
        self.matched.is_empty() && !self.replayed
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::FieldValue;

    fn table(v: i64) -> Arc<FieldTable> {
        let mut t = FieldTable::new();
        t.insert("v", FieldValue::I64(v));
        Arc::new(t)
    }

    #[test]
    fn shapes() {
        assert!(MatchedBindings::from_tables([]).is_empty());
        let one = MatchedBindings::from_tables([table(1)]);
        assert_eq!(one.len(), 1);
        let many = MatchedBindings::from_tables([table(1), table(2), table(3)]);
        assert_eq!(many.len(), 3);
        assert_eq!(
            many.iter().map(|t| t.get_i64("v")).collect::<Vec<_>>(),
            [Some(1), Some(2), Some(3)]
        );
        assert_eq!(one, MatchedBindings::from_tables([table(1)]));
        assert_ne!(one, many);
        assert!(Arrival::default().is_plain());
    }
}
