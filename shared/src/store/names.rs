//! Reversible mapping between bucket/stream names and directory names.
//!
//! Bucket and stream names are arbitrary UTF-8 chosen by clients, so they
//! cannot be used as file names directly: `"../etc"` would escape the data
//! directory, `"a/b"` would create nested directories, `""` and `"."` are not
//! valid names at all, and `"CON"` is reserved on Windows.
//!
//! The encoding is one simple rule: write a leading `_`, then copy every byte
//! in `[a-z0-9_-]` as is and write every other byte as `%XX` (upper-case hex).
//! Because of the leading `_`, an encoded name is never empty, never `.` or
//! `..`, and never a reserved device name. Upper-case ASCII letters are escaped
//! too, so that `"Alice"` and `"alice"` stay distinct on case-insensitive file
//! systems (the default on macOS and Windows).
//!
//! Examples: `"alice"` → `_alice`, `"Alice"` → `_%41lice`, `""` → `_`,
//! `"a/b"` → `_a%2Fb`, `"café"` → `_caf%C3%A9`.

use std::io;

/// Every encoded name starts with this byte; anything else in a data
/// directory was not written by the store.
const MARKER: char = '_';

/// Longest encoded name we create. Most file systems allow 255 bytes per
/// path component; we stay a little below that.
pub(super) const MAX_ENCODED_LEN: usize = 250;

/// Encodes `name` into a safe directory name.
///
/// Fails with `InvalidInput` when the encoded form would be too long for a
/// file system (a name of more than about 80 non-ASCII characters).
pub(super) fn encode_name(name: &str) -> io::Result<String> {
    let mut out = String::with_capacity(name.len() + 1);
    out.push(MARKER);
    for &byte in name.as_bytes() {
        if is_plain(byte) {
            out.push(char::from(byte));
        } else {
            out.push('%');
            out.push(hex_digit(byte >> 4));
            out.push(hex_digit(byte & 0x0f));
        }
    }
    if out.len() > MAX_ENCODED_LEN {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "name {name:?} is too long: its file name would take {} bytes (at most {MAX_ENCODED_LEN})",
                out.len()
            ),
        ));
    }
    Ok(out)
}

/// Decodes a directory name made by [`encode_name`].
///
/// Returns `None` for anything that `encode_name` could not have produced
/// (no marker, bad escapes, escapes of plain bytes, invalid UTF-8), so that
/// foreign files such as `lost+found` are never mistaken for buckets.
pub(super) fn decode_name(file_name: &str) -> Option<String> {
    let rest = file_name.strip_prefix(MARKER)?;
    let mut bytes = Vec::with_capacity(rest.len());
    let mut input = rest.bytes();
    while let Some(byte) = input.next() {
        if byte == b'%' {
            let high = hex_value(input.next()?)?;
            let low = hex_value(input.next()?)?;
            let decoded = (high << 4) | low;
            if is_plain(decoded) {
                // Not canonical: encode_name would have written it plainly.
                return None;
            }
            bytes.push(decoded);
        } else if is_plain(byte) {
            bytes.push(byte);
        } else {
            return None;
        }
    }
    String::from_utf8(bytes).ok()
}

/// Bytes that are copied unchanged into file names.
fn is_plain(byte: u8) -> bool {
    byte.is_ascii_lowercase() || byte.is_ascii_digit() || byte == b'_' || byte == b'-'
}

fn hex_digit(nibble: u8) -> char {
    char::from(b"0123456789ABCDEF"[usize::from(nibble)])
}

fn hex_value(digit: u8) -> Option<u8> {
    match digit {
        b'0'..=b'9' => Some(digit - b'0'),
        b'A'..=b'F' => Some(digit - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn examples_from_the_docs() {
        assert_eq!(encode_name("alice").unwrap(), "_alice");
        assert_eq!(encode_name("Alice").unwrap(), "_%41lice");
        assert_eq!(encode_name("").unwrap(), "_");
        assert_eq!(encode_name("a/b").unwrap(), "_a%2Fb");
        assert_eq!(encode_name("café").unwrap(), "_caf%C3%A9");
        assert_eq!(encode_name("..").unwrap(), "_%2E%2E");
    }

    #[test]
    fn weird_names_round_trip() {
        let names = [
            "",
            ".",
            "..",
            "../etc",
            "a/b",
            "/",
            "\\",
            "café",
            "CON",
            "con",
            "nul.txt",
            "a b",
            "%41",
            "_",
            "__",
            "-",
            "日本語",
            "tab\there",
            "new\nline",
            "\0",
            "x%",
            "emoji 🎉",
        ];
        for name in names {
            let encoded = encode_name(name).unwrap();
            assert!(encoded.starts_with('_'), "{encoded}");
            assert!(
                !encoded.contains('/') && !encoded.contains('.'),
                "{encoded}"
            );
            assert_eq!(decode_name(&encoded).as_deref(), Some(name), "{encoded}");
        }
    }

    #[test]
    fn case_is_preserved_in_a_case_insensitive_way() {
        let upper = encode_name("Bob").unwrap();
        let lower = encode_name("bob").unwrap();
        assert_ne!(upper.to_lowercase(), lower.to_lowercase());
    }

    #[test]
    fn foreign_names_are_rejected() {
        for foreign in [
            "lost+found",
            "alice",
            ".DS_Store",
            "_%4",
            "_%zz",
            "_%61",
            "_A",
            "_%FF",
        ] {
            assert_eq!(decode_name(foreign), None, "{foreign}");
        }
    }

    #[test]
    fn overlong_names_are_refused() {
        let name = "é".repeat(100);
        let err = encode_name(&name).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
        assert!(encode_name(&"a".repeat(MAX_ENCODED_LEN - 1)).is_ok());
    }
}
