//! Byte layout of segment files: the file header and the records after it.
//!
//! ```text
//! segment file = header record*
//! header       = magic "RCSG" (4 bytes) | format version (u32 LE) = 1
//! record       = length (u32 LE) | crc32 (u32 LE) | seq (u64 LE) | ts_ms (u64 LE) | payload
//! ```
//!
//! `length` counts the bytes after the crc field (16 + payload length) and
//! `crc32` covers exactly those bytes. A record is only believed when its
//! length is plausible and its checksum matches: this is what lets recovery
//! tell a complete record from one torn by a crash, or from garbage.
//!
//! This file only converts between bytes and [`Entry`] values; it does no I/O.

use super::Entry;
use super::report::Damage;

/// Identifies a segment file.
pub(super) const SEGMENT_MAGIC: [u8; 4] = *b"RCSG";
/// Bumped whenever the byte layout changes.
pub(super) const FORMAT_VERSION: u32 = 1;
/// Bytes of the segment header.
pub(super) const SEGMENT_HEADER_LEN: u64 = 8;
/// Bytes of the `length` and `crc32` fields that start every record.
pub(super) const FRAME_LEN: usize = 8;
/// Bytes of `seq` and `ts_ms`, the fixed part covered by the checksum.
const FIXED_BODY_LEN: usize = 16;
/// Largest payload accepted. Anything announcing more is treated as
/// corruption, so a flipped bit in a length field cannot make recovery
/// allocate gigabytes.
pub const MAX_PAYLOAD_BYTES: usize = 64 * 1024 * 1024;

/// Result of looking at the first bytes of a segment file.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum HeaderCheck {
    Valid,
    Damaged(Damage),
    /// A segment written by a newer (or older) format we cannot read.
    UnsupportedVersion(u32),
}

/// The header written at the start of every segment file.
pub(super) fn segment_header() -> [u8; SEGMENT_HEADER_LEN as usize] {
    let mut header = [0; SEGMENT_HEADER_LEN as usize];
    header[..4].copy_from_slice(&SEGMENT_MAGIC);
    header[4..].copy_from_slice(&FORMAT_VERSION.to_le_bytes());
    header
}

/// Checks the header bytes read from a file (possibly fewer than needed).
pub(super) fn check_segment_header(bytes: &[u8]) -> HeaderCheck {
    if bytes.len() < SEGMENT_HEADER_LEN as usize {
        return HeaderCheck::Damaged(Damage::ShortHeader);
    }
    if bytes[..4] != SEGMENT_MAGIC {
        return HeaderCheck::Damaged(Damage::BadMagic);
    }
    let version = u32::from_le_bytes([bytes[4], bytes[5], bytes[6], bytes[7]]);
    if version == FORMAT_VERSION {
        HeaderCheck::Valid
    } else {
        HeaderCheck::UnsupportedVersion(version)
    }
}

/// Total bytes a record with this payload takes on disk.
pub(super) fn record_len(payload_len: usize) -> usize {
    FRAME_LEN + FIXED_BODY_LEN + payload_len
}

/// Serialises one entry as a complete record.
///
/// The caller must have checked `entry.payload.len() <= MAX_PAYLOAD_BYTES`.
pub(super) fn encode_record(entry: &Entry) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(record_len(entry.payload.len()));
    bytes.extend_from_slice(&[0; FRAME_LEN]); // filled in below
    bytes.extend_from_slice(&entry.seq.to_le_bytes());
    bytes.extend_from_slice(&entry.ts_ms.to_le_bytes());
    bytes.extend_from_slice(&entry.payload);
    let body_len = (bytes.len() - FRAME_LEN) as u32; // fits: payload <= 64 MiB
    let crc = crc32fast::hash(&bytes[FRAME_LEN..]);
    bytes[..4].copy_from_slice(&body_len.to_le_bytes());
    bytes[4..FRAME_LEN].copy_from_slice(&crc.to_le_bytes());
    bytes
}

/// Reads the frame (length and checksum) at the start of a record.
///
/// Returns the number of body bytes that follow and the expected checksum.
pub(super) fn parse_frame(frame: &[u8; FRAME_LEN]) -> Result<(usize, u32), Damage> {
    let body_len = u32::from_le_bytes([frame[0], frame[1], frame[2], frame[3]]);
    let crc = u32::from_le_bytes([frame[4], frame[5], frame[6], frame[7]]);
    let len = body_len as usize;
    if !(FIXED_BODY_LEN..=FIXED_BODY_LEN + MAX_PAYLOAD_BYTES).contains(&len) {
        return Err(Damage::BadLength(body_len));
    }
    Ok((len, crc))
}

/// Verifies and decodes the body of a record (everything after the frame).
pub(super) fn decode_body(body: &[u8], expected_crc: u32) -> Result<Entry, Damage> {
    if body.len() < FIXED_BODY_LEN {
        return Err(Damage::ShortRecord);
    }
    if crc32fast::hash(body) != expected_crc {
        return Err(Damage::BadChecksum);
    }
    let (seq, rest) = body.split_at(8);
    let (ts_ms, payload) = rest.split_at(8);
    Ok(Entry {
        seq: u64::from_le_bytes(seq.try_into().map_err(|_| Damage::ShortRecord)?),
        ts_ms: u64::from_le_bytes(ts_ms.try_into().map_err(|_| Damage::ShortRecord)?),
        payload: payload.to_vec(),
    })
}

/// Verifies and decodes one complete record (frame included).
pub(super) fn decode_record(bytes: &[u8]) -> Result<Entry, Damage> {
    let frame: &[u8; FRAME_LEN] = bytes
        .get(..FRAME_LEN)
        .and_then(|f| f.try_into().ok())
        .ok_or(Damage::ShortRecord)?;
    let (body_len, crc) = parse_frame(frame)?;
    let body = bytes.get(FRAME_LEN..).ok_or(Damage::ShortRecord)?;
    if body.len() != body_len {
        return Err(Damage::ShortRecord);
    }
    decode_body(body, crc)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(seq: u64, payload: &[u8]) -> Entry {
        Entry {
            seq,
            ts_ms: 1_700_000_000_000 + seq,
            payload: payload.to_vec(),
        }
    }

    #[test]
    fn round_trip() {
        for payload in [&b""[..], b"x", b"hello world", &[0xff; 1000]] {
            let e = entry(42, payload);
            let bytes = encode_record(&e);
            assert_eq!(bytes.len(), record_len(payload.len()));
            assert_eq!(decode_record(&bytes), Ok(e));
        }
    }

    #[test]
    fn every_flipped_bit_is_detected() {
        let bytes = encode_record(&entry(7, b"payload"));
        for i in 0..bytes.len() * 8 {
            let mut damaged = bytes.clone();
            damaged[i / 8] ^= 1 << (i % 8);
            assert!(decode_record(&damaged).is_err(), "bit {i} not detected");
        }
    }

    #[test]
    fn every_truncation_is_detected() {
        let bytes = encode_record(&entry(7, b"payload"));
        for cut in 0..bytes.len() {
            assert!(decode_record(&bytes[..cut]).is_err(), "cut at {cut}");
        }
    }

    #[test]
    fn absurd_lengths_are_rejected() {
        let mut frame = [0u8; FRAME_LEN];
        frame[..4].copy_from_slice(&u32::MAX.to_le_bytes());
        assert_eq!(parse_frame(&frame), Err(Damage::BadLength(u32::MAX)));
        assert_eq!(parse_frame(&[0; FRAME_LEN]), Err(Damage::BadLength(0)));
    }

    #[test]
    fn header_checks() {
        let header = segment_header();
        assert_eq!(check_segment_header(&header), HeaderCheck::Valid);
        assert_eq!(
            check_segment_header(&header[..3]),
            HeaderCheck::Damaged(Damage::ShortHeader)
        );
        assert_eq!(
            check_segment_header(b"XXXX\x01\0\0\0"),
            HeaderCheck::Damaged(Damage::BadMagic)
        );
        assert_eq!(
            check_segment_header(b"RCSG\x02\0\0\0"),
            HeaderCheck::UnsupportedVersion(2)
        );
    }
}
