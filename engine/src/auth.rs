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

use crate::permissions::matches;
pub use crate::permissions::{Access, Permission, TopicPermission};

/// SCRAM iteration count for new credentials (the RFC 7677 minimum, and Kafka's default).
const SCRAM_ITERATIONS: u32 = 4096;

/// SCRAM credentials of one mechanism (RFC 5802 §3).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScramCredential {
    #[serde(with = "b64")]
    pub salt: Vec<u8>,
    pub iterations: u32,
    #[serde(with = "b64")]
    pub stored_key: Vec<u8>,
    #[serde(with = "b64")]
    pub server_key: Vec<u8>,
}

/// Byte strings as base64 text in JSON (the metadata store and definitions files);
/// arrays of numbers, as users were first stored, still read.
mod b64 {
    use base64::Engine as _;
    use base64::engine::general_purpose::STANDARD;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&STANDARD.encode(v))
    }

    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Stored {
        Text(String),
        Numbers(Vec<u8>),
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        match Stored::deserialize(d)? {
            Stored::Text(t) => STANDARD.decode(t).map_err(serde::de::Error::custom),
            Stored::Numbers(b) => Ok(b),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScramMechanism {
    Sha256,
    Sha512,
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

/// What a login is checked against: never the password itself. Exported as it is by
/// definitions, so that an imported user keeps its password.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Credentials {
    #[serde(with = "b64")]
    salt: Vec<u8>,
    #[serde(with = "b64")]
    password_sha256: Vec<u8>,
    scram_sha256: ScramCredential,
    scram_sha512: ScramCredential,
}

impl Credentials {
    pub fn new(password: &str) -> Result<Self> {
        let salt = random_bytes(16);
        let scram_salt = random_bytes(16);
        Ok(Self {
            password_sha256: salted_sha256(&salt, password),
            salt,
            scram_sha256: scram_derive!(Sha256, password, &scram_salt, SCRAM_ITERATIONS),
            scram_sha512: scram_derive!(Sha512, password, &scram_salt, SCRAM_ITERATIONS),
        })
    }

    /// Whether these are well-formed (a file being imported may hold anything).
    pub fn validate(&self) -> Result<()> {
        let ok = self.salt.len() >= 8
            && self.password_sha256.len() == 32
            && self.scram_sha256.stored_key.len() == 32
            && self.scram_sha256.server_key.len() == 32
            && self.scram_sha512.stored_key.len() == 64
            && self.scram_sha512.server_key.len() == 64
            && self.scram_sha256.iterations >= SCRAM_ITERATIONS
            && self.scram_sha512.iterations >= SCRAM_ITERATIONS;
        if ok {
            Ok(())
        } else {
            Err(Error::InvalidArgument(
                "malformed credentials: salt, hash or SCRAM keys have the wrong size".into(),
            ))
        }
    }
}

/// A user as stored.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct User {
    pub name: String,
    // Flattened so that users stored before credentials had a name still load.
    #[serde(flatten)]
    credentials: Credentials,
    /// Refuse logins from anything but loopback (RabbitMQ's rule for `guest`).
    pub loopback_only: bool,
    pub tags: Vec<String>,
    pub permissions: HashMap<String, Permission>,
    #[serde(default)]
    pub topic_permissions: Vec<TopicPermission>,
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

impl User {
    pub fn new(name: &str, password: &str) -> Result<Self> {
        Ok(Self::with_credentials(name, Credentials::new(password)?))
    }

    pub fn with_credentials(name: &str, credentials: Credentials) -> Self {
        Self {
            name: name.to_string(),
            credentials,
            loopback_only: false,
            tags: Vec::new(),
            permissions: HashMap::new(),
            topic_permissions: Vec::new(),
        }
    }

    pub fn credentials(&self) -> &Credentials {
        &self.credentials
    }

    pub fn set_password(&mut self, password: &str) -> Result<()> {
        self.credentials = Credentials::new(password)?;
        Ok(())
    }

    pub fn check_password(&self, password: &str) -> bool {
        let c = &self.credentials;
        ct_eq(&salted_sha256(&c.salt, password), &c.password_sha256)
    }

    pub fn scram(&self, mechanism: ScramMechanism) -> &ScramCredential {
        match mechanism {
            ScramMechanism::Sha256 => &self.credentials.scram_sha256,
            ScramMechanism::Sha512 => &self.credentials.scram_sha512,
        }
    }

    pub fn has_tag(&self, tag: &str) -> bool {
        self.tags.iter().any(|t| t == tag)
    }

    pub fn permission(&self, vhost: &str) -> Option<&Permission> {
        self.permissions.get(vhost)
    }

    /// Whether this user may perform `access` on the resource `name` (a queue or an
    /// exchange) in `vhost`. RabbitMQ semantics: no permission entry for the vhost
    /// grants nothing; patterns are unanchored searches; an empty pattern grants
    /// nothing.
    pub fn may(&self, vhost: &str, access: Access, name: &str) -> bool {
        self.permission(vhost)
            .is_some_and(|p| matches(p.pattern(access), name))
    }

    /// Whether this user may publish (`Write`) or consume (`Read`) messages with
    /// `routing_key` through `exchange` of `vhost`. As RabbitMQ: topic permissions
    /// only restrict; with none for that exchange, the vhost permissions decide alone.
    pub fn may_route(
        &self,
        vhost: &str,
        exchange: &str,
        access: Access,
        routing_key: &str,
    ) -> bool {
        let mut entries = self
            .topic_permissions
            .iter()
            .filter(|t| t.vhost == vhost && t.exchange == exchange)
            .peekable();
        if entries.peek().is_none() {
            return true;
        }
        entries.any(|t| match access {
            Access::Write => matches(&t.write, routing_key),
            Access::Read => matches(&t.read, routing_key),
            Access::Configure => false,
        })
    }

    /// Whether this user may use the partitioned log `topic`. Logs are not inside a
    /// vhost; they are governed by the permissions of the default vhost `/`, matched
    /// against the topic name: `Write` to append, `Read` to fetch, `Configure` to
    /// create or delete (docs/management-api.md, access control).
    pub fn may_log(&self, access: Access, topic: &str) -> bool {
        self.may(DEFAULT_VHOST, access, topic)
    }
}

/// The vhost whose permissions govern partitioned logs.
pub const DEFAULT_VHOST: &str = "/";

/// The account created in an empty metadata store (settings `auth.default_user` and
/// `auth.default_pass`).
#[derive(Debug, Clone)]
pub struct DefaultUser {
    pub name: String,
    /// `None`: RabbitMQ's `guest` rule, the password is the user name's default
    /// (`guest`) and the account may log in from loopback only. Set explicitly, the
    /// account may log in from anywhere.
    pub password: Option<String>,
}

impl Default for DefaultUser {
    fn default() -> Self {
        Self {
            name: "guest".into(),
            password: None,
        }
    }
}

/// All users. Reads are frequent (every login), writes rare.
#[derive(Debug)]
pub struct UserStore {
    meta: Arc<MetaStore>,
    users: RwLock<HashMap<String, Arc<User>>>,
    /// Serialises read-modify-write changes so that two concurrent edits of one user
    /// cannot lose each other's change. Logins never take it.
    writes: std::sync::Mutex<()>,
}

impl UserStore {
    /// Loads users; on an empty store creates the default administrator with full
    /// access to `/` (RabbitMQ's `guest`/`guest`, loopback only, unless settings name
    /// another account or password).
    pub(crate) fn load(meta: Arc<MetaStore>, default: &DefaultUser) -> Result<Self> {
        let mut users: HashMap<String, Arc<User>> = meta
            .list::<User>(MetaTable::Users)?
            .into_iter()
            .map(|(k, u)| (k, Arc::new(u)))
            .collect();
        if users.is_empty() {
            let password = default.password.as_deref().unwrap_or("guest");
            let mut admin = User::new(&default.name, password)?;
            admin.loopback_only = default.password.is_none();
            admin.tags.push("administrator".into());
            admin
                .permissions
                .insert(DEFAULT_VHOST.into(), Permission::all());
            meta.put(MetaTable::Users, &admin.name, &admin)?;
            tracing::info!(
                user = %admin.name,
                loopback_only = admin.loopback_only,
                "created the default administrator"
            );
            users.insert(admin.name.clone(), Arc::new(admin));
        }
        Ok(Self {
            meta,
            users: RwLock::new(users),
            writes: std::sync::Mutex::new(()),
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
        let mut v: Vec<String> = self
            .users
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .keys()
            .cloned()
            .collect();
        v.sort();
        v
    }

    /// Every user, sorted by name.
    pub fn all(&self) -> Vec<Arc<User>> {
        let mut v: Vec<Arc<User>> = self
            .users
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .values()
            .cloned()
            .collect();
        v.sort_by(|a, b| a.name.cmp(&b.name));
        v
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
        validate_user_name(&user.name)?;
        for p in user.permissions.values() {
            p.validate()?;
        }
        for t in &user.topic_permissions {
            t.validate()?;
        }
        let _w = self.writes.lock().unwrap_or_else(|p| p.into_inner());
        self.store(user)
    }

    fn store(&self, user: User) -> Result<()> {
        self.meta.put(MetaTable::Users, &user.name, &user)?;
        self.users
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert(user.name.clone(), Arc::new(user));
        Ok(())
    }

    /// Applies `change` to a copy of the named user and stores it (durable when it
    /// returns). `NotFound` when there is no such user.
    pub fn update(
        &self,
        name: &str,
        change: impl FnOnce(&mut User) -> Result<()>,
    ) -> Result<Arc<User>> {
        let _w = self.writes.lock().unwrap_or_else(|p| p.into_inner());
        let mut user = self
            .get(name)
            .map(|u| (*u).clone())
            .ok_or_else(|| not_found_user(name))?;
        change(&mut user)?;
        self.store(user)?;
        self.get(name).ok_or_else(|| not_found_user(name))
    }

    pub fn delete(&self, name: &str) -> Result<bool> {
        let _w = self.writes.lock().unwrap_or_else(|p| p.into_inner());
        let existed = self.meta.delete(MetaTable::Users, name)?;
        self.users
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .remove(name);
        Ok(existed)
    }

    /// Sets `user`'s permissions in `vhost` (patterns validated first).
    pub fn set_permission(&self, user: &str, vhost: &str, p: Permission) -> Result<()> {
        p.validate()?;
        self.update(user, |u| {
            u.permissions.insert(vhost.to_string(), p);
            Ok(())
        })
        .map(drop)
    }

    /// Removes `user`'s permissions in `vhost`; returns whether there were any.
    pub fn clear_permission(&self, user: &str, vhost: &str) -> Result<bool> {
        let mut existed = false;
        self.update(user, |u| {
            existed = u.permissions.remove(vhost).is_some();
            Ok(())
        })?;
        Ok(existed)
    }

    /// Sets (replacing the one for the same vhost and exchange) a topic permission.
    pub fn set_topic_permission(&self, user: &str, t: TopicPermission) -> Result<()> {
        t.validate()?;
        self.update(user, |u| {
            u.topic_permissions
                .retain(|x| !(x.vhost == t.vhost && x.exchange == t.exchange));
            u.topic_permissions.push(t);
            Ok(())
        })
        .map(drop)
    }

    /// Removes `user`'s topic permissions in `vhost` (for one exchange, or all);
    /// returns how many were removed.
    pub fn clear_topic_permissions(
        &self,
        user: &str,
        vhost: &str,
        exchange: Option<&str>,
    ) -> Result<usize> {
        let mut removed = 0;
        self.update(user, |u| {
            let before = u.topic_permissions.len();
            u.topic_permissions
                .retain(|x| !(x.vhost == vhost && exchange.is_none_or(|e| x.exchange == e)));
            removed = before - u.topic_permissions.len();
            Ok(())
        })?;
        Ok(removed)
    }

    /// Drops every permission that names `vhost` (the vhost is being deleted).
    pub(crate) fn forget_vhost(&self, vhost: &str) -> Result<()> {
        for user in self.all() {
            let affected = user.permissions.contains_key(vhost)
                || user.topic_permissions.iter().any(|t| t.vhost == vhost);
            if affected {
                self.update(&user.name, |u| {
                    u.permissions.remove(vhost);
                    u.topic_permissions.retain(|t| t.vhost != vhost);
                    Ok(())
                })?;
            }
        }
        Ok(())
    }
}

fn not_found_user(name: &str) -> Error {
    Error::NotFound {
        kind: "user",
        name: name.to_string(),
        vhost: "-".to_string(),
    }
}

/// User names go into URLs, log lines and SASL exchanges: no control characters, not
/// empty, not absurdly long.
pub fn validate_user_name(name: &str) -> Result<()> {
    if name.is_empty() || name.len() > 255 || name.chars().any(char::is_control) {
        return Err(Error::InvalidArgument(format!(
            "invalid user name {name:?}: 1 to 255 bytes without control characters"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topic_permissions_only_restrict_their_exchange() -> Result<()> {
        let mut u = User::new("m", "pw")?;
        assert!(u.may_route("/", "amq.topic", Access::Write, "a.b"));
        u.topic_permissions.push(TopicPermission {
            vhost: "/".into(),
            exchange: "amq.topic".into(),
            write: "^sensors\\.".into(),
            read: ".*".into(),
        });
        assert!(u.may_route("/", "amq.topic", Access::Write, "sensors.t1"));
        assert!(!u.may_route("/", "amq.topic", Access::Write, "admin.x"));
        assert!(u.may_route("/", "other", Access::Write, "admin.x"));
        Ok(())
    }

    #[test]
    fn users_stored_with_byte_arrays_still_load() -> Result<()> {
        let u = User::new("dave", "pw")?;
        let mut v = serde_json::to_value(&u).map_err(|e| Error::InvalidArgument(e.to_string()))?;
        // Rewrite every base64 field as the array of numbers the first format used.
        fn to_numbers(v: &mut serde_json::Value) {
            use base64::Engine as _;
            match v {
                serde_json::Value::Object(m) => {
                    for (k, x) in m.iter_mut() {
                        if ["salt", "password_sha256", "stored_key", "server_key"]
                            .contains(&k.as_str())
                            && let Some(text) = x.as_str()
                            && let Ok(bytes) =
                                base64::engine::general_purpose::STANDARD.decode(text)
                        {
                            *x = serde_json::json!(bytes);
                        } else {
                            to_numbers(x);
                        }
                    }
                }
                serde_json::Value::Array(a) => a.iter_mut().for_each(to_numbers),
                _ => {}
            }
        }
        to_numbers(&mut v);
        assert!(v["salt"].is_array());
        let back: User =
            serde_json::from_value(v).map_err(|e| Error::InvalidArgument(e.to_string()))?;
        assert!(back.check_password("pw"));
        assert!(back.credentials().validate().is_ok());
        Ok(())
    }

    #[test]
    fn stored_users_round_trip_through_json() -> Result<()> {
        let u = User::new("carol", "pw")?;
        let json = serde_json::to_string(&u).map_err(|e| Error::InvalidArgument(e.to_string()))?;
        let back: User =
            serde_json::from_str(&json).map_err(|e| Error::InvalidArgument(e.to_string()))?;
        assert!(back.check_password("pw"));
        assert!(back.credentials().validate().is_ok());
        Ok(())
    }

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
