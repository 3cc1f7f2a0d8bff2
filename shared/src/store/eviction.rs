//! Eviction: trimming streams for good, by raising their *floor*.
//!
//! Every stream has a floor (a low-water mark), a sequence number: every
//! entry numbered below it is evicted, gone for good. A floor starts at 1
//! (nothing evicted) and never goes down. An evicted entry is not served by
//! any read, listing, count, summary or fold, and is never stored again,
//! whoever sends it ([`PartitionStore::put_entry`] refuses it): read repair,
//! anti-entropy and handoff cannot bring it back. A DELETE of a stream is
//! the floor raised past its newest entry: the stream is then empty, but its
//! numbering goes on from the floor, and a store that never held the stream
//! remembers the floor too, so that the deleted entries are refused
//! everywhere.
//!
//! # Policies
//!
//! An [`EvictionPolicy`] says how much of a stream to keep;
//! [`PartitionStore::apply_policy`] computes the floor it gives for what
//! the stream holds now and raises the floor to it. Each rule that is set
//! gives a floor, and the highest one wins. Since a floor is a sequence
//! number, entries sharing a number (written at once through different
//! replicas) are always kept or evicted together.
//!
//! * `keep_last: Some(n)`: keep the newest `n` entries; the floor is the
//!   number of the `n`-th newest, so entries sharing its number are kept
//!   too. `n = 0` counts as 1: this rule never empties a stream.
//! * `max_bytes: Some(x)`: keep the newest entries whose payloads add up to
//!   at most `x` bytes. The newest number is always kept (all its entries),
//!   even when larger than `x`, so an entry is never evicted the moment it
//!   lands by this rule; an older number whose entries would go past `x` is
//!   evicted whole, with everything older. So the rule never keeps more than
//!   `x` bytes, except for the newest number alone.
//! * `max_age_s: Some(t)`: evict the entries older than `t` seconds
//!   (`ts_ms < now_ms - t * 1000`), oldest first, up to the first one that is
//!   not: an entry with a later timestamp than the ones after it (a writer
//!   with a fast clock) holds them back until it is old too. This rule may
//!   empty the stream.
//!
//! `max_bytes` and `max_age_s` set the floor just above the newest entry
//! they evict, not at the oldest entry they keep, and leave it alone when
//! they evict nothing: an entry this replica missed, numbered in between,
//! is still taken when it arrives (and judged by the rule the next time).
//! `keep_last` has no such gap: an entry below the `n`-th newest is not
//! among the newest `n`, whenever it arrives.
//!
//! Costs: an empty policy costs nothing; `keep_last` looks at one entry of
//! the index; `max_age_s` looks at the entries it evicts and one more;
//! `max_bytes` at the entries it keeps and one more number.
//!
//! # On disk
//!
//! Raising a floor writes a *mark* record (bucket, stream, floor) to the
//! partition log (see `record.rs`) before anything changes in memory; the
//! floor survives restarts and crashes like an entry. Recovery applies the
//! highest mark of each stream, whatever the order of the records in the
//! log: an entry record found after a mark that evicts it stays evicted.
//!
//! Evicted records stay in their segment file until nothing live is left
//! in it: no entry at or above its floor (see `usage.rs`). Then the whole
//! file is removed, unless it is the segment receiving appends: entries
//! evicted from that one stay on disk, unread, until the log has rolled past
//! it. Before a file is removed, the latest marks it holds are written again
//! at the end of the log and made durable, so no floor is lost with it.
//! Removal is tried whenever a floor rises, and when the store is opened
//! (where a failure is not an error: the store opens, and the files go at
//! the next raise).

use std::collections::VecDeque;
use std::io;
use std::ops::AddAssign;

use super::record;
use super::stream::{Indexed, Stream, StreamName};
use super::{PartitionStore, check_write, find, with_stream};

/// How much of a stream to keep; see the module docs for the meaning of each rule. A rule
/// left `None` keeps everything; several rules set evict what any of them evicts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct EvictionPolicy {
    /// Keep the newest this many entries.
    pub keep_last: Option<u64>,
    /// Keep the newest entries whose payloads add up to at most this many bytes.
    pub max_bytes: Option<u64>,
    /// Keep the entries written in the last this many seconds.
    pub max_age_s: Option<u64>,
}

impl EvictionPolicy {
    /// True when no rule is set: the policy keeps everything.
    pub fn is_empty(&self) -> bool {
        self.keep_last.is_none() && self.max_bytes.is_none() && self.max_age_s.is_none()
    }

    /// This policy (a stream's own), with each rule it leaves unset taken from
    /// `bucket_policy` (its bucket's): a stream's setting wins rule by rule.
    pub fn merged_over(self, bucket_policy: EvictionPolicy) -> EvictionPolicy {
        EvictionPolicy {
            keep_last: self.keep_last.or(bucket_policy.keep_last),
            max_bytes: self.max_bytes.or(bucket_policy.max_bytes),
            max_age_s: self.max_age_s.or(bucket_policy.max_age_s),
        }
    }

    /// The floor this policy gives a stream holding `index` (oldest first);
    /// one at or below the oldest entry when it evicts nothing.
    fn floor_for(&self, index: &VecDeque<Indexed>, overhead: u64, now_ms: u64) -> u64 {
        let rules = [
            self.keep_last.map(|n| keep_last_floor(index, n)),
            self.max_bytes.map(|x| max_bytes_floor(index, overhead, x)),
            self.max_age_s.map(|t| max_age_floor(index, t, now_ms)),
        ];
        rules.into_iter().flatten().fold(1, u64::max)
    }
}

/// What an eviction removed: entries, and the bytes of their payloads.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Evicted {
    pub entries: u64,
    pub bytes: u64,
}

impl AddAssign for Evicted {
    fn add_assign(&mut self, other: Evicted) {
        self.entries += other.entries;
        self.bytes += other.bytes;
    }
}

impl PartitionStore {
    /// The floor of the stream: entries numbered below it are evicted. 1 (nothing evicted)
    /// for a stream never trimmed, or unknown.
    pub fn floor(&self, bucket: &str, stream: &str) -> u64 {
        find(&self.buckets, bucket, stream).map_or(1, Stream::floor)
    }

    /// Raises the floor of the stream to `floor`, evicting every entry numbered below it,
    /// and returns what was evicted now. Nothing happens when `floor` is not higher than the
    /// current one. An unknown stream is created, empty, to remember the floor: a DELETE
    /// must be remembered even by a replica that never held the stream.
    ///
    /// The floor is in the log before this returns (with the same durability as an append).
    /// Segment files left with nothing live are then removed (see the module docs); if that
    /// fails, the error is returned but the floor stays raised, and the files are removed
    /// at a later raise or when the store is next opened.
    pub fn raise_floor(&mut self, bucket: &str, stream: &str, floor: u64) -> io::Result<Evicted> {
        if floor <= self.floor(bucket, stream) {
            return Ok(Evicted::default());
        }
        check_write(bucket, stream, &[])?;
        self.ensure_locked()?;
        let (files, config, usage) = (&mut self.files, &self.config, &mut self.usage);
        let evicted = with_stream(
            &mut self.buckets,
            bucket,
            stream,
            config.cache_entries,
            |target| {
                // The floor takes effect only once its mark is in the log.
                let mark = record::encode_mark(bucket, stream, floor);
                let pos = files.append(&mark, config)?;
                usage.record_added(pos.segment);
                usage.mark_moved(target.set_mark_segment(pos.segment), pos.segment);
                target.raise_floor(floor);
                let name = StreamName { bucket, stream };
                io::Result::Ok(
                    target.evict_below_floor(name, &mut |segment| usage.entry_dead(segment)),
                )
            },
        )?;
        self.evicted += evicted;
        self.remove_dead_segments()?;
        Ok(evicted)
    }

    /// Raises the floor of the stream to the one `policy` gives for what it holds now (see
    /// the module docs), and returns what was evicted. An unknown stream stays unknown.
    pub fn apply_policy(
        &mut self,
        bucket: &str,
        stream: &str,
        policy: &EvictionPolicy,
        now_ms: u64,
    ) -> io::Result<Evicted> {
        if policy.is_empty() {
            return Ok(Evicted::default());
        }
        let Some(found) = find(&self.buckets, bucket, stream) else {
            return Ok(Evicted::default());
        };
        let overhead = StreamName { bucket, stream }.record_overhead();
        let floor = policy.floor_for(found.index(), overhead, now_ms);
        self.raise_floor(bucket, stream, floor)
    }

    /// Every stream whose floor is above 1, with its floor, in no particular order: handoff
    /// and anti-entropy carry these to other replicas, so that they evict the same entries.
    pub fn floors(&self) -> impl Iterator<Item = (&str, &str, u64)> {
        self.streams()
            .filter(|(_, _, s)| s.floor() > 1)
            .map(|(bucket, stream, s)| (bucket, stream, s.floor()))
    }

    /// Entries and payload bytes evicted since the store was opened (those evicted before,
    /// which recovery skips, are not counted).
    pub fn evicted_totals(&self) -> Evicted {
        self.evicted
    }

    /// Removes every segment file that holds nothing live, except the one receiving
    /// appends (see `usage.rs` for which ones), after writing the latest marks they hold
    /// again at the end of the log.
    pub(super) fn remove_dead_segments(&mut self) -> io::Result<()> {
        let doomed = self.usage.removable(self.files.tail_number());
        if doomed.is_empty() {
            return Ok(());
        }
        for (bucket, streams) in &mut self.buckets {
            for (name, stream) in streams {
                let Some(old) = stream.mark_segment() else {
                    continue;
                };
                if doomed.binary_search(&old).is_err() {
                    continue;
                }
                let mark = record::encode_mark(bucket, name, stream.floor());
                let pos = self.files.append(&mark, &self.config)?;
                self.usage.record_added(pos.segment);
                self.usage
                    .mark_moved(stream.set_mark_segment(pos.segment), pos.segment);
            }
        }
        // A removal must not survive a power loss that the marks justifying it do not: the
        // copies just written, and the marks whose floors left these segments dead.
        self.files.sync_all()?;
        for number in doomed {
            self.files.remove_segment(number)?;
            self.usage.forget(number);
        }
        Ok(())
    }
}

/// The floor that keeps the newest `n` entries (at least one).
fn keep_last_floor(index: &VecDeque<Indexed>, n: u64) -> u64 {
    let n = usize::try_from(n.max(1)).unwrap_or(usize::MAX);
    match index.len().checked_sub(n) {
        Some(oldest_kept) => index[oldest_kept].id.seq,
        None => 1,
    }
}

/// The floor that keeps the newest entries whose payloads add up to at most `max_bytes`,
/// by whole sequence numbers, the newest number always: just above the newest number that
/// does not fit.
fn max_bytes_floor(index: &VecDeque<Indexed>, overhead: u64, max_bytes: u64) -> u64 {
    let mut kept_bytes = 0u64;
    let mut end = index.len();
    // Walk back one sequence number (all its entries) at a time.
    while let Some(newest_left) = end.checked_sub(1) {
        let seq = index[newest_left].id.seq;
        let mut start = end;
        let mut group_bytes = 0u64;
        while start > 0 && index[start - 1].id.seq == seq {
            start -= 1;
            group_bytes = group_bytes.saturating_add(index[start].payload_len(overhead));
        }
        let is_newest = end == index.len();
        kept_bytes = kept_bytes.saturating_add(group_bytes);
        if !is_newest && kept_bytes > max_bytes {
            return seq.saturating_add(1);
        }
        end = start;
    }
    1
}

/// The floor that evicts the entries older than `max_age_s` at `now_ms`, oldest first, up
/// to the first that is not: just above the newest one evicted.
fn max_age_floor(index: &VecDeque<Indexed>, max_age_s: u64, now_ms: u64) -> u64 {
    let cutoff = now_ms.saturating_sub(max_age_s.saturating_mul(1000));
    // Looks at the entries evicted, and one more: no dearer than evicting them.
    let young = index.iter().position(|e| e.ts_ms >= cutoff);
    let Some(evicted) = young.unwrap_or(index.len()).checked_sub(1) else {
        return 1;
    };
    let above_evicted = index[evicted].id.seq.saturating_add(1);
    match young {
        // An old entry sharing its number with a young one is kept with it.
        Some(young) => above_evicted.min(index[young].id.seq),
        None => above_evicted,
    }
}
