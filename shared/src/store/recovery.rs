//! Recovery: rebuilding a partition's streams from its log when the store
//! is opened.
//!
//! Every segment of `<dir>/log/` is read in order and every record's
//! checksum verified; each good record is indexed under the stream its
//! names designate, and the newest ones fill the streams' caches. What is
//! found wrong is written down in the [`RecoveryReport`]:
//!
//! * damage at the end of the newest segment is what a crash in the middle
//!   of a write leaves: it is cut off (`Repair::Truncated`) so the next
//!   record goes right after the last good one;
//! * damage anywhere else (an older segment, which was fsynced when the log
//!   rolled past it, or a file that is not a segment at all) is left on
//!   disk (`Repair::Ignored`); the good records before it are kept, and
//!   appends go to a new segment;
//! * a record repeating an entry already seen in its stream (the same
//!   sequence number and dot) is ignored: the first copy wins.
//!
//! Damaged bytes cannot be trusted to name their stream, so problems found
//! in the log itself have an empty `bucket` and `stream`.

use std::fs::{self, OpenOptions};
use std::io;
use std::path::Path;

use super::files::{Files, RecordPos, annotate};
use super::report::{Damage, RecoveryProblem, RecoveryReport, Repair};
use super::segment::{self, ScanOutcome, ScannedRecord};
use super::{Buckets, LOCK_FILE, LOG_DIR, with_stream};

/// Loads every stream of the partition in `dir`, preparing `files` to
/// append after the last good record.
pub(super) fn recover(
    dir: &Path,
    cache_entries: usize,
    files: &mut Files,
    report: &mut RecoveryReport,
) -> io::Result<Buckets> {
    report_foreign_entries(dir, report)?;
    let mut buckets = Buckets::new();
    let log_dir = files.log_dir().to_path_buf();
    if !log_dir.is_dir() {
        return Ok(buckets);
    }
    let numbers = list_segments(&log_dir, report)?;
    for (i, &number) in numbers.iter().enumerate() {
        files.segment_seen(number);
        let path = segment::path(&log_dir, number);
        let outcome = segment::scan(&path, &mut |found| {
            index_record(&mut buckets, cache_entries, number, found, &path, report);
        })?;
        let is_last = i + 1 == numbers.len();
        finish_segment(files, number, &path, outcome, is_last, report)?;
    }
    Ok(buckets)
}

/// Indexes one good record, unless its stream already has that entry (a
/// duplicate, reported and ignored).
fn index_record(
    buckets: &mut Buckets,
    cache_entries: usize,
    number: u64,
    found: ScannedRecord<'_>,
    path: &Path,
    report: &mut RecoveryReport,
) {
    let record = found.record;
    let pos = RecordPos {
        segment: number,
        offset: found.offset,
        len: found.len,
    };
    let added = with_stream(
        buckets,
        record.bucket,
        record.stream,
        cache_entries,
        |stream| {
            let entry = record.to_entry();
            if stream.contains(entry.id()) {
                return false;
            }
            stream.add(&entry, pos);
            true
        },
    );
    if !added {
        report.problems.push(RecoveryProblem {
            bucket: record.bucket.to_owned(),
            stream: record.stream.to_owned(),
            file: path.to_path_buf(),
            offset: found.offset,
            bytes: u64::from(found.len),
            damage: Damage::DuplicateEntry(record.seq),
            repair: Repair::Ignored,
        });
    }
}

/// Decides what happens to a scanned segment: the newest sound one receives
/// the next appends; damage is truncated or ignored (see the module docs).
fn finish_segment(
    files: &mut Files,
    number: u64,
    path: &Path,
    outcome: ScanOutcome,
    is_last: bool,
    report: &mut RecoveryReport,
) -> io::Result<()> {
    let Some(damage) = outcome.damage else {
        if is_last {
            files.resume(number, outcome.valid_len)?;
        }
        return Ok(());
    };
    // A crash can only tear the end of the newest segment, and only a torn
    // header leaves a file shorter than a header. Anything else is
    // corruption we do not understand: keep the bytes, serve what came
    // before them, and append elsewhere.
    let torn = is_last && damage != Damage::BadMagic;
    let repair = if torn {
        Repair::Truncated
    } else {
        Repair::Ignored
    };
    report.problems.push(RecoveryProblem {
        bucket: String::new(),
        stream: String::new(),
        file: path.to_path_buf(),
        offset: outcome.valid_len,
        bytes: outcome.file_len - outcome.valid_len,
        damage,
        repair,
    });
    if !torn {
        return Ok(());
    }
    if damage == Damage::ShortHeader {
        // The file was being created: nothing in it is worth keeping.
        fs::remove_file(path).map_err(|e| annotate(e, "cannot remove torn segment", path))
    } else {
        truncate(path, outcome.valid_len)?;
        files.resume(number, outcome.valid_len)
    }
}

/// Reports everything in the partition directory that the store did not
/// create (it only creates the lock file and the log directory).
fn report_foreign_entries(dir: &Path, report: &mut RecoveryReport) -> io::Result<()> {
    for item in fs::read_dir(dir).map_err(|e| annotate(e, "cannot list directory", dir))? {
        let item = item.map_err(|e| annotate(e, "cannot list directory", dir))?;
        let name = item.file_name();
        let is_dir = item.file_type().map(|t| t.is_dir()).unwrap_or(false);
        if name == LOCK_FILE || (name == LOG_DIR && is_dir) {
            continue;
        }
        report.ignored_paths.push(item.path());
    }
    Ok(())
}

/// Segment numbers in `log_dir`, ascending. Other files are reported and
/// left alone.
fn list_segments(log_dir: &Path, report: &mut RecoveryReport) -> io::Result<Vec<u64>> {
    let mut numbers = Vec::new();
    let list_error = |e| annotate(e, "cannot list log directory", log_dir);
    for item in fs::read_dir(log_dir).map_err(list_error)? {
        let item = item.map_err(list_error)?;
        let number = item.file_name().to_str().and_then(segment::parse_file_name);
        let is_file = item.file_type().map(|t| t.is_file()).unwrap_or(false);
        match number {
            Some(number) if is_file => numbers.push(number),
            _ => report.ignored_paths.push(item.path()),
        }
    }
    numbers.sort_unstable();
    Ok(numbers)
}

/// Cuts `path` down to `len` bytes and makes the cut durable before anything
/// new is appended after it.
fn truncate(path: &Path, len: u64) -> io::Result<()> {
    let file = OpenOptions::new()
        .write(true)
        .open(path)
        .map_err(|e| annotate(e, "cannot open for truncation", path))?;
    file.set_len(len)
        .map_err(|e| annotate(e, "cannot truncate", path))?;
    file.sync_all()
        .map_err(|e| annotate(e, "cannot fsync", path))
}
