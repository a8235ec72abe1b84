//! The embedded "consumer" protocol's subscription (JoinGroup metadata): read only to
//! learn which topics a group's members subscribe to (OffsetDelete refuses to delete
//! offsets of a subscribed topic). Always the classic non-flexible encoding.

use bytes::{Bytes, BytesMut};

use crate::codec::reader::{DecodeResult, Reader};

/// The (topic, partitions) of a consumer protocol assignment (SyncGroup), any version:
/// they lead it, like the subscription's topics.
pub fn assigned_partitions(assignment: &Bytes) -> DecodeResult<Vec<(String, Vec<i32>)>> {
    let mut r = Reader::new(BytesMut::from(&assignment[..]), false);
    let _version = r.i16()?;
    let n = r.array_len()?;
    r.elements(n, |r| {
        let topic = r.string()?;
        let m = r.array_len()?;
        Ok((topic, r.elements(m, Reader::i32)?))
    })
}

/// Topics named in a consumer protocol subscription (any version: they lead it).
pub fn subscribed_topics(metadata: &Bytes) -> DecodeResult<Vec<String>> {
    let mut r = Reader::new(BytesMut::from(&metadata[..]), false);
    let _version = r.i16()?;
    let n = r.array_len()?;
    r.elements(n, Reader::string)
}
