//! One stream: its in-memory index, its cache and its floor. Its records live
//! in the partition log, mixed with those of every other stream of the
//! partition.
//!
//! The index maps every entry of the stream (its sequence number and dot) to
//! the place of its record in the log (segment number, byte offset, length)
//! and its timestamp, so `read_from` goes straight to the wanted records
//! instead of scanning the log, and eviction by age needs no read. It costs
//! about 56 bytes of memory per entry, a trade-off that keeps the code
//! simple; a sparse index would be the next step for partitions of hundreds
//! of millions of entries.
//!
//! The *floor* is the stream's low-water mark (see `eviction.rs`): every
//! entry numbered below it is gone for good. The index, the summary and the
//! cache only ever hold entries at or above it.
//!
//! The stream also keeps a [`StreamSummary`] up to date as entries arrive:
//! their count and the sum of a hash of each identity. A sum does not depend
//! on the order of arrival, so two replicas that hold the same entries have
//! the same summary however they got them (anti-entropy compares these). And
//! it keeps its key's place on the ring, hashed once when the stream is
//! created, so that anti-entropy can sort streams into key ranges and
//! segments without hashing every name again at every exchange.
//!
//! The index is a double-ended queue sorted by sequence number rather than a
//! tree: a partition holds many small streams, and a queue of one entry costs
//! one small allocation where a tree node costs several hundred bytes.
//! Entries almost always arrive in order (appends), which is a push at the
//! back; one that arrives late (replication, read repair, handoff) is
//! inserted in its place, moving the newer ones. Eviction takes entries off
//! the front, which costs nothing for the entries kept.

use std::collections::VecDeque;
use std::io;

use super::cache::RecentEntries;
use super::eviction::Evicted;
use super::files::{Files, RecordPos};
use super::record::{self, Record};
use super::{Entry, EntryId, StreamSummary};
use crate::ring::hash::{KeyHash, chash_key};

/// Largest number of bytes fetched with one read when consecutive records
/// of the stream are next to each other in the log.
const MAX_READ_BYTES: u64 = 1024 * 1024;

/// Bucket and stream names: records carry them, and reads check them.
#[derive(Debug, Clone, Copy)]
pub(super) struct StreamName<'a> {
    pub(super) bucket: &'a str,
    pub(super) stream: &'a str,
}

impl StreamName<'_> {
    /// Bytes of an entry record of this stream that are not payload.
    pub(super) fn record_overhead(&self) -> u64 {
        record::record_len(self.bucket, self.stream, 0) as u64
    }
}

/// One entry of the index.
#[derive(Debug, Clone, Copy)]
pub(super) struct Indexed {
    pub(super) id: EntryId,
    pub(super) pos: RecordPos,
    pub(super) ts_ms: u64,
}

impl Indexed {
    /// Payload bytes of the entry, given its stream's [`StreamName::record_overhead`].
    pub(super) fn payload_len(&self, overhead: u64) -> u64 {
        u64::from(self.pos.len).saturating_sub(overhead)
    }
}

#[derive(Debug)]
pub(super) struct Stream {
    /// Sorted by identity (sequence number, then dot), each entry once.
    index: VecDeque<Indexed>,
    recent: RecentEntries,
    /// Sum of `identity_hash` over the index.
    hash: u64,
    /// `chash_key(bucket, stream)`: where the stream's key lies on the ring.
    key_hash: KeyHash,
    /// Entries numbered below this are evicted; 1 when none ever was.
    floor: u64,
    /// The segment holding the mark record of the current floor, if one was written.
    mark_segment: Option<u64>,
}

impl Stream {
    /// The stream `name`, with no entries yet.
    pub(super) fn new(name: StreamName<'_>, cache_entries: usize) -> Self {
        Stream {
            index: VecDeque::new(),
            recent: RecentEntries::new(cache_entries),
            hash: 0,
            key_hash: chash_key(name.bucket.as_bytes(), name.stream.as_bytes()),
            floor: 1,
            mark_segment: None,
        }
    }

    pub(super) fn key_hash(&self) -> &KeyHash {
        &self.key_hash
    }

    pub(super) fn len(&self) -> u64 {
        self.index.len() as u64
    }

    pub(super) fn is_empty(&self) -> bool {
        self.index.is_empty()
    }

    pub(super) fn contains(&self, id: EntryId) -> bool {
        match self.index.back() {
            Some(last) if id < last.id => self.index.binary_search_by_key(&id, |e| e.id).is_ok(),
            Some(last) => id == last.id,
            None => false,
        }
    }

    /// The highest sequence number taken: that of the newest entry, or the one
    /// just below the floor when every entry is evicted (so that numbering
    /// goes on after a DELETE). `None` for a stream with neither.
    pub(super) fn last_seq(&self) -> Option<u64> {
        match self.index.back() {
            // Entries are never below the floor, so this is at least `floor - 1`.
            Some(last) => Some(last.id.seq),
            None if self.floor > 1 => Some(self.floor - 1),
            None => None,
        }
    }

    pub(super) fn floor(&self) -> u64 {
        self.floor
    }

    /// The entries held, oldest first (for the eviction policies).
    pub(super) fn index(&self) -> &VecDeque<Indexed> {
        &self.index
    }

    /// Raises the floor to `floor` if that is higher; returns whether it was.
    /// The entries below stay until [`evict_below_floor`](Self::evict_below_floor):
    /// recovery raises floors as it meets marks and evicts once at the end.
    pub(super) fn raise_floor(&mut self, floor: u64) -> bool {
        if floor <= self.floor {
            return false;
        }
        self.floor = floor;
        true
    }

    pub(super) fn mark_segment(&self) -> Option<u64> {
        self.mark_segment
    }

    /// Notes that the mark of the current floor now lives in `segment`;
    /// returns where the previous one lived.
    pub(super) fn set_mark_segment(&mut self, segment: u64) -> Option<u64> {
        self.mark_segment.replace(segment)
    }

    /// Drops every entry below the floor from the index, the summary and the
    /// cache, calling `dropped` with the segment of each one's record.
    pub(super) fn evict_below_floor(
        &mut self,
        name: StreamName<'_>,
        dropped: &mut dyn FnMut(u64),
    ) -> Evicted {
        let cut = self.position_of(self.floor);
        if cut == 0 {
            return Evicted::default();
        }
        let overhead = name.record_overhead();
        let mut evicted = Evicted::default();
        for gone in self.index.drain(..cut) {
            self.hash = self.hash.wrapping_sub(identity_hash(gone.id));
            evicted.entries += 1;
            evicted.bytes += gone.payload_len(overhead);
            dropped(gone.pos.segment);
        }
        self.recent.drop_below(self.floor);
        // Give the memory back once most of it is unused (with room to grow
        // again, so that a stream trimmed at every append does not reallocate
        // at every append).
        if self.index.len() < self.index.capacity() / 4 {
            self.index.shrink_to(self.index.len() * 2);
        }
        evicted
    }

    pub(super) fn summary(&self) -> StreamSummary {
        StreamSummary {
            entries: self.len(),
            hash: self.hash,
        }
    }

    pub(super) fn ids(&self) -> Vec<EntryId> {
        self.index.iter().map(|e| e.id).collect()
    }

    /// Where the entries with `seq >= from` start in the index.
    fn position_of(&self, from: u64) -> usize {
        self.index.partition_point(|e| e.id.seq < from)
    }

    /// Indexes an entry whose record is at `pos` in the log (just written,
    /// or found by recovery). The caller checked that the entry is new and
    /// not below the floor.
    pub(super) fn add(&mut self, entry: &Entry, pos: RecordPos) {
        let id = entry.id();
        let indexed = Indexed {
            id,
            pos,
            ts_ms: entry.ts_ms,
        };
        match self.index.back() {
            Some(last) if id < last.id => {
                let at = self.index.partition_point(|known| known.id < id);
                self.index.insert(at, indexed);
            }
            _ => self.index.push_back(indexed),
        }
        self.hash = self.hash.wrapping_add(identity_hash(id));
        self.recent.insert(entry);
    }

    /// Entries with `seq >= from`, in order: `limit` of them, and then those
    /// that share the last one's sequence number, so that a page never ends
    /// in the middle of a number held by several entries.
    pub(super) fn read_from(
        &self,
        name: StreamName<'_>,
        from: u64,
        limit: usize,
        files: &mut Files,
    ) -> io::Result<Vec<Entry>> {
        let start = self.position_of(from);
        let mut end = start.saturating_add(limit).min(self.index.len());
        if end > start {
            let last_seq = self.index[end - 1].id.seq;
            while end < self.index.len() && self.index[end].id.seq == last_seq {
                end += 1;
            }
        }
        self.read_range(name, start, end, files)
    }

    /// The entries with these identities, in order; unknown ones are left out.
    pub(super) fn get(
        &self,
        name: StreamName<'_>,
        ids: &[EntryId],
        files: &mut Files,
    ) -> io::Result<Vec<Entry>> {
        let mut sorted = ids.to_vec();
        sorted.sort_unstable();
        sorted.dedup();
        let mut out = Vec::with_capacity(sorted.len());
        for id in sorted {
            if let Ok(at) = self.index.binary_search_by_key(&id, |e| e.id) {
                out.extend(self.read_range(name, at, at + 1, files)?);
            }
        }
        Ok(out)
    }

    /// The entries at positions `start..end` of the index, in order.
    fn read_range(
        &self,
        name: StreamName<'_>,
        start: usize,
        end: usize,
        files: &mut Files,
    ) -> io::Result<Vec<Entry>> {
        let mut out = Vec::with_capacity(end - start);
        let mut run = Run::default();
        for &Indexed { id, pos, .. } in self.index.range(start..end) {
            if let Some(cached) = self.recent.get(id) {
                // Cached entries are the newest ones, so everything from here
                // on is cached: finish the pending disk read first.
                read_run(&mut run, name, files, &mut out)?;
                out.push(cached.clone());
            } else {
                if !run.can_extend(&pos) {
                    read_run(&mut run, name, files, &mut out)?;
                }
                run.push(id, pos);
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
        self.read_range(name, self.index.len() - n, self.index.len(), files)
    }
}

/// A well-mixed 64-bit hash of an entry's identity (splitmix64's finaliser
/// over its three numbers): the summary adds these up.
fn identity_hash(id: EntryId) -> u64 {
    fn mix(mut z: u64) -> u64 {
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    mix(mix(mix(id.seq) ^ id.dot.actor) ^ id.dot.counter)
}

/// Records of one stream lying back to back in one segment, fetched
/// together with one read.
#[derive(Debug, Default)]
struct Run {
    records: Vec<(EntryId, RecordPos)>,
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

    fn push(&mut self, id: EntryId, pos: RecordPos) {
        self.records.push((id, pos));
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
    for (id, pos) in run.records.drain(..) {
        let start = (pos.offset - first.offset) as usize;
        let bytes = &buf[start..start + pos.len as usize];
        out.push(decode_checked(bytes, name, id, pos, files)?);
    }
    Ok(())
}

/// Decodes a record read back from disk, checking it is the one the index
/// promised. Damage here means the file changed after it was opened
/// (bit rot, or someone else writing to it): fail loudly.
fn decode_checked(
    bytes: &[u8],
    name: StreamName<'_>,
    id: EntryId,
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
    let found = match record::decode_record(bytes) {
        Ok(Record::Entry(found)) => found,
        Ok(Record::Mark(_)) => return Err(corrupt("a mark where an entry was expected".into())),
        Err(damage) => return Err(corrupt(format!("{damage}"))),
    };
    if (found.bucket, found.stream, found.seq, found.dot)
        != (name.bucket, name.stream, id.seq, id.dot)
    {
        return Err(corrupt(format!(
            "expected {:?}/{:?} #{} ({}), found {:?}/{:?} #{} ({})",
            name.bucket,
            name.stream,
            id.seq,
            id.dot,
            found.bucket,
            found.stream,
            found.seq,
            found.dot
        )));
    }
    Ok(found.to_entry())
}
