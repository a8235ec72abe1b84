//! A binding's arguments as routing reads them, and the identity of a binding key.

use std::sync::Arc;

use trident_core::{Binding, ExchangeKind, FieldTable, NO_LOCAL_ORIGIN_ARG, TopicPattern};

/// One binding's arguments, compiled once at bind time so that publishing reads two
/// fields instead of searching the table. Shared (`Arc`) between an exchange's binding
/// index and its matcher, and handed to queues without a copy.
#[derive(Debug)]
pub(crate) struct BoundArgs {
    pub table: Arc<FieldTable>,
    /// From [`NO_LOCAL_ORIGIN_ARG`]: messages whose origin equals this skip the binding.
    pub no_local_origin: Option<Box<str>>,
    /// Whether deliveries along this binding carry its arguments (see
    /// [`trident_core::MatchedBindings`] for which do).
    pub reported: bool,
}

impl BoundArgs {
    pub fn new(table: FieldTable, kind: ExchangeKind) -> Self {
        let no_local_origin = table.get_str(NO_LOCAL_ORIGIN_ARG).map(Box::from);
        let reported = !table.is_empty() && kind != ExchangeKind::Headers;
        Self {
            table: Arc::new(table),
            no_local_origin,
            reported,
        }
    }

    /// Whether a message from `origin` must not be routed along this binding.
    #[inline]
    pub fn skips(&self, origin: Option<&str>) -> bool {
        match (&self.no_local_origin, origin) {
            (Some(mine), Some(theirs)) => **mine == *theirs,
            _ => false,
        }
    }
}

/// The bindings that share a destination and a key (AMQP counts bindings differing
/// only in arguments as distinct). Almost always one.
#[derive(Debug, Clone)]
pub(crate) struct Tables {
    list: Arc<[Arc<BoundArgs>]>,
    /// None of them reports its arguments or skips an origin: routing can take the
    /// destination without reading the bindings, which would cost one cache miss per
    /// destination of a wide fanout.
    pub plain: bool,
}

impl Tables {
    pub fn new(list: Vec<Arc<BoundArgs>>) -> Self {
        let plain = list
            .iter()
            .all(|b| !b.reported && b.no_local_origin.is_none());
        Self {
            list: Arc::from(list),
            plain,
        }
    }
}

impl std::ops::Deref for Tables {
    type Target = [Arc<BoundArgs>];

    fn deref(&self) -> &Self::Target {
        &self.list
    }
}

/// A binding key as the table tells bindings apart: an AMQP-syntax key and a word
/// pattern that print the same are different keys.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) enum BindingKey {
    Text(Arc<str>),
    Pattern(Arc<TopicPattern>),
}

impl BindingKey {
    pub fn of_parts(routing_key: &str, pattern: Option<&TopicPattern>) -> Self {
        match pattern {
            Some(p) => Self::Pattern(Arc::new(p.clone())),
            None => Self::Text(Arc::from(routing_key)),
        }
    }

    /// The text a direct exchange matches, if this is an AMQP-syntax key.
    pub fn text(&self) -> Option<&Arc<str>> {
        match self {
            Self::Text(t) => Some(t),
            Self::Pattern(_) => None,
        }
    }

    /// What a topic exchange matches.
    pub fn topic_pattern(&self) -> TopicPattern {
        match self {
            Self::Text(t) => TopicPattern::from_amqp_key(t),
            Self::Pattern(p) => (**p).clone(),
        }
    }

    /// How the key is listed.
    pub fn to_binding(
        &self,
        source: &trident_core::ExchangeName,
        destination: &trident_core::BindingDestination,
        arguments: &FieldTable,
    ) -> Binding {
        match self {
            Self::Text(t) => Binding::new(
                source.clone(),
                destination.clone(),
                t.to_string(),
                arguments.clone(),
            ),
            Self::Pattern(p) => Binding::with_pattern(
                source.clone(),
                destination.clone(),
                (**p).clone(),
                arguments.clone(),
            ),
        }
    }
}
