//! `security …`: users and grants from the console and `admin` (riak-admin security's words).
//!
//! ```text
//! security add-user NAME password=PASS [groups=admin,ops]
//! security alter-user NAME password=PASS
//! security del-user NAME
//! security print-users
//! security grant PERM[,PERM…] on any|BUCKET [STREAM] to USER|group/NAME|all
//! security revoke PERM[,PERM…] on any|BUCKET [STREAM] from USER|group/NAME|all
//! security print-grants any|BUCKET [STREAM]
//! ```
//!
//! These run on the node with the cluster's cookie (the console, `admin`), so they need no
//! login: whoever holds the cookie runs the cluster.

use super::tables::{banner, rule};
use crate::access::grants::EVERYONE_GROUP;
use crate::access::{Access, AccessError, Grant, Permission, Resource, Subject};
use crate::error::Error;

/// The `security` commands, with their help.
pub const COMMANDS: &[(&str, &str)] = &[
    (
        "security add-user NAME password=PASS [groups=G,…]",
        "make a user (who owns the bucket _user_NAME)",
    ),
    (
        "security alter-user NAME password=PASS",
        "change a password",
    ),
    ("security del-user NAME", "remove a user and their grants"),
    ("security print-users", "the users and their groups"),
    (
        "security grant PERMS on any|BUCKET [STREAM] to WHO",
        "allow get, put, delete, list, grant or adminusers (WHO: a user, group/NAME or all)",
    ),
    (
        "security revoke PERMS on any|BUCKET [STREAM] from WHO",
        "take a grant back",
    ),
    (
        "security print-grants any|BUCKET [STREAM]",
        "the grants made on a bucket or stream",
    ),
];

/// Runs `security WORDS…` (the words after `security`).
pub async fn run(access: &Access, words: &[&str]) -> Result<String, Error> {
    match words {
        ["add-user", name, options @ ..] => {
            let (password, groups) = user_options(options)?;
            let password = password.ok_or_else(|| usage("add-user needs password=PASS"))?;
            access
                .add_user(name, &password, groups)
                .await
                .map_err(refused)?;
            Ok(format!("User '{name}' added"))
        }
        ["alter-user", name, options @ ..] => {
            let (password, _) = user_options(options)?;
            let password = password.ok_or_else(|| usage("alter-user needs password=PASS"))?;
            access
                .set_password(name, &password)
                .await
                .map_err(refused)?;
            Ok(format!("Password of '{name}' changed"))
        }
        ["del-user", name] => {
            access.remove_user(name).await.map_err(refused)?;
            Ok(format!("User '{name}' removed"))
        }
        ["print-users"] => Ok(print_users(access)),
        ["grant", rest @ ..] => change(access, rest, "to", true).await,
        ["revoke", rest @ ..] => change(access, rest, "from", false).await,
        ["print-grants", rest @ ..] => Ok(print_grants(access, &resource(rest)?)),
        _ => Err(usage("")),
    }
}

fn usage(why: &str) -> Error {
    let lines: Vec<String> = COMMANDS.iter().map(|(c, _)| format!("  {c}")).collect();
    let why = if why.is_empty() {
        String::new()
    } else {
        format!("{why}\n")
    };
    Error::bad_request(format!("{why}Usage: one of\n{}", lines.join("\n")))
}

fn refused(error: AccessError) -> Error {
    match error {
        AccessError::Cluster(error) => error,
        other => Error::bad_request(other.to_string()),
    }
}

/// `password=…` and `groups=a,b` of add-user and alter-user.
fn user_options(options: &[&str]) -> Result<(Option<String>, Vec<String>), Error> {
    let (mut password, mut groups) = (None, Vec::new());
    for option in options {
        match option.split_once('=') {
            Some(("password", value)) => password = Some(value.to_string()),
            Some(("groups", value)) => {
                groups = value
                    .split(',')
                    .filter(|g| !g.is_empty())
                    .map(|g| g.strip_prefix("g-").unwrap_or(g).to_string())
                    .collect()
            }
            _ => return Err(usage(&format!("unknown option '{option}'"))),
        }
    }
    Ok((password, groups))
}

/// `any`, `BUCKET` or `BUCKET STREAM`.
fn resource(words: &[&str]) -> Result<Resource, Error> {
    match words {
        ["any"] => Ok(Resource::Any),
        [bucket] => Ok(Resource::of(bucket, None)),
        [bucket, stream] => Ok(Resource::of(bucket, Some(stream))),
        _ => Err(usage("name any, a bucket, or a bucket and a stream")),
    }
}

/// `PERMS on RESOURCE… to|from WHO`.
async fn change(
    access: &Access,
    words: &[&str],
    preposition: &str,
    allow: bool,
) -> Result<String, Error> {
    let [permissions, "on", rest @ ..] = words else {
        return Err(usage(&format!(
            "PERMS on any|BUCKET [STREAM] {preposition} WHO"
        )));
    };
    let Some(split) = rest.iter().position(|w| *w == preposition) else {
        return Err(usage(&format!("name who, after '{preposition}'")));
    };
    let resource = resource(&rest[..split])?;
    let [who] = &rest[split + 1..] else {
        return Err(usage(&format!(
            "name one user or group after '{preposition}'"
        )));
    };
    let subject = match who.strip_prefix("group/") {
        Some(group) => Subject::group(group),
        None if *who == EVERYONE_GROUP || *who == "*" => Subject::group(who),
        None => Subject::User(who.strip_prefix("user/").unwrap_or(who).to_string()),
    };
    let permissions: Vec<Permission> = permissions
        .split(',')
        .map(str::parse)
        .collect::<Result<_, String>>()
        .map_err(Error::bad_request)?;
    for permission in &permissions {
        let grant = Grant {
            resource: resource.clone(),
            subject: subject.clone(),
            permission: *permission,
        };
        access.set_grant(&grant, allow).await.map_err(refused)?;
    }
    let names: Vec<&str> = permissions.iter().map(|p| p.as_str()).collect();
    Ok(if allow {
        format!("Granted {} on {resource} to {subject}", names.join(","))
    } else {
        format!("Revoked {} on {resource} from {subject}", names.join(","))
    })
}

fn print_users(access: &Access) -> String {
    let mut out = banner("Users") + "\n";
    out += &format!("{:<32} {}\n", "Name", "Groups");
    out += &rule('-');
    for (name, record) in access.users() {
        out += &format!("{name:<32} {}\n", record.groups.join(","));
    }
    out += &rule('-');
    out
}

fn print_grants(access: &Access, resource: &Resource) -> String {
    let mut out = banner(&format!("Grants on {resource}")) + "\n";
    out += &format!("{:<32} {}\n", "Who", "Permissions");
    out += &rule('-');
    for (subject, permissions) in access.grants_on(resource) {
        let names: Vec<&str> = permissions.iter().map(|p| p.as_str()).collect();
        out += &format!("{:<32} {}\n", subject.to_string(), names.join(","));
    }
    out += &rule('-');
    out
}
