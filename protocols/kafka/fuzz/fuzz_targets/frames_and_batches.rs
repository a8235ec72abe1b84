//! The stream framer (size prefix against a small maximum) and the record batch
//! header/CRC validation plus the record timestamp scan used by ListOffsets.
#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use trident_kafka::codec::{frame, record_batch};

fuzz_target!(|data: &[u8]| {
    let mut buf = BytesMut::from(data);
    while let Ok(Some(f)) = frame::next_frame(&mut buf, 4096) {
        let _ = trident_kafka::handlers::decode_only(f);
    }
    let _ = record_batch::validate(data);
    let _ = record_batch::first_record_at_or_after(data, 0);
    let _ = record_batch::first_record_at_or_after(data, i64::MAX);
});
