//! Tests of eviction through the store's public API: floors, policies, their
//! survival across restarts and crashes, and the removal of whole segment
//! files.

use std::fs;
use std::ops::ControlFlow;

use super::tests::{
    append_n, dot, file_len, open, open_with, payload, segment_files, seqs, small_segments,
    truncate_to,
};
use super::*;

fn keep_last(n: u64) -> EvictionPolicy {
    EvictionPolicy {
        keep_last: Some(n),
        ..EvictionPolicy::default()
    }
}

fn max_bytes(x: u64) -> EvictionPolicy {
    EvictionPolicy {
        max_bytes: Some(x),
        ..EvictionPolicy::default()
    }
}

fn max_age_s(t: u64) -> EvictionPolicy {
    EvictionPolicy {
        max_age_s: Some(t),
        ..EvictionPolicy::default()
    }
}

/// An entry written elsewhere: `seq`, told apart by `actor`, at `ts_ms`, with `len` bytes.
fn entry(seq: u64, actor: u64, ts_ms: u64, len: usize) -> Entry {
    Entry {
        seq,
        dot: Dot {
            actor,
            counter: seq,
        },
        ts_ms,
        payload: vec![b'x'; len],
    }
}

fn all(store: &mut PartitionStore, bucket: &str, stream: &str) -> Vec<Entry> {
    store.read_from(bucket, stream, 0, usize::MAX).unwrap()
}

fn payload_bytes(range: std::ops::RangeInclusive<u64>) -> u64 {
    range.map(|i| payload(i).len() as u64).sum()
}

#[test]
fn keep_last_keeps_the_newest() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = open(dir.path());
    append_n(&mut store, "b", "s", 10);
    let evicted = store.apply_policy("b", "s", &keep_last(3), 0).unwrap();
    assert_eq!(
        evicted,
        Evicted {
            entries: 7,
            bytes: payload_bytes(1..=7)
        }
    );
    assert_eq!(seqs(&all(&mut store, "b", "s")), [8, 9, 10]);
    assert_eq!(store.floor("b", "s"), 8);
    assert_eq!(store.last_seq("b", "s"), Some(10));
    assert_eq!(store.append("b", "s", b"next").unwrap().seq, 11);
    store.apply_policy("b", "s", &keep_last(3), 0).unwrap();
    assert_eq!(seqs(&all(&mut store, "b", "s")), [9, 10, 11]);
    assert_eq!(
        store.apply_policy("b", "s", &keep_last(3), 0).unwrap(),
        Evicted::default(),
        "nothing more to evict"
    );
    assert_eq!(
        store
            .apply_policy("b", "s", &keep_last(0), 0)
            .unwrap()
            .entries,
        2,
        "keep_last 0 counts as 1: the rule never empties a stream"
    );
    assert_eq!(seqs(&all(&mut store, "b", "s")), [11]);
}

#[test]
fn keep_last_keeps_entries_sharing_a_number_together() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = open(dir.path());
    for e in [
        entry(1, 1, 0, 1),
        entry(2, 1, 0, 1),
        entry(2, 2, 0, 1),
        entry(3, 1, 0, 1),
    ] {
        store.put_entry("b", "s", &e).unwrap();
    }
    // The 2nd newest is one of the two #2: both stay, since a floor is a number.
    store.apply_policy("b", "s", &keep_last(2), 0).unwrap();
    assert_eq!(seqs(&all(&mut store, "b", "s")), [2, 2, 3]);
}

#[test]
fn max_bytes_keeps_the_newest_whole_numbers_that_fit() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = open(dir.path());
    for seq in 1..=5 {
        store.put_entry("b", "s", &entry(seq, 1, 0, 10)).unwrap();
    }
    let evicted = store.apply_policy("b", "s", &max_bytes(35), 0).unwrap();
    assert_eq!(
        evicted,
        Evicted {
            entries: 2,
            bytes: 20
        }
    );
    assert_eq!(seqs(&all(&mut store, "b", "s")), [3, 4, 5]);

    // #6 is two entries of 10 bytes. With 25 bytes allowed, #6 (20) fits and #5 would go
    // past: #5 goes, with everything older.
    store.put_entry("b", "s", &entry(6, 1, 0, 10)).unwrap();
    store.put_entry("b", "s", &entry(6, 2, 0, 10)).unwrap();
    store.apply_policy("b", "s", &max_bytes(25), 0).unwrap();
    assert_eq!(seqs(&all(&mut store, "b", "s")), [6, 6]);

    // A number whose entries straddle the limit is evicted whole: #7 (10) fits in 15, #6
    // (20) does not, so none of #6 is kept.
    store.put_entry("b", "s", &entry(7, 1, 0, 10)).unwrap();
    store.apply_policy("b", "s", &max_bytes(15), 0).unwrap();
    assert_eq!(seqs(&all(&mut store, "b", "s")), [7]);
}

#[test]
fn max_bytes_always_keeps_the_newest_number() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = open(dir.path());
    store.put_entry("b", "s", &entry(1, 1, 0, 10)).unwrap();
    store.put_entry("b", "s", &entry(2, 1, 0, 100)).unwrap();
    store.apply_policy("b", "s", &max_bytes(10), 0).unwrap();
    assert_eq!(
        seqs(&all(&mut store, "b", "s")),
        [2],
        "larger than allowed, kept"
    );
    // Two newest entries sharing a number, together past the limit: both kept.
    store.put_entry("b", "s", &entry(3, 1, 0, 8)).unwrap();
    store.put_entry("b", "s", &entry(3, 2, 0, 8)).unwrap();
    store.apply_policy("b", "s", &max_bytes(10), 0).unwrap();
    assert_eq!(seqs(&all(&mut store, "b", "s")), [3, 3]);
}

#[test]
fn max_age_evicts_old_entries_and_may_empty_the_stream() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = open(dir.path());
    for seq in 1..=4 {
        store
            .put_entry("b", "s", &entry(seq, 1, seq * 1_000, 5))
            .unwrap();
    }
    // At 10 s, entries older than 7 s are those before 3 s.
    let evicted = store.apply_policy("b", "s", &max_age_s(7), 10_000).unwrap();
    assert_eq!(evicted.entries, 2);
    assert_eq!(seqs(&all(&mut store, "b", "s")), [3, 4]);
    assert_eq!(
        store.apply_policy("b", "s", &max_age_s(7), 10_000).unwrap(),
        Evicted::default()
    );

    let evicted = store.apply_policy("b", "s", &max_age_s(1), 10_000).unwrap();
    assert_eq!(evicted.entries, 2);
    assert!(all(&mut store, "b", "s").is_empty());
    assert!(store.list_streams("b").is_empty() && store.list_buckets().is_empty());
    assert_eq!(store.last_seq("b", "s"), Some(4), "numbering goes on");
    assert_eq!(store.append("b", "s", b"new").unwrap().seq, 5);
}

#[test]
fn max_age_stops_at_the_first_entry_young_enough() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = open(dir.path());
    // #2 was written by a node with a fast clock: it holds #3 back.
    for (seq, ts_ms) in [(1, 1_000), (2, 9_000), (3, 2_000), (4, 9_500)] {
        store.put_entry("b", "s", &entry(seq, 1, ts_ms, 5)).unwrap();
    }
    store.apply_policy("b", "s", &max_age_s(5), 10_000).unwrap();
    assert_eq!(seqs(&all(&mut store, "b", "s")), [2, 3, 4]);
}

#[test]
fn max_age_keeps_an_old_entry_sharing_its_number_with_a_young_one() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = open(dir.path());
    store.put_entry("b", "s", &entry(1, 1, 1_000, 5)).unwrap();
    store.put_entry("b", "s", &entry(2, 1, 1_000, 5)).unwrap();
    store.put_entry("b", "s", &entry(2, 2, 9_000, 5)).unwrap();
    store.apply_policy("b", "s", &max_age_s(5), 10_000).unwrap();
    assert_eq!(seqs(&all(&mut store, "b", "s")), [2, 2]);
}

/// A replica that missed entries (numbered between those it evicts and those it keeps)
/// still takes them when they arrive: the floor goes just above what was evicted.
#[test]
fn entries_missed_in_between_are_still_taken() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = open(dir.path());
    store.put_entry("b", "s", &entry(1, 1, 1_000, 10)).unwrap();
    store.put_entry("b", "s", &entry(5, 1, 9_000, 10)).unwrap();
    store.apply_policy("b", "s", &max_age_s(5), 10_000).unwrap();
    assert_eq!(store.floor("b", "s"), 2);
    assert!(store.put_entry("b", "s", &entry(3, 1, 9_000, 10)).unwrap());
    store.apply_policy("b", "s", &max_age_s(5), 10_000).unwrap();
    assert_eq!(seqs(&all(&mut store, "b", "s")), [3, 5], "young: kept");

    // Nothing evicted: the floor stays where it was.
    store.put_entry("b", "t", &entry(4, 1, 9_000, 10)).unwrap();
    store.apply_policy("b", "t", &max_age_s(5), 10_000).unwrap();
    store.apply_policy("b", "t", &max_bytes(100), 0).unwrap();
    assert_eq!(store.floor("b", "t"), 1);
    assert!(store.put_entry("b", "t", &entry(2, 1, 9_000, 10)).unwrap());

    store.put_entry("b", "u", &entry(1, 1, 0, 10)).unwrap();
    store.put_entry("b", "u", &entry(5, 1, 0, 10)).unwrap();
    store.apply_policy("b", "u", &max_bytes(10), 0).unwrap();
    assert_eq!(store.floor("b", "u"), 2);
    assert!(store.put_entry("b", "u", &entry(3, 1, 0, 10)).unwrap());
    store.apply_policy("b", "u", &max_bytes(10), 0).unwrap();
    assert_eq!(
        seqs(&all(&mut store, "b", "u")),
        [5],
        "past the limit: evicted"
    );
}

#[test]
fn several_rules_evict_what_any_of_them_evicts() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = open(dir.path());
    for seq in 1..=10 {
        store
            .put_entry("b", "s", &entry(seq, 1, seq * 1_000, 10))
            .unwrap();
    }
    let policy = EvictionPolicy {
        keep_last: Some(8),
        max_bytes: Some(50),
        max_age_s: Some(100),
    };
    store.apply_policy("b", "s", &policy, 10_000).unwrap();
    assert_eq!(
        seqs(&all(&mut store, "b", "s")),
        [6, 7, 8, 9, 10],
        "max_bytes wins"
    );
    let policy = EvictionPolicy {
        max_age_s: Some(2),
        ..policy
    };
    store.apply_policy("b", "s", &policy, 10_000).unwrap();
    assert_eq!(
        seqs(&all(&mut store, "b", "s")),
        [8, 9, 10],
        "now max_age does"
    );
}

#[test]
fn policies_merge_field_by_field() {
    let bucket = EvictionPolicy {
        keep_last: Some(100),
        max_bytes: Some(1_000),
        max_age_s: None,
    };
    let stream = EvictionPolicy {
        keep_last: Some(5),
        max_bytes: None,
        max_age_s: Some(60),
    };
    assert_eq!(
        stream.merged_over(bucket),
        EvictionPolicy {
            keep_last: Some(5),
            max_bytes: Some(1_000),
            max_age_s: Some(60),
        }
    );
    assert_eq!(EvictionPolicy::default().merged_over(bucket), bucket);
    assert!(EvictionPolicy::default().is_empty());
    assert!(!stream.is_empty());
    let parsed: EvictionPolicy = serde_json::from_str(r#"{"keep_last": 5}"#).unwrap();
    assert_eq!(parsed, keep_last(5), "rules left out are unset");
}

#[test]
fn an_empty_policy_or_an_unknown_stream_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("partition");
    let mut store = open(&root);
    let policy = keep_last(1);
    assert_eq!(
        store.apply_policy("b", "nope", &policy, 0).unwrap(),
        Evicted::default()
    );
    assert!(store.is_empty() && !root.exists(), "nothing was written");
    append_n(&mut store, "b", "s", 3);
    store
        .apply_policy("b", "s", &EvictionPolicy::default(), u64::MAX)
        .unwrap();
    assert_eq!(store.entry_count(), 3);
    assert_eq!(store.floors().count(), 0);
}

#[test]
fn a_floor_never_goes_down() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = open(dir.path());
    append_n(&mut store, "b", "s", 10);
    assert_eq!(store.floor("b", "s"), 1);
    assert_eq!(store.raise_floor("b", "s", 6).unwrap().entries, 5);
    assert_eq!(store.raise_floor("b", "s", 3).unwrap(), Evicted::default());
    assert_eq!(store.raise_floor("b", "s", 6).unwrap(), Evicted::default());
    assert_eq!(store.floor("b", "s"), 6);
    assert_eq!(seqs(&all(&mut store, "b", "s")), [6, 7, 8, 9, 10]);
}

#[test]
fn evicted_entries_are_seen_nowhere() {
    let dir = tempfile::tempdir().unwrap();
    let config = StoreConfig {
        cache_entries: 4,
        ..small_segments()
    };
    let mut store = open_with(dir.path(), &config);
    append_n(&mut store, "a", "gone", 5);
    append_n(&mut store, "b", "kept", 20);
    let ids_before = store.ids("b", "kept");
    store.raise_floor("a", "gone", 6).unwrap();
    store.apply_policy("b", "kept", &keep_last(3), 0).unwrap();

    assert_eq!(store.list_buckets(), ["b"]);
    assert!(store.list_streams("a").is_empty());
    assert_eq!(store.list_streams("b"), ["kept"]);
    assert_eq!((store.stream_count(), store.entry_count()), (1, 3));
    assert_eq!(store.ids("b", "kept"), ids_before[17..]);
    assert!(
        store
            .get("b", "kept", &ids_before[..17])
            .unwrap()
            .is_empty()
    );
    assert_eq!(seqs(&store.last("b", "kept", 10).unwrap()), [18, 19, 20]);
    assert_eq!(seqs(&store.read_from("b", "kept", 0, 2).unwrap()), [18, 19]);
    let mut folded = Vec::new();
    store
        .fold(&mut |bucket, stream, entry| {
            folded.push(format!("{bucket}/{stream}#{}", entry.seq));
            ControlFlow::Continue(())
        })
        .unwrap();
    assert_eq!(folded, ["b/kept#18", "b/kept#19", "b/kept#20"]);

    // The summary is that of a replica that only ever held the entries kept.
    let other_dir = tempfile::tempdir().unwrap();
    let mut other = open(other_dir.path());
    for entry in all(&mut store, "b", "kept") {
        other.put_entry("b", "kept", &entry).unwrap();
    }
    let summaries = |store: &PartitionStore| {
        store
            .summaries()
            .map(|s| (s.bucket.to_owned(), s.stream.to_owned(), s.summary))
            .collect::<Vec<_>>()
    };
    assert_eq!(summaries(&store), summaries(&other));
    drop(store);
    assert_eq!(
        summaries(&open_with(dir.path(), &config)),
        summaries(&other),
        "and after a restart"
    );
}

#[test]
fn put_entry_below_the_floor_stores_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = open(dir.path());
    append_n(&mut store, "b", "s", 5);
    let evicted = store.read_from("b", "s", 0, 2).unwrap();
    store.raise_floor("b", "s", 4).unwrap();
    for entry in &evicted {
        assert!(!store.put_entry("b", "s", entry).unwrap(), "{entry:?}");
    }
    let stranger = entry(3, 77, 0, 3);
    assert!(!store.put_entry("b", "s", &stranger).unwrap());
    assert!(store.put_entry("b", "s", &entry(4, 77, 0, 3)).unwrap());
    assert_eq!(seqs(&all(&mut store, "b", "s")), [4, 4, 5]);
    drop(store);
    let mut store = open(dir.path());
    assert!(!store.put_entry("b", "s", &stranger).unwrap());
    assert_eq!(seqs(&all(&mut store, "b", "s")), [4, 4, 5]);
}

#[test]
fn numbering_goes_on_after_a_delete() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = open(dir.path());
    append_n(&mut store, "b", "s", 3);
    let last = store.last_seq("b", "s").unwrap();
    let evicted = store.raise_floor("b", "s", last + 1).unwrap();
    assert_eq!(evicted.entries, 3);
    assert!(all(&mut store, "b", "s").is_empty());
    assert_eq!(store.last_seq("b", "s"), Some(3));
    assert!(!store.is_empty(), "the floor must be handed off");
    assert_eq!(store.floors().collect::<Vec<_>>(), [("b", "s", 4)]);
    assert_eq!(store.append("b", "s", b"again").unwrap().seq, 4);
    assert_eq!(
        store
            .append_at_least("b", "s", b"far".to_vec(), 2)
            .unwrap()
            .seq,
        5
    );
    drop(store);
    let mut store = open(dir.path());
    assert_eq!(seqs(&all(&mut store, "b", "s")), [4, 5]);
    assert_eq!(store.append("b", "s", b"on").unwrap().seq, 6);
}

#[test]
fn a_replica_that_never_held_the_stream_remembers_its_delete() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = open(dir.path());
    assert_eq!(store.raise_floor("b", "s", 10).unwrap(), Evicted::default());
    assert_eq!(store.floor("b", "s"), 10);
    assert_eq!(store.last_seq("b", "s"), Some(9));
    assert!(!store.is_empty());
    assert!(store.list_buckets().is_empty() && store.summaries().next().is_none());
    assert!(!store.put_entry("b", "s", &entry(9, 1, 0, 1)).unwrap());
    drop(store);
    let mut store = open(dir.path());
    assert_eq!(store.floors().collect::<Vec<_>>(), [("b", "s", 10)]);
    assert!(!store.put_entry("b", "s", &entry(9, 1, 0, 1)).unwrap());
    assert_eq!(
        store
            .append_at_least("b", "s", b"x".to_vec(), 1)
            .unwrap()
            .seq,
        10
    );
}

#[test]
fn floors_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let config = small_segments();
    let mut store = open_with(dir.path(), &config);
    append_n(&mut store, "b", "s", 20);
    append_n(&mut store, "b", "t", 5);
    store.apply_policy("b", "s", &keep_last(4), 0).unwrap();
    store.raise_floor("b", "t", 3).unwrap();
    store.raise_floor("c", "never", 7).unwrap();
    store.close().unwrap();

    let mut store = open_with(dir.path(), &config);
    assert!(
        store.recovery_report().is_clean(),
        "{:?}",
        store.recovery_report()
    );
    assert_eq!(
        (
            store.recovery_report().streams,
            store.recovery_report().entries
        ),
        (2, 7)
    );
    let mut floors: Vec<_> = store.floors().collect();
    floors.sort();
    assert_eq!(floors, [("b", "s", 17), ("b", "t", 3), ("c", "never", 7)]);
    assert_eq!(seqs(&all(&mut store, "b", "s")), [17, 18, 19, 20]);
    assert_eq!(seqs(&all(&mut store, "b", "t")), [3, 4, 5]);
    assert_eq!(
        store.evicted_totals(),
        Evicted::default(),
        "counted since opened"
    );
}

#[test]
fn a_torn_mark_is_cut_and_the_floor_before_it_stays() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = open(dir.path());
    append_n(&mut store, "b", "s", 6);
    store.raise_floor("b", "s", 3).unwrap();
    let file = segment_files(dir.path()).pop().unwrap();
    let before_mark = file_len(&file);
    store.raise_floor("b", "s", 5).unwrap();
    drop(store);
    // A crash in the middle of writing the second mark.
    truncate_to(&file, file_len(&file) - 5);

    let mut store = open(dir.path());
    let problems = store.recovery_report().problems.clone();
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert_eq!(
        (problems[0].repair, problems[0].offset),
        (Repair::Truncated, before_mark)
    );
    assert_eq!(file_len(&file), before_mark);
    assert_eq!(store.floor("b", "s"), 3);
    assert_eq!(seqs(&all(&mut store, "b", "s")), [3, 4, 5, 6]);
    store.raise_floor("b", "s", 5).unwrap();
    drop(store);
    let mut store = open(dir.path());
    assert!(store.recovery_report().is_clean());
    assert_eq!(seqs(&all(&mut store, "b", "s")), [5, 6]);
}

#[test]
fn an_entry_logged_after_the_mark_that_evicts_it_stays_evicted() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = open(dir.path());
    append_n(&mut store, "b", "s", 6);
    store.raise_floor("b", "s", 5).unwrap();
    drop(store);
    // A later segment holding an entry below the floor (as if written by a replica that
    // had not seen the mark yet, before this code refused it).
    let mut bytes = record::segment_header().to_vec();
    bytes.extend(record::encode_record("b", "s", &entry(2, 99, 0, 4)));
    bytes.extend(record::encode_record("b", "s", &entry(7, 99, 0, 4)));
    fs::write(dir.path().join(LOG_DIR).join(segment::file_name(2)), bytes).unwrap();

    let mut store = open(dir.path());
    assert!(store.recovery_report().is_clean());
    assert_eq!(seqs(&all(&mut store, "b", "s")), [5, 6, 7]);
    assert_eq!(store.entry_count(), 3);
}

#[test]
fn evicted_totals_count_entries_and_payload_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = open(dir.path());
    append_n(&mut store, "b", "s", 12);
    append_n(&mut store, "b", "t", 2);
    store.apply_policy("b", "s", &keep_last(2), 0).unwrap();
    store.raise_floor("b", "t", 10).unwrap();
    assert_eq!(
        store.evicted_totals(),
        Evicted {
            entries: 12,
            bytes: payload_bytes(1..=10) + payload_bytes(1..=2)
        }
    );
}

#[test]
fn segments_with_nothing_live_are_removed() {
    let dir = tempfile::tempdir().unwrap();
    let config = StoreConfig {
        cache_entries: 0,
        ..small_segments()
    };
    let mut store = open_with(dir.path(), &config);
    append_n(&mut store, "b", "s", 30);
    let files_before = segment_files(dir.path()).len();
    assert!(files_before >= 10, "{files_before} segments");
    // Open read handles on the older segments.
    assert_eq!(all(&mut store, "b", "s").len(), 30);
    assert!(store.stats().open_files > 1);

    store.raise_floor("b", "s", 25).unwrap();
    let files = segment_files(dir.path()).len();
    assert!(
        files <= 4,
        "{files} of {files_before} segments left for 6 entries"
    );
    store.raise_floor("b", "s", 31).unwrap();
    assert_eq!(
        segment_files(dir.path()).len(),
        1,
        "only the one receiving appends"
    );
    assert_eq!(store.stats().open_files, 1, "read handles were closed");
    drop(store);

    let mut store = open_with(dir.path(), &config);
    assert!(store.recovery_report().is_clean());
    assert_eq!(store.floor("b", "s"), 31);
    assert_eq!(store.append("b", "s", b"after").unwrap().seq, 31);
}

#[test]
fn a_segment_with_live_entries_stays() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = open_with(dir.path(), &small_segments());
    append_n(&mut store, "b", "kept", 1);
    append_n(&mut store, "b", "gone", 30);
    let first = segment_files(dir.path())[0].clone();
    store.raise_floor("b", "gone", 31).unwrap();
    assert!(first.exists(), "it holds b/kept #1");
    assert_eq!(segment_files(dir.path()).len(), 2);
    assert_eq!(seqs(&all(&mut store, "b", "kept")), [1]);
}

#[test]
fn marks_outlive_the_segments_they_were_written_in() {
    let dir = tempfile::tempdir().unwrap();
    let config = small_segments();
    let mut store = open_with(dir.path(), &config);
    append_n(&mut store, "b", "old", 2);
    store.raise_floor("b", "old", 3).unwrap();
    let first = segment_files(dir.path())[0].clone();
    append_n(&mut store, "b", "new", 30);
    // The first segment holds nothing live but the mark of b/old: raising the floor of
    // b/new removes it, writing that mark again first.
    store.raise_floor("b", "new", 31).unwrap();
    assert!(!first.exists());
    assert!(segment_files(dir.path()).len() <= 2);
    drop(store);

    let mut store = open_with(dir.path(), &config);
    assert!(store.recovery_report().is_clean());
    assert_eq!(store.floor("b", "old"), 3);
    assert_eq!(store.floor("b", "new"), 31);
    assert_eq!(store.append("b", "old", b"x").unwrap().seq, 3);
    // And again, once the segment holding the copy is removed in turn.
    append_n(&mut store, "b", "new", 30);
    store.raise_floor("b", "new", 61).unwrap();
    drop(store);
    let store = open_with(dir.path(), &config);
    assert_eq!(store.floor("b", "old"), 3);
    assert_eq!(store.last_seq("b", "old"), Some(3));
}

#[test]
fn dead_segments_are_removed_when_the_store_opens() {
    let dir = tempfile::tempdir().unwrap();
    let config = small_segments();
    // Segment 1: b/s #1 to #3. Segment 2: the mark that evicts them, as a crash right after
    // writing it would leave things.
    let log_dir = dir.path().join(LOG_DIR);
    fs::create_dir_all(&log_dir).unwrap();
    let mut first = record::segment_header().to_vec();
    for seq in 1..=3 {
        first.extend(record::encode_record("b", "s", &entry(seq, 5, 0, 8)));
    }
    fs::write(log_dir.join(segment::file_name(1)), first).unwrap();
    let mut second = record::segment_header().to_vec();
    second.extend(record::encode_mark("b", "s", 4));
    fs::write(log_dir.join(segment::file_name(2)), second).unwrap();

    let mut store = open_with(dir.path(), &config);
    assert!(store.recovery_report().is_clean());
    assert!(!log_dir.join(segment::file_name(1)).exists());
    assert_eq!(store.floor("b", "s"), 4);
    assert_eq!(store.append("b", "s", b"x").unwrap().seq, 4);
    drop(store);
    assert_eq!(open_with(dir.path(), &config).last_seq("b", "s"), Some(4));
}

#[test]
fn a_damaged_segment_is_never_removed() {
    let dir = tempfile::tempdir().unwrap();
    let config = small_segments();
    let mut store = open_with(dir.path(), &config);
    append_n(&mut store, "b", "s", 30);
    drop(store);
    let first = segment_files(dir.path())[0].clone();
    let mut bytes = fs::read(&first).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0xff; // the last record of an older segment
    fs::write(&first, &bytes).unwrap();

    let mut store = open_with(dir.path(), &config);
    assert_eq!(store.recovery_report().problems.len(), 1);
    store.raise_floor("b", "s", 31).unwrap();
    assert_eq!(fs::read(&first).unwrap(), bytes, "kept as evidence");
    assert_eq!(segment_files(dir.path()).len(), 2);
}

#[test]
fn a_log_of_version_2_segments_still_opens() {
    let dir = tempfile::tempdir().unwrap();
    let log_dir = dir.path().join(LOG_DIR);
    fs::create_dir_all(&log_dir).unwrap();
    let old = log_dir.join(segment::file_name(1));
    let mut bytes = record::segment_header_of(2).to_vec();
    let written: Vec<Entry> = (1..=3)
        .map(|seq| Entry {
            seq,
            dot: dot(seq),
            ts_ms: 1_000 + seq,
            payload: payload(seq),
        })
        .collect();
    for entry in &written {
        bytes.extend(record::encode_record("b", "s", entry));
    }
    fs::write(&old, &bytes).unwrap();

    let mut store = open(dir.path());
    assert!(
        store.recovery_report().is_clean(),
        "{:?}",
        store.recovery_report()
    );
    assert_eq!(all(&mut store, "b", "s"), written);
    assert_eq!(store.append("b", "s", b"four").unwrap().seq, 4);
    assert_eq!(
        fs::read(&old).unwrap(),
        bytes,
        "a version-2 segment is not appended to"
    );
    let new = segment_files(dir.path()).pop().unwrap();
    assert_ne!(new, old);
    assert_eq!(
        fs::read(&new).unwrap()[..8],
        record::segment_header(),
        "new segments are of the current version"
    );
    store.raise_floor("b", "s", 3).unwrap();
    drop(store);

    let mut store = open(dir.path());
    assert!(store.recovery_report().is_clean());
    assert_eq!(seqs(&all(&mut store, "b", "s")), [3, 4]);
    store.raise_floor("b", "s", 4).unwrap();
    assert!(!old.exists(), "removed once nothing in it is live");
}

/// Appending and trimming at every write, as a stream with `keep_last` will be: the log
/// stays a few segments long, and a restart finds the same stream.
#[test]
fn a_stream_trimmed_at_every_write_keeps_a_short_log() {
    let dir = tempfile::tempdir().unwrap();
    let config = small_segments();
    let mut store = open_with(dir.path(), &config);
    for i in 1..=200 {
        store.append("b", "s", &payload(i)).unwrap();
        store.apply_policy("b", "s", &keep_last(5), 0).unwrap();
    }
    let files = segment_files(dir.path()).len();
    assert!(files <= 5, "{files} segments for 5 entries");
    let kept = all(&mut store, "b", "s");
    assert_eq!(seqs(&kept), [196, 197, 198, 199, 200]);
    drop(store);
    let mut store = open_with(dir.path(), &config);
    assert_eq!(all(&mut store, "b", "s"), kept);
    assert_eq!(store.floor("b", "s"), 196);
}

/// Many random appends, merges, raised floors, policies and restarts on a few streams with
/// tiny segments, checked against a plain model after every step: whatever segments are
/// removed, every stream reads back exactly the entries at or above its floor.
#[test]
fn random_operations_match_a_model() {
    use std::collections::{BTreeMap, HashMap};

    let dir = tempfile::tempdir().unwrap();
    let config = StoreConfig {
        cache_entries: 2,
        max_open_files: 3,
        ..small_segments()
    };
    let mut store = open_with(dir.path(), &config);
    // Per stream: its floor, and its entries by identity.
    let mut model: HashMap<&str, (u64, BTreeMap<EntryId, Entry>)> = HashMap::new();
    let streams = ["s0", "s1", "s2"];
    let mut state = 0x2545_f491_4f6c_dd1d_u64;
    let mut random = |below: u64| {
        // xorshift64: enough to vary the operations, the same at every run.
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state % below
    };
    for step in 0..3_000u64 {
        let stream = streams[random(3) as usize];
        let (floor, held) = model.entry(stream).or_insert((1, BTreeMap::new()));
        let last = held
            .keys()
            .last()
            .map_or(*floor - 1, |id| id.seq.max(*floor - 1));
        match random(10) {
            0..=4 => {
                let entry = store.append("b", stream, &payload(step)).unwrap();
                assert_eq!(entry.seq, last + 1, "step {step}");
                held.insert(entry.id(), entry);
            }
            5 | 6 => {
                let entry = Entry {
                    seq: 1 + random(last + 3),
                    dot: dot(step),
                    ts_ms: step,
                    payload: payload(step),
                };
                let stored = store.put_entry("b", stream, &entry).unwrap();
                assert_eq!(stored, entry.seq >= *floor, "step {step}: {entry:?}");
                if stored {
                    held.insert(entry.id(), entry);
                }
            }
            7 => {
                let to = (last + 2).saturating_sub(random(6));
                let before = held.len();
                let evicted = store.raise_floor("b", stream, to).unwrap();
                *floor = (*floor).max(to);
                held.retain(|id, _| id.seq >= *floor);
                assert_eq!(evicted.entries as usize, before - held.len(), "step {step}");
            }
            8 => {
                let keep = 1 + random(6);
                store
                    .apply_policy("b", stream, &keep_last(keep), 0)
                    .unwrap();
                if let Some(id) = held.keys().rev().nth(keep as usize - 1) {
                    *floor = (*floor).max(id.seq);
                }
                held.retain(|id, _| id.seq >= *floor);
            }
            _ => {
                drop(store);
                store = open_with(dir.path(), &config);
                assert!(store.recovery_report().is_clean(), "step {step}");
            }
        }
        for (&name, (floor, held)) in &model {
            let want: Vec<Entry> = held.values().cloned().collect();
            assert_eq!(all(&mut store, "b", name), want, "step {step}, {name}");
            assert_eq!(store.floor("b", name), *floor, "step {step}, {name}");
        }
    }
    let live: usize = model.values().map(|(_, held)| held.len()).sum();
    let files = segment_files(dir.path()).len();
    assert!(files <= live + 3, "{files} segments for {live} entries");
}
