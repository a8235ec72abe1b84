//! Raw payloads straight into each decoder, without a frame around them, so the fuzzer
//! does not have to discover framing to reach the argument and table parsers.
#![no_main]

use libfuzzer_sys::fuzz_target;
use trident_amqp::codec::table::{read_table, read_table_entries};
use trident_amqp::codec::wire::Reader;
use trident_amqp::codec::{decode_content_header, decode_method};

fuzz_target!(|data: &[u8]| {
    let _ = decode_method(data);
    let _ = decode_content_header(data);
    let _ = read_table(&mut Reader::new(data));
    let _ = read_table_entries(data);
});
