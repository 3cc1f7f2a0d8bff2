//! One stream: its segment files, its in-memory index and its cache.
//!
//! The index maps every sequence number of the stream to the place of its
//! record on disk (segment number, byte offset, length), so `read_from` goes
//! straight to the first wanted record instead of scanning the stream from
//! the start. It costs a few dozen bytes of memory per entry, a trade-off
//! that keeps the code simple; a sparse index would be the next step for
//! streams of hundreds of millions of entries.

use std::collections::BTreeMap;
use std::fs::{self, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};

use super::cache::RecentEntries;
use super::files::{Files, annotate};
use super::record::{self, SEGMENT_HEADER_LEN};
use super::report::{Damage, RecoveryProblem, RecoveryReport, Repair};
use super::segment::{self, ScannedRecord};
use super::{Durability, Entry, StoreConfig};

/// Largest number of bytes fetched with one read when consecutive records
/// are read from the same segment.
const MAX_READ_BYTES: u64 = 1024 * 1024;

#[derive(Debug, Clone, Copy)]
struct Segment {
    number: u64,
    /// Bytes of valid data (header and good records) in the file; the next
    /// record is written at this offset.
    len: u64,
    /// Only the newest segment can be appended to, and only if its header is
    /// good.
    appendable: bool,
}

/// Where one record lives on disk.
#[derive(Debug, Clone, Copy)]
struct RecordPos {
    segment: u64,
    offset: u64,
    len: u32,
}

/// Bucket and stream names, used to label problems in the recovery report.
#[derive(Debug, Clone, Copy)]
pub(super) struct StreamName<'a> {
    pub(super) bucket: &'a str,
    pub(super) stream: &'a str,
}

#[derive(Debug)]
pub(super) struct Stream {
    dir: PathBuf,
    /// Sorted by segment number; the last one receives appends.
    segments: Vec<Segment>,
    index: BTreeMap<u64, RecordPos>,
    recent: RecentEntries,
}

impl Stream {
    /// A stream with no data yet; its directory is created on first write.
    pub(super) fn new(dir: PathBuf, cache_entries: usize) -> Self {
        Stream {
            dir,
            segments: Vec::new(),
            index: BTreeMap::new(),
            recent: RecentEntries::new(cache_entries),
        }
    }

    /// Loads a stream from its directory, repairing a torn tail and writing
    /// down every problem in `report`.
    pub(super) fn recover(
        dir: PathBuf,
        name: StreamName<'_>,
        cache_entries: usize,
        report: &mut RecoveryReport,
    ) -> io::Result<Self> {
        let numbers = list_segments(&dir, report)?;
        let mut stream = Stream::new(dir, cache_entries);
        for (i, &number) in numbers.iter().enumerate() {
            let is_last = i + 1 == numbers.len();
            stream.recover_segment(number, is_last, name, report)?;
        }
        Ok(stream)
    }

    pub(super) fn len(&self) -> u64 {
        self.index.len() as u64
    }

    pub(super) fn is_empty(&self) -> bool {
        self.index.is_empty()
    }

    pub(super) fn contains(&self, seq: u64) -> bool {
        self.index.contains_key(&seq)
    }

    pub(super) fn last_seq(&self) -> Option<u64> {
        self.index.last_key_value().map(|(&seq, _)| seq)
    }

    /// Writes `entry` at the end of the newest segment (rolling to a new
    /// segment if needed) and indexes it. The entry becomes visible to reads
    /// only once its bytes are in the file.
    pub(super) fn write(
        &mut self,
        entry: &Entry,
        files: &mut Files,
        config: &StoreConfig,
    ) -> io::Result<()> {
        let bytes = record::encode_record(entry);
        let target = self.segment_for(bytes.len() as u64, files, config.segment_bytes)?;
        let path = segment::path(&self.dir, target.number);
        files.write_at(&path, target.len, &bytes)?;
        if config.durability == Durability::Fsync {
            files.sync_file(&path)?;
            files.sync_dirs()?;
        }
        if let Some(newest) = self.segments.last_mut() {
            newest.len += bytes.len() as u64;
        }
        let pos = RecordPos {
            segment: target.number,
            offset: target.len,
            len: bytes.len() as u32,
        };
        self.index.insert(entry.seq, pos);
        self.recent.insert(entry);
        Ok(())
    }

    /// Entries with `seq >= from`, in order, at most `limit` of them.
    pub(super) fn read_from(
        &self,
        from: u64,
        limit: usize,
        files: &mut Files,
    ) -> io::Result<Vec<Entry>> {
        // No `with_capacity(limit)`: the limit may be usize::MAX.
        let mut out = Vec::new();
        let mut run = Run::default();
        for (&seq, &pos) in self.index.range(from..).take(limit) {
            if let Some(cached) = self.recent.get(seq) {
                // Cached entries are the newest ones, so everything from here
                // on is cached: finish the pending disk read first.
                self.read_run(&mut run, files, &mut out)?;
                out.push(cached.clone());
            } else {
                if !run.can_extend(&pos) {
                    self.read_run(&mut run, files, &mut out)?;
                }
                run.push(seq, pos);
            }
        }
        self.read_run(&mut run, files, &mut out)?;
        Ok(out)
    }

    /// The newest `n` entries, oldest first; from memory when possible.
    pub(super) fn last(&self, n: usize, files: &mut Files) -> io::Result<Vec<Entry>> {
        let n = n.min(self.index.len());
        if n <= self.recent.len() {
            return Ok(self.recent.newest(n));
        }
        match self.index.keys().rev().nth(n - 1) {
            Some(&first) => self.read_from(first, n, files),
            None => Ok(Vec::new()),
        }
    }

    /// Scans one segment file during recovery and indexes its records.
    fn recover_segment(
        &mut self,
        number: u64,
        is_last: bool,
        name: StreamName<'_>,
        report: &mut RecoveryReport,
    ) -> io::Result<()> {
        let path = segment::path(&self.dir, number);
        let mut duplicates = Vec::new();
        let (index, recent) = (&mut self.index, &mut self.recent);
        let outcome = segment::scan(&path, &mut |found: ScannedRecord| {
            if index.contains_key(&found.entry.seq) {
                duplicates.push(found);
                return;
            }
            let pos = RecordPos {
                segment: number,
                offset: found.offset,
                len: found.len,
            };
            index.insert(found.entry.seq, pos);
            recent.insert(&found.entry);
        })?;
        for dup in duplicates {
            report.problems.push(problem(
                name,
                &path,
                dup.offset,
                u64::from(dup.len),
                Damage::DuplicateSeq(dup.entry.seq),
                Repair::Ignored,
            ));
        }

        let Some(damage) = outcome.damage else {
            self.segments.push(Segment {
                number,
                len: outcome.valid_len,
                appendable: is_last,
            });
            return Ok(());
        };
        let bad_bytes = outcome.file_len - outcome.valid_len;
        // A crash can only tear the end of the newest segment (older ones
        // were fsynced when the stream rolled past them), and only a torn
        // header leaves a file shorter than a header. Anything else is
        // corruption we do not understand: keep the bytes, serve what came
        // before them, and append elsewhere.
        let torn = is_last && damage != Damage::BadMagic;
        if !torn {
            report.problems.push(problem(
                name,
                &path,
                outcome.valid_len,
                bad_bytes,
                damage,
                Repair::Ignored,
            ));
            self.segments.push(Segment {
                number,
                len: outcome.valid_len,
                appendable: false,
            });
            return Ok(());
        }
        report.problems.push(problem(
            name,
            &path,
            outcome.valid_len,
            bad_bytes,
            damage,
            Repair::Truncated,
        ));
        if damage == Damage::ShortHeader {
            // The file was being created: nothing in it is worth keeping.
            fs::remove_file(&path).map_err(|e| annotate(e, "cannot remove torn segment", &path))?;
        } else {
            truncate(&path, outcome.valid_len)?;
            self.segments.push(Segment {
                number,
                len: outcome.valid_len,
                appendable: true,
            });
        }
        Ok(())
    }

    /// Returns the segment to append a record of `record_len` bytes to,
    /// starting a new one when the newest is full or unusable.
    fn segment_for(
        &mut self,
        record_len: u64,
        files: &mut Files,
        segment_bytes: u64,
    ) -> io::Result<Segment> {
        let full = |s: &Segment| s.len > SEGMENT_HEADER_LEN && s.len + record_len > segment_bytes;
        match self.segments.last() {
            Some(newest) if newest.appendable && !full(newest) => Ok(*newest),
            _ => self.roll(files),
        }
    }

    /// Starts a new segment. The previous one is fsynced first, so that a
    /// crash can only ever leave a torn record in the newest segment.
    fn roll(&mut self, files: &mut Files) -> io::Result<Segment> {
        let number = match self.segments.last() {
            Some(newest) => newest.number.checked_add(1).ok_or_else(|| {
                io::Error::other(format!("no segment number left in {}", self.dir.display()))
            })?,
            None => 1,
        };
        let is_first = self.segments.is_empty();
        if let Some(newest) = self.segments.last_mut()
            && newest.appendable
        {
            files.sync_file(&segment::path(&self.dir, newest.number))?;
            newest.appendable = false;
        }
        if is_first {
            self.create_dir(files)?;
        }
        files.create_segment(&segment::path(&self.dir, number))?;
        if !is_first {
            // Make the new file's directory entry durable as part of the roll.
            files.sync_dirs()?;
        }
        let created = Segment {
            number,
            len: SEGMENT_HEADER_LEN,
            appendable: true,
        };
        self.segments.push(created);
        Ok(created)
    }

    /// Creates the stream directory (and the bucket directory) if needed.
    fn create_dir(&self, files: &mut Files) -> io::Result<()> {
        fs::create_dir_all(&self.dir)
            .map_err(|e| annotate(e, "cannot create stream directory", &self.dir))?;
        // The new directories are entries of their parents: remember to
        // fsync those parents so the directories survive a power loss.
        let bucket_dir = self.dir.parent();
        for dir in bucket_dir
            .into_iter()
            .chain(bucket_dir.and_then(Path::parent))
        {
            files.dir_changed(dir);
        }
        Ok(())
    }

    /// Reads the records collected in `run` with one read and decodes them.
    fn read_run(&self, run: &mut Run, files: &mut Files, out: &mut Vec<Entry>) -> io::Result<()> {
        let Some(&(_, first)) = run.records.first() else {
            return Ok(());
        };
        let path = segment::path(&self.dir, first.segment);
        let mut buf = vec![0; (run.end - first.offset) as usize];
        files.read_at(&path, first.offset, &mut buf)?;
        for (seq, pos) in run.records.drain(..) {
            let start = (pos.offset - first.offset) as usize;
            let bytes = &buf[start..start + pos.len as usize];
            out.push(decode_checked(bytes, seq, pos, &path)?);
        }
        Ok(())
    }
}

/// Consecutive records of one segment, fetched together with one read.
#[derive(Debug, Default)]
struct Run {
    records: Vec<(u64, RecordPos)>,
    /// Offset just past the last record of the run.
    end: u64,
}

impl Run {
    fn can_extend(&self, pos: &RecordPos) -> bool {
        match self.records.first() {
            Some((_, first)) => {
                first.segment == pos.segment
                    && self.end == pos.offset
                    && self.end + u64::from(pos.len) - first.offset <= MAX_READ_BYTES
            }
            None => true,
        }
    }

    fn push(&mut self, seq: u64, pos: RecordPos) {
        self.records.push((seq, pos));
        self.end = pos.offset + u64::from(pos.len);
    }
}

/// Decodes a record read back from disk, checking it is the one the index
/// promised. Damage here means the file changed after it was opened
/// (bit rot, or someone else writing to it): fail loudly.
fn decode_checked(bytes: &[u8], seq: u64, pos: RecordPos, path: &Path) -> io::Result<Entry> {
    let corrupt = |what: String| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("{what} at offset {} of {}", pos.offset, path.display()),
        )
    };
    let entry = record::decode_record(bytes).map_err(|damage| corrupt(format!("{damage}")))?;
    if entry.seq != seq {
        return Err(corrupt(format!(
            "expected seq {seq}, found seq {}",
            entry.seq
        )));
    }
    Ok(entry)
}

/// Segment numbers in `dir`, ascending. Other files are reported and left alone.
fn list_segments(dir: &Path, report: &mut RecoveryReport) -> io::Result<Vec<u64>> {
    let mut numbers = Vec::new();
    for item in fs::read_dir(dir).map_err(|e| annotate(e, "cannot list stream directory", dir))? {
        let item = item.map_err(|e| annotate(e, "cannot list stream directory", dir))?;
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

fn problem(
    name: StreamName<'_>,
    file: &Path,
    offset: u64,
    bytes: u64,
    damage: Damage,
    repair: Repair,
) -> RecoveryProblem {
    RecoveryProblem {
        bucket: name.bucket.to_owned(),
        stream: name.stream.to_owned(),
        file: file.to_path_buf(),
        offset,
        bytes,
        damage,
        repair,
    }
}
