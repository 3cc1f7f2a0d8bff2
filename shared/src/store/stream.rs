//! One stream: its in-memory index and its cache. Its records live in the
//! partition log, mixed with those of every other stream of the partition.
//!
//! The index maps every sequence number of the stream to the place of its
//! record in the log (segment number, byte offset, length), so `read_from`
//! goes straight to the wanted records instead of scanning the log. It costs
//! about 32 bytes of memory per entry, a trade-off that keeps the code
//! simple; a sparse index would be the next step for partitions of hundreds
//! of millions of entries.
//!
//! The index is a vector sorted by sequence number rather than a tree: a
//! partition holds many small streams, and a vector of one entry costs one
//! small allocation where a tree node costs several hundred bytes. Entries
//! almost always arrive in order (appends), which is a push at the end; one
//! that arrives late (replication, read repair, handoff) is inserted in its
//! place, moving the newer ones.

use std::io;

use super::Entry;
use super::cache::RecentEntries;
use super::files::{Files, RecordPos};
use super::record;

/// Largest number of bytes fetched with one read when consecutive records
/// of the stream are next to each other in the log.
const MAX_READ_BYTES: u64 = 1024 * 1024;

/// Bucket and stream names: records carry them, and reads check them.
#[derive(Debug, Clone, Copy)]
pub(super) struct StreamName<'a> {
    pub(super) bucket: &'a str,
    pub(super) stream: &'a str,
}

#[derive(Debug)]
pub(super) struct Stream {
    /// Sorted by sequence number, each number once.
    index: Vec<(u64, RecordPos)>,
    recent: RecentEntries,
}

impl Stream {
    /// A stream with no entries yet.
    pub(super) fn new(cache_entries: usize) -> Self {
        Stream {
            index: Vec::new(),
            recent: RecentEntries::new(cache_entries),
        }
    }

    pub(super) fn len(&self) -> u64 {
        self.index.len() as u64
    }

    pub(super) fn is_empty(&self) -> bool {
        self.index.is_empty()
    }

    pub(super) fn contains(&self, seq: u64) -> bool {
        match self.last_seq() {
            Some(last) if seq < last => self.index.binary_search_by_key(&seq, |e| e.0).is_ok(),
            Some(last) => seq == last,
            None => false,
        }
    }

    pub(super) fn last_seq(&self) -> Option<u64> {
        self.index.last().map(|&(seq, _)| seq)
    }

    /// Where the entries with `seq >= from` start in the index.
    fn position_of(&self, from: u64) -> usize {
        self.index.partition_point(|&(seq, _)| seq < from)
    }

    /// Indexes an entry whose record is at `pos` in the log (just written,
    /// or found by recovery). The caller checked that `entry.seq` is new.
    pub(super) fn add(&mut self, entry: &Entry, pos: RecordPos) {
        match self.last_seq() {
            Some(last) if entry.seq < last => {
                let at = self.position_of(entry.seq);
                self.index.insert(at, (entry.seq, pos));
            }
            _ => self.index.push((entry.seq, pos)),
        }
        self.recent.insert(entry);
    }

    /// Entries with `seq >= from`, in order, at most `limit` of them.
    pub(super) fn read_from(
        &self,
        name: StreamName<'_>,
        from: u64,
        limit: usize,
        files: &mut Files,
    ) -> io::Result<Vec<Entry>> {
        // No `with_capacity(limit)`: the limit may be usize::MAX.
        let mut out = Vec::new();
        let mut run = Run::default();
        for &(seq, pos) in self.index[self.position_of(from)..].iter().take(limit) {
            if let Some(cached) = self.recent.get(seq) {
                // Cached entries are the newest ones, so everything from here
                // on is cached: finish the pending disk read first.
                read_run(&mut run, name, files, &mut out)?;
                out.push(cached.clone());
            } else {
                if !run.can_extend(&pos) {
                    read_run(&mut run, name, files, &mut out)?;
                }
                run.push(seq, pos);
            }
        }
        read_run(&mut run, name, files, &mut out)?;
        Ok(out)
    }

    /// The newest `n` entries, oldest first; from memory when possible.
    pub(super) fn last(
        &self,
        name: StreamName<'_>,
        n: usize,
        files: &mut Files,
    ) -> io::Result<Vec<Entry>> {
        let n = n.min(self.index.len());
        if n <= self.recent.len() {
            return Ok(self.recent.newest(n));
        }
        // Here 1 <= n <= len: n = 0 is always served by the cache above.
        let (first, _) = self.index[self.index.len() - n];
        self.read_from(name, first, n, files)
    }
}

/// Records of one stream lying back to back in one segment, fetched
/// together with one read.
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

/// Reads the records collected in `run` with one read and decodes them.
fn read_run(
    run: &mut Run,
    name: StreamName<'_>,
    files: &mut Files,
    out: &mut Vec<Entry>,
) -> io::Result<()> {
    let Some(&(_, first)) = run.records.first() else {
        return Ok(());
    };
    let mut buf = vec![0; (run.end - first.offset) as usize];
    files.read_at(first.segment, first.offset, &mut buf)?;
    for (seq, pos) in run.records.drain(..) {
        let start = (pos.offset - first.offset) as usize;
        let bytes = &buf[start..start + pos.len as usize];
        out.push(decode_checked(bytes, name, seq, pos, files)?);
    }
    Ok(())
}

/// Decodes a record read back from disk, checking it is the one the index
/// promised. Damage here means the file changed after it was opened
/// (bit rot, or someone else writing to it): fail loudly.
fn decode_checked(
    bytes: &[u8],
    name: StreamName<'_>,
    seq: u64,
    pos: RecordPos,
    files: &Files,
) -> io::Result<Entry> {
    let corrupt = |what: String| {
        let path = super::segment::path(files.log_dir(), pos.segment);
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("{what} at offset {} of {}", pos.offset, path.display()),
        )
    };
    let found = record::decode_record(bytes).map_err(|damage| corrupt(format!("{damage}")))?;
    if (found.bucket, found.stream, found.seq) != (name.bucket, name.stream, seq) {
        return Err(corrupt(format!(
            "expected {:?}/{:?} seq {seq}, found {:?}/{:?} seq {}",
            name.bucket, name.stream, found.bucket, found.stream, found.seq
        )));
    }
    Ok(found.to_entry())
}
