//! Byte layout of segment files: the file header and the records after it.
//!
//! ```text
//! segment header:  magic "RCPL" | format version u32 LE          (8 bytes)
//! record:          length u32 LE | crc32 u32 LE | body
//! body:            bucket length u16 LE | bucket bytes
//!                  stream length u16 LE | stream bytes
//!                  seq u64 LE | dot actor u64 LE | dot counter u64 LE
//!                  ts_ms u64 LE | payload
//! ```
//!
//! Version 2 added the dot (the entry's identity, see [`super::Dot`]); version 1 segments,
//! written before, are refused with a message that says so.
//!
//! `length` counts the body bytes; `crc32` covers the whole body. Every
//! record of a partition goes to the same log, so each one carries the names
//! of the stream it belongs to. The checksum is what lets recovery tell a
//! complete record from one torn by a crash, or from garbage.
//!
//! This file only converts between bytes and records; it does no I/O.

use super::report::Damage;
use super::{Dot, Entry};

/// Identifies a segment file of the partition log ("Ring Core Partition Log").
pub(super) const SEGMENT_MAGIC: [u8; 4] = *b"RCPL";
/// Bumped whenever the byte layout changes.
pub(super) const FORMAT_VERSION: u32 = 2;
/// Bytes of the segment header.
pub(super) const SEGMENT_HEADER_LEN: u64 = 8;
/// Bytes of the `length` and `crc32` fields that start every record.
pub(super) const FRAME_LEN: usize = 8;
/// Longest bucket or stream name, in bytes: its length is stored in a u16.
pub(super) const MAX_NAME_BYTES: usize = u16::MAX as usize;
/// Bytes of the two name lengths, `seq`, the dot and `ts_ms`: the smallest body.
const FIXED_BODY_LEN: usize = 2 + 2 + 8 + 8 + 8 + 8;
/// Largest body a valid record can have.
const MAX_BODY_LEN: usize = FIXED_BODY_LEN + 2 * MAX_NAME_BYTES + MAX_PAYLOAD_BYTES;
/// Largest payload accepted. Anything announcing more is treated as
/// corruption, so a flipped bit in a length field cannot make recovery
/// allocate gigabytes.
pub const MAX_PAYLOAD_BYTES: usize = 64 * 1024 * 1024;

/// A decoded record, borrowing from the bytes it was decoded from, so that
/// reads can check the names without allocating.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct RecordRef<'a> {
    pub(super) bucket: &'a str,
    pub(super) stream: &'a str,
    pub(super) seq: u64,
    pub(super) dot: Dot,
    pub(super) ts_ms: u64,
    pub(super) payload: &'a [u8],
}

impl RecordRef<'_> {
    pub(super) fn to_entry(self) -> Entry {
        Entry {
            seq: self.seq,
            dot: self.dot,
            ts_ms: self.ts_ms,
            payload: self.payload.to_vec(),
        }
    }
}

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

/// Total bytes a record takes on disk.
pub(super) fn record_len(bucket: &str, stream: &str, payload_len: usize) -> usize {
    FRAME_LEN + FIXED_BODY_LEN + bucket.len() + stream.len() + payload_len
}

/// Serialises one entry of stream `bucket`/`stream` as a complete record.
///
/// The caller must have checked the names against [`MAX_NAME_BYTES`] and the
/// payload against [`MAX_PAYLOAD_BYTES`].
pub(super) fn encode_record(bucket: &str, stream: &str, entry: &Entry) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(record_len(bucket, stream, entry.payload.len()));
    bytes.extend_from_slice(&[0; FRAME_LEN]); // filled in below
    for name in [bucket, stream] {
        bytes.extend_from_slice(&(name.len() as u16).to_le_bytes());
        bytes.extend_from_slice(name.as_bytes());
    }
    bytes.extend_from_slice(&entry.seq.to_le_bytes());
    bytes.extend_from_slice(&entry.dot.actor.to_le_bytes());
    bytes.extend_from_slice(&entry.dot.counter.to_le_bytes());
    bytes.extend_from_slice(&entry.ts_ms.to_le_bytes());
    bytes.extend_from_slice(&entry.payload);
    let body_len = (bytes.len() - FRAME_LEN) as u32; // fits: at most MAX_BODY_LEN
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
    if !(FIXED_BODY_LEN..=MAX_BODY_LEN).contains(&len) {
        return Err(Damage::BadLength(body_len));
    }
    Ok((len, crc))
}

/// Verifies and decodes the body of a record (everything after the frame).
pub(super) fn decode_body(body: &[u8], expected_crc: u32) -> Result<RecordRef<'_>, Damage> {
    if body.len() < FIXED_BODY_LEN {
        return Err(Damage::ShortRecord);
    }
    if crc32fast::hash(body) != expected_crc {
        return Err(Damage::BadChecksum);
    }
    // The checksum matched, so the bytes are the ones a writer produced; the
    // checks below only guard against a checksum collision on garbage.
    let (bucket, rest) = take_name(body)?;
    let (stream, rest) = take_name(rest)?;
    let (seq, rest) = take_u64(rest)?;
    let (actor, rest) = take_u64(rest)?;
    let (counter, rest) = take_u64(rest)?;
    let (ts_ms, payload) = take_u64(rest)?;
    Ok(RecordRef {
        bucket,
        stream,
        seq,
        dot: Dot { actor, counter },
        ts_ms,
        payload,
    })
}

/// Verifies and decodes one complete record (frame included).
pub(super) fn decode_record(bytes: &[u8]) -> Result<RecordRef<'_>, Damage> {
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

/// Splits a length-prefixed UTF-8 name off the front of `bytes`.
fn take_name(bytes: &[u8]) -> Result<(&str, &[u8]), Damage> {
    let (len, rest) = bytes.split_first_chunk::<2>().ok_or(Damage::ShortRecord)?;
    let len = u16::from_le_bytes(*len);
    if rest.len() < usize::from(len) {
        return Err(Damage::BadLength(u32::from(len)));
    }
    let (name, rest) = rest.split_at(usize::from(len));
    // Names are written from `&str`: bytes that are not UTF-8 are corrupt.
    let name = std::str::from_utf8(name).map_err(|_| Damage::BadChecksum)?;
    Ok((name, rest))
}

fn take_u64(bytes: &[u8]) -> Result<(u64, &[u8]), Damage> {
    let (value, rest) = bytes.split_first_chunk::<8>().ok_or(Damage::ShortRecord)?;
    Ok((u64::from_le_bytes(*value), rest))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(seq: u64, payload: &[u8]) -> Entry {
        Entry {
            seq,
            dot: Dot {
                actor: 0xfeed_beef,
                counter: seq * 3,
            },
            ts_ms: 1_700_000_000_000 + seq,
            payload: payload.to_vec(),
        }
    }

    #[test]
    fn round_trip() {
        let names = [("", ""), ("alice", "inbox"), ("../etc", "日本 🎉")];
        for (bucket, stream) in names {
            for payload in [&b""[..], b"x", b"hello world", &[0xff; 1000]] {
                let e = entry(42, payload);
                let bytes = encode_record(bucket, stream, &e);
                assert_eq!(bytes.len(), record_len(bucket, stream, payload.len()));
                let decoded = decode_record(&bytes).unwrap();
                assert_eq!((decoded.bucket, decoded.stream), (bucket, stream));
                assert_eq!(decoded.to_entry(), e);
            }
        }
    }

    #[test]
    fn every_flipped_bit_is_detected() {
        let bytes = encode_record("b", "s", &entry(7, b"payload"));
        for i in 0..bytes.len() * 8 {
            let mut damaged = bytes.clone();
            damaged[i / 8] ^= 1 << (i % 8);
            assert!(decode_record(&damaged).is_err(), "bit {i} not detected");
        }
    }

    #[test]
    fn every_truncation_is_detected() {
        let bytes = encode_record("b", "s", &entry(7, b"payload"));
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
    fn name_lengths_past_the_body_are_rejected() {
        // A body whose bucket length points past its end, with a good checksum.
        let mut body = vec![0xff, 0xff];
        body.resize(FIXED_BODY_LEN, 0);
        let crc = crc32fast::hash(&body);
        assert_eq!(decode_body(&body, crc), Err(Damage::BadLength(0xffff)));
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
            check_segment_header(b"RCPL\x01\0\0\0"),
            HeaderCheck::UnsupportedVersion(1)
        );
    }
}
