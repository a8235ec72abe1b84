//! Any request frame body: header parse, then the decoder of whatever API and version
//! the header names. Must return, never panic or abort.
#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = trident_kafka::handlers::decode_only(BytesMut::from(data));
});
