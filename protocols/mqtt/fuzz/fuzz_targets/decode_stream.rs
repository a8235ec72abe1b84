//! A byte stream as a peer would send it. The first byte picks the receiving side and
//! the packet size limit; a server then takes the CONNECT (which fixes the version) and
//! the packets after it, a client the packets of the version the first byte names.
//! Must return, never panic or abort; every accepted packet must re-encode to itself;
//! the heap held stays proportional to the input.
#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use trident_mqtt::codec::{Decoder, Packet, ProtocolVersion, decode_connect};
use trident_mqtt_fuzz::{Counting, Watermark, assert_re_encodes};

#[global_allocator]
static ALLOC: Counting = Counting;

const VERSIONS: [ProtocolVersion; 3] = [
    ProtocolVersion::V3_1,
    ProtocolVersion::V3_1_1,
    ProtocolVersion::V5,
];

fuzz_target!(|data: &[u8]| {
    let Some((&mode, stream)) = data.split_first() else {
        return;
    };
    // A small limit reaches the PacketTooLarge path; the protocol's own reaches bodies.
    let limit = if mode & 0b100 != 0 { 64 } else { u32::MAX };
    let mut buf = BytesMut::from(stream);
    let decoder = if mode & 1 == 0 {
        let mark = Watermark::start();
        let first = decode_connect(&mut buf, limit);
        mark.check(stream.len(), "decode_connect");
        let Ok(Some(connect)) = first else {
            return;
        };
        let decoder = Decoder::server(connect.version).with_max_packet_size(limit);
        assert_re_encodes(&decoder, &Packet::Connect(Box::new(connect)));
        decoder
    } else {
        let version = VERSIONS[usize::from(mode >> 1) % 3];
        Decoder::client(version).with_max_packet_size(limit)
    };
    loop {
        let mark = Watermark::start();
        let next = decoder.decode(&mut buf);
        mark.check(stream.len(), "decode");
        match next {
            Ok(Some(packet)) => assert_re_encodes(&decoder, &packet),
            Ok(None) | Err(_) => break,
        }
    }
});
