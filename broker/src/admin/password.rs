//! The CLI's password policy: refuse what an attacker would try first, with a reason.
//! (The API itself only refuses empty passwords, as RabbitMQ's does; policy is the
//! operator tool's job.)

const COMMON: &[&str] = &[
    "password",
    "password1",
    "12345678",
    "123456789",
    "1234567890",
    "qwertyui",
    "qwerty123",
    "iloveyou",
    "admin123",
    "administrator",
    "guestguest",
    "letmein1",
    "changeme",
    "trident1",
    "abcdefgh",
    "11111111",
    "00000000",
    "welcome1",
];

/// Minimum length: NIST SP 800-63B's floor for user-chosen secrets.
pub const MIN_LEN: usize = 8;

/// `Err(reason)` when `password` is too weak for `user`.
pub fn check(user: &str, password: &str) -> Result<(), String> {
    if password.is_empty() {
        return Err("the password is empty".into());
    }
    if password.chars().count() < MIN_LEN {
        return Err(format!("the password is shorter than {MIN_LEN} characters"));
    }
    let lower = password.to_lowercase();
    if lower == user.to_lowercase()
        || lower.contains(&user.to_lowercase()) && user.chars().count() >= 3
    {
        return Err("the password contains the user name".into());
    }
    let mut chars = password.chars();
    if let Some(first) = chars.next()
        && chars.all(|c| c == first)
    {
        return Err("the password repeats one character".into());
    }
    if COMMON.contains(&lower.as_str()) {
        return Err("the password is on the list of the most common passwords".into());
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn weak_passwords_are_refused_with_a_reason() {
        assert!(check("alice", "").unwrap_err().contains("empty"));
        assert!(check("alice", "short").unwrap_err().contains("shorter"));
        assert!(
            check("alice", "alice1234")
                .unwrap_err()
                .contains("user name")
        );
        assert!(
            check("alice", "aaaaaaaaaa")
                .unwrap_err()
                .contains("repeats")
        );
        assert!(check("alice", "Password").unwrap_err().contains("common"));
        assert!(check("alice", "correct horse battery").is_ok());
    }
}
