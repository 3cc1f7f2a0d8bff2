//! Users' names and records, as kept in the cluster metadata (prefix [`USERS`]).

use serde::{Deserialize, Serialize};

/// The metadata prefix of users' records, keyed by name.
pub const USERS: &str = "users";

/// Longest user name, in bytes.
pub const MAX_NAME_BYTES: usize = 64;

/// Names no user may have: riak's reserved words, and the anonymous caller's.
const RESERVED: &[&str] = &["all", "on", "to", "from", "any", "anonymous"];

/// What the cluster keeps of a user: never the password, only its hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserRecord {
    /// argon2id PHC string (see [`super::password`]).
    pub password: String,
    /// Groups beyond the implied `authenticated` (e.g. `admin`).
    #[serde(default)]
    pub groups: Vec<String>,
}

/// Why a name cannot be a user's: `None` when it can. riak's rule: not empty, and none of the
/// characters with code points 0–44 (controls, space, `!"#$%&'()*+,`), 58–63 (`:;<=>?`) or
/// 127–191; plus a length limit and the reserved words.
pub fn illegal_name(name: &str) -> Option<String> {
    if name.is_empty() {
        return Some("a user name cannot be empty".into());
    }
    if name.len() > MAX_NAME_BYTES {
        return Some(format!(
            "a user name has at most {MAX_NAME_BYTES} bytes, this one has {}",
            name.len()
        ));
    }
    if RESERVED.contains(&name.to_ascii_lowercase().as_str()) {
        return Some(format!("'{name}' is a reserved word"));
    }
    let bad = |c: char| matches!(c as u32, 0..=44 | 58..=63 | 127..=191) || c == '/';
    if let Some(c) = name.chars().find(|c| bad(*c)) {
        return Some(format!("a user name cannot contain {c:?}"));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_riaks_rule() {
        for good in ["alice", "bob.smith", "a-b_c", "x@y", "Ünïcode", "0"] {
            assert_eq!(illegal_name(good), None, "{good}");
        }
        for bad in [
            "",
            "with space",
            "a:b",
            "a,b",
            "a?b",
            "tab\t",
            "all",
            "ANY",
            "anonymous",
            "a/b",
        ] {
            assert!(illegal_name(bad).is_some(), "{bad:?}");
        }
        assert!(illegal_name(&"x".repeat(65)).is_some());
    }
}
