//! Topic aliases we set towards a v5 client that allows them (its Topic Alias
//! Maximum): the first PUBLISH on a topic carries the topic and a new alias, later
//! ones only the alias. Aliases are handed out until the client's maximum and never
//! reassigned, so nothing the client holds is ever stale. No I/O.

use std::collections::HashMap;

#[derive(Debug)]
pub struct OutAliases {
    max: u16,
    by_topic: HashMap<String, u16>,
}

/// How a PUBLISH names its topic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Naming {
    /// The client knows this alias: empty topic, alias only.
    Known(u16),
    /// Topic and a new alias; [`OutAliases::learned`] once the packet is sent.
    New(u16),
    /// The topic alone (no alias left).
    Plain,
}

impl OutAliases {
    /// `None` when the client allows no aliases ([MQTT-3.3.2-9]: then none is sent).
    pub fn new(max: u16) -> Option<Self> {
        (max > 0).then(|| Self {
            max,
            by_topic: HashMap::new(),
        })
    }

    pub fn naming(&self, topic: &str) -> Naming {
        if let Some(&a) = self.by_topic.get(topic) {
            return Naming::Known(a);
        }
        match u16::try_from(self.by_topic.len()) {
            Ok(n) if n < self.max => Naming::New(n + 1),
            _ => Naming::Plain,
        }
    }

    /// The PUBLISH that set `alias` for `topic` went out.
    pub fn learned(&mut self, topic: &str, alias: u16) {
        self.by_topic.insert(topic.to_owned(), alias);
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn aliases_up_to_the_clients_maximum() {
        assert!(OutAliases::new(0).is_none());
        let mut a = OutAliases::new(2).unwrap();
        assert_eq!(a.naming("x"), Naming::New(1));
        // Not learned yet (the packet did not go out): offered again.
        assert_eq!(a.naming("x"), Naming::New(1));
        a.learned("x", 1);
        assert_eq!(a.naming("x"), Naming::Known(1));
        assert_eq!(a.naming("y"), Naming::New(2));
        a.learned("y", 2);
        assert_eq!(a.naming("z"), Naming::Plain);
        assert_eq!(a.naming("y"), Naming::Known(2));
    }
}
