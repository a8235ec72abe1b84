//! The encoding of an [`Arrival`] (what a queue keeps with a message: the matched
//! bindings' arguments, and the replayed mark), stored before the message in a
//! queue-store entry when it is not plain.
//!
//! ```text
//! u8       flags: bit0 replayed (other bits zero)
//! varint   number of argument tables, then each as a header table
//! ```

use std::sync::Arc;

use bytes::Bytes;
use trident_core::{Arrival, MatchedBindings};

use super::CodecError;
use super::wire::{Reader, decode_table, encode_table, put_varint};

const F_REPLAYED: u8 = 1;

/// Appends the encoding of `arrival` to `out`.
pub fn encode_arrival(arrival: &Arrival, out: &mut Vec<u8>) {
    out.push(if arrival.replayed { F_REPLAYED } else { 0 });
    let tables = arrival.matched.tables();
    put_varint(out, tables.len() as u64);
    for t in tables {
        encode_table(t, out);
    }
}

/// Decodes an arrival at the start of `buf`; returns it and the bytes it took.
pub fn decode_arrival(buf: &Bytes) -> Result<(Arrival, usize), CodecError> {
    let mut r = Reader { buf, pos: 0 };
    let flags = r.u8()?;
    if flags & !F_REPLAYED != 0 {
        return Err(CodecError::Invalid("arrival flags"));
    }
    // An empty table takes one byte.
    let n = r.count(1)?;
    let mut tables = Vec::with_capacity(n);
    for _ in 0..n {
        tables.push(Arc::new(decode_table(&mut r, 0)?));
    }
    let arrival = Arrival {
        matched: MatchedBindings::from_tables(tables),
        replayed: flags & F_REPLAYED != 0,
    };
    Ok((arrival, r.pos))
}
