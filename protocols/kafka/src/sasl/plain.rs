//! SASL PLAIN (RFC 4616): `[authzid] NUL authcid NUL password`.

use trident_engine::UserStore;

use super::AuthError;

/// Checks a PLAIN token; returns the authenticated user name.
pub fn authenticate(
    users: &UserStore,
    token: &[u8],
    peer_is_loopback: bool,
) -> Result<String, AuthError> {
    let mut parts = token.split(|b| *b == 0);
    let (Some(authzid), Some(user), Some(password), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(AuthError("malformed PLAIN token".into()));
    };
    let user = std::str::from_utf8(user).map_err(|_| AuthError::invalid_credentials())?;
    let password = std::str::from_utf8(password).map_err(|_| AuthError::invalid_credentials())?;
    // Acting as another user is not supported: the authorization id must be empty or
    // the user itself.
    if !authzid.is_empty() && authzid != user.as_bytes() {
        return Err(AuthError("authorization id must match the user".into()));
    }
    let account = users
        .authenticate(user, password)
        .map_err(|_| AuthError::invalid_credentials())?;
    if account.loopback_only && !peer_is_loopback {
        return Err(AuthError::invalid_credentials());
    }
    Ok(account.name.clone())
}
