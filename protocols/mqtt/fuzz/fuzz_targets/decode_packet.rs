//! One packet body behind a fixed header that is always right, so the fuzzer need not
//! discover framing: the first byte is the packet type and flags, the rest the body.
//! Every version and both sides decode it; what they accept must re-encode to itself.
//! The topic validators get the body as text too.
#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use trident_mqtt::codec::{
    Decoder, ProtocolVersion, Side, parse_shared, validate_topic_filter, validate_topic_name,
};
use trident_mqtt_fuzz::{Counting, Watermark, assert_re_encodes};

#[global_allocator]
static ALLOC: Counting = Counting;

fuzz_target!(|data: &[u8]| {
    let Some((&first, body)) = data.split_first() else {
        return;
    };
    let mut framed = vec![first];
    let mut len = body.len();
    loop {
        let byte = (len & 0x7f) as u8;
        len >>= 7;
        if len == 0 {
            framed.push(byte);
            break;
        }
        framed.push(byte | 0x80);
    }
    framed.extend_from_slice(body);
    for version in [
        ProtocolVersion::V3_1,
        ProtocolVersion::V3_1_1,
        ProtocolVersion::V5,
    ] {
        for side in [Side::Server, Side::Client] {
            let decoder = Decoder::new(side, version);
            let mut buf = BytesMut::from(&framed[..]);
            let mark = Watermark::start();
            let result = decoder.decode(&mut buf);
            mark.check(framed.len(), "decode");
            if let Ok(Some(packet)) = result {
                assert!(buf.is_empty(), "{packet:?} left bytes behind");
                assert_re_encodes(&decoder, &packet);
            }
        }
    }
    if let Ok(text) = std::str::from_utf8(body) {
        let _ = validate_topic_name(text);
        let _ = validate_topic_filter(text);
        let _ = parse_shared(text);
    }
});
