//! SaslHandshake (17) and SaslAuthenticate (36).

use bytes::Bytes;

use crate::codec::wire::{MAX, kafka_struct};

kafka_struct! {
    pub struct SaslHandshakeRequest {
        pub mechanism: String [0, MAX],
    }
}

kafka_struct! {
    pub struct SaslHandshakeResponse {
        pub error_code: i16 [0, MAX],
        pub mechanisms: Vec<String> [0, MAX],
    }
}

kafka_struct! {
    pub struct SaslAuthenticateRequest {
        pub auth_bytes: Bytes [0, MAX],
    }
}

kafka_struct! {
    pub struct SaslAuthenticateResponse {
        pub error_code: i16 [0, MAX],
        pub error_message: Option<String> [0, MAX],
        pub auth_bytes: Bytes [0, MAX],
        pub session_lifetime_ms: i64 [1, MAX],
    }
}
