//! The storage engine of one vnode: one append-only log per partition.
//!
//! A [`PartitionStore`] owns one directory (one ring partition) and stores
//! any number of streams in it. A stream is named by a `(bucket, stream)`
//! pair, for example `("alice", "inbox")`, and is a log of [`Entry`] values
//! numbered 1, 2, 3, ... It plays the part ETS played in the Erlang
//! original: a small, dependable building block the rest of the system is
//! written on top of.
//!
//! # On disk
//!
//! ```text
//! <dir>/LOCK                              held while a store has the directory open
//! <dir>/log/00000000000000000001.seg
//! <dir>/log/00000000000000000002.seg      ...
//! ```
//!
//! All the streams of a partition share one log: every append, whatever its
//! stream, is one record written at the end of the newest segment file,
//! through a handle that stays open. Appending to a new stream therefore
//! costs no more than appending to an old one: no file or directory is
//! created per stream, and there is only one file to fsync. Each record
//! carries its bucket and stream names (arbitrary UTF-8 of at most 65,535
//! bytes each), its sequence number, its timestamp, its payload and a
//! checksum (see `record.rs` for the exact bytes). The log is split into
//! segment files of about [`StoreConfig::segment_bytes`], each starting with
//! a small header.
//!
//! A partition with no data has no directory: it is created (and locked) by
//! the first write.
//!
//! # Eviction
//!
//! Each stream has a floor: entries numbered below it are evicted, gone for
//! good, and nothing in the store serves them or stores them again. Floors
//! are raised directly ([`PartitionStore::raise_floor`], a DELETE) or by an
//! [`EvictionPolicy`] ([`PartitionStore::apply_policy`]); they are kept in
//! the log as *mark* records, and a segment file left with nothing live is
//! removed whole. See `eviction.rs`.
//!
//! # Durability policy
//!
//! * [`Durability::Buffered`] (the default): every append is handed to the
//!   operating system with one `write(2)` before `append` returns; no bytes
//!   wait in a user-space buffer. A crash or `SIGKILL` of the process
//!   therefore loses nothing that was acknowledged. A power loss or kernel
//!   crash can lose the writes made since the last fsync. Fsync happens on
//!   [`PartitionStore::flush`], when the log rolls to a new segment (the
//!   old segment is fsynced), and when the store is closed or dropped.
//! * [`Durability::Fsync`]: every append is fsynced (the segment and, for
//!   new files, the directory entries) before `append` returns. Slower, but
//!   an acknowledged entry survives a power loss too.
//!
//! # Recovery
//!
//! [`PartitionStore::open`] reads every segment back in order and verifies
//! every record's checksum (see `recovery.rs`). A crash in the middle of a
//! write leaves a torn record at the end of the newest segment; it is cut
//! off so the next append goes right after the last good record, and never
//! served. (A record can't be trusted once one before it is bad, so a
//! damaged record anywhere in the newest segment is handled the same way:
//! it and everything after it are cut.) Damage that a crash cannot explain,
//! inside an older segment say, is left on disk; the good records before it
//! are kept and served, and appends go to a new segment. A sequence number
//! seen twice in a stream keeps its first record. Everything found is
//! listed in the [`RecoveryReport`]; the store itself never prints.
//!
//! # Memory and files
//!
//! Each stream keeps an index of all its records (sequence number → place
//! in the log) and a cache of its newest [`StoreConfig::cache_entries`]
//! entries, so "the last few messages" are served from memory, and
//! listings and counts never touch disk. At most
//! [`StoreConfig::max_open_files`] segment files are open at once: the one
//! receiving appends, plus read handles on older segments.
//!
//! # Concurrency
//!
//! A store is used by one owner at a time (`&mut self`); the vnode process
//! that owns the partition serialises requests. A second store opened on
//! the same directory, in this process or another, fails instead of
//! corrupting it.

mod cache;
mod eviction;
mod files;
mod record;
mod recovery;
mod report;
mod segment;
mod stream;
mod usage;

use std::collections::HashMap;
use std::fs::{self, File, OpenOptions, TryLockError};
use std::io;
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};

use self::files::{Files, annotate};
use self::record::MAX_NAME_BYTES;
use self::stream::{Stream, StreamName};
use self::usage::SegmentUsage;
use crate::ring::hash::KeyHash;

pub use self::eviction::{Evicted, EvictionPolicy};
pub use self::record::MAX_PAYLOAD_BYTES;
pub use self::report::{Damage, RecoveryProblem, RecoveryReport, Repair};

/// One message of a stream.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Entry {
    /// Position in the stream: 1 for the first entry, then 2, 3, ... Two entries written at
    /// once through different replicas (during a failure) may share a number: the dot tells
    /// them apart, and orders them.
    pub seq: u64,
    /// Who wrote the entry: its identity, the same on every replica.
    pub dot: Dot,
    /// When the entry was appended, in milliseconds since the Unix epoch.
    pub ts_ms: u64,
    #[serde(with = "serde_bytes")]
    pub payload: Vec<u8>,
}

impl Entry {
    /// The entry's identity and place: entries are ordered by sequence number, then dot.
    pub fn id(&self) -> EntryId {
        EntryId {
            seq: self.seq,
            dot: self.dot,
        }
    }
}

/// The identity of an entry (riak's "dot"): the store that appended it (its *actor*, a
/// random number drawn each time a store is opened) and that store's own count of appends.
/// No two appends anywhere get the same dot, whoever numbered them and whatever the nodes
/// knew of each other, so replicas can merge by identity: an entry is either held or not.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
pub struct Dot {
    pub actor: u64,
    pub counter: u64,
}

impl std::fmt::Display for Dot {
    /// `3f2a9c1b5e7d0a11.17`: the actor in hex, then the counter.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:016x}.{}", self.actor, self.counter)
    }
}

impl std::str::FromStr for Dot {
    type Err = String;

    /// Reads a dot back from its text (`3f2a9c1b5e7d0a11.17`), as the HTTP API shows it.
    fn from_str(text: &str) -> Result<Dot, String> {
        let bad = || format!("'{text}' is not a dot (ACTOR-IN-HEX.COUNTER)");
        let (actor, counter) = text.split_once('.').ok_or_else(bad)?;
        Ok(Dot {
            actor: u64::from_str_radix(actor, 16).map_err(|_| bad())?,
            counter: counter.parse().map_err(|_| bad())?,
        })
    }
}

/// Where an entry sits in its stream: by sequence number, then by dot. Every replica orders
/// a stream this way, so replicas holding the same entries list them the same.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
pub struct EntryId {
    pub seq: u64,
    pub dot: Dot,
}

/// What a replica holds of one stream, in 16 bytes: how many entries, and a hash of their
/// identities that does not depend on the order they arrived in. Two replicas with equal
/// summaries hold the same entries (anti-entropy compares these).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct StreamSummary {
    pub entries: u64,
    pub hash: u64,
}

/// One non-empty stream as anti-entropy sees it: its names, its key's place on
/// the ring and a summary of what it holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Summarized<'a> {
    pub bucket: &'a str,
    pub stream: &'a str,
    /// `chash_key(bucket, stream)`, hashed once when the stream was created.
    pub key_hash: &'a KeyHash,
    pub summary: StreamSummary,
}

/// When appended data is forced to stable storage. See the module docs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Durability {
    /// `write(2)` on every append: survives a process crash, not a power
    /// loss. Fsync on flush, close and segment roll.
    #[default]
    Buffered,
    /// Fsync on every append before it returns: survives a power loss.
    Fsync,
}

/// Tuning knobs of a [`PartitionStore`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreConfig {
    /// The partition log starts a new segment file once the current one
    /// would grow past this many bytes. Default 8 MiB.
    pub segment_bytes: u64,
    /// Newest entries kept in memory per stream. Default 64.
    pub cache_entries: usize,
    pub durability: Durability,
    /// Most segment files kept open at once (the one receiving appends
    /// included). Default 64.
    pub max_open_files: usize,
}

impl Default for StoreConfig {
    fn default() -> Self {
        StoreConfig {
            segment_bytes: 8 * 1024 * 1024,
            cache_entries: 64,
            durability: Durability::Buffered,
            max_open_files: 64,
        }
    }
}

/// Counters describing the store's work, for tests and metrics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StoreStats {
    /// Reads made on segment files since the store was opened (recovery not
    /// included). Reads served from the cache do not count.
    pub disk_reads: u64,
    /// Segment files open right now.
    pub open_files: usize,
}

/// Name of the lock file in the partition directory.
const LOCK_FILE: &str = "LOCK";
/// Name of the directory holding the segments of the partition log.
const LOG_DIR: &str = "log";

/// Streams by bucket, then by stream name. Hash maps, not trees: a partition may hold many
/// thousands of streams and every write looks one up, while only listings and folds need the
/// names in order (they sort them).
type Buckets = HashMap<String, HashMap<String, Stream>>;

/// The streams of one partition, stored in one directory. See the module
/// documentation for the on-disk layout and the durability policy.
#[derive(Debug)]
pub struct PartitionStore {
    dir: PathBuf,
    config: StoreConfig,
    /// Every stream known, by bucket then stream name. A stream whose first
    /// write failed is kept, empty, but never listed; so is one whose
    /// entries were all evicted, which keeps its floor.
    buckets: Buckets,
    files: Files,
    /// What each segment still holds that matters (for eviction).
    usage: SegmentUsage,
    /// Evicted since the store was opened.
    evicted: Evicted,
    report: RecoveryReport,
    /// Held open (and locked) while the store owns the directory.
    lock: Option<File>,
    /// The dot of the next append: this store's actor and its next counter.
    next_dot: Dot,
}

impl PartitionStore {
    /// Opens (creating if needed) the store rooted at `dir`, for example
    /// `data/ex5-http/dev1/stream_vnode/<partition>/`, and recovers every stream found.
    pub fn open(dir: impl AsRef<Path>, config: StoreConfig) -> io::Result<Self> {
        let dir = dir.as_ref().to_path_buf();
        let mut files = Files::new(dir.join(LOG_DIR), config.max_open_files);
        let mut usage = SegmentUsage::default();
        let mut report = RecoveryReport::default();
        // A partition with no data has no directory: it is created (and locked) by the first
        // write, so that vnodes started only to be asked questions leave no trace on disk.
        let (lock, buckets) = if dir.exists() {
            let lock = lock_dir(&dir)?;
            let buckets = recovery::recover(
                &dir,
                config.cache_entries,
                &mut files,
                &mut usage,
                &mut report,
            )?;
            (Some(lock), buckets)
        } else {
            // Creating the directory adds an entry to its parent, which is
            // fsynced with everything else on the first flush.
            let parent = dir.parent().filter(|p| !p.as_os_str().is_empty());
            files.dir_changed(parent.unwrap_or(Path::new(".")));
            (None, Buckets::default())
        };
        let mut store = PartitionStore {
            dir,
            config,
            buckets,
            files,
            usage,
            evicted: Evicted::default(),
            report,
            lock,
            next_dot: Dot {
                actor: new_actor(),
                counter: 1,
            },
        };
        store.report.streams = store.stream_count();
        store.report.entries = store.entry_count();
        // Remove the segments that the floors found leave with nothing live: a
        // crash may have come between a floor's mark and the removal it allowed.
        // Only space is at stake, not what the store serves, so a failure (a
        // full disk, say) does not keep the partition from opening: the removal
        // is tried again when a floor next rises.
        let _ = store.remove_dead_segments();
        Ok(store)
    }

    /// The partition directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn config(&self) -> &StoreConfig {
        &self.config
    }

    /// What recovery found and repaired when the store was opened.
    pub fn recovery_report(&self) -> &RecoveryReport {
        &self.report
    }

    pub fn stats(&self) -> StoreStats {
        StoreStats {
            disk_reads: self.files.disk_reads,
            open_files: self.files.open_count(),
        }
    }

    /// Appends a message with the next sequence number of the stream and
    /// the current time, and returns the stored entry.
    pub fn append(&mut self, bucket: &str, stream: &str, payload: &[u8]) -> io::Result<Entry> {
        self.append_at_least(bucket, stream, payload.to_vec(), 1)
    }

    /// Like [`append`](Self::append), but the sequence number is at least
    /// `at_least`: a coordinating replica that learnt of higher numbers on
    /// other replicas skips past them. It is also at least the stream's
    /// floor, so numbering goes on after a DELETE.
    pub fn append_at_least(
        &mut self,
        bucket: &str,
        stream: &str,
        payload: Vec<u8>,
        at_least: u64,
    ) -> io::Result<Entry> {
        check_write(bucket, stream, &payload)?;
        self.ensure_locked()?;
        let (files, config, next_dot) = (&mut self.files, &self.config, &mut self.next_dot);
        let usage = &mut self.usage;
        with_stream(
            &mut self.buckets,
            bucket,
            stream,
            config.cache_entries,
            |target| {
                // `last_seq` is at least the floor minus one.
                let next = match target.last_seq() {
                    None => 1,
                    Some(last) => last.checked_add(1).ok_or_else(|| {
                        invalid_input(format!(
                            "stream {bucket:?}/{stream:?} has no sequence number left"
                        ))
                    })?,
                };
                let entry = Entry {
                    seq: next.max(at_least),
                    dot: *next_dot,
                    ts_ms: crate::clock::now_ms(),
                    payload,
                };
                // The entry becomes visible to reads only once its bytes are in the log.
                let pos = files.append(&record::encode_record(bucket, stream, &entry), config)?;
                usage.entry_added(pos.segment);
                target.add(&entry, pos);
                next_dot.counter += 1;
                Ok(entry)
            },
        )
    }

    /// Stores an entry appended elsewhere (replication, read repair,
    /// handoff, anti-entropy): the one way a replica merges what another holds.
    ///
    /// Merges by identity: if the stream already holds this very entry (the
    /// same `seq` and dot), nothing changes and `Ok(false)` is returned; any
    /// other entry is stored, even one whose `seq` is taken by another entry
    /// (two writes numbered at once during a failure: both are kept, ordered
    /// by dot). Entries may arrive out of order or with gaps; reads return
    /// them in order, and the next [`append`](Self::append) uses the highest
    /// `seq` plus one. Returns `Ok(true)` when stored. `seq` 0 is refused.
    ///
    /// An entry below the stream's floor is evicted: nothing is stored and
    /// `Ok(false)` is returned, so no merge ever brings an evicted entry back.
    pub fn put_entry(&mut self, bucket: &str, stream: &str, entry: &Entry) -> io::Result<bool> {
        if entry.seq == 0 {
            return Err(invalid_input(
                "sequence numbers start at 1, got 0".to_owned(),
            ));
        }
        check_write(bucket, stream, &entry.payload)?;
        self.ensure_locked()?;
        let (files, config, usage) = (&mut self.files, &self.config, &mut self.usage);
        with_stream(
            &mut self.buckets,
            bucket,
            stream,
            config.cache_entries,
            |target| {
                if entry.seq < target.floor() || target.contains(entry.id()) {
                    return Ok(false);
                }
                let pos = files.append(&record::encode_record(bucket, stream, entry), config)?;
                usage.entry_added(pos.segment);
                target.add(entry, pos);
                Ok(true)
            },
        )
    }

    /// Entries with `seq >= from`, in order, `limit` of them, or a few more:
    /// a read never ends in the middle of a sequence number held by several
    /// entries, so that the next page, `from` the last `seq` plus one, skips
    /// none.
    ///
    /// `from` 0 and 1 both mean "from the start". An unknown stream, a
    /// `from` past the end or a `limit` of 0 give an empty vector.
    pub fn read_from(
        &mut self,
        bucket: &str,
        stream: &str,
        from: u64,
        limit: usize,
    ) -> io::Result<Vec<Entry>> {
        let name = StreamName { bucket, stream };
        match find(&self.buckets, bucket, stream) {
            Some(found) => found.read_from(name, from, limit, &mut self.files),
            None => Ok(Vec::new()),
        }
    }

    /// The newest `n` entries of the stream, oldest first, the newest
    /// included. Served from memory, without touching disk, when `n` is at
    /// most [`StoreConfig::cache_entries`].
    pub fn last(&mut self, bucket: &str, stream: &str, n: usize) -> io::Result<Vec<Entry>> {
        let name = StreamName { bucket, stream };
        match find(&self.buckets, bucket, stream) {
            Some(found) => found.last(name, n, &mut self.files),
            None => Ok(Vec::new()),
        }
    }

    /// The highest sequence number taken in the stream: that of its newest
    /// entry, or, when its floor is above every entry (a DELETE), the floor
    /// minus one. `None` for a stream with neither entries nor a floor.
    pub fn last_seq(&self, bucket: &str, stream: &str) -> Option<u64> {
        find(&self.buckets, bucket, stream)?.last_seq()
    }

    /// The identities of every entry of the stream, in order (for
    /// anti-entropy, which compares them between replicas).
    pub fn ids(&self, bucket: &str, stream: &str) -> Vec<EntryId> {
        find(&self.buckets, bucket, stream).map_or_else(Vec::new, Stream::ids)
    }

    /// The entries of the stream with these identities, in order; those it
    /// does not hold are left out.
    pub fn get(&mut self, bucket: &str, stream: &str, ids: &[EntryId]) -> io::Result<Vec<Entry>> {
        let name = StreamName { bucket, stream };
        match find(&self.buckets, bucket, stream) {
            Some(found) => found.get(name, ids, &mut self.files),
            None => Ok(Vec::new()),
        }
    }

    /// Every non-empty stream with its key's place on the ring and a summary
    /// of what it holds, in no particular order (for anti-entropy).
    pub fn summaries(&self) -> impl Iterator<Item = Summarized<'_>> {
        self.streams()
            .filter(|(_, _, s)| !s.is_empty())
            .map(|(bucket, stream, s)| Summarized {
                bucket,
                stream,
                key_hash: s.key_hash(),
                summary: s.summary(),
            })
    }

    /// Buckets with at least one non-empty stream, sorted.
    pub fn list_buckets(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .buckets
            .iter()
            .filter(|(_, streams)| streams.values().any(|s| !s.is_empty()))
            .map(|(bucket, _)| bucket.clone())
            .collect();
        names.sort_unstable();
        names
    }

    /// Non-empty streams of `bucket`, sorted.
    pub fn list_streams(&self, bucket: &str) -> Vec<String> {
        let Some(streams) = self.buckets.get(bucket) else {
            return Vec::new();
        };
        let mut names: Vec<String> = streams
            .iter()
            .filter(|(_, s)| !s.is_empty())
            .map(|(name, _)| name.clone())
            .collect();
        names.sort_unstable();
        names
    }

    /// Number of non-empty streams in the partition.
    pub fn stream_count(&self) -> usize {
        self.streams().filter(|(_, _, s)| !s.is_empty()).count()
    }

    /// Number of entries in the partition, over all streams.
    pub fn entry_count(&self) -> u64 {
        self.streams().map(|(_, _, s)| s.len()).sum()
    }

    /// True when the store holds no entry and no floor. A floor is data too:
    /// handoff, which moves a partition unless it is empty, must move floors
    /// so that the new owner keeps the evicted entries out.
    pub fn is_empty(&self) -> bool {
        self.entry_count() == 0 && self.floors().next().is_none()
    }

    /// Visits every entry of every stream: buckets and streams in sorted
    /// order, entries in order. The visitor returns
    /// `ControlFlow::Break(())` to stop early. Used by handoff.
    ///
    /// Entries are read (and their checksums verified) in batches, so memory
    /// use does not depend on the size of the partition.
    pub fn fold(
        &mut self,
        visit: &mut dyn FnMut(&str, &str, &Entry) -> ControlFlow<()>,
    ) -> io::Result<()> {
        const BATCH: usize = 256;
        for (bucket, streams) in sorted(&self.buckets) {
            for (name, stream) in sorted(streams) {
                let stream_name = StreamName {
                    bucket,
                    stream: name,
                };
                let mut from = 0;
                loop {
                    let batch = stream.read_from(stream_name, from, BATCH, &mut self.files)?;
                    for entry in &batch {
                        if visit(bucket, name, entry).is_break() {
                            return Ok(());
                        }
                    }
                    // A batch ends on a whole sequence number (see `read_from`).
                    match batch.last().and_then(|e| e.seq.checked_add(1)) {
                        Some(next) if batch.len() >= BATCH => from = next,
                        _ => break,
                    }
                }
            }
        }
        Ok(())
    }

    /// Makes everything written so far durable (fsync of the segment being
    /// appended to, and of the directories that gained entries).
    pub fn flush(&mut self) -> io::Result<()> {
        self.files.sync_all()
    }

    /// Flushes and closes the store, reporting any error (dropping the store
    /// flushes too, but has to ignore errors).
    pub fn close(mut self) -> io::Result<()> {
        self.flush()
    }

    /// Deletes every file of this partition, the directory included, and
    /// empties the store. Used after a handoff. The store stays usable: a
    /// later write creates the directory again.
    pub fn delete(&mut self) -> io::Result<()> {
        self.files.forget_all();
        self.usage.clear();
        self.buckets.clear();
        self.lock = None; // unlock before removing the lock file
        match fs::remove_dir_all(&self.dir) {
            Ok(()) => Ok(()),
            Err(err) if err.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(err) => Err(annotate(
                err,
                "cannot delete partition directory",
                &self.dir,
            )),
        }
    }

    /// Every stream with its bucket and name, in no particular order.
    fn streams(&self) -> impl Iterator<Item = (&str, &str, &Stream)> {
        self.buckets.iter().flat_map(|(bucket, streams)| {
            streams
                .iter()
                .map(move |(name, s)| (bucket.as_str(), name.as_str(), s))
        })
    }

    /// Creates and locks the directory before the first write (or the first
    /// write after [`delete`](Self::delete)).
    fn ensure_locked(&mut self) -> io::Result<()> {
        if self.lock.is_none() {
            self.lock = Some(lock_dir(&self.dir)?);
        }
        Ok(())
    }
}

/// Runs `f` on the stream `bucket`/`stream`, created first (empty, in memory
/// only) if it does not exist yet. A free function so that it borrows only the
/// buckets, leaving the store's files free for the write itself; a closure
/// rather than a returned reference so that finding an existing stream hashes
/// each name once. The names are copied only when the stream is new.
fn with_stream<T>(
    buckets: &mut Buckets,
    bucket: &str,
    stream: &str,
    cache_entries: usize,
    f: impl FnOnce(&mut Stream) -> T,
) -> T {
    if let Some(found) = buckets.get_mut(bucket).and_then(|s| s.get_mut(stream)) {
        return f(found);
    }
    let created = buckets
        .entry(bucket.to_owned())
        .or_default()
        .entry(stream.to_owned())
        .or_insert_with(|| Stream::new(StreamName { bucket, stream }, cache_entries));
    f(created)
}

/// The entries of a map, sorted by name.
fn sorted<T>(map: &HashMap<String, T>) -> Vec<(&String, &T)> {
    let mut entries: Vec<_> = map.iter().collect();
    entries.sort_unstable_by(|a, b| a.0.cmp(b.0));
    entries
}

/// The stream `bucket`/`stream`, if it exists. A free function for the same
/// reason as [`with_stream`].
fn find<'a>(buckets: &'a Buckets, bucket: &str, stream: &str) -> Option<&'a Stream> {
    buckets.get(bucket)?.get(stream)
}

impl Drop for PartitionStore {
    fn drop(&mut self) {
        // Errors cannot be reported from drop; call close() to see them.
        let _ = self.files.sync_all();
    }
}

/// Creates `dir` if needed and takes an exclusive lock on its lock file, so
/// that two stores never write to the same partition.
fn lock_dir(dir: &Path) -> io::Result<File> {
    fs::create_dir_all(dir).map_err(|e| annotate(e, "cannot create partition directory", dir))?;
    let path = dir.join(LOCK_FILE);
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| annotate(e, "cannot open lock file", &path))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(TryLockError::WouldBlock) => Err(io::Error::new(
            io::ErrorKind::WouldBlock,
            format!(
                "partition {} is already open by another store",
                dir.display()
            ),
        )),
        Err(TryLockError::Error(err)) => Err(annotate(err, "cannot lock", &path)),
    }
}

/// Refuses names and payloads too long to be encoded in a record.
fn check_write(bucket: &str, stream: &str, payload: &[u8]) -> io::Result<()> {
    for (what, name) in [("bucket", bucket), ("stream", stream)] {
        if name.len() > MAX_NAME_BYTES {
            return Err(invalid_input(format!(
                "{what} name of {} bytes is longer than the limit of {MAX_NAME_BYTES}",
                name.len()
            )));
        }
    }
    if payload.len() > MAX_PAYLOAD_BYTES {
        return Err(invalid_input(format!(
            "payload of {} bytes is larger than the limit of {MAX_PAYLOAD_BYTES}",
            payload.len()
        )));
    }
    Ok(())
}

/// A number no other store is likely ever to draw: an actor of its own for each store opened.
/// Random keys of the standard library's hasher (seeded from the operating system), the
/// time and the process id go into it, so stores opened at once in several processes differ.
fn new_actor() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    hasher.write_u128(now.as_nanos());
    hasher.write_u32(std::process::id());
    hasher.finish()
}

fn invalid_input(message: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, message)
}

#[cfg(test)]
mod eviction_tests;
#[cfg(test)]
mod tests;
