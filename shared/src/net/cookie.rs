//! The cluster's cookie (riak's, after Erlang's `.erlang.cookie`): a secret that every node of
//! a cluster and every tool that talks to it share, so that nothing else can talk to them.
//!
//! The secret never crosses the wire. Each end of a new connection proves that it knows it:
//! both ends pick a random nonce, and each sends an HMAC-SHA256 keyed by the cookie of a label
//! naming its side and both nonces (the handshake is in [`crate::net::wire`]). A nonce is new
//! on every connection, so a proof overheard once is worth nothing on the next one, and the
//! label keeps the node's proof from serving as the caller's.
//!
//! A node that is given no cookie keeps one in a file, which it creates with a fresh secret
//! on its first start (readable by its owner only, like Erlang's); the tools read that file.

use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::fmt;
use std::io;
use std::path::Path;
use std::sync::Arc;

/// The shared secret. Cloning is cheap; `Debug` never shows the secret.
#[derive(Clone, PartialEq, Eq)]
pub struct Cookie(Arc<str>);

/// A cookie made of nothing but blanks.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a cookie cannot be empty")]
pub struct EmptyCookie;

/// How many random bytes a nonce has (and a fresh cookie).
pub const NONCE_BYTES: usize = 32;

/// A number used once: each end of a connection picks one at random for the handshake.
pub type Nonce = [u8; NONCE_BYTES];

/// A fresh random nonce.
pub fn nonce() -> Nonce {
    let mut nonce = [0; NONCE_BYTES];
    // Without the operating system's randomness no handshake could be trusted: nothing to
    // fall back on.
    getrandom::fill(&mut nonce).expect("the operating system gives random bytes");
    nonce
}

/// Which end of a connection a proof comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// The node that was called: it proves first.
    Listener,
    /// The node or tool that called.
    Dialer,
}

/// The two nonces of one handshake.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Nonces {
    pub dialer: Nonce,
    pub listener: Nonce,
}

impl Cookie {
    /// A cookie from its text, less surrounding blanks (a file's final newline, say).
    pub fn new(text: &str) -> Result<Cookie, EmptyCookie> {
        let text = text.trim();
        if text.is_empty() {
            return Err(EmptyCookie);
        }
        Ok(Cookie(Arc::from(text)))
    }

    /// The secret itself, for a process that must be handed it (a devrel's nodes). Never for
    /// printing.
    pub fn secret(&self) -> &str {
        &self.0
    }

    /// A fresh cookie: 32 random bytes, written as 64 hex digits.
    pub fn generate() -> Cookie {
        let hex: String = nonce().iter().map(|byte| format!("{byte:02x}")).collect();
        Cookie::new(&hex).expect("64 digits")
    }

    /// Reads the cookie in `path`. A file that is missing is an error of kind `NotFound`; one
    /// that holds only blanks is an error that names the file.
    pub fn read(path: &Path) -> io::Result<Cookie> {
        let text = std::fs::read_to_string(path)?;
        Cookie::new(&text).map_err(|_| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!(
                    "the cookie file {} is empty: write the cluster's cookie in it, or remove it \
                     to have a new one made",
                    path.display()
                ),
            )
        })
    }

    /// Reads the cookie in `path`, or, if there is no such file, creates it with a fresh
    /// cookie (and the folders above it), readable by its owner only.
    pub fn load_or_create(path: &Path) -> io::Result<Cookie> {
        match Cookie::read(path) {
            Err(error) if error.kind() == io::ErrorKind::NotFound => create(path),
            read => read,
        }
    }

    /// `side`'s proof that it knows this cookie, for the handshake of `nonces`:
    /// HMAC-SHA256(cookie, label ‖ the other side's nonce ‖ this side's nonce).
    pub fn proof(&self, side: Side, nonces: &Nonces) -> Vec<u8> {
        self.mac(side, nonces).finalize().into_bytes().to_vec()
    }

    /// Whether `proof` is `side`'s proof of this cookie for `nonces`. The comparison takes
    /// the same time however many bytes match, so that timing it tells nothing.
    pub fn verify(&self, side: Side, nonces: &Nonces, proof: &[u8]) -> bool {
        self.mac(side, nonces).verify_slice(proof).is_ok()
    }

    fn mac(&self, side: Side, nonces: &Nonces) -> Hmac<Sha256> {
        let (label, theirs, mine) = match side {
            Side::Listener => (&b"ringcore listener"[..], &nonces.dialer, &nonces.listener),
            Side::Dialer => (&b"ringcore dialer"[..], &nonces.listener, &nonces.dialer),
        };
        let mut mac = Hmac::<Sha256>::new_from_slice(self.0.as_bytes())
            .expect("HMAC takes a key of any length");
        mac.update(label);
        mac.update(theirs);
        mac.update(mine);
        mac
    }
}

impl fmt::Debug for Cookie {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Cookie(…)")
    }
}

/// Writes a fresh cookie to `path`, unless another process got there first: then theirs is
/// the one. The file appears whole or not at all (written aside, then linked into place), so
/// that two nodes starting at once never read a half-written cookie, nor keep two.
fn create(path: &Path) -> io::Result<Cookie> {
    let cookie = Cookie::generate();
    let folder = match path.parent() {
        Some(folder) if !folder.as_os_str().is_empty() => folder,
        _ => Path::new("."),
    };
    std::fs::create_dir_all(folder)?;
    let aside = folder.join(format!(
        ".cookie-{}-{:x}",
        std::process::id(),
        u64::from_le_bytes(nonce()[..8].try_into().expect("8 bytes"))
    ));
    let written = write_private(&aside, &cookie);
    let linked = written.and_then(|()| std::fs::hard_link(&aside, path));
    let _ = std::fs::remove_file(&aside);
    match linked {
        Ok(()) => {
            tracing::info!("created a new cluster cookie in {}", path.display());
            Ok(cookie)
        }
        Err(error) if error.kind() == io::ErrorKind::AlreadyExists => Cookie::read(path),
        Err(error) => Err(error),
    }
}

/// Writes the cookie's text to a new file that only its owner may read.
fn write_private(path: &Path, cookie: &Cookie) -> io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path)?;
    file.write_all(cookie.0.as_bytes())?;
    file.write_all(b"\n")?;
    file.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nonces() -> Nonces {
        Nonces {
            dialer: nonce(),
            listener: nonce(),
        }
    }

    #[test]
    fn a_proof_holds_for_the_same_cookie_side_and_nonces_only() {
        let cookie = Cookie::new("secret").unwrap();
        let nonces = nonces();
        let proof = cookie.proof(Side::Dialer, &nonces);
        assert_eq!(proof.len(), 32);
        assert!(cookie.verify(Side::Dialer, &nonces, &proof));
        // The same text, read from a file with its newline, is the same cookie.
        assert!(
            Cookie::new("secret\n")
                .unwrap()
                .verify(Side::Dialer, &nonces, &proof)
        );
        // Another cookie.
        let other = Cookie::new("secret2").unwrap();
        assert!(!other.verify(Side::Dialer, &nonces, &proof));
        assert_ne!(other.proof(Side::Dialer, &nonces), proof);
        // The listener's proof is not the dialer's.
        assert!(!cookie.verify(Side::Listener, &nonces, &proof));
        // The nonces swapped: another handshake.
        let swapped = Nonces {
            dialer: nonces.listener,
            listener: nonces.dialer,
        };
        assert!(!cookie.verify(Side::Dialer, &swapped, &proof));
        // Other nonces, and proofs cut short or empty.
        assert!(!cookie.verify(Side::Dialer, &self::nonces(), &proof));
        assert!(!cookie.verify(Side::Dialer, &nonces, &proof[..31]));
        assert!(!cookie.verify(Side::Dialer, &nonces, &[]));
    }

    #[test]
    fn a_cookie_is_trimmed_never_empty_and_never_printed() {
        assert_eq!(
            Cookie::new("  abc \n").unwrap(),
            Cookie::new("abc").unwrap()
        );
        assert_eq!(Cookie::new(" \n\t"), Err(EmptyCookie));
        assert_eq!(EmptyCookie.to_string(), "a cookie cannot be empty");
        assert_eq!(format!("{:?}", Cookie::new("abc").unwrap()), "Cookie(…)");
        let fresh = Cookie::generate();
        assert_eq!(fresh.0.len(), 64);
        assert!(fresh.0.bytes().all(|byte| byte.is_ascii_hexdigit()));
        assert_ne!(fresh, Cookie::generate());
    }

    #[test]
    fn load_or_create_makes_a_private_file_once_and_reuses_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("data/ex0-cluster/cookie");
        let first = Cookie::load_or_create(&path).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text.len(), 65, "64 hex digits and a newline: {text:?}");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600, "{mode:o}");
        }
        assert_eq!(Cookie::load_or_create(&path).unwrap(), first);
        assert_eq!(Cookie::read(&path).unwrap(), first);
        let left: Vec<_> = std::fs::read_dir(path.parent().unwrap())
            .unwrap()
            .map(|entry| entry.unwrap().file_name())
            .collect();
        assert_eq!(left, ["cookie"], "nothing left aside");
    }

    #[test]
    fn an_empty_or_missing_cookie_file_is_an_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cookie");
        let missing = Cookie::read(&path).unwrap_err();
        assert_eq!(missing.kind(), io::ErrorKind::NotFound);
        std::fs::write(&path, "\n").unwrap();
        for error in [
            Cookie::read(&path).unwrap_err(),
            Cookie::load_or_create(&path).unwrap_err(),
        ] {
            assert_eq!(error.kind(), io::ErrorKind::InvalidData);
            assert!(
                error
                    .to_string()
                    .contains(&format!("the cookie file {} is empty", path.display())),
                "{error}"
            );
        }
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "\n",
            "left as it was"
        );
    }
}
