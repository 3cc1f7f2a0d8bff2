//! Where a command finds the cluster's cookie ([`crate::net::cookie`]): given on its command
//! line, or in a file. A node (or a devrel) makes the file if there is none yet; a tool only
//! reads it, and says where it looked when it is not there.

use crate::net::cookie::Cookie;
use std::io;
use std::path::{Path, PathBuf};

/// Where a command finds the cluster's cookie. The file is read when the command runs, not
/// when the command line is parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum CookieSource {
    /// `--cookie`, or `RING_COOKIE`.
    Given(Cookie),
    /// `--cookie-file`, `RING_COOKIE_FILE`, or the default file.
    File(PathBuf),
}

impl CookieSource {
    /// The cookie of a node (or a devrel of them): a file that is not there yet is made, with a
    /// fresh cookie.
    pub(crate) fn for_node(&self) -> Result<Cookie, String> {
        match self {
            CookieSource::Given(cookie) => Ok(cookie.clone()),
            CookieSource::File(path) => {
                Cookie::load_or_create(path).map_err(|error| file_error(path, error))
            }
        }
    }

    /// The cookie of a tool, which never makes one: a cookie no node has would be refused.
    pub(crate) fn for_tool(&self) -> Result<Cookie, String> {
        match self {
            CookieSource::Given(cookie) => Ok(cookie.clone()),
            CookieSource::File(path) => Cookie::read(path).map_err(|error| {
                if error.kind() == io::ErrorKind::NotFound {
                    format!(
                        "no cookie in {}: a node makes it when it first starts; start one, or \
                         pass the cluster's cookie with --cookie or --cookie-file",
                        path.display()
                    )
                } else {
                    file_error(path, error)
                }
            }),
        }
    }

    /// Which cookie it is, for messages: `the cookie in data/ex0-cluster/cookie`.
    pub(crate) fn describe(&self) -> String {
        match self {
            CookieSource::Given(_) => "the cookie given (--cookie or RING_COOKIE)".to_string(),
            CookieSource::File(path) => format!("the cookie in {}", path.display()),
        }
    }
}

fn file_error(path: &Path, error: io::Error) -> String {
    if error.kind() == io::ErrorKind::InvalidData {
        // It names the file already.
        error.to_string()
    } else {
        format!("cannot use the cookie file {}: {error}", path.display())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_node_makes_the_file_and_a_tool_only_reads_it() {
        let dir = tempfile::tempdir().unwrap();
        let source = CookieSource::File(dir.path().join("data/ex0-cluster/cookie"));
        let error = source.for_tool().unwrap_err();
        assert_eq!(
            error,
            format!(
                "no cookie in {}: a node makes it when it first starts; start one, or pass the \
                 cluster's cookie with --cookie or --cookie-file",
                dir.path().join("data/ex0-cluster/cookie").display()
            )
        );
        assert!(!dir.path().join("data").exists(), "a tool makes nothing");
        let made = source.for_node().unwrap();
        assert_eq!(source.for_tool().unwrap(), made);
        assert_eq!(source.for_node().unwrap(), made, "made once");
        let given = CookieSource::Given(Cookie::new("s3cret").unwrap());
        assert_eq!(given.for_tool().unwrap(), Cookie::new("s3cret").unwrap());
        assert_eq!(given.for_node().unwrap(), Cookie::new("s3cret").unwrap());
    }
}
