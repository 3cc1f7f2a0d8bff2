//! Byte layout of segment files: the file header and the records after it.
//!
//! ```text
//! segment header:  magic "RCPL" | format version u32 LE          (8 bytes)
//! record:          length u32 LE | crc32 u32 LE | body
//! entry body:      bucket length u16 LE | bucket bytes
//!                  stream length u16 LE | stream bytes
//!                  seq u64 LE | dot actor u64 LE | dot counter u64 LE
//!                  ts_ms u64 LE | payload
//! mark body:       bucket length u16 LE | bucket bytes
//!                  stream length u16 LE | stream bytes
//!                  floor u64 LE
//! ```
//!
//! There are two kinds of record. An *entry* is one message of a stream. A *mark* says that
//! every entry of its stream numbered below `floor` is evicted (see `eviction.rs`). The top
//! bit of `length` tells them apart: clear for an entry, set for a mark; the other 31 bits
//! count the body bytes. The `crc32` of an entry covers its body; that of a mark covers the
//! byte `M` followed by its body, so that a flipped kind bit is caught like any other.
//!
//! Versions: 1 had no dot, and is refused with a message that says so. Version 2 added the
//! dot (the entry's identity, see [`super::Dot`]). Version 3 added marks and changed nothing
//! else: no body of version 2 comes near 2^31 bytes, so its `length` never has the top bit
//! set and every version-2 record reads the same under version 3. Segments of both versions
//! are read; new segments are written as version 3, and a version-2 segment is never
//! appended to again (recovery starts a new segment instead), so that older code, which
//! would take a mark for a torn record, refuses a log holding marks instead of cutting it.
//!
//! Every record of a partition goes to the same log, so each one carries the names of the
//! stream it belongs to. The checksum is what lets recovery tell a complete record from one
//! torn by a crash, or from garbage.
//!
//! This file only converts between bytes and records; it does no I/O.

use super::report::Damage;
use super::{Dot, Entry};

/// Identifies a segment file of the partition log ("Ring Core Partition Log").
pub(super) const SEGMENT_MAGIC: [u8; 4] = *b"RCPL";
/// Bumped whenever the byte layout changes. New segments are written in this version.
pub(super) const FORMAT_VERSION: u32 = 3;
/// The oldest version still read (see the module docs).
pub(super) const OLDEST_READABLE_VERSION: u32 = 2;
/// Bytes of the segment header.
pub(super) const SEGMENT_HEADER_LEN: u64 = 8;
/// Bytes of the `length` and `crc32` fields that start every record.
pub(super) const FRAME_LEN: usize = 8;
/// Longest bucket or stream name, in bytes: its length is stored in a u16.
pub(super) const MAX_NAME_BYTES: usize = u16::MAX as usize;
/// The bit of `length` set for a mark.
const MARK_BIT: u32 = 1 << 31;
/// The byte a mark's checksum covers before its body.
const MARK_CHECKSUM_PREFIX: u8 = b'M';
/// Bytes of the two name lengths, `seq`, the dot and `ts_ms`: the smallest entry body.
const FIXED_BODY_LEN: usize = 2 + 2 + 8 + 8 + 8 + 8;
/// Largest body a valid entry can have.
const MAX_BODY_LEN: usize = FIXED_BODY_LEN + 2 * MAX_NAME_BYTES + MAX_PAYLOAD_BYTES;
/// Bytes of the two name lengths and the floor: the smallest mark body.
const FIXED_MARK_BODY_LEN: usize = 2 + 2 + 8;
/// Largest body a valid mark can have.
const MAX_MARK_BODY_LEN: usize = FIXED_MARK_BODY_LEN + 2 * MAX_NAME_BYTES;
/// Largest payload accepted. Anything announcing more is treated as
/// corruption, so a flipped bit in a length field cannot make recovery
/// allocate gigabytes.
pub const MAX_PAYLOAD_BYTES: usize = 64 * 1024 * 1024;

/// The two kinds of record (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    Entry,
    Mark,
}

/// What the frame at the start of a record announces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Frame {
    pub(super) kind: Kind,
    /// Bytes of the body that follows.
    pub(super) body_len: usize,
    pub(super) crc: u32,
}

/// A decoded record, borrowing from the bytes it was decoded from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Record<'a> {
    Entry(EntryRef<'a>),
    Mark(MarkRef<'a>),
}

/// A decoded entry record, borrowing from the bytes it was decoded from, so
/// that reads can check the names without allocating.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct EntryRef<'a> {
    pub(super) bucket: &'a str,
    pub(super) stream: &'a str,
    pub(super) seq: u64,
    pub(super) dot: Dot,
    pub(super) ts_ms: u64,
    pub(super) payload: &'a [u8],
}

impl EntryRef<'_> {
    pub(super) fn to_entry(self) -> Entry {
        Entry {
            seq: self.seq,
            dot: self.dot,
            ts_ms: self.ts_ms,
            payload: self.payload.to_vec(),
        }
    }
}

/// A decoded mark: every entry of `bucket`/`stream` numbered below `floor` is evicted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct MarkRef<'a> {
    pub(super) bucket: &'a str,
    pub(super) stream: &'a str,
    pub(super) floor: u64,
}

/// Result of looking at the first bytes of a segment file.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum HeaderCheck {
    /// A segment of a version this code reads.
    Valid {
        version: u32,
    },
    Damaged(Damage),
    /// A segment written by a newer (or older) format we cannot read.
    UnsupportedVersion(u32),
}

/// The header written at the start of every new segment file.
pub(super) fn segment_header() -> [u8; SEGMENT_HEADER_LEN as usize] {
    segment_header_of(FORMAT_VERSION)
}

/// The header of a segment of format `version` (tests write older ones).
pub(super) fn segment_header_of(version: u32) -> [u8; SEGMENT_HEADER_LEN as usize] {
    let mut header = [0; SEGMENT_HEADER_LEN as usize];
    header[..4].copy_from_slice(&SEGMENT_MAGIC);
    header[4..].copy_from_slice(&version.to_le_bytes());
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
    if (OLDEST_READABLE_VERSION..=FORMAT_VERSION).contains(&version) {
        HeaderCheck::Valid { version }
    } else {
        HeaderCheck::UnsupportedVersion(version)
    }
}

/// Total bytes an entry record takes on disk.
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
    put_names(&mut bytes, bucket, stream);
    bytes.extend_from_slice(&entry.seq.to_le_bytes());
    bytes.extend_from_slice(&entry.dot.actor.to_le_bytes());
    bytes.extend_from_slice(&entry.dot.counter.to_le_bytes());
    bytes.extend_from_slice(&entry.ts_ms.to_le_bytes());
    bytes.extend_from_slice(&entry.payload);
    fill_frame(&mut bytes, Kind::Entry);
    bytes
}

/// Serialises the mark "every entry of `bucket`/`stream` below `floor` is evicted" as a
/// complete record. The caller must have checked the names against [`MAX_NAME_BYTES`].
pub(super) fn encode_mark(bucket: &str, stream: &str, floor: u64) -> Vec<u8> {
    let mut bytes =
        Vec::with_capacity(FRAME_LEN + FIXED_MARK_BODY_LEN + bucket.len() + stream.len());
    bytes.extend_from_slice(&[0; FRAME_LEN]); // filled in below
    put_names(&mut bytes, bucket, stream);
    bytes.extend_from_slice(&floor.to_le_bytes());
    fill_frame(&mut bytes, Kind::Mark);
    bytes
}

fn put_names(bytes: &mut Vec<u8>, bucket: &str, stream: &str) {
    for name in [bucket, stream] {
        bytes.extend_from_slice(&(name.len() as u16).to_le_bytes());
        bytes.extend_from_slice(name.as_bytes());
    }
}

/// Writes the frame of a record whose body follows it in `bytes`.
fn fill_frame(bytes: &mut [u8], kind: Kind) {
    let body = &bytes[FRAME_LEN..];
    let mut length = body.len() as u32; // fits in 31 bits: at most MAX_BODY_LEN
    if kind == Kind::Mark {
        length |= MARK_BIT;
    }
    let crc = checksum(kind, body);
    bytes[..4].copy_from_slice(&length.to_le_bytes());
    bytes[4..FRAME_LEN].copy_from_slice(&crc.to_le_bytes());
}

/// The checksum a record of this kind carries for `body`.
fn checksum(kind: Kind, body: &[u8]) -> u32 {
    let mut hasher = crc32fast::Hasher::new();
    if kind == Kind::Mark {
        hasher.update(&[MARK_CHECKSUM_PREFIX]);
    }
    hasher.update(body);
    hasher.finalize()
}

/// Reads the frame (kind, length and checksum) at the start of a record.
pub(super) fn parse_frame(frame: &[u8; FRAME_LEN]) -> Result<Frame, Damage> {
    let length = u32::from_le_bytes([frame[0], frame[1], frame[2], frame[3]]);
    let crc = u32::from_le_bytes([frame[4], frame[5], frame[6], frame[7]]);
    let (kind, bounds) = if length & MARK_BIT == 0 {
        (Kind::Entry, FIXED_BODY_LEN..=MAX_BODY_LEN)
    } else {
        (Kind::Mark, FIXED_MARK_BODY_LEN..=MAX_MARK_BODY_LEN)
    };
    let body_len = (length & !MARK_BIT) as usize;
    if !bounds.contains(&body_len) {
        return Err(Damage::BadLength(length));
    }
    Ok(Frame {
        kind,
        body_len,
        crc,
    })
}

/// Verifies and decodes the body of a record (everything after the frame).
pub(super) fn decode_body(frame: Frame, body: &[u8]) -> Result<Record<'_>, Damage> {
    if body.len() != frame.body_len {
        return Err(Damage::ShortRecord);
    }
    if checksum(frame.kind, body) != frame.crc {
        return Err(Damage::BadChecksum);
    }
    // The checksum matched, so the bytes are the ones a writer produced; the
    // checks below only guard against a checksum collision on garbage.
    let (bucket, rest) = take_name(body)?;
    let (stream, rest) = take_name(rest)?;
    match frame.kind {
        Kind::Entry => {
            let (seq, rest) = take_u64(rest)?;
            let (actor, rest) = take_u64(rest)?;
            let (counter, rest) = take_u64(rest)?;
            let (ts_ms, payload) = take_u64(rest)?;
            Ok(Record::Entry(EntryRef {
                bucket,
                stream,
                seq,
                dot: Dot { actor, counter },
                ts_ms,
                payload,
            }))
        }
        Kind::Mark => {
            let (floor, rest) = take_u64(rest)?;
            if !rest.is_empty() {
                return Err(Damage::BadLength(body.len() as u32));
            }
            Ok(Record::Mark(MarkRef {
                bucket,
                stream,
                floor,
            }))
        }
    }
}

/// Verifies and decodes one complete record (frame included).
pub(super) fn decode_record(bytes: &[u8]) -> Result<Record<'_>, Damage> {
    let frame: &[u8; FRAME_LEN] = bytes
        .get(..FRAME_LEN)
        .and_then(|f| f.try_into().ok())
        .ok_or(Damage::ShortRecord)?;
    let frame = parse_frame(frame)?;
    let body = bytes.get(FRAME_LEN..).ok_or(Damage::ShortRecord)?;
    decode_body(frame, body)
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
                let Record::Entry(decoded) = decode_record(&bytes).unwrap() else {
                    panic!("an entry decodes as an entry");
                };
                assert_eq!((decoded.bucket, decoded.stream), (bucket, stream));
                assert_eq!(decoded.to_entry(), e);
            }
            for floor in [1, 2, u64::MAX] {
                let bytes = encode_mark(bucket, stream, floor);
                let want = MarkRef {
                    bucket,
                    stream,
                    floor,
                };
                assert_eq!(decode_record(&bytes), Ok(Record::Mark(want)));
            }
        }
    }

    #[test]
    fn every_flipped_bit_is_detected() {
        let records = [
            encode_record("b", "s", &entry(7, b"payload")),
            encode_mark("b", "s", 7),
        ];
        for bytes in records {
            for i in 0..bytes.len() * 8 {
                let mut damaged = bytes.clone();
                damaged[i / 8] ^= 1 << (i % 8);
                assert!(decode_record(&damaged).is_err(), "bit {i} not detected");
            }
        }
    }

    #[test]
    fn a_flipped_kind_bit_is_detected() {
        // A mark as long as an entry body could be: only the checksum tells them apart.
        let name = "n".repeat(FIXED_BODY_LEN);
        for mut bytes in [
            encode_mark(&name, "s", 7),
            encode_record("b", "s", &entry(7, b"payload")),
        ] {
            bytes[3] ^= 0x80;
            assert_eq!(decode_record(&bytes), Err(Damage::BadChecksum));
        }
    }

    #[test]
    fn every_truncation_is_detected() {
        let records = [
            encode_record("b", "s", &entry(7, b"payload")),
            encode_mark("b", "s", 7),
        ];
        for bytes in records {
            for cut in 0..bytes.len() {
                assert!(decode_record(&bytes[..cut]).is_err(), "cut at {cut}");
            }
        }
    }

    #[test]
    fn absurd_lengths_are_rejected() {
        let mut frame = [0u8; FRAME_LEN];
        frame[..4].copy_from_slice(&u32::MAX.to_le_bytes());
        assert_eq!(parse_frame(&frame), Err(Damage::BadLength(u32::MAX)));
        assert_eq!(parse_frame(&[0; FRAME_LEN]), Err(Damage::BadLength(0)));
        let mark_of_nothing = MARK_BIT.to_le_bytes();
        let mut frame = [0u8; FRAME_LEN];
        frame[..4].copy_from_slice(&mark_of_nothing);
        assert_eq!(parse_frame(&frame), Err(Damage::BadLength(MARK_BIT)));
    }

    #[test]
    fn name_lengths_past_the_body_are_rejected() {
        // A body whose bucket length points past its end, with a good checksum.
        let mut body = vec![0xff, 0xff];
        body.resize(FIXED_BODY_LEN, 0);
        let frame = Frame {
            kind: Kind::Entry,
            body_len: body.len(),
            crc: crc32fast::hash(&body),
        };
        assert_eq!(decode_body(frame, &body), Err(Damage::BadLength(0xffff)));
    }

    #[test]
    fn header_checks() {
        let header = segment_header();
        assert_eq!(
            check_segment_header(&header),
            HeaderCheck::Valid {
                version: FORMAT_VERSION
            }
        );
        assert_eq!(
            check_segment_header(&segment_header_of(2)),
            HeaderCheck::Valid { version: 2 }
        );
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
