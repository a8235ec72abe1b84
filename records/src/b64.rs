//! Standard base64 (RFC 4648 §4, padded), the documented escape for bytes that a
//! target protocol can only carry as text: Kafka header names that are not UTF-8, and
//! binary header values on their way to MQTT user properties. The `base64` crate the
//! workspace already uses (SCRAM, basic auth), behind the two calls the mapping needs.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

pub fn encode(bytes: &[u8]) -> String {
    STANDARD.encode(bytes)
}

/// The bytes `text` encodes, or `None` when it is not canonical padded base64 (so
/// that decoding and re-encoding give back the same text).
pub fn decode(text: &str) -> Option<Vec<u8>> {
    let out = STANDARD.decode(text).ok()?;
    (encode(&out) == text).then_some(out)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn known_vectors() {
        for (raw, enc) in [
            (&b""[..], ""),
            (b"f", "Zg=="),
            (b"fo", "Zm8="),
            (b"foo", "Zm9v"),
            (b"\xff\xfe", "//4="),
        ] {
            assert_eq!(encode(raw), enc);
            assert_eq!(decode(enc).as_deref(), Some(raw));
        }
        assert_eq!(decode("Zg="), None);
        assert_eq!(decode("Zh=="), None, "not canonical");
        assert_eq!(decode("Z!=="), None);
    }

    proptest! {
        #[test]
        fn round_trip(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            prop_assert_eq!(decode(&encode(&bytes)), Some(bytes));
        }
    }
}
