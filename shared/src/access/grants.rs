//! Who may do what: permissions, the resources they are granted on, and the rule that decides
//! a request (Iorio's model, riak_core security's rules). Pure: no I/O, no cluster.
//!
//! - A **permission** is one of `get`, `put`, `delete`, `list`, `grant`, `adminusers`.
//! - It is granted on a **resource**: every bucket (`any`), one bucket, or one stream of a
//!   bucket, to a **subject**: a user or a group.
//! - A request on a stream is allowed by a grant on that stream, on its bucket, or on `any`;
//!   a request on a bucket (listing its streams, its access list) by a grant on the bucket or
//!   on `any`. Grants on single streams never open the whole bucket.
//! - Groups: `admin` may do everything; `authenticated` is every user who logged in; `all` is
//!   everyone, the anonymous caller included. (Iorio's `g-admin` and `g-authenticated` name the
//!   same groups.)
//! - Every user owns the bucket `_user_<name>`: every permission on it but `adminusers`.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// The group whose members may do everything.
pub const ADMIN_GROUP: &str = "admin";
/// The group of everyone who logged in.
pub const AUTHENTICATED_GROUP: &str = "authenticated";
/// The group of everyone, anonymous callers included (a role of `*` in a grant).
pub const EVERYONE_GROUP: &str = "all";
/// The prefix of each user's own bucket.
pub const USER_BUCKET_PREFIX: &str = "_user_";

/// What a grant allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Permission {
    Get,
    Put,
    Delete,
    List,
    Grant,
    AdminUsers,
}

impl Permission {
    pub const ALL: [Permission; 6] = [
        Permission::Get,
        Permission::Put,
        Permission::Delete,
        Permission::List,
        Permission::Grant,
        Permission::AdminUsers,
    ];

    /// The permissions on data, which an open anonymous access allows.
    pub fn is_data(self) -> bool {
        matches!(
            self,
            Permission::Get | Permission::Put | Permission::Delete | Permission::List
        )
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Permission::Get => "get",
            Permission::Put => "put",
            Permission::Delete => "delete",
            Permission::List => "list",
            Permission::Grant => "grant",
            Permission::AdminUsers => "adminusers",
        }
    }
}

impl fmt::Display for Permission {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Permission {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        // riak's and Iorio's internal names (`iorio.get`) are accepted too.
        let name = text.strip_prefix("iorio.").unwrap_or(text);
        Permission::ALL
            .into_iter()
            .find(|p| p.as_str() == name)
            .ok_or_else(|| {
                format!(
                    "unknown permission '{text}' (one of: get, put, delete, list, grant, adminusers)"
                )
            })
    }
}

/// What a grant is on.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Resource {
    /// Every bucket and stream.
    Any,
    Bucket(String),
    Stream(String, String),
}

impl Resource {
    /// A bucket, or one of its streams.
    pub fn of(bucket: &str, stream: Option<&str>) -> Resource {
        match stream {
            Some(stream) => Resource::Stream(bucket.into(), stream.into()),
            None => Resource::Bucket(bucket.into()),
        }
    }

    /// The bucket it is in, if it is not `Any`.
    pub fn bucket(&self) -> Option<&str> {
        match self {
            Resource::Any => None,
            Resource::Bucket(bucket) | Resource::Stream(bucket, _) => Some(bucket),
        }
    }

    /// Whether a grant on `self` covers a request on `asked`.
    fn covers(&self, asked: &Resource) -> bool {
        match (self, asked) {
            (Resource::Any, _) => true,
            (Resource::Bucket(b), Resource::Bucket(a) | Resource::Stream(a, _)) => a == b,
            (Resource::Stream(b, s), Resource::Stream(a, t)) => a == b && s == t,
            _ => false,
        }
    }
}

impl fmt::Display for Resource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Resource::Any => f.write_str("any"),
            Resource::Bucket(bucket) => write!(f, "{bucket}"),
            Resource::Stream(bucket, stream) => write!(f, "{bucket}/{stream}"),
        }
    }
}

/// Who a grant is to.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Subject {
    User(String),
    Group(String),
}

impl Subject {
    /// A group's name as written in a request: Iorio's `g-admin` is `admin`, `*` is `all`.
    pub fn group(name: &str) -> Subject {
        let name = name.strip_prefix("g-").unwrap_or(name);
        let name = if name == "*" { EVERYONE_GROUP } else { name };
        Subject::Group(name.to_string())
    }
}

impl fmt::Display for Subject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Subject::User(name) => write!(f, "user/{name}"),
            Subject::Group(name) => write!(f, "group/{name}"),
        }
    }
}

/// One permission on one resource to one subject.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Grant {
    pub resource: Resource,
    pub subject: Subject,
    pub permission: Permission,
}

/// Who is asking: a user who logged in, or the anonymous caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// The user's name; `anonymous` for the anonymous caller.
    pub name: String,
    /// The groups the user is in (`authenticated` and `all` are implied).
    pub groups: Vec<String>,
    pub anonymous: bool,
}

/// The anonymous caller's name.
pub const ANONYMOUS: &str = "anonymous";

impl Caller {
    pub fn anonymous() -> Caller {
        Caller {
            name: ANONYMOUS.to_string(),
            groups: Vec::new(),
            anonymous: true,
        }
    }

    pub fn user(name: &str, groups: Vec<String>) -> Caller {
        Caller {
            name: name.to_string(),
            groups,
            anonymous: false,
        }
    }

    pub fn is_admin(&self) -> bool {
        !self.anonymous && self.groups.iter().any(|g| g == ADMIN_GROUP)
    }

    /// The bucket this user owns.
    pub fn own_bucket(&self) -> Option<String> {
        (!self.anonymous).then(|| format!("{USER_BUCKET_PREFIX}{}", self.name))
    }

    /// Every subject whose grants count for this caller.
    fn subjects(&self) -> Vec<Subject> {
        let mut subjects = vec![
            Subject::User(self.name.clone()),
            Subject::Group(EVERYONE_GROUP.into()),
        ];
        if !self.anonymous {
            subjects.push(Subject::Group(AUTHENTICATED_GROUP.into()));
            subjects.extend(self.groups.iter().map(|g| Subject::Group(g.clone())));
        }
        subjects
    }
}

/// Whether `caller` may do `permission` on `asked`, given every grant of the cluster (and
/// whether anonymous callers may touch all data).
pub fn allows<'a>(
    grants: impl IntoIterator<Item = &'a Grant>,
    caller: &Caller,
    asked: &Resource,
    permission: Permission,
    anonymous_all: bool,
) -> bool {
    if caller.is_admin() {
        return true;
    }
    if caller.anonymous && anonymous_all && permission.is_data() {
        return true;
    }
    if permission != Permission::AdminUsers
        && asked.bucket().is_some()
        && caller.own_bucket().as_deref() == asked.bucket()
    {
        return true;
    }
    let subjects = caller.subjects();
    grants.into_iter().any(|grant| {
        grant.permission == permission
            && grant.resource.covers(asked)
            && subjects.contains(&grant.subject)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grant(resource: Resource, subject: Subject, permission: Permission) -> Grant {
        Grant {
            resource,
            subject,
            permission,
        }
    }

    fn bob() -> Caller {
        Caller::user("bob", vec![])
    }

    #[test]
    fn a_bucket_grant_covers_its_streams_and_a_stream_grant_only_its_stream() {
        let grants = [
            grant(
                Resource::Bucket("news".into()),
                Subject::User("bob".into()),
                Permission::Get,
            ),
            grant(
                Resource::of("sports", Some("f1")),
                Subject::User("bob".into()),
                Permission::Put,
            ),
        ];
        let yes = |r: Resource, p| allows(&grants, &bob(), &r, p, false);
        assert!(yes(Resource::of("news", Some("today")), Permission::Get));
        assert!(yes(Resource::of("news", None), Permission::Get));
        assert!(!yes(Resource::of("news", Some("today")), Permission::Put));
        assert!(yes(Resource::of("sports", Some("f1")), Permission::Put));
        assert!(!yes(Resource::of("sports", Some("golf")), Permission::Put));
        assert!(
            !yes(Resource::of("sports", None), Permission::Put),
            "a stream grant does not open the bucket"
        );
    }

    #[test]
    fn groups_count_for_their_members_and_any_covers_everything() {
        let grants = [
            grant(
                Resource::Bucket("public".into()),
                Subject::group("g-authenticated"),
                Permission::Get,
            ),
            grant(Resource::Any, Subject::group("ops"), Permission::List),
            grant(
                Resource::Bucket("open".into()),
                Subject::group("*"),
                Permission::Get,
            ),
        ];
        let public = Resource::of("public", Some("x"));
        assert!(allows(&grants, &bob(), &public, Permission::Get, false));
        assert!(!allows(
            &grants,
            &Caller::anonymous(),
            &public,
            Permission::Get,
            false
        ));
        let open = Resource::of("open", Some("x"));
        assert!(allows(
            &grants,
            &Caller::anonymous(),
            &open,
            Permission::Get,
            false
        ));
        let ops = Caller::user("carol", vec!["ops".into()]);
        assert!(allows(
            &grants,
            &ops,
            &Resource::of("anything", None),
            Permission::List,
            false
        ));
        assert!(!allows(
            &grants,
            &bob(),
            &Resource::of("anything", None),
            Permission::List,
            false
        ));
    }

    #[test]
    fn a_user_owns_their_bucket_and_the_admin_group_everything() {
        let own = Resource::of("_user_bob", Some("notes"));
        for p in [Permission::Get, Permission::Put, Permission::Delete] {
            assert!(allows([], &bob(), &own, p, false));
        }
        assert!(allows(
            [],
            &bob(),
            &Resource::of("_user_bob", None),
            Permission::Grant,
            false
        ));
        assert!(!allows(
            [],
            &bob(),
            &Resource::of("_user_carol", Some("x")),
            Permission::Get,
            false
        ));
        assert!(!allows(
            [],
            &bob(),
            &Resource::Any,
            Permission::AdminUsers,
            false
        ));
        let admin = Caller::user("admin", vec![ADMIN_GROUP.into()]);
        assert!(allows(
            [],
            &admin,
            &Resource::Any,
            Permission::AdminUsers,
            false
        ));
        assert!(allows(
            [],
            &admin,
            &Resource::of("_user_bob", Some("x")),
            Permission::Get,
            false
        ));
    }

    #[test]
    fn open_anonymous_access_covers_data_but_not_administration() {
        let anyone = Caller::anonymous();
        let stream = Resource::of("kv", Some("k"));
        assert!(allows([], &anyone, &stream, Permission::Put, true));
        assert!(!allows([], &anyone, &stream, Permission::Put, false));
        assert!(!allows([], &anyone, &stream, Permission::Grant, true));
        assert!(!allows(
            [],
            &anyone,
            &Resource::Any,
            Permission::AdminUsers,
            true
        ));
        // "anonymous" is not a user with a bucket of its own.
        assert!(!allows(
            [],
            &anyone,
            &Resource::of("_user_anonymous", Some("x")),
            Permission::Get,
            false
        ));
    }

    #[test]
    fn permissions_read_back_from_their_names() {
        for p in Permission::ALL {
            assert_eq!(p.as_str().parse::<Permission>(), Ok(p));
        }
        assert_eq!("iorio.put".parse::<Permission>(), Ok(Permission::Put));
        assert!("write".parse::<Permission>().is_err());
    }
}
