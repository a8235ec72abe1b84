//! A byte stream as a client would send it after the protocol header: frames are cut
//! off with the frame_max check, then methods, content headers and bodies go through
//! the decoders and a channel's content assembler. Must return, never panic or abort.
#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use trident_amqp::codec::{Decoded, FrameType, decode_frame, decode_method};
use trident_amqp::content::{Assembler, Payload};

fuzz_target!(|data: &[u8]| {
    let mut buf = BytesMut::from(data);
    let mut assembler = Assembler::default();
    while let Ok(Decoded::Frame(f)) = decode_frame(&mut buf, 4096) {
        let _ = match f.kind {
            FrameType::Method => decode_method(&f.payload).map(|m| assembler.on_method(m)).ok(),
            FrameType::Header => Some(assembler.on_header(&f.payload, 1 << 20)),
            FrameType::Body => Some(assembler.on_body(Payload::Shared(f.payload))),
            FrameType::Heartbeat => None,
        };
    }
});
