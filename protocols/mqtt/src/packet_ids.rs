//! Packet identifiers of the PUBLISH packets we send, and what each one stands for
//! until the client has acknowledged it. No I/O.
//!
//! At most 65535 identifiers exist; the window (the client's Receive Maximum, capped
//! by `mqtt.max_inflight`) keeps far fewer in use. Allocation scans forward from the
//! last one given, so an identifier is not reused right after it was freed (a client
//! that is slow to forget one is not confused).

use std::collections::HashMap;

use crate::codec::PacketId;

#[derive(Debug)]
pub struct PacketIds<T> {
    next: u16,
    used: HashMap<u16, T>,
}

impl<T> Default for PacketIds<T> {
    fn default() -> Self {
        Self {
            next: 1,
            used: HashMap::new(),
        }
    }
}

impl<T> PacketIds<T> {
    pub fn len(&self) -> usize {
        self.used.len()
    }

    pub fn is_empty(&self) -> bool {
        self.used.is_empty()
    }

    /// A free identifier now holding `value`; `None` when all 65535 are in use.
    pub fn allocate(&mut self, value: T) -> Option<PacketId> {
        if self.used.len() >= usize::from(u16::MAX) {
            return None;
        }
        loop {
            let id = self.next;
            self.next = if self.next == u16::MAX {
                1
            } else {
                self.next + 1
            };
            if let std::collections::hash_map::Entry::Vacant(e) = self.used.entry(id) {
                e.insert(value);
                return PacketId::new(id);
            }
        }
    }

    /// Holds `value` under a given identifier (one restored from an earlier connection
    /// of the session); false when it is in use.
    pub fn insert(&mut self, id: PacketId, value: T) -> bool {
        match self.used.entry(id.get()) {
            std::collections::hash_map::Entry::Vacant(e) => {
                e.insert(value);
                true
            }
            std::collections::hash_map::Entry::Occupied(_) => false,
        }
    }

    pub fn get_mut(&mut self, id: PacketId) -> Option<&mut T> {
        self.used.get_mut(&id.get())
    }

    pub fn remove(&mut self, id: PacketId) -> Option<T> {
        self.used.remove(&id.get())
    }

    pub fn drain(&mut self) -> impl Iterator<Item = (PacketId, T)> + '_ {
        self.used
            .drain()
            .filter_map(|(id, v)| PacketId::new(id).map(|id| (id, v)))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_are_unique_nonzero_and_not_reused_at_once() {
        let mut ids = PacketIds::default();
        let a = ids.allocate('a').unwrap();
        let b = ids.allocate('b').unwrap();
        assert_ne!(a, b);
        assert_eq!(ids.remove(a), Some('a'));
        let c = ids.allocate('c').unwrap();
        assert_ne!(c, a, "the freed id is not handed out next");
        assert_eq!(ids.len(), 2);
    }

    #[test]
    fn wraps_around_and_skips_ids_in_use() {
        let mut ids = PacketIds::default();
        let keep = ids.allocate(0u32).unwrap();
        for i in 1..u32::from(u16::MAX) {
            let id = ids.allocate(i).unwrap();
            ids.remove(id);
        }
        // The counter wrapped: the next id is not `keep`, which is still in use.
        let id = ids.allocate(1).unwrap();
        assert_ne!(id, keep);
        assert!(!ids.insert(keep, 9));
    }

    #[test]
    fn full_table_refuses() {
        let mut ids = PacketIds::default();
        for _ in 0..u16::MAX {
            assert!(ids.allocate(()).is_some());
        }
        assert!(ids.allocate(()).is_none());
    }
}
