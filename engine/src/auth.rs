//! Users, passwords and per-vhost permissions, shared by every protocol: a user created
//! once can log in over AMQP (PLAIN/AMQPLAIN), Kafka (SASL PLAIN or SCRAM) and MQTT.
//!
//! Passwords are never stored. For PLAIN a salted SHA-256 hash is kept; for SCRAM the
//! RFC 5802 `StoredKey`/`ServerKey` pair of each mechanism, derived once at creation.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256, Sha512};
use trident_core::{Error, Result};
use trident_storage::{MetaStore, MetaTable};

/// SCRAM iteration count for new credentials (the RFC 7677 minimum, and Kafka's default).
const SCRAM_ITERATIONS: u32 = 4096;

/// The three RabbitMQ permission kinds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Declare and delete exchanges and queues.
    Configure,
    /// Publish to an exchange, bind from it (as source) and to a queue.
    Write,
    /// Consume from a queue, bind to an exchange (as destination)... as RabbitMQ defines.
    Read,
}

/// Regular expressions over resource names, per access kind (RabbitMQ's model).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Permission {
    pub configure: String,
    pub write: String,
    pub read: String,
}

impl Permission {
    pub fn all() -> Self {
        Self {
            configure: ".*".into(),
            write: ".*".into(),
            read: ".*".into(),
        }
    }
}

/// SCRAM credentials of one mechanism (RFC 5802 §3).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScramCredential {
    pub salt: Vec<u8>,
    pub iterations: u32,
    pub stored_key: Vec<u8>,
    pub server_key: Vec<u8>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScramMechanism {
    Sha256,
    Sha512,
}

/// A user as stored.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct User {
    pub name: String,
    salt: Vec<u8>,
    password_sha256: Vec<u8>,
    scram_sha256: ScramCredential,
    scram_sha512: ScramCredential,
    /// Refuse logins from anything but loopback (RabbitMQ's rule for `guest`).
    pub loopback_only: bool,
    pub tags: Vec<String>,
    pub permissions: HashMap<String, Permission>,
}

fn random_bytes(n: usize) -> Vec<u8> {
    let mut buf = vec![0u8; n];
    // Without an OS entropy source nothing else here is trustworthy either; fall back to
    // time-derived bytes rather than refusing to create users.
    if getrandom::getrandom(&mut buf).is_err() {
        let t = trident_core::message::now_ms().to_le_bytes();
        for (i, b) in buf.iter_mut().enumerate() {
            *b = t[i % t.len()] ^ (i as u8);
        }
    }
    buf
}

fn salted_sha256(salt: &[u8], password: &str) -> Vec<u8> {
    let mut h = Sha256::new();
    h.update(salt);
    h.update(password.as_bytes());
    h.finalize().to_vec()
}

/// Constant-time comparison so that login timing reveals nothing about the hash.
fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

macro_rules! scram_derive {
    ($hash:ty, $password:expr, $salt:expr, $iterations:expr) => {{
        let mut salted = vec![0u8; <$hash>::output_size()];
        pbkdf2::pbkdf2::<Hmac<$hash>>($password.as_bytes(), $salt, $iterations, &mut salted)
            .map_err(|e| Error::InvalidArgument(format!("pbkdf2: {e}")))?;
        let hmac = |data: &[u8]| -> Result<Vec<u8>> {
            let mut mac = <Hmac<$hash> as Mac>::new_from_slice(&salted)
                .map_err(|e| Error::InvalidArgument(format!("hmac key: {e}")))?;
            mac.update(data);
            Ok(mac.finalize().into_bytes().to_vec())
        };
        let client_key = hmac(b"Client Key")?;
        let server_key = hmac(b"Server Key")?;
        let stored_key = <$hash>::digest(&client_key).to_vec();
        ScramCredential {
            salt: $salt.to_vec(),
            iterations: $iterations,
            stored_key,
            server_key,
        }
    }};
}

impl User {
    pub fn new(name: &str, password: &str) -> Result<Self> {
        let salt = random_bytes(16);
        let scram_salt = random_bytes(16);
        Ok(Self {
            name: name.to_string(),
            password_sha256: salted_sha256(&salt, password),
            salt,
            scram_sha256: scram_derive!(Sha256, password, &scram_salt, SCRAM_ITERATIONS),
            scram_sha512: scram_derive!(Sha512, password, &scram_salt, SCRAM_ITERATIONS),
            loopback_only: false,
            tags: Vec::new(),
            permissions: HashMap::new(),
        })
    }

    pub fn check_password(&self, password: &str) -> bool {
        ct_eq(&salted_sha256(&self.salt, password), &self.password_sha256)
    }

    pub fn scram(&self, mechanism: ScramMechanism) -> &ScramCredential {
        match mechanism {
            ScramMechanism::Sha256 => &self.scram_sha256,
            ScramMechanism::Sha512 => &self.scram_sha512,
        }
    }

    pub fn permission(&self, vhost: &str) -> Option<&Permission> {
        self.permissions.get(vhost)
    }

    /// Whether this user may perform `access` on the resource `name` in `vhost`.
    /// RabbitMQ anchors the regex at both ends; an empty pattern grants nothing.
    pub fn may(&self, vhost: &str, access: Access, name: &str) -> bool {
        let Some(p) = self.permission(vhost) else {
            return false;
        };
        let pattern = match access {
            Access::Configure => &p.configure,
            Access::Write => &p.write,
            Access::Read => &p.read,
        };
        if pattern.is_empty() {
            return false;
        }
        regex::Regex::new(&format!("^(?:{pattern})$")).is_ok_and(|re| re.is_match(name))
    }
}

/// All users. Reads are frequent (every login), writes rare.
#[derive(Debug)]
pub struct UserStore {
    meta: Arc<MetaStore>,
    users: RwLock<HashMap<String, Arc<User>>>,
}

impl UserStore {
    /// Loads users; on an empty store creates RabbitMQ's default `guest`/`guest` with
    /// full access to `/`, allowed from loopback only.
    pub(crate) fn load(meta: Arc<MetaStore>) -> Result<Self> {
        let mut users: HashMap<String, Arc<User>> = meta
            .list::<User>(MetaTable::Users)?
            .into_iter()
            .map(|(k, u)| (k, Arc::new(u)))
            .collect();
        if users.is_empty() {
            let mut guest = User::new("guest", "guest")?;
            guest.loopback_only = true;
            guest.tags.push("administrator".into());
            guest.permissions.insert("/".into(), Permission::all());
            meta.put(MetaTable::Users, "guest", &guest)?;
            users.insert("guest".into(), Arc::new(guest));
        }
        Ok(Self {
            meta,
            users: RwLock::new(users),
        })
    }

    pub fn get(&self, name: &str) -> Option<Arc<User>> {
        self.users
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(name)
            .cloned()
    }

    pub fn names(&self) -> Vec<String> {
        self.users
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .keys()
            .cloned()
            .collect()
    }

    /// Checks a username and password (SASL PLAIN and friends).
    pub fn authenticate(&self, name: &str, password: &str) -> Result<Arc<User>> {
        match self.get(name) {
            Some(u) if u.check_password(password) => Ok(u),
            _ => Err(Error::AccessRefused(format!(
                "login refused for user '{name}': invalid credentials"
            ))),
        }
    }

    /// Creates or replaces a user; durable when it returns.
    pub fn put(&self, user: User) -> Result<()> {
        self.meta.put(MetaTable::Users, &user.name, &user)?;
        self.users
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert(user.name.clone(), Arc::new(user));
        Ok(())
    }

    pub fn delete(&self, name: &str) -> Result<bool> {
        let existed = self.meta.delete(MetaTable::Users, name)?;
        self.users
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .remove(name);
        Ok(existed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn password_and_permissions() -> Result<()> {
        let mut u = User::new("alice", "s3cret")?;
        assert!(u.check_password("s3cret"));
        assert!(!u.check_password("s3cre"));
        u.permissions.insert(
            "/".into(),
            Permission {
                configure: "^amq\\.gen.*".into(),
                write: ".*".into(),
                read: "".into(),
            },
        );
        assert!(u.may("/", Access::Configure, "amq.gen-123"));
        assert!(!u.may("/", Access::Configure, "orders"));
        assert!(u.may("/", Access::Write, "anything"));
        assert!(!u.may("/", Access::Read, "anything"));
        assert!(!u.may("other", Access::Write, "x"));
        Ok(())
    }

    #[test]
    fn scram_keys_follow_rfc5802() -> Result<()> {
        let u = User::new("bob", "pencil")?;
        let c = u.scram(ScramMechanism::Sha256);
        assert_eq!(c.stored_key.len(), 32);
        assert_eq!(c.server_key.len(), 32);
        assert_eq!(u.scram(ScramMechanism::Sha512).stored_key.len(), 64);
        Ok(())
    }
}
