//! Everything waiting to be written to the socket, in order, and when it is too much.

use bytes::BytesMut;

use super::Session;
use crate::codec::{ServerMethod, put_method};

/// Output buffer capacity kept between bursts; a larger one (after a burst of big
/// deliveries) is given back once it drains.
const OUT_KEEP: usize = 256 * 1024;

pub(super) struct Output {
    pub buf: BytesMut,
    /// Past this many buffered bytes we stop reading requests and taking deliveries
    /// until the socket drains.
    high_water: usize,
    /// Some no-ack consumer has deliveries encoded here but not yet written: their
    /// credit comes back once they are (see `Session::on_flushed`).
    pub holds_no_ack: bool,
}

impl Output {
    pub fn new(high_water: usize) -> Self {
        Self {
            buf: BytesMut::new(),
            high_water,
            holds_no_ack: false,
        }
    }

    pub fn is_full(&self) -> bool {
        self.buf.len() >= self.high_water
    }

    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    /// After a write that emptied the buffer: an idle connection keeps no large one.
    pub fn drained(&mut self) {
        if self.buf.capacity() > OUT_KEEP {
            self.buf = BytesMut::new();
        }
    }
}

impl Session {
    pub(super) fn send(&mut self, ch: u16, m: &ServerMethod<'_>) {
        put_method(&mut self.out.buf, ch, m);
    }
}
