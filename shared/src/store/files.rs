//! Open file handles and the bookkeeping of what still needs an fsync.
//!
//! A partition can hold thousands of streams, each with its own segment
//! files, so the store cannot keep one open handle per file. [`Files`] keeps
//! at most `max_open` handles and closes the least recently used one when it
//! needs another. Handles are opened read+write and every read or write
//! seeks to an explicit offset first, so one handle serves both.
//!
//! Closing a file does not make its data durable, so `Files` remembers every
//! file written since its last fsync (open or already closed) and every
//! directory whose entries changed; [`Files::sync_all`] fsyncs all of them.

use std::collections::{BTreeSet, HashMap};
use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use super::record;

#[derive(Debug)]
struct OpenFile {
    file: File,
    /// Written to since the last fsync.
    dirty: bool,
    /// Value of `Files::clock` at the last use, for least-recently-used eviction.
    last_used: u64,
}

#[derive(Debug)]
pub(super) struct Files {
    max_open: usize,
    open: HashMap<PathBuf, OpenFile>,
    clock: u64,
    /// Files closed while dirty: their data still needs an fsync.
    unsynced_files: BTreeSet<PathBuf>,
    /// Directories where files or subdirectories were created since the last
    /// fsync of the directory itself.
    unsynced_dirs: BTreeSet<PathBuf>,
    /// Number of read calls made on segment files (exposed as a statistic).
    pub(super) disk_reads: u64,
}

impl Files {
    pub(super) fn new(max_open: usize) -> Self {
        Files {
            max_open: max_open.max(1),
            open: HashMap::new(),
            clock: 0,
            unsynced_files: BTreeSet::new(),
            unsynced_dirs: BTreeSet::new(),
            disk_reads: 0,
        }
    }

    pub(super) fn open_count(&self) -> usize {
        self.open.len()
    }

    /// Creates a new segment file with its header. Never overwrites an
    /// existing file.
    pub(super) fn create_segment(&mut self, path: &Path) -> io::Result<()> {
        self.make_room();
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(path)
            .map_err(|e| annotate(e, "cannot create segment", path))?;
        file.write_all(&record::segment_header())
            .map_err(|e| annotate(e, "cannot write header of", path))?;
        self.clock += 1;
        let slot = OpenFile {
            file,
            dirty: true,
            last_used: self.clock,
        };
        self.open.insert(path.to_path_buf(), slot);
        if let Some(dir) = path.parent() {
            self.dir_changed(dir);
        }
        Ok(())
    }

    /// Writes `bytes` at `offset` with a single `write(2)` where possible (no
    /// user-space buffer is left pending).
    ///
    /// On failure the file is cut back to `offset`, so a half-written record
    /// does not linger in front of the next one.
    pub(super) fn write_at(&mut self, path: &Path, offset: u64, bytes: &[u8]) -> io::Result<()> {
        let slot = self.handle(path)?;
        slot.dirty = true;
        let result = slot
            .file
            .seek(SeekFrom::Start(offset))
            .and_then(|_| slot.file.write_all(bytes));
        if let Err(err) = result {
            // Best effort: if this fails too, recovery will still drop the
            // torn record because its checksum cannot match.
            let _ = slot.file.set_len(offset);
            return Err(annotate(err, "cannot append to", path));
        }
        Ok(())
    }

    /// Fills `buf` with the bytes of `path` starting at `offset`.
    pub(super) fn read_at(&mut self, path: &Path, offset: u64, buf: &mut [u8]) -> io::Result<()> {
        self.disk_reads += 1;
        let slot = self.handle(path)?;
        slot.file
            .seek(SeekFrom::Start(offset))
            .and_then(|_| slot.file.read_exact(buf))
            .map_err(|e| {
                annotate(
                    e,
                    &format!("cannot read {} bytes at offset {offset} of", buf.len()),
                    path,
                )
            })
    }

    /// Makes the data written to `path` durable.
    pub(super) fn sync_file(&mut self, path: &Path) -> io::Result<()> {
        if let Some(slot) = self.open.get_mut(path)
            && slot.dirty
        {
            slot.file
                .sync_data()
                .map_err(|e| annotate(e, "cannot fsync", path))?;
            slot.dirty = false;
        }
        if self.unsynced_files.remove(path) {
            sync_closed_file(path)?;
        }
        Ok(())
    }

    /// Remembers that `dir` gained a new entry and must be fsynced for that
    /// entry to survive a power loss.
    pub(super) fn dir_changed(&mut self, dir: &Path) {
        self.unsynced_dirs.insert(dir.to_path_buf());
    }

    /// Fsyncs every directory that gained entries.
    pub(super) fn sync_dirs(&mut self) -> io::Result<()> {
        while let Some(dir) = self.unsynced_dirs.pop_first() {
            if let Err(err) = sync_dir(&dir) {
                self.unsynced_dirs.insert(dir);
                return Err(err);
            }
        }
        Ok(())
    }

    /// Fsyncs every file written since its last fsync, then the directories.
    pub(super) fn sync_all(&mut self) -> io::Result<()> {
        for (path, slot) in &mut self.open {
            if slot.dirty {
                slot.file
                    .sync_data()
                    .map_err(|e| annotate(e, "cannot fsync", path))?;
                slot.dirty = false;
            }
        }
        while let Some(path) = self.unsynced_files.pop_first() {
            if let Err(err) = sync_closed_file(&path) {
                self.unsynced_files.insert(path);
                return Err(err);
            }
        }
        self.sync_dirs()
    }

    /// Closes every handle and forgets pending fsyncs (used when the files
    /// are about to be deleted).
    pub(super) fn forget_all(&mut self) {
        self.open.clear();
        self.unsynced_files.clear();
        self.unsynced_dirs.clear();
    }

    /// Returns the open handle for `path`, opening it if needed.
    fn handle(&mut self, path: &Path) -> io::Result<&mut OpenFile> {
        if !self.open.contains_key(path) {
            self.make_room();
        }
        self.clock += 1;
        let now = self.clock;
        let slot = match self.open.entry(path.to_path_buf()) {
            std::collections::hash_map::Entry::Occupied(slot) => slot.into_mut(),
            std::collections::hash_map::Entry::Vacant(slot) => {
                let file = OpenOptions::new()
                    .read(true)
                    .write(true)
                    .open(path)
                    .map_err(|e| annotate(e, "cannot open segment", path))?;
                slot.insert(OpenFile {
                    file,
                    dirty: false,
                    last_used: now,
                })
            }
        };
        slot.last_used = now;
        Ok(slot)
    }

    /// Closes the least recently used handle if the limit is reached.
    fn make_room(&mut self) {
        while self.open.len() >= self.max_open {
            let oldest = self
                .open
                .iter()
                .min_by_key(|(_, slot)| slot.last_used)
                .map(|(path, _)| path.clone());
            let Some(path) = oldest else { return };
            if let Some(slot) = self.open.remove(&path)
                && slot.dirty
            {
                // Closing is not syncing: remember to fsync it later.
                self.unsynced_files.insert(path);
            }
        }
    }
}

/// Adds what was being done and the file concerned to an I/O error, keeping
/// its kind so callers can still match on it.
pub(super) fn annotate(err: io::Error, what: &str, path: &Path) -> io::Error {
    io::Error::new(err.kind(), format!("{what} {}: {err}", path.display()))
}

/// Fsyncs a file that has no open handle any more. On Linux an fsync through
/// a new handle flushes the data written through the old one: it applies to
/// the file, not to the handle.
fn sync_closed_file(path: &Path) -> io::Result<()> {
    match OpenOptions::new().write(true).open(path) {
        Ok(file) => file
            .sync_data()
            .map_err(|e| annotate(e, "cannot fsync", path)),
        // Deleted behind our back: nothing left to make durable.
        Err(err) if err.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(err) => Err(annotate(err, "cannot open for fsync", path)),
    }
}

/// Fsyncs a directory, which makes the creation of its entries durable.
/// Directories cannot be opened like this on Windows; there it is a no-op.
pub(super) fn sync_dir(dir: &Path) -> io::Result<()> {
    if cfg!(unix) {
        match File::open(dir) {
            Ok(handle) => handle
                .sync_all()
                .map_err(|e| annotate(e, "cannot fsync directory", dir))?,
            Err(err) if err.kind() == io::ErrorKind::NotFound => {}
            Err(err) => return Err(annotate(err, "cannot open directory", dir)),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handles_are_bounded_and_dirty_files_are_remembered() {
        let dir = tempfile::tempdir().unwrap();
        let mut files = Files::new(2);
        let paths: Vec<PathBuf> = (0..5)
            .map(|i| dir.path().join(format!("{i}.seg")))
            .collect();
        for path in &paths {
            files.create_segment(path).unwrap();
            files
                .write_at(path, record::SEGMENT_HEADER_LEN, b"abc")
                .unwrap();
            assert!(files.open_count() <= 2);
        }
        assert_eq!(files.unsynced_files.len(), 3);
        let mut buf = [0u8; 3];
        files
            .read_at(&paths[0], record::SEGMENT_HEADER_LEN, &mut buf)
            .unwrap();
        assert_eq!(&buf, b"abc");
        files.sync_all().unwrap();
        assert!(files.unsynced_files.is_empty() && files.unsynced_dirs.is_empty());
        assert!(files.open.values().all(|slot| !slot.dirty));
    }

    #[test]
    fn errors_name_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let mut files = Files::new(2);
        let missing = dir.path().join("missing.seg");
        let err = files.read_at(&missing, 0, &mut [0u8; 1]).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::NotFound);
        assert!(err.to_string().contains("missing.seg"), "{err}");
    }
}
