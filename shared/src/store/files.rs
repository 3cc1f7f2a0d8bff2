//! The partition log's open files: one append handle, a few read handles,
//! and the bookkeeping of what still needs an fsync.
//!
//! Every write of a partition goes to the end of one file, the newest
//! segment (the *tail*), through one handle kept open for the life of the
//! store: appending to a stream never creates a file. Only when the tail
//! grows past `segment_bytes` does the log *roll*: the tail is fsynced and
//! a new segment is created after it.
//!
//! Reads use positioned I/O (`pread`), so one handle serves any number of
//! reads without seeking. The tail is read through the append handle; older
//! segments through read handles, of which at most `max_open - 1` are kept
//! (the least recently used one is closed when another is needed).
//!
//! Directories that gained entries (the partition directory, the log
//! directory, new segment files) are remembered and fsynced on
//! [`Files::sync_all`], so the new names survive a power loss too.
//!
//! Segments other than the tail may be removed (eviction, see
//! `eviction.rs`), so segment numbers can have gaps; nothing here depends on
//! them following each other.

use std::collections::{BTreeSet, HashMap};
use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use super::record::{self, SEGMENT_HEADER_LEN};
use super::segment;
use super::{Durability, StoreConfig};

/// Where one record lives in the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct RecordPos {
    pub(super) segment: u64,
    pub(super) offset: u64,
    pub(super) len: u32,
}

/// The segment receiving appends.
#[derive(Debug)]
struct Tail {
    number: u64,
    /// Bytes of valid data in the file; the next record is written here.
    len: u64,
    file: File,
    /// Written to since the last fsync.
    dirty: bool,
}

/// A read handle on an older segment.
#[derive(Debug)]
struct Reader {
    file: File,
    /// Value of `Files::clock` at the last use, for least-recently-used eviction.
    last_used: u64,
}

#[derive(Debug)]
pub(super) struct Files {
    /// `<partition dir>/log`.
    log_dir: PathBuf,
    /// Most handles open at once, the tail included.
    max_open: usize,
    tail: Option<Tail>,
    /// Number of the next segment to create.
    next_number: u64,
    readers: HashMap<u64, Reader>,
    clock: u64,
    /// Directories where entries were created since their last fsync.
    unsynced_dirs: BTreeSet<PathBuf>,
    /// Number of read calls made on segment files (exposed as a statistic).
    pub(super) disk_reads: u64,
}

impl Files {
    pub(super) fn new(log_dir: PathBuf, max_open: usize) -> Self {
        Files {
            log_dir,
            max_open: max_open.max(1),
            tail: None,
            next_number: 1,
            readers: HashMap::new(),
            clock: 0,
            unsynced_dirs: BTreeSet::new(),
            disk_reads: 0,
        }
    }

    pub(super) fn log_dir(&self) -> &Path {
        &self.log_dir
    }

    pub(super) fn open_count(&self) -> usize {
        usize::from(self.tail.is_some()) + self.readers.len()
    }

    /// The number of the segment receiving appends, if there is one yet.
    pub(super) fn tail_number(&self) -> Option<u64> {
        self.tail.as_ref().map(|tail| tail.number)
    }

    /// Deletes segment `number`, which must not be the tail, closing its read handle first.
    /// The deletion is made durable by the next [`sync_all`](Self::sync_all).
    pub(super) fn remove_segment(&mut self, number: u64) -> io::Result<()> {
        let path = segment::path(&self.log_dir, number);
        if self.tail_number() == Some(number) {
            return Err(io::Error::other(format!(
                "refusing to remove {}: it receives appends",
                path.display()
            )));
        }
        self.readers.remove(&number);
        match fs::remove_file(&path) {
            Ok(()) => {}
            Err(err) if err.kind() == io::ErrorKind::NotFound => {}
            Err(err) => return Err(annotate(err, "cannot remove segment", &path)),
        }
        self.unsynced_dirs.insert(self.log_dir.clone());
        Ok(())
    }

    /// Called by recovery for every segment found, in order: new segments
    /// get higher numbers than any existing file.
    pub(super) fn segment_seen(&mut self, number: u64) {
        self.next_number = self.next_number.max(number.saturating_add(1));
    }

    /// Called by recovery when the newest segment is sound: appends continue
    /// at offset `len` of segment `number`.
    pub(super) fn resume(&mut self, number: u64, len: u64) -> io::Result<()> {
        let path = segment::path(&self.log_dir, number);
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .open(&path)
            .map_err(|e| annotate(e, "cannot open segment", &path))?;
        self.tail = Some(Tail {
            number,
            len,
            file,
            dirty: false,
        });
        Ok(())
    }

    /// Writes one complete record at the end of the log with a single
    /// positioned write, rolling to a new segment first if the tail is full,
    /// and returns where the record now lives.
    ///
    /// On failure the tail is cut back to where the record started, so a
    /// half-written record does not linger in front of the next one.
    pub(super) fn append(&mut self, bytes: &[u8], config: &StoreConfig) -> io::Result<RecordPos> {
        let tail = self.tail_for(bytes.len() as u64, config.segment_bytes)?;
        let pos = RecordPos {
            segment: tail.number,
            offset: tail.len,
            len: bytes.len() as u32,
        };
        tail.dirty = true;
        if let Err(err) = tail.file.write_all_at(bytes, pos.offset) {
            // Best effort: if this fails too, recovery will still drop the
            // torn record because its checksum cannot match.
            let _ = tail.file.set_len(pos.offset);
            let path = segment::path(&self.log_dir, pos.segment);
            return Err(annotate(err, "cannot append to", &path));
        }
        tail.len += bytes.len() as u64;
        if config.durability == Durability::Fsync {
            self.sync_all()?;
        }
        Ok(pos)
    }

    /// Fills `buf` with the bytes of segment `number` starting at `offset`.
    pub(super) fn read_at(&mut self, number: u64, offset: u64, buf: &mut [u8]) -> io::Result<()> {
        self.disk_reads += 1;
        let result = match &self.tail {
            Some(tail) if tail.number == number => tail.file.read_exact_at(buf, offset),
            _ => self.read_old_segment(number, offset, buf),
        };
        result.map_err(|e| {
            let what = format!("cannot read {} bytes at offset {offset} of", buf.len());
            annotate(e, &what, &segment::path(&self.log_dir, number))
        })
    }

    /// Remembers that `dir` gained a new entry and must be fsynced for that
    /// entry to survive a power loss.
    pub(super) fn dir_changed(&mut self, dir: &Path) {
        self.unsynced_dirs.insert(dir.to_path_buf());
    }

    /// Fsyncs the tail if it was written to, then every directory that
    /// gained entries.
    pub(super) fn sync_all(&mut self) -> io::Result<()> {
        if let Some(tail) = &mut self.tail {
            sync_tail(tail, &self.log_dir)?;
        }
        while let Some(dir) = self.unsynced_dirs.pop_first() {
            if let Err(err) = sync_dir(&dir) {
                self.unsynced_dirs.insert(dir);
                return Err(err);
            }
        }
        Ok(())
    }

    /// Closes every handle and starts again from an empty log (used when
    /// the files are about to be deleted).
    pub(super) fn forget_all(&mut self) {
        *self = Files::new(self.log_dir.clone(), self.max_open);
    }

    /// The tail, ready for a record of `record_len` bytes: a new segment is
    /// started when there is none yet, or when the record would make the
    /// tail grow past `segment_bytes` (a record bigger than that gets a
    /// segment of its own).
    fn tail_for(&mut self, record_len: u64, segment_bytes: u64) -> io::Result<&mut Tail> {
        let full = |t: &Tail| t.len > SEGMENT_HEADER_LEN && t.len + record_len > segment_bytes;
        if self.tail.as_ref().is_none_or(full) {
            self.roll()?;
        }
        self.tail
            .as_mut()
            .ok_or_else(|| io::Error::other("no tail segment right after a roll"))
    }

    /// Starts a new segment. The previous one is fsynced first, so that a
    /// crash can only ever leave a torn record in the newest segment.
    fn roll(&mut self) -> io::Result<()> {
        let had_tail = self.tail.is_some();
        if let Some(old) = &mut self.tail {
            sync_tail(old, &self.log_dir)?;
        }
        // The old tail is not kept as a read handle: reads of it are rare
        // (the newest entries are cached) and will reopen it when needed.
        self.tail = None;
        self.create_log_dir()?;
        let number = self.next_number;
        let path = segment::path(&self.log_dir, number);
        let file = create_segment(&path)?;
        self.next_number = number.checked_add(1).ok_or_else(|| {
            io::Error::other(format!(
                "no segment number left in {}",
                self.log_dir.display()
            ))
        })?;
        self.unsynced_dirs.insert(self.log_dir.clone());
        self.tail = Some(Tail {
            number,
            len: SEGMENT_HEADER_LEN,
            file,
            dirty: true,
        });
        if had_tail {
            // Make the new file's name durable as part of the roll, as the
            // old segment's data was.
            self.sync_all()?;
        }
        Ok(())
    }

    /// Creates the log directory if needed, remembering to fsync its parent.
    fn create_log_dir(&mut self) -> io::Result<()> {
        match fs::create_dir(&self.log_dir) {
            Ok(()) => {
                if let Some(parent) = self.log_dir.parent() {
                    self.unsynced_dirs.insert(parent.to_path_buf());
                }
                Ok(())
            }
            Err(err) if err.kind() == io::ErrorKind::AlreadyExists => Ok(()),
            Err(err) => Err(annotate(err, "cannot create log directory", &self.log_dir)),
        }
    }

    /// Reads from a segment other than the tail, through a cached handle.
    fn read_old_segment(&mut self, number: u64, offset: u64, buf: &mut [u8]) -> io::Result<()> {
        // The tail holds one of the `max_open` handles.
        let capacity = self.max_open - usize::from(self.tail.is_some());
        if capacity == 0 {
            return open_for_reading(&self.log_dir, number)?.read_exact_at(buf, offset);
        }
        self.clock += 1;
        if !self.readers.contains_key(&number) {
            while self.readers.len() >= capacity {
                self.close_least_recently_used();
            }
            let file = open_for_reading(&self.log_dir, number)?;
            self.readers.insert(number, Reader { file, last_used: 0 });
        }
        let reader = self
            .readers
            .get_mut(&number)
            .ok_or_else(|| io::Error::other("read handle missing right after opening"))?;
        reader.last_used = self.clock;
        reader.file.read_exact_at(buf, offset)
    }

    fn close_least_recently_used(&mut self) {
        let oldest = self
            .readers
            .iter()
            .min_by_key(|(_, reader)| reader.last_used)
            .map(|(&number, _)| number);
        if let Some(number) = oldest {
            self.readers.remove(&number);
        }
    }
}

/// Creates a new segment file with its header. Never overwrites an
/// existing file; removes the file again if the header cannot be written.
fn create_segment(path: &Path) -> io::Result<File> {
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .open(path)
        .map_err(|e| annotate(e, "cannot create segment", path))?;
    if let Err(err) = file.write_all_at(&record::segment_header(), 0) {
        let _ = fs::remove_file(path);
        return Err(annotate(err, "cannot write header of", path));
    }
    Ok(file)
}

fn open_for_reading(log_dir: &Path, number: u64) -> io::Result<File> {
    File::open(segment::path(log_dir, number))
}

fn sync_tail(tail: &mut Tail, log_dir: &Path) -> io::Result<()> {
    if tail.dirty {
        tail.file
            .sync_data()
            .map_err(|e| annotate(e, "cannot fsync", &segment::path(log_dir, tail.number)))?;
        tail.dirty = false;
    }
    Ok(())
}

/// Adds what was being done and the file concerned to an I/O error, keeping
/// its kind so callers can still match on it.
pub(super) fn annotate(err: io::Error, what: &str, path: &Path) -> io::Error {
    io::Error::new(err.kind(), format!("{what} {}: {err}", path.display()))
}

/// Fsyncs a directory, which makes the creation of its entries durable.
fn sync_dir(dir: &Path) -> io::Result<()> {
    match File::open(dir) {
        Ok(handle) => handle
            .sync_all()
            .map_err(|e| annotate(e, "cannot fsync directory", dir)),
        Err(err) if err.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(err) => Err(annotate(err, "cannot open directory", dir)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(segment_bytes: u64) -> StoreConfig {
        StoreConfig {
            segment_bytes,
            ..StoreConfig::default()
        }
    }

    #[test]
    fn appends_roll_and_read_handles_are_bounded() {
        let dir = tempfile::tempdir().unwrap();
        let mut files = Files::new(dir.path().join("log"), 3);
        let mut positions = Vec::new();
        for i in 0..10u8 {
            // Each 40-byte record fills a 48-byte segment: one per segment.
            let pos = files.append(&[i; 40], &config(48)).unwrap();
            assert_eq!(
                (pos.segment, pos.offset),
                (u64::from(i) + 1, SEGMENT_HEADER_LEN)
            );
            positions.push(pos);
        }
        for (i, pos) in positions.iter().enumerate() {
            let mut buf = [0u8; 40];
            files.read_at(pos.segment, pos.offset, &mut buf).unwrap();
            assert_eq!(buf, [i as u8; 40]);
            assert!(files.open_count() <= 3);
        }
        assert_eq!(files.disk_reads, 10);
        files.sync_all().unwrap();
        assert!(files.unsynced_dirs.is_empty());
        assert!(!files.tail.as_ref().unwrap().dirty);
    }

    #[test]
    fn removing_a_segment_closes_it_and_leaves_a_gap() {
        let dir = tempfile::tempdir().unwrap();
        let mut files = Files::new(dir.path().join("log"), 4);
        let positions: Vec<RecordPos> = (0..3u8)
            .map(|i| files.append(&[i; 40], &config(48)).unwrap())
            .collect();
        files
            .read_at(1, positions[0].offset, &mut [0u8; 40])
            .unwrap();
        assert_eq!(files.open_count(), 2);
        let err = files.remove_segment(3).unwrap_err();
        assert!(err.to_string().contains("receives appends"), "{err}");
        files.remove_segment(1).unwrap();
        assert_eq!(files.open_count(), 1);
        assert!(!segment::path(files.log_dir(), 1).exists());
        let mut buf = [0u8; 40];
        files.read_at(2, positions[1].offset, &mut buf).unwrap();
        assert_eq!(buf, [1; 40]);
        assert_eq!(files.append(&[9; 40], &config(48)).unwrap().segment, 4);
    }

    #[test]
    fn errors_name_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let mut files = Files::new(dir.path().join("log"), 2);
        let err = files.read_at(7, 0, &mut [0u8; 1]).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::NotFound);
        assert!(err.to_string().contains(&segment::file_name(7)), "{err}");
    }
}
