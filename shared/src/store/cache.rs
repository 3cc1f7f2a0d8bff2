//! The in-memory cache of each stream's newest entries.
//!
//! Most reads in a stream database ask for "the last few messages", so every
//! stream keeps its newest `capacity` entries in memory and serves those
//! reads without touching disk.
//!
//! Invariant: the cache always holds exactly the `capacity` newest entries of
//! the stream, by sequence number then dot (or all of them, if the stream is
//! shorter). Entries can arrive out of order through replication, so an
//! entry older than everything cached is simply not cached. Eviction keeps
//! the invariant too: it removes the oldest entries of the stream, so if it
//! takes any cached one, it takes every entry not cached as well.

use std::collections::VecDeque;

use super::{Entry, EntryId};

#[derive(Debug)]
pub(super) struct RecentEntries {
    capacity: usize,
    /// Sorted by identity, oldest at the front.
    entries: VecDeque<Entry>,
}

impl RecentEntries {
    pub(super) fn new(capacity: usize) -> Self {
        RecentEntries {
            capacity,
            entries: VecDeque::new(),
        }
    }

    pub(super) fn len(&self) -> usize {
        self.entries.len()
    }

    /// Records a new entry of the stream, keeping the invariant above.
    /// The caller guarantees the entry is not already in the stream.
    pub(super) fn insert(&mut self, entry: &Entry) {
        if self.capacity == 0 {
            return;
        }
        if self.entries.len() == self.capacity {
            // Full: only an entry newer than the oldest cached one gets in.
            match self.entries.front() {
                Some(oldest) if entry.id() > oldest.id() => {
                    self.entries.pop_front();
                }
                _ => return,
            }
        }
        // Appends are the common case: the new entry goes at the back.
        let id = entry.id();
        let position = self.entries.partition_point(|e| e.id() < id);
        self.entries.insert(position, entry.clone());
    }

    /// Forgets the entries numbered below `floor` (evicted).
    pub(super) fn drop_below(&mut self, floor: u64) {
        while self.entries.front().is_some_and(|e| e.seq < floor) {
            self.entries.pop_front();
        }
    }

    pub(super) fn get(&self, id: EntryId) -> Option<&Entry> {
        let position = self.entries.partition_point(|e| e.id() < id);
        self.entries.get(position).filter(|e| e.id() == id)
    }

    /// The newest `n` cached entries, oldest first (fewer if not cached).
    pub(super) fn newest(&self, n: usize) -> Vec<Entry> {
        let skip = self.entries.len().saturating_sub(n);
        self.entries.iter().skip(skip).cloned().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(seq: u64) -> Entry {
        Entry {
            seq,
            dot: crate::store::Dot {
                actor: 1,
                counter: seq,
            },
            ts_ms: 0,
            payload: seq.to_string().into_bytes(),
        }
    }

    fn seqs(cache: &RecentEntries) -> Vec<u64> {
        cache.newest(usize::MAX).iter().map(|e| e.seq).collect()
    }

    #[test]
    fn keeps_the_newest_in_order() {
        let mut cache = RecentEntries::new(3);
        for seq in 1..=5 {
            cache.insert(&entry(seq));
        }
        assert_eq!(seqs(&cache), [3, 4, 5]);
        assert_eq!(
            cache.newest(2).iter().map(|e| e.seq).collect::<Vec<_>>(),
            [4, 5]
        );
        assert_eq!(cache.get(entry(4).id()), Some(&entry(4)));
        assert_eq!(cache.get(entry(2).id()), None);
    }

    #[test]
    fn out_of_order_entries_keep_the_invariant() {
        let mut cache = RecentEntries::new(3);
        for seq in [10, 2, 7, 1, 8, 9, 3] {
            cache.insert(&entry(seq));
        }
        assert_eq!(seqs(&cache), [8, 9, 10]);
    }

    #[test]
    fn dropping_below_a_floor_keeps_the_newest() {
        let mut cache = RecentEntries::new(3);
        for seq in 1..=5 {
            cache.insert(&entry(seq));
        }
        cache.drop_below(5);
        assert_eq!(seqs(&cache), [5]);
        cache.drop_below(9);
        assert_eq!(cache.len(), 0);
    }

    #[test]
    fn zero_capacity_caches_nothing() {
        let mut cache = RecentEntries::new(0);
        cache.insert(&entry(1));
        assert_eq!(cache.len(), 0);
        assert_eq!(cache.get(entry(1).id()), None);
    }
}
