//! Consistent hashing of keys onto the 2^160 ring (riak_core's `chash_key`).
//!
//! A key is a `(bucket, key)` pair of byte strings. Its place on the ring is the SHA-1 of a
//! canonical encoding of that pair, read as a 160-bit unsigned number. The encoding puts the
//! bucket's length first so that `("ab", "c")` and `("a", "bc")` can never collide.

use sha1::{Digest, Sha1};
use std::fmt;

/// A position on the ring: a 160-bit number, stored big-endian.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct KeyHash(pub [u8; 20]);

impl KeyHash {
    /// The top `bits` bits of the hash, as a number (0 ≤ result < 2^bits). `bits` ≤ 32.
    pub fn top_bits(&self, bits: u32) -> u32 {
        debug_assert!(bits <= 32);
        if bits == 0 {
            return 0;
        }
        let top = u32::from_be_bytes([self.0[0], self.0[1], self.0[2], self.0[3]]);
        top >> (32 - bits)
    }
}

impl fmt::Debug for KeyHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyHash(")?;
        for byte in self.0 {
            write!(f, "{byte:02x}")?;
        }
        write!(f, ")")
    }
}

impl fmt::Display for KeyHash {
    /// Prints the hash as riak prints ring positions: a decimal number.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(&u160_to_decimal(self.0))
    }
}

/// Hashes a `(bucket, key)` pair onto the ring.
pub fn chash_key(bucket: &[u8], key: &[u8]) -> KeyHash {
    let mut sha = Sha1::new();
    sha.update((bucket.len() as u32).to_be_bytes());
    sha.update(bucket);
    sha.update(key);
    KeyHash(sha.finalize().into())
}

/// Formats a big-endian 160-bit number in decimal (there is no u160 in Rust).
pub(crate) fn u160_to_decimal(bytes: [u8; 20]) -> String {
    // Five 32-bit limbs, most significant first; divide by 10 repeatedly.
    let mut limbs = [0u32; 5];
    for (i, limb) in limbs.iter_mut().enumerate() {
        *limb = u32::from_be_bytes(bytes[i * 4..i * 4 + 4].try_into().unwrap());
    }
    let mut digits = Vec::with_capacity(49);
    while limbs.iter().any(|&l| l != 0) {
        let mut remainder = 0u64;
        for limb in limbs.iter_mut() {
            let value = (remainder << 32) | u64::from(*limb);
            *limb = (value / 10) as u32;
            remainder = value % 10;
        }
        digits.push(b'0' + remainder as u8);
    }
    if digits.is_empty() {
        digits.push(b'0');
    }
    digits.reverse();
    String::from_utf8(digits).expect("digits are ASCII")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimal_of_small_and_large_numbers() {
        let mut bytes = [0u8; 20];
        assert_eq!(u160_to_decimal(bytes), "0");
        bytes[19] = 42;
        assert_eq!(u160_to_decimal(bytes), "42");
        assert_eq!(
            u160_to_decimal([0xff; 20]),
            "1461501637330902918203684832716283019655932542975" // 2^160 - 1
        );
    }

    #[test]
    fn the_bucket_length_separates_bucket_from_key() {
        assert_ne!(chash_key(b"ab", b"c"), chash_key(b"a", b"bc"));
        assert_eq!(chash_key(b"a", b"bc"), chash_key(b"a", b"bc"));
    }

    #[test]
    fn top_bits_reads_the_most_significant_bits() {
        let mut bytes = [0u8; 20];
        bytes[0] = 0b1101_0110;
        let hash = KeyHash(bytes);
        assert_eq!(hash.top_bits(0), 0);
        assert_eq!(hash.top_bits(1), 1);
        assert_eq!(hash.top_bits(3), 0b110);
        assert_eq!(hash.top_bits(6), 0b110101);
    }
}
