//! What recovery found when a [`PartitionStore`](super::PartitionStore) was
//! opened.
//!
//! The store never prints anything. Instead every problem met while reading
//! the partition log back is written down in a [`RecoveryReport`], which the
//! owner (the vnode) can log, expose in metrics or assert on in tests.

use std::fmt;
use std::path::PathBuf;

/// What was wrong with a stretch of bytes in a segment file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Damage {
    /// The file is shorter than the segment header (crash while creating it).
    ShortHeader,
    /// The segment header does not start with the expected magic bytes.
    BadMagic,
    /// The file ends in the middle of a record (crash mid-write).
    ShortRecord,
    /// A record announces an impossible length (garbage or corruption).
    BadLength(u32),
    /// A record's checksum does not match its contents.
    BadChecksum,
    /// A record repeats an entry (the same sequence number and dot) already recovered; the
    /// first copy wins.
    DuplicateEntry(u64),
}

impl fmt::Display for Damage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Damage::ShortHeader => write!(f, "file shorter than the segment header"),
            Damage::BadMagic => write!(f, "not a segment file (bad magic bytes)"),
            Damage::ShortRecord => write!(f, "file ends inside a record"),
            Damage::BadLength(len) => write!(f, "impossible record length {len}"),
            Damage::BadChecksum => write!(f, "record checksum mismatch"),
            Damage::DuplicateEntry(seq) => write!(f, "entry #{seq} recorded twice"),
        }
    }
}

/// What recovery did about a [`Damage`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Repair {
    /// The damaged tail of the newest segment was cut off the file, so the
    /// next append goes right after the last good record. This is the normal
    /// outcome of a crash in the middle of a write.
    Truncated,
    /// The bytes were left on disk untouched but are not served. Used for
    /// damage that a crash cannot explain (an old segment, a foreign file),
    /// where deleting data could destroy evidence.
    Ignored,
}

/// One problem found during recovery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecoveryProblem {
    /// The stream concerned, when it is known: for a duplicate record. Damage
    /// in the partition log cannot be trusted to name its stream, so for it
    /// `bucket` and `stream` are empty.
    pub bucket: String,
    pub stream: String,
    /// The segment file concerned.
    pub file: PathBuf,
    /// Byte offset in `file` where the bad bytes start.
    pub offset: u64,
    /// How many bytes were truncated or ignored.
    pub bytes: u64,
    pub damage: Damage,
    pub repair: Repair,
}

/// Summary of the recovery performed by `PartitionStore::open`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RecoveryReport {
    /// Streams with at least one entry.
    pub streams: usize,
    /// Entries recovered, over all streams.
    pub entries: u64,
    /// Damage found and what was done about it, in the order it was found.
    pub problems: Vec<RecoveryProblem>,
    /// Files and directories in the data directory that the store did not
    /// create and therefore left alone.
    pub ignored_paths: Vec<PathBuf>,
}

impl RecoveryReport {
    /// True when nothing at all had to be repaired or ignored.
    pub fn is_clean(&self) -> bool {
        self.problems.is_empty() && self.ignored_paths.is_empty()
    }

    /// Bytes truncated over all streams.
    pub fn total_truncated_bytes(&self) -> u64 {
        self.problems
            .iter()
            .filter(|p| p.repair == Repair::Truncated)
            .map(|p| p.bytes)
            .sum()
    }
}
