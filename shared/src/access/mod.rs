//! Users, sessions and permissions (Iorio's, after riak_core security): who may read, write,
//! delete and list which buckets and streams.
//!
//! - Users and grants live in the cluster metadata ([`crate::cluster::Metadata`]): every node
//!   holds them all, answers from its own copy, and a change made through one node is on
//!   every reachable node when the call returns (the others get it within a few rounds of the
//!   metadata exchange). They survive restarts with the node's files.
//! - A password is kept only as an argon2id hash ([`password`]).
//! - Logging in gives a signed token with an expiry ([`token`]), which any node of the cluster
//!   checks on its own: the signing key comes from the cluster's cookie. A token of a user who
//!   was removed is refused.
//! - A request is allowed by the rule of [`grants`]; the anonymous caller (no token) may do
//!   everything on the data or nothing, as [`Anonymous`] says.
//! - The `admin` user is made on a node's first start, with the password from the node's
//!   configuration or, without one, a password derived from the cluster's cookie, so that
//!   every node of the cluster makes the same one (printed once by each node that makes it).
//!   That first record is written "as a default": any later change wins over it, wherever it
//!   was made and whatever the clocks say.

pub mod grants;
pub mod password;
pub mod token;
pub mod users;

pub use grants::{Caller, Grant, Permission, Resource, Subject};
pub use token::{Claims, SessionKey, TokenError};
pub use users::UserRecord;

use crate::cluster::Metadata;
use crate::error::Error;
use crate::net::cookie::Cookie;
use arc_swap::ArcSwap;
use grants::ADMIN_GROUP;
use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;
use users::{USERS, illegal_name};

/// The metadata prefix of grants: one key per grant, so that grants made at once through
/// different nodes never overwrite each other.
pub const GRANTS: &str = "grants";

/// The administrator's name.
pub const ADMIN: &str = "admin";

/// What anonymous callers (requests without a token) may do.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Anonymous {
    /// Read, write, delete and list every bucket (the workshop's curl sessions need no login);
    /// managing users and grants still needs one.
    #[default]
    All,
    /// Nothing: every request but logging in needs a token.
    None,
}

impl FromStr for Anonymous {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        match text {
            "all" => Ok(Anonymous::All),
            "none" => Ok(Anonymous::None),
            _ => Err(format!("'{text}' is not one of: all, none")),
        }
    }
}

impl fmt::Display for Anonymous {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Anonymous::All => "all",
            Anonymous::None => "none",
        })
    }
}

/// How a node checks callers.
#[derive(Clone, PartialEq, Eq)]
pub struct AccessConfig {
    pub anonymous: Anonymous,
    /// The admin's password at the cluster's first start; `None`: derived from the cookie.
    pub admin_password: Option<String>,
    /// How long a session token is accepted.
    pub session_ttl: Duration,
}

impl Default for AccessConfig {
    fn default() -> Self {
        AccessConfig {
            anonymous: Anonymous::All,
            admin_password: None,
            session_ttl: Duration::from_secs(24 * 3600),
        }
    }
}

impl fmt::Debug for AccessConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AccessConfig")
            .field("anonymous", &self.anonymous)
            .field("admin_password", &self.admin_password.as_ref().map(|_| "…"))
            .field("session_ttl", &self.session_ttl)
            .finish()
    }
}

/// Why a caller was refused, or a user or grant change was.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AccessError {
    /// The caller may not do this; the text says who and what.
    #[error("{0}")]
    NoPerm(String),
    /// Wrong user name or password.
    #[error("wrong user name or password")]
    Unauthorized,
    #[error("{0}")]
    BadToken(#[from] TokenError),
    #[error("the session's user '{0}' no longer exists")]
    GoneUser(String),
    #[error("no username and password fields")]
    NoUserAndPass,
    #[error("no username field")]
    NoUser,
    #[error("no password field")]
    NoPass,
    #[error("user '{0}' already exists")]
    UserExists(String),
    #[error("illegal user name: {0}")]
    IllegalUsername(String),
    #[error("no user '{0}'")]
    UnknownUser(String),
    /// A change could not be saved or spread.
    #[error(transparent)]
    Cluster(#[from] Error),
}

/// A session: the token to send with each request, and whose it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub token: String,
    pub username: String,
}

/// A node's access control: cheap to clone.
#[derive(Clone)]
pub struct Access {
    metadata: Metadata,
    key: SessionKey,
    admin_default: String,
    config: Arc<AccessConfig>,
    /// The grants, parsed once per metadata version (read without a lock: every request
    /// looks).
    cache: Arc<ArcSwap<(u64, Arc<Vec<Grant>>)>>,
}

impl Access {
    pub fn new(metadata: Metadata, cookie: &Cookie, config: AccessConfig) -> Access {
        Access {
            metadata,
            key: SessionKey::from_cookie(cookie),
            admin_default: admin_password_from(cookie),
            config: Arc::new(config),
            cache: Arc::new(ArcSwap::from_pointee((u64::MAX, Arc::new(Vec::new())))),
        }
    }

    pub fn config(&self) -> &AccessConfig {
        &self.config
    }

    /// Makes the `admin` user if the cluster has none yet (see the module docs). Returns its
    /// password when this call made it and nobody configured it, so that it can be printed.
    pub async fn bootstrap(&self) -> Result<Option<String>, Error> {
        if self.user(ADMIN).is_some() {
            return Ok(None);
        }
        let (password, generated) = match &self.config.admin_password {
            Some(password) => (password.clone(), false),
            None => (self.admin_default.clone(), true),
        };
        let record = UserRecord {
            password: hash(password.clone()).await,
            groups: vec![ADMIN_GROUP.to_string()],
        };
        self.metadata
            .put_default(USERS, ADMIN, to_json(&record))
            .await?;
        Ok(generated.then_some(password))
    }

    /// Checks a user's password and opens a session.
    pub async fn login(&self, username: &str, password: &str) -> Result<Session, AccessError> {
        let record = self.user(username);
        // A name that does not exist costs as much as a wrong password, so that timing the
        // answer does not tell which names exist.
        let stored = record
            .as_ref()
            .map_or_else(dummy_hash, |r| r.password.clone());
        let matches = verify(password.to_string(), stored).await;
        if record.is_none() || !matches {
            return Err(AccessError::Unauthorized);
        }
        let now = crate::clock::now_ms() / 1000;
        let claims = Claims {
            sub: username.to_string(),
            iat: now,
            exp: now + self.config.session_ttl.as_secs().max(1),
        };
        Ok(Session {
            token: self.key.sign(&claims),
            username: username.to_string(),
        })
    }

    /// Who sends `token` (none: the anonymous caller).
    pub fn caller(&self, token: Option<&str>) -> Result<Caller, AccessError> {
        let Some(token) = token else {
            return Ok(Caller::anonymous());
        };
        let claims = self.key.verify(token, crate::clock::now_ms() / 1000)?;
        let record = self
            .user(&claims.sub)
            .ok_or_else(|| AccessError::GoneUser(claims.sub.clone()))?;
        Ok(Caller::user(&claims.sub, record.groups))
    }

    /// Whether `caller` may do `permission` on `resource`.
    pub fn allows(&self, caller: &Caller, resource: &Resource, permission: Permission) -> bool {
        let anonymous_all = self.config.anonymous == Anonymous::All;
        if caller.anonymous && anonymous_all && permission.is_data() {
            // The workshop's default: answered without looking at any grant.
            return true;
        }
        grants::allows(
            self.grants().iter(),
            caller,
            resource,
            permission,
            anonymous_all,
        )
    }

    /// [`allows`](Self::allows), as a `Result`.
    pub fn check(
        &self,
        caller: &Caller,
        resource: &Resource,
        permission: Permission,
    ) -> Result<(), AccessError> {
        if self.allows(caller, resource, permission) {
            return Ok(());
        }
        let who = if caller.anonymous {
            "an anonymous caller (no session token)".to_string()
        } else {
            format!("user '{}'", caller.name)
        };
        let what = match resource {
            Resource::Any => "the whole cluster".to_string(),
            Resource::Bucket(bucket) => format!("bucket {bucket}"),
            Resource::Stream(bucket, stream) => format!("{bucket}/{stream}"),
        };
        Err(AccessError::NoPerm(format!(
            "{who} has no '{permission}' permission on {what}"
        )))
    }

    /// A user's record.
    pub fn user(&self, name: &str) -> Option<UserRecord> {
        let value = self.metadata.get(USERS, name)?;
        serde_json::from_value(value).ok()
    }

    /// Every user, by name.
    pub fn users(&self) -> BTreeMap<String, UserRecord> {
        self.metadata
            .list(USERS)
            .into_iter()
            .filter_map(|(name, value)| Some((name, serde_json::from_value(value).ok()?)))
            .collect()
    }

    /// Makes a user, who owns the bucket `_user_<name>`.
    pub async fn add_user(
        &self,
        name: &str,
        password: &str,
        groups: Vec<String>,
    ) -> Result<(), AccessError> {
        if let Some(why) = illegal_name(name) {
            return Err(AccessError::IllegalUsername(why));
        }
        if self.user(name).is_some() {
            return Err(AccessError::UserExists(name.to_string()));
        }
        let record = UserRecord {
            password: hash(password.to_string()).await,
            groups,
        };
        self.metadata
            .put(USERS, name, Some(to_json(&record)))
            .await?;
        Ok(())
    }

    /// Changes a user's password.
    pub async fn set_password(&self, name: &str, password: &str) -> Result<(), AccessError> {
        let mut record = self
            .user(name)
            .ok_or_else(|| AccessError::UnknownUser(name.to_string()))?;
        record.password = hash(password.to_string()).await;
        self.metadata
            .put(USERS, name, Some(to_json(&record)))
            .await?;
        Ok(())
    }

    /// Removes a user and the grants made to them; their sessions stop working at once.
    pub async fn remove_user(&self, name: &str) -> Result<(), AccessError> {
        if self.user(name).is_none() {
            return Err(AccessError::UnknownUser(name.to_string()));
        }
        let theirs: Vec<Grant> = self
            .grants()
            .iter()
            .filter(|g| g.subject == Subject::User(name.to_string()))
            .cloned()
            .collect();
        for grant in theirs {
            self.metadata.put(GRANTS, &grant_key(&grant), None).await?;
        }
        self.metadata.put(USERS, name, None).await?;
        Ok(())
    }

    /// Grants (or, with `allow` false, revokes) a permission. Granting to a user who does
    /// not exist is refused; to a group, allowed (groups exist by being named).
    pub async fn set_grant(&self, grant: &Grant, allow: bool) -> Result<(), AccessError> {
        if let Subject::User(name) = &grant.subject
            && allow
            && self.user(name).is_none()
        {
            return Err(AccessError::UnknownUser(name.clone()));
        }
        let value = allow.then_some(serde_json::Value::Bool(true));
        self.metadata.put(GRANTS, &grant_key(grant), value).await?;
        Ok(())
    }

    /// The grants made on exactly this resource (not those it inherits), by subject.
    pub fn grants_on(&self, resource: &Resource) -> BTreeMap<Subject, Vec<Permission>> {
        let mut by_subject: BTreeMap<Subject, Vec<Permission>> = BTreeMap::new();
        for grant in self.grants().iter().filter(|g| &g.resource == resource) {
            by_subject
                .entry(grant.subject.clone())
                .or_default()
                .push(grant.permission);
        }
        for permissions in by_subject.values_mut() {
            permissions.sort_by_key(|p| p.as_str());
        }
        by_subject
    }

    /// Every grant of the cluster.
    pub fn grants(&self) -> Arc<Vec<Grant>> {
        let version = self.metadata.version();
        let cached = self.cache.load();
        if cached.0 == version {
            return Arc::clone(&cached.1);
        }
        // Parsed again after a change; two requests that race here parse it twice, which is
        // harmless.
        let grants: Arc<Vec<Grant>> = Arc::new(
            self.metadata
                .list(GRANTS)
                .into_iter()
                .filter_map(|(key, _)| serde_json::from_str(&key).ok())
                .collect(),
        );
        self.cache.store(Arc::new((version, Arc::clone(&grants))));
        grants
    }
}

/// The metadata key of a grant: its JSON, which is the same on every node.
fn grant_key(grant: &Grant) -> String {
    serde_json::to_string(grant).expect("a grant always encodes")
}

fn to_json(record: &UserRecord) -> serde_json::Value {
    serde_json::to_value(record).expect("a user record always encodes")
}

/// The admin password a cluster gets when none is configured: derived from its cookie
/// (HMAC-SHA256 with a label of its own), so every node derives the same, and nobody without
/// the cookie can.
fn admin_password_from(cookie: &Cookie) -> String {
    use hmac::{Hmac, Mac};
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(cookie.secret().as_bytes())
        .expect("HMAC takes a key of any length");
    mac.update(b"ringcore admin password");
    password::readable(&mac.finalize().into_bytes())
}

/// Hashing costs tens of milliseconds of CPU on purpose: off the async workers.
async fn hash(password: String) -> String {
    tokio::task::spawn_blocking(move || password::hash(&password))
        .await
        .expect("hashing never panics")
}

async fn verify(password: String, stored: String) -> bool {
    tokio::task::spawn_blocking(move || password::verify(&password, &stored))
        .await
        .unwrap_or(false)
}

/// A valid hash of a password nobody has, checked when the user does not exist.
fn dummy_hash() -> String {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DUMMY
        .get_or_init(|| password::hash(&password::generate()))
        .clone()
}
