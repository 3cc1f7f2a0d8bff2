//! What each segment of the partition log still holds that matters, so that
//! eviction can tell when a whole segment file may be removed.
//!
//! A record matters while it is *live*: an entry at or above its stream's
//! floor, or the mark that records its stream's current floor (its *latest*
//! mark). Everything else in a segment (evicted entries, marks superseded by
//! a higher one, duplicates recovery ignored) is dead weight. For each
//! segment this counts its records, its live entries and the latest marks it
//! holds, which is all it takes to decide (see [`SegmentUsage::removable`]).
//!
//! The counts live in memory only: recovery rebuilds them from the log.

use std::collections::BTreeMap;

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct Usage {
    /// Every record in the segment, live or dead.
    records: u64,
    live_entries: u64,
    /// Streams whose latest mark is in this segment.
    latest_marks: u64,
    /// Recovery found bytes in it that it could not read: kept as evidence.
    damaged: bool,
}

#[derive(Debug, Default)]
pub(super) struct SegmentUsage {
    segments: BTreeMap<u64, Usage>,
}

impl SegmentUsage {
    /// Notes a segment found by recovery, even one holding no record.
    pub(super) fn seen(&mut self, segment: u64) {
        self.segments.entry(segment).or_default();
    }

    /// A record of any kind was written to (or found in) `segment`.
    pub(super) fn record_added(&mut self, segment: u64) {
        self.segments.entry(segment).or_default().records += 1;
    }

    /// An entry was written to `segment` and indexed: one more record, and live (one
    /// lookup, on every append).
    pub(super) fn entry_added(&mut self, segment: u64) {
        let usage = self.segments.entry(segment).or_default();
        usage.records += 1;
        usage.live_entries += 1;
    }

    /// An entry of `segment` was indexed: it is live.
    pub(super) fn entry_live(&mut self, segment: u64) {
        self.segments.entry(segment).or_default().live_entries += 1;
    }

    /// A live entry of `segment` was evicted.
    pub(super) fn entry_dead(&mut self, segment: u64) {
        if let Some(usage) = self.segments.get_mut(&segment) {
            usage.live_entries = usage.live_entries.saturating_sub(1);
        }
    }

    /// A stream's latest mark is now in `to`; the one it replaces, if any, was in `from`.
    pub(super) fn mark_moved(&mut self, from: Option<u64>, to: u64) {
        if let Some(old) = from.and_then(|from| self.segments.get_mut(&from)) {
            old.latest_marks = old.latest_marks.saturating_sub(1);
        }
        self.segments.entry(to).or_default().latest_marks += 1;
    }

    /// Recovery found damage in `segment` that it left on disk.
    pub(super) fn damaged(&mut self, segment: u64) {
        self.segments.entry(segment).or_default().damaged = true;
    }

    /// The segments whose file may be removed, ascending: not `tail` (the
    /// one receiving appends), not damaged, holding no live entry, and
    /// holding something dead. Their latest marks must be written again
    /// first.
    ///
    /// "Something dead" is what keeps removal from going round in circles:
    /// a segment of nothing but latest marks (such as the ones written again
    /// by a removal) would only be copied to the end of the log, so it stays.
    /// Every removal thus takes at least one dead record out of the log.
    pub(super) fn removable(&self, tail: Option<u64>) -> Vec<u64> {
        self.segments
            .iter()
            .filter(|&(&number, usage)| {
                Some(number) != tail
                    && !usage.damaged
                    && usage.live_entries == 0
                    && (usage.records == 0 || usage.latest_marks < usage.records)
            })
            .map(|(&number, _)| number)
            .collect()
    }

    /// The segment is gone from disk.
    pub(super) fn forget(&mut self, segment: u64) {
        self.segments.remove(&segment);
    }

    pub(super) fn clear(&mut self) {
        self.segments.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_segment_is_removable_once_nothing_in_it_is_live() {
        let mut usage = SegmentUsage::default();
        for segment in [1, 2] {
            usage.record_added(segment);
            usage.entry_live(segment);
        }
        assert!(usage.removable(Some(2)).is_empty());
        usage.entry_dead(1);
        assert_eq!(usage.removable(Some(2)), [1]);
        usage.entry_dead(2);
        assert_eq!(usage.removable(Some(2)), [1], "never the tail");
        assert_eq!(usage.removable(None), [1, 2]);
    }

    #[test]
    fn latest_marks_alone_keep_a_segment_and_superseded_ones_do_not() {
        let mut usage = SegmentUsage::default();
        usage.record_added(1);
        usage.mark_moved(None, 1);
        assert!(usage.removable(Some(5)).is_empty(), "only a latest mark");
        usage.record_added(1);
        assert_eq!(usage.removable(Some(5)), [1], "a dead record besides");
        usage.record_added(2);
        usage.mark_moved(Some(1), 2);
        assert_eq!(usage.removable(Some(5)), [1]);
        assert!(!usage.removable(Some(5)).contains(&2));
    }

    #[test]
    fn damaged_segments_stay_and_empty_ones_go() {
        let mut usage = SegmentUsage::default();
        usage.seen(1);
        usage.seen(2);
        usage.damaged(2);
        assert_eq!(usage.removable(None), [1]);
        usage.forget(1);
        assert!(usage.removable(None).is_empty());
    }
}
