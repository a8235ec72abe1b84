//! One test per bad input of issue 7, fed as raw bytes to the decoders.

use bytes::BytesMut;
use trident_mqtt::codec::{DecodeError, Decoder, Malformed, ProtocolVersion, decode_connect};

fn server_decode(bytes: &[u8]) -> Result<Option<trident_mqtt::codec::Packet>, DecodeError> {
    let mut buf = BytesMut::from(bytes);
    Decoder::server(ProtocolVersion::V3_1_1).decode(&mut buf)
}

#[test]
fn remaining_length_of_five_bytes_is_malformed() {
    let result = server_decode(&[0x30, 0xFF, 0xFF, 0xFF, 0xFF, 0x01]);
    assert!(
        matches!(
            result,
            Err(DecodeError::Malformed(Malformed::VarIntTooLong))
        ),
        "{result:?}"
    );
}

#[test]
fn truncated_remaining_length_waits_for_more() {
    let result = server_decode(&[0x30, 0xFF]);
    assert!(matches!(result, Ok(None)), "{result:?}");
}

#[test]
fn oversized_packet_is_refused_before_buffering() {
    // 268,435,455 bytes announced, ten bytes present.
    let mut buf = BytesMut::from(&[0x30, 0xFF, 0xFF, 0xFF, 0x7F, 0, 0, 0, 0, 0][..]);
    let capacity = buf.capacity();
    let result = Decoder::server(ProtocolVersion::V5)
        .with_max_packet_size(1024)
        .decode(&mut buf);
    assert!(
        matches!(result, Err(DecodeError::PacketTooLarge { max: 1024, .. })),
        "{result:?}"
    );
    assert_eq!(buf.capacity(), capacity);
}

#[test]
fn first_packet_must_be_connect() {
    let mut buf = BytesMut::from(&[0xC0, 0x00][..]);
    let result = decode_connect(&mut buf, 1 << 20);
    let error = result.expect_err("PINGREQ first is refused");
    assert!(
        matches!(error.error, DecodeError::FirstPacketNotConnect(_)),
        "{error:?}"
    );
}

#[test]
fn qos_3_is_malformed() {
    let result = server_decode(&[0x36, 0x05, 0x00, 0x01, b'a', 0x00, 0x01]);
    assert!(
        matches!(result, Err(DecodeError::Malformed(Malformed::QoS3))),
        "{result:?}"
    );
}

#[test]
fn wildcard_in_publish_topic_is_invalid() {
    let result = server_decode(&[0x30, 0x03, 0x00, 0x01, b'+']);
    assert!(
        matches!(result, Err(DecodeError::TopicNameInvalid { .. })),
        "{result:?}"
    );
}

#[test]
fn null_character_in_topic_is_malformed() {
    let result = server_decode(&[0x30, 0x03, 0x00, 0x01, 0x00]);
    assert!(
        matches!(
            result,
            Err(DecodeError::Malformed(Malformed::NullCharacter(_)))
        ),
        "{result:?}"
    );
}

#[test]
fn invalid_utf8_in_topic_is_malformed() {
    let result = server_decode(&[0x30, 0x03, 0x00, 0x01, 0xFF]);
    assert!(
        matches!(
            result,
            Err(DecodeError::Malformed(Malformed::InvalidUtf8(_)))
        ),
        "{result:?}"
    );
}

#[test]
fn packet_id_zero_on_qos_1_is_a_protocol_error() {
    let result = server_decode(&[0x32, 0x05, 0x00, 0x01, b'a', 0x00, 0x00]);
    assert!(
        matches!(result, Err(DecodeError::Protocol(_))),
        "{result:?}"
    );
}

#[test]
fn subscribe_with_reserved_flags_wrong_is_malformed() {
    let result = server_decode(&[0x80, 0x06, 0x00, 0x01, 0x00, 0x01, b'a', 0x00]);
    assert!(
        matches!(
            result,
            Err(DecodeError::Malformed(Malformed::BadFlags { .. }))
        ),
        "{result:?}"
    );
}

#[test]
fn plus_inside_a_level_is_an_invalid_filter() {
    let result = server_decode(&[0x82, 0x07, 0x00, 0x01, 0x00, 0x02, b'a', b'+', 0x00]);
    assert!(
        matches!(result, Err(DecodeError::TopicFilterInvalid { .. })),
        "{result:?}"
    );
}

#[test]
fn multi_level_wildcard_not_last_is_an_invalid_filter() {
    let result = server_decode(&[
        0x82, 0x0A, 0x00, 0x01, 0x00, 0x05, b'a', b'/', b'#', b'/', b'b', 0x00,
    ]);
    assert!(
        matches!(result, Err(DecodeError::TopicFilterInvalid { .. })),
        "{result:?}"
    );
}

const CONNECT_3_1_1: [u8; 15] = [
    0x10, 0x0D, 0x00, 0x04, b'M', b'Q', b'T', b'T', 0x04, 0x02, 0x00, 0x3C, 0x00, 0x01, b'c',
];

#[test]
fn second_connect_is_reported_as_connect_for_the_session() {
    let mut buf = BytesMut::from(&CONNECT_3_1_1[..]);
    let first = decode_connect(&mut buf, 1 << 20).expect("valid CONNECT");
    assert!(first.is_some());
    let again = server_decode(&CONNECT_3_1_1);
    assert!(
        matches!(again, Ok(Some(trident_mqtt::codec::Packet::Connect(_)))),
        "{again:?}"
    );
}

#[test]
fn unsupported_protocol_level_is_reported() {
    let mut bytes = CONNECT_3_1_1;
    bytes[8] = 0x07;
    let mut buf = BytesMut::from(&bytes[..]);
    let error = decode_connect(&mut buf, 1 << 20).expect_err("level 7 is refused");
    assert!(
        matches!(
            error.error,
            DecodeError::UnsupportedProtocolVersion { level: 7, .. }
        ),
        "{error:?}"
    );
}
