//! Passwords, kept only as salted hashes: argon2id (the OWASP recommendation) with its default
//! cost (19 MiB of memory, 2 passes), written as a PHC string
//! (`$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>`) that says how to check it again.
//!
//! A password is never stored, logged or sent to another node; only its hash is, in the
//! user's record. Checking costs as much as hashing (tens of milliseconds): that is the point,
//! since it makes guessing slow for whoever steals the records.

use argon2::password_hash::SaltString;
use argon2::{Argon2, PasswordHash, PasswordHasher, PasswordVerifier};

/// Bytes of random salt per hash.
const SALT_BYTES: usize = 16;

/// The hash of `password` with a fresh random salt, as a PHC string.
pub fn hash(password: &str) -> String {
    let mut salt = [0; SALT_BYTES];
    getrandom::fill(&mut salt).expect("the operating system gives random bytes");
    let salt = SaltString::encode_b64(&salt).expect("16 bytes are a valid salt");
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .expect("argon2 with its default parameters hashes any password")
        .to_string()
}

/// Whether `password` is the one `stored` (a PHC string from [`hash`]) was made from. A
/// stored string that is not a valid hash matches nothing.
pub fn verify(password: &str, stored: &str) -> bool {
    let Ok(parsed) = PasswordHash::new(stored) else {
        return false;
    };
    Argon2::default()
        .verify_password(password.as_bytes(), &parsed)
        .is_ok()
}

/// A password nobody chose: 24 random characters (see [`readable`]), for an admin whose
/// password was not configured.
pub fn generate() -> String {
    let mut bytes = [0u8; 24];
    getrandom::fill(&mut bytes).expect("the operating system gives random bytes");
    readable(&bytes)
}

/// Random bytes as a password of up to 24 characters from an alphabet without look-alikes.
pub fn readable(bytes: &[u8]) -> String {
    const ALPHABET: &[u8] = b"abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    // 256 is not a multiple of the alphabet's 56 letters: the first 32 are a little more
    // likely, which leaves well over 130 bits of guessing.
    bytes
        .iter()
        .take(24)
        .map(|b| ALPHABET[*b as usize % ALPHABET.len()] as char)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hash_checks_its_password_and_no_other() {
        let stored = hash("correct horse");
        assert!(stored.starts_with("$argon2id$"), "{stored}");
        assert!(!stored.contains("correct horse"));
        assert!(verify("correct horse", &stored));
        assert!(!verify("correct hors", &stored));
        assert!(!verify("", &stored));
    }

    #[test]
    fn the_same_password_hashes_differently_each_time() {
        assert_ne!(hash("secret"), hash("secret"), "a fresh salt each time");
    }

    #[test]
    fn a_damaged_hash_matches_nothing() {
        assert!(!verify("secret", "not a hash"));
        assert!(!verify("secret", ""));
    }

    #[test]
    fn generated_passwords_are_long_and_differ() {
        let (a, b) = (generate(), generate());
        assert_eq!(a.len(), 24);
        assert_ne!(a, b);
        assert!(a.chars().all(|c| c.is_ascii_alphanumeric()));
    }
}
