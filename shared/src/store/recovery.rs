//! Recovery: rebuilding a partition's streams from its log when the store
//! is opened.
//!
//! Every segment of `<dir>/log/` is read in order and every record's
//! checksum verified; each good entry record is indexed under the stream its
//! names designate, and the newest ones fill the streams' caches. Each mark
//! record raises its stream's floor (the highest wins), and once the whole
//! log is read every stream drops the entries below its floor, so that an
//! entry is evicted whether its record comes before or after the mark. What
//! is found wrong is written down in the [`RecoveryReport`]:
//!
//! * damage at the end of the newest segment is what a crash in the middle
//!   of a write leaves (a torn entry or a torn mark): it is cut off
//!   (`Repair::Truncated`) so the next record goes right after the last good
//!   one;
//! * damage anywhere else (an older segment, which was fsynced when the log
//!   rolled past it, or a file that is not a segment at all) is left on
//!   disk (`Repair::Ignored`); the good records before it are kept, and
//!   appends go to a new segment;
//! * a record repeating an entry already seen in its stream (the same
//!   sequence number and dot) is ignored: the first copy wins.
//!
//! Appends go on in the newest segment only if it is sound and of the
//! current format version; otherwise they start a new one.
//!
//! Damaged bytes cannot be trusted to name their stream, so problems found
//! in the log itself have an empty `bucket` and `stream`.

use std::fs::{self, OpenOptions};
use std::io;
use std::path::Path;

use super::files::{Files, RecordPos, annotate};
use super::record::{self, EntryRef, MarkRef, Record};
use super::report::{Damage, RecoveryProblem, RecoveryReport, Repair};
use super::segment::{self, ScanOutcome, ScannedRecord};
use super::stream::StreamName;
use super::usage::SegmentUsage;
use super::{Buckets, LOCK_FILE, LOG_DIR, with_stream};

/// Loads every stream of the partition in `dir`, preparing `files` to
/// append after the last good record and `usage` to tell which segments
/// still hold something live.
pub(super) fn recover(
    dir: &Path,
    cache_entries: usize,
    files: &mut Files,
    usage: &mut SegmentUsage,
    report: &mut RecoveryReport,
) -> io::Result<Buckets> {
    report_foreign_entries(dir, report)?;
    let log_dir = files.log_dir().to_path_buf();
    if !log_dir.is_dir() {
        return Ok(Buckets::new());
    }
    let mut recovery = Recovery {
        buckets: Buckets::new(),
        cache_entries,
        usage,
        report,
    };
    let numbers = list_segments(&log_dir, recovery.report)?;
    for (i, &number) in numbers.iter().enumerate() {
        files.segment_seen(number);
        recovery.usage.seen(number);
        let path = segment::path(&log_dir, number);
        let outcome = segment::scan(&path, &mut |found| {
            recovery.usage.record_added(number);
            match found.record {
                Record::Entry(entry) => recovery.entry(number, &found, entry, &path),
                Record::Mark(mark) => recovery.mark(number, mark),
            }
        })?;
        let is_last = i + 1 == numbers.len();
        finish_segment(files, &mut recovery, number, &path, outcome, is_last)?;
    }
    recovery.evict_below_floors();
    Ok(recovery.buckets)
}

/// What recovery has rebuilt so far.
struct Recovery<'a> {
    buckets: Buckets,
    cache_entries: usize,
    usage: &'a mut SegmentUsage,
    report: &'a mut RecoveryReport,
}

impl Recovery<'_> {
    /// Indexes one good entry record, unless its stream already has that
    /// entry (a duplicate, reported and ignored) or a mark met earlier evicts
    /// it (skipped).
    fn entry(&mut self, number: u64, found: &ScannedRecord<'_>, record: EntryRef<'_>, path: &Path) {
        let pos = RecordPos {
            segment: number,
            offset: found.offset,
            len: found.len,
        };
        let usage = &mut *self.usage;
        let duplicate = with_stream(
            &mut self.buckets,
            record.bucket,
            record.stream,
            self.cache_entries,
            |stream| {
                if record.seq < stream.floor() {
                    return false;
                }
                let entry = record.to_entry();
                if stream.contains(entry.id()) {
                    return true;
                }
                stream.add(&entry, pos);
                usage.entry_live(number);
                false
            },
        );
        if duplicate {
            self.report.problems.push(RecoveryProblem {
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

    /// Raises the floor of the mark's stream. The entries below are dropped
    /// at the end ([`evict_below_floors`](Self::evict_below_floors)), once for
    /// every stream rather than at every mark.
    fn mark(&mut self, number: u64, mark: MarkRef<'_>) {
        let usage = &mut *self.usage;
        with_stream(
            &mut self.buckets,
            mark.bucket,
            mark.stream,
            self.cache_entries,
            |stream| {
                // Of two marks with the same floor, the later one is taken as the latest
                // (the earlier one was copied forward by a segment removal that a crash
                // interrupted): the file holding the earlier one may then go.
                if mark.floor > 1 && mark.floor >= stream.floor() {
                    stream.raise_floor(mark.floor);
                    usage.mark_moved(stream.set_mark_segment(number), number);
                }
            },
        );
    }

    /// Drops from every stream the entries recovered before a mark that evicts them.
    fn evict_below_floors(&mut self) {
        for (bucket, streams) in &mut self.buckets {
            for (name, stream) in streams {
                let name = StreamName {
                    bucket,
                    stream: name,
                };
                // Evicted before the store was opened: not counted in its totals.
                stream.evict_below_floor(name, &mut |segment| self.usage.entry_dead(segment));
            }
        }
    }
}

/// Decides what happens to a scanned segment: the newest sound one of the
/// current version receives the next appends; damage is truncated or ignored
/// (see the module docs).
fn finish_segment(
    files: &mut Files,
    recovery: &mut Recovery<'_>,
    number: u64,
    path: &Path,
    outcome: ScanOutcome,
    is_last: bool,
) -> io::Result<()> {
    // A segment of an older version is not appended to (see `record.rs`).
    let resumable = outcome.version == record::FORMAT_VERSION;
    let Some(damage) = outcome.damage else {
        if is_last && resumable {
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
    recovery.report.problems.push(RecoveryProblem {
        bucket: String::new(),
        stream: String::new(),
        file: path.to_path_buf(),
        offset: outcome.valid_len,
        bytes: outcome.file_len - outcome.valid_len,
        damage,
        repair,
    });
    if !torn {
        // Kept as evidence: eviction never removes it.
        recovery.usage.damaged(number);
        return Ok(());
    }
    if damage == Damage::ShortHeader {
        // The file was being created: nothing in it is worth keeping.
        recovery.usage.forget(number);
        fs::remove_file(path).map_err(|e| annotate(e, "cannot remove torn segment", path))
    } else {
        truncate(path, outcome.valid_len)?;
        if resumable {
            files.resume(number, outcome.valid_len)?;
        }
        Ok(())
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
