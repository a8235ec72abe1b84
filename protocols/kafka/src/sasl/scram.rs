//! SCRAM-SHA-256/512 server side (RFC 5802, RFC 7677), using the `StoredKey` and
//! `ServerKey` the engine derived when the user was created; passwords are never seen.
//!
//! ```text
//! C: n,,n=user,r=cnonce                       (client-first)
//! S: r=cnonce+snonce,s=salt,i=iterations      (server-first)
//! C: c=biws,r=cnonce+snonce,p=proof           (client-final)
//! S: v=server-signature                       (server-final)
//! ```

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256, Sha512};
use trident_engine::UserStore;
use trident_engine::auth::{ScramCredential, ScramMechanism};

use super::AuthError;

/// State kept between server-first and client-final.
#[derive(Debug)]
pub struct ScramServer {
    mechanism: ScramMechanism,
    user: String,
    gs2_header: String,
    client_first_bare: String,
    server_first: String,
    nonce: String,
    credential: ScramCredential,
}

fn malformed(what: &str) -> AuthError {
    AuthError(format!("malformed SCRAM message: {what}"))
}

/// RFC 5802 saslname: `=2C` is ',' and `=3D` is '='; any other '=' is invalid.
fn decode_saslname(s: &str) -> Option<String> {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('=') {
        out.push_str(&rest[..i]);
        match rest.get(i..i + 3) {
            Some("=2C") => out.push(','),
            Some("=3D") => out.push('='),
            _ => return None,
        }
        rest = &rest[i + 3..];
    }
    out.push_str(rest);
    Some(out)
}

fn random_nonce() -> String {
    let mut b = [0u8; 24];
    if getrandom::getrandom(&mut b).is_err() {
        let t = trident_core::message::now_ms().to_le_bytes();
        b[..8].copy_from_slice(&t);
    }
    // Printable, and free of ',' as the nonce grammar requires.
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b)
}

fn hmac(mechanism: ScramMechanism, key: &[u8], data: &[u8]) -> Vec<u8> {
    // HMAC accepts keys of any length, so `new_from_slice` cannot fail here; an empty
    // result would simply fail the comparison.
    match mechanism {
        ScramMechanism::Sha256 => <Hmac<Sha256> as Mac>::new_from_slice(key)
            .map(|mut m| {
                m.update(data);
                m.finalize().into_bytes().to_vec()
            })
            .unwrap_or_default(),
        ScramMechanism::Sha512 => <Hmac<Sha512> as Mac>::new_from_slice(key)
            .map(|mut m| {
                m.update(data);
                m.finalize().into_bytes().to_vec()
            })
            .unwrap_or_default(),
    }
}

fn hash(mechanism: ScramMechanism, data: &[u8]) -> Vec<u8> {
    match mechanism {
        ScramMechanism::Sha256 => Sha256::digest(data).to_vec(),
        ScramMechanism::Sha512 => Sha512::digest(data).to_vec(),
    }
}

fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Handles client-first; returns the state for the next step and server-first.
pub fn client_first(
    mechanism: ScramMechanism,
    users: &UserStore,
    message: &[u8],
    peer_is_loopback: bool,
) -> Result<(ScramServer, Vec<u8>), AuthError> {
    let msg = std::str::from_utf8(message).map_err(|_| malformed("not UTF-8"))?;
    // gs2-header: cbind flag, optional authzid, then the bare message.
    let mut it = msg.splitn(3, ',');
    let cbind = it.next().ok_or_else(|| malformed("no gs2 header"))?;
    let authzid = it.next().ok_or_else(|| malformed("no gs2 header"))?;
    let bare = it.next().ok_or_else(|| malformed("no client-first-bare"))?;
    if cbind != "n" && cbind != "y" {
        return Err(AuthError("channel binding is not supported".into()));
    }
    let mut user = None;
    let mut cnonce = None;
    for attr in bare.split(',') {
        if let Some(v) = attr.strip_prefix("n=") {
            user = decode_saslname(v);
        } else if let Some(v) = attr.strip_prefix("r=") {
            cnonce = Some(v.to_string());
        } else if attr.starts_with("m=") {
            return Err(malformed("mandatory extension not supported"));
        }
    }
    let user = user.ok_or_else(|| malformed("no user name"))?;
    let cnonce = cnonce
        .filter(|n| !n.is_empty())
        .ok_or_else(|| malformed("no nonce"))?;
    if let Some(a) = authzid.strip_prefix("a=")
        && decode_saslname(a).as_deref() != Some(user.as_str())
    {
        return Err(AuthError("authorization id must match the user".into()));
    }
    let account = users
        .get(&user)
        .filter(|u| !u.loopback_only || peer_is_loopback)
        .ok_or_else(AuthError::invalid_credentials)?;
    let credential = account.scram(mechanism).clone();
    let nonce = format!("{cnonce}{}", random_nonce());
    let server_first = format!(
        "r={nonce},s={},i={}",
        B64.encode(&credential.salt),
        credential.iterations
    );
    let reply = server_first.clone().into_bytes();
    Ok((
        ScramServer {
            mechanism,
            user,
            gs2_header: format!("{cbind},{authzid},"),
            client_first_bare: bare.to_string(),
            server_first,
            nonce,
            credential,
        },
        reply,
    ))
}

impl ScramServer {
    pub fn user(&self) -> &str {
        &self.user
    }

    /// Verifies client-final; returns server-final.
    pub fn client_final(&self, message: &[u8]) -> Result<Vec<u8>, AuthError> {
        let msg = std::str::from_utf8(message).map_err(|_| malformed("not UTF-8"))?;
        let (without_proof, proof) = msg
            .rsplit_once(",p=")
            .ok_or_else(|| malformed("no proof"))?;
        let mut channel = None;
        let mut nonce = None;
        for attr in without_proof.split(',') {
            if let Some(v) = attr.strip_prefix("c=") {
                channel = Some(v);
            } else if let Some(v) = attr.strip_prefix("r=") {
                nonce = Some(v);
            }
        }
        let channel = B64
            .decode(channel.ok_or_else(|| malformed("no channel binding"))?)
            .map_err(|_| malformed("bad channel binding"))?;
        if channel != self.gs2_header.as_bytes() {
            return Err(malformed("channel binding mismatch"));
        }
        if nonce != Some(self.nonce.as_str()) {
            return Err(malformed("nonce mismatch"));
        }
        let proof = B64
            .decode(proof)
            .map_err(|_| malformed("bad proof encoding"))?;
        let auth_message = format!(
            "{},{},{}",
            self.client_first_bare, self.server_first, without_proof
        );
        let client_signature = hmac(
            self.mechanism,
            &self.credential.stored_key,
            auth_message.as_bytes(),
        );
        if proof.len() != client_signature.len() {
            return Err(AuthError::invalid_credentials());
        }
        let client_key: Vec<u8> = proof
            .iter()
            .zip(&client_signature)
            .map(|(a, b)| a ^ b)
            .collect();
        if !ct_eq(
            &hash(self.mechanism, &client_key),
            &self.credential.stored_key,
        ) {
            return Err(AuthError::invalid_credentials());
        }
        let server_signature = hmac(
            self.mechanism,
            &self.credential.server_key,
            auth_message.as_bytes(),
        );
        Ok(format!("v={}", B64.encode(server_signature)).into_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn saslnames() {
        assert_eq!(decode_saslname("a=2Cb=3Dc").as_deref(), Some("a,b=c"));
        assert_eq!(decode_saslname("bad=x"), None);
        assert_eq!(decode_saslname("plain").as_deref(), Some("plain"));
    }
}
