//! Segment files of the partition log: how they are named and how recovery
//! reads them back.
//!
//! The log of a partition is a directory of segment files named after their
//! number, zero-padded so that sorting names sorts numbers:
//! `00000000000000000001.seg`, `00000000000000000002.seg`, ... Only the
//! newest (highest-numbered) segment is ever appended to; older ones are
//! immutable once the log has rolled past them, until eviction removes a
//! whole one (see `eviction.rs`). The numbers may therefore have gaps:
//! nothing but their order matters.

use std::fs::File;
use std::io::{self, BufReader, Read};
use std::path::{Path, PathBuf};

use super::files::annotate;
use super::record::{self, FRAME_LEN, HeaderCheck, Record, SEGMENT_HEADER_LEN};
use super::report::Damage;

const EXTENSION: &str = ".seg";
const NUMBER_DIGITS: usize = 20;

/// The file name of segment `number`.
pub(super) fn file_name(number: u64) -> String {
    format!("{number:0NUMBER_DIGITS$}{EXTENSION}")
}

/// The path of segment `number` inside `log_dir`.
pub(super) fn path(log_dir: &Path, number: u64) -> PathBuf {
    log_dir.join(file_name(number))
}

/// The segment number encoded in a file name, or `None` if the file is not
/// a segment.
pub(super) fn parse_file_name(name: &str) -> Option<u64> {
    let digits = name.strip_suffix(EXTENSION)?;
    if digits.len() != NUMBER_DIGITS || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// A record found while scanning a segment.
#[derive(Debug)]
pub(super) struct ScannedRecord<'a> {
    pub(super) record: Record<'a>,
    /// Byte offset of the record (its frame) in the file.
    pub(super) offset: u64,
    /// Total bytes of the record, frame included.
    pub(super) len: u32,
}

/// How the scan of one segment ended.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct ScanOutcome {
    /// Bytes from the start of the file up to the end of the last good record
    /// (0 if the header itself is bad).
    pub(super) valid_len: u64,
    /// Size of the file.
    pub(super) file_len: u64,
    /// The format version in the header (0 if the header is bad).
    pub(super) version: u32,
    /// Why scanning stopped before the end of the file, if it did.
    pub(super) damage: Option<Damage>,
}

/// Reads a segment from start to end, passing every good record to
/// `on_record`, and stops at the first record that is torn or corrupt:
/// nothing after a bad record can be trusted, since its length field may be
/// garbage.
///
/// Only an unsupported format version or an I/O failure is an error; damage
/// is reported in the outcome.
pub(super) fn scan(
    path: &Path,
    on_record: &mut dyn FnMut(ScannedRecord<'_>),
) -> io::Result<ScanOutcome> {
    let file = File::open(path).map_err(|e| annotate(e, "cannot open segment", path))?;
    let file_len = file
        .metadata()
        .map_err(|e| annotate(e, "cannot stat", path))?
        .len();
    let mut reader = BufReader::with_capacity(256 * 1024, file);
    let read_error = |e| annotate(e, "cannot read segment", path);

    let mut header = [0u8; SEGMENT_HEADER_LEN as usize];
    let got = read_up_to(&mut reader, &mut header).map_err(read_error)?;
    let version = match record::check_segment_header(&header[..got]) {
        HeaderCheck::Valid { version } => version,
        HeaderCheck::Damaged(damage) => {
            return Ok(ScanOutcome {
                valid_len: 0,
                file_len,
                version: 0,
                damage: Some(damage),
            });
        }
        HeaderCheck::UnsupportedVersion(version) => {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!(
                    "segment {} has format version {version}, this code reads versions {} to {}{}",
                    path.display(),
                    record::OLDEST_READABLE_VERSION,
                    record::FORMAT_VERSION,
                    if version < record::OLDEST_READABLE_VERSION {
                        " (it was written by an older version of the workshop: remove the \
                         node's data directory to start afresh)"
                    } else {
                        ""
                    }
                ),
            ));
        }
    };

    let mut offset = SEGMENT_HEADER_LEN;
    let mut body = Vec::new();
    let damage = loop {
        let mut frame = [0u8; FRAME_LEN];
        match read_up_to(&mut reader, &mut frame).map_err(read_error)? {
            0 => break None, // clean end of file
            FRAME_LEN => {}
            _ => break Some(Damage::ShortRecord),
        }
        let frame = match record::parse_frame(&frame) {
            Ok(parsed) => parsed,
            Err(damage) => break Some(damage),
        };
        let body_len = frame.body_len;
        let record_len = (FRAME_LEN + body_len) as u64;
        if offset + record_len > file_len {
            // Checked before allocating: the length may be garbage.
            break Some(Damage::ShortRecord);
        }
        body.resize(body_len, 0);
        if read_up_to(&mut reader, &mut body).map_err(read_error)? < body_len {
            break Some(Damage::ShortRecord);
        }
        match record::decode_body(frame, &body) {
            Ok(record) => on_record(ScannedRecord {
                record,
                offset,
                len: record_len as u32,
            }),
            Err(damage) => break Some(damage),
        }
        offset += record_len;
    };
    Ok(ScanOutcome {
        valid_len: offset,
        file_len,
        version,
        damage,
    })
}

/// Reads until `buf` is full or the end of the file; returns the bytes read.
fn read_up_to(reader: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match reader.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
            Err(err) => return Err(err),
        }
    }
    Ok(filled)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Entry;
    use std::fs;

    fn entry(seq: u64) -> Entry {
        Entry {
            seq,
            dot: crate::store::Dot {
                actor: 3,
                counter: seq,
            },
            ts_ms: seq * 10,
            payload: vec![seq as u8; seq as usize],
        }
    }

    /// Writes a segment holding `entries`, alternating between two streams,
    /// followed by `tail`; returns the end offset of every record.
    fn write_segment(path: &Path, entries: &[Entry], tail: &[u8]) -> Vec<u64> {
        let mut bytes = record::segment_header().to_vec();
        let mut ends = Vec::new();
        for e in entries {
            let stream = if e.seq % 2 == 0 { "even" } else { "odd" };
            bytes.extend(record::encode_record("b", stream, e));
            ends.push(bytes.len() as u64);
        }
        bytes.extend_from_slice(tail);
        fs::write(path, bytes).unwrap();
        ends
    }

    fn scan_all(path: &Path) -> (Vec<(String, Entry)>, ScanOutcome) {
        let mut found = Vec::new();
        let outcome = scan(path, &mut |r| match r.record {
            Record::Entry(e) => found.push((e.stream.to_owned(), e.to_entry())),
            Record::Mark(m) => panic!("no marks written here, found {m:?}"),
        })
        .unwrap();
        (found, outcome)
    }

    fn entries_of(found: &[(String, Entry)]) -> Vec<Entry> {
        found.iter().map(|(_, e)| e.clone()).collect()
    }

    #[test]
    fn names_round_trip() {
        assert_eq!(file_name(1), "00000000000000000001.seg");
        assert_eq!(parse_file_name(&file_name(u64::MAX)), Some(u64::MAX));
        for bad in [
            "1.seg",
            "00000000000000000001.tmp",
            "0000000000000000000x.seg",
            "LOCK",
        ] {
            assert_eq!(parse_file_name(bad), None, "{bad}");
        }
    }

    #[test]
    fn clean_segment() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(file_name(1));
        let entries: Vec<Entry> = (1..=5).map(entry).collect();
        let ends = write_segment(&path, &entries, b"");
        let (found, outcome) = scan_all(&path);
        assert_eq!(entries_of(&found), entries);
        assert_eq!(found[0].0, "odd");
        assert_eq!(found[1].0, "even");
        assert_eq!(
            outcome,
            ScanOutcome {
                valid_len: ends[4],
                file_len: ends[4],
                version: record::FORMAT_VERSION,
                damage: None
            }
        );
    }

    #[test]
    fn garbage_tail_stops_the_scan() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(file_name(1));
        let entries: Vec<Entry> = (1..=3).map(entry).collect();
        let ends = write_segment(&path, &entries, &[0xAB; 37]);
        let (found, outcome) = scan_all(&path);
        assert_eq!(entries_of(&found), entries);
        assert_eq!(outcome.valid_len, ends[2]);
        assert_eq!(outcome.file_len, ends[2] + 37);
        assert!(outcome.damage.is_some());
    }

    #[test]
    fn short_and_foreign_headers() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(file_name(1));
        fs::write(&path, b"RCP").unwrap();
        assert_eq!(scan_all(&path).1.damage, Some(Damage::ShortHeader));
        fs::write(&path, b"hello, world").unwrap();
        assert_eq!(scan_all(&path).1.damage, Some(Damage::BadMagic));
        fs::write(&path, b"RCPL\x09\0\0\0").unwrap();
        let err = scan(&path, &mut |_| {}).unwrap_err();
        assert!(err.to_string().contains("version 9"), "{err}");
    }
}
