//! Tests of the whole store through its public API, plus a few that poke at
//! the files behind its back to simulate crashes and corruption.

use std::fs;
use std::io;
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};

use super::*;

pub(super) fn open(dir: &Path) -> PartitionStore {
    PartitionStore::open(dir, StoreConfig::default()).unwrap()
}

pub(super) fn open_with(dir: &Path, config: &StoreConfig) -> PartitionStore {
    PartitionStore::open(dir, config.clone()).unwrap()
}

pub(super) fn small_segments() -> StoreConfig {
    StoreConfig {
        segment_bytes: 200,
        ..StoreConfig::default()
    }
}

pub(super) fn payload(i: u64) -> Vec<u8> {
    format!("message number {i}").into_bytes()
}

pub(super) fn seqs(entries: &[Entry]) -> Vec<u64> {
    entries.iter().map(|e| e.seq).collect()
}

pub(super) fn append_n(store: &mut PartitionStore, bucket: &str, stream: &str, n: u64) {
    for i in 1..=n {
        store.append(bucket, stream, &payload(i)).unwrap();
    }
}

/// Every segment file under `dir`, sorted by path.
pub(super) fn segment_files(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for item in fs::read_dir(dir).unwrap() {
            let path = item.unwrap().path();
            if path.is_dir() {
                pending.push(path);
            } else if path.extension().is_some_and(|ext| ext == "seg") {
                found.push(path);
            }
        }
    }
    found.sort();
    found
}

pub(super) fn file_len(path: &Path) -> u64 {
    fs::metadata(path).unwrap().len()
}

pub(super) fn truncate_to(path: &Path, len: u64) {
    fs::OpenOptions::new()
        .write(true)
        .open(path)
        .unwrap()
        .set_len(len)
        .unwrap();
}

fn append_bytes(path: &Path, bytes: &[u8]) {
    use std::io::Write;
    fs::OpenOptions::new()
        .append(true)
        .open(path)
        .unwrap()
        .write_all(bytes)
        .unwrap();
}

#[test]
fn append_then_read_back() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = open(dir.path());
    assert!(store.is_empty());
    let first = store.append("alice", "inbox", b"hello").unwrap();
    let second = store.append("alice", "inbox", b"world").unwrap();
    assert_eq!((first.seq, second.seq), (1, 2));
    assert!(
        first.ts_ms > 1_600_000_000_000,
        "timestamp is in ms since the epoch"
    );
    assert_eq!(
        store.read_from("alice", "inbox", 1, 10).unwrap(),
        vec![first, second]
    );
    assert_eq!(store.last_seq("alice", "inbox"), Some(2));
    assert_eq!((store.stream_count(), store.entry_count()), (1, 2));
    assert!(!store.is_empty());
}

#[test]
fn sequence_numbers_are_per_stream() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = open(dir.path());
    assert_eq!(store.append("a", "x", b"1").unwrap().seq, 1);
    assert_eq!(store.append("a", "y", b"1").unwrap().seq, 1);
    assert_eq!(store.append("b", "x", b"1").unwrap().seq, 1);
    assert_eq!(store.append("a", "x", b"2").unwrap().seq, 2);
    assert_eq!(store.last_seq("a", "y"), Some(1));
    assert_eq!(store.last_seq("a", "missing"), None);
    assert_eq!(store.last_seq("missing", "x"), None);
}

#[test]
fn read_from_edges() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = open_with(
        dir.path(),
        &StoreConfig {
            cache_entries: 3,
            ..StoreConfig::default()
        },
    );
    append_n(&mut store, "b", "s", 10);
    let all: Vec<u64> = (1..=10).collect();
    assert_eq!(seqs(&store.read_from("b", "s", 0, 100).unwrap()), all);
    assert_eq!(seqs(&store.read_from("b", "s", 1, 100).unwrap()), all);
    assert_eq!(
        seqs(&store.read_from("b", "s", 1, usize::MAX).unwrap()),
        all
    );
    assert_eq!(seqs(&store.read_from("b", "s", 4, 3).unwrap()), [4, 5, 6]);
    // Straddles the disk part and the cached part.
    assert_eq!(
        seqs(&store.read_from("b", "s", 6, 4).unwrap()),
        [6, 7, 8, 9]
    );
    assert_eq!(seqs(&store.read_from("b", "s", 10, 5).unwrap()), [10]);
    assert!(store.read_from("b", "s", 11, 5).unwrap().is_empty());
    assert!(store.read_from("b", "s", u64::MAX, 5).unwrap().is_empty());
    assert!(store.read_from("b", "s", 1, 0).unwrap().is_empty());
    assert!(store.read_from("b", "nope", 1, 5).unwrap().is_empty());
    let read = store.read_from("b", "s", 1, 100).unwrap();
    assert!(read.iter().all(|e| e.payload == payload(e.seq)));
}

#[test]
fn last_includes_the_newest_entry() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = open(dir.path());
    assert!(store.last("b", "s", 3).unwrap().is_empty());
    append_n(&mut store, "b", "s", 5);
    assert_eq!(seqs(&store.last("b", "s", 1).unwrap()), [5]);
    assert_eq!(seqs(&store.last("b", "s", 3).unwrap()), [3, 4, 5]);
    assert_eq!(seqs(&store.last("b", "s", 100).unwrap()), [1, 2, 3, 4, 5]);
    assert!(store.last("b", "s", 0).unwrap().is_empty());
    assert_eq!(store.last("b", "s", 1).unwrap()[0].payload, payload(5));
}

#[test]
fn last_beyond_the_cache_reads_disk() {
    let dir = tempfile::tempdir().unwrap();
    let config = StoreConfig {
        cache_entries: 4,
        segment_bytes: 300,
        ..StoreConfig::default()
    };
    let mut store = open_with(dir.path(), &config);
    append_n(&mut store, "b", "s", 20);
    let before = store.stats().disk_reads;
    let got = store.last("b", "s", 10).unwrap();
    assert_eq!(seqs(&got), (11..=20).collect::<Vec<_>>());
    assert!(got.iter().all(|e| e.payload == payload(e.seq)));
    assert!(store.stats().disk_reads > before);
    // Also right after a restart, when the cache was filled by recovery.
    drop(store);
    let mut store = open_with(dir.path(), &config);
    assert_eq!(store.last("b", "s", 20).unwrap().len(), 20);
    assert_eq!(seqs(&store.last("b", "s", 4).unwrap()), [17, 18, 19, 20]);
}

#[test]
fn cache_serves_without_disk() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = open(dir.path()); // caches 64 entries per stream
    append_n(&mut store, "b", "s", 100);
    let before = store.stats().disk_reads;
    // Remove the files behind the store's back: the cache must not care.
    fs::remove_dir_all(dir.path().join(LOG_DIR)).unwrap();
    assert_eq!(seqs(&store.last("b", "s", 1).unwrap()), [100]);
    assert_eq!(store.last("b", "s", 64).unwrap().len(), 64);
    assert_eq!(
        seqs(&store.read_from("b", "s", 90, 3).unwrap()),
        [90, 91, 92]
    );
    assert_eq!(store.stats().disk_reads, before);
}

#[test]
fn cache_is_filled_by_recovery() {
    let dir = tempfile::tempdir().unwrap();
    append_n(&mut open(dir.path()), "b", "s", 10);
    let mut store = open(dir.path());
    assert_eq!(store.last("b", "s", 10).unwrap().len(), 10);
    assert_eq!(store.stats().disk_reads, 0);
}

#[test]
fn many_streams_in_one_partition() {
    let dir = tempfile::tempdir().unwrap();
    let config = StoreConfig {
        max_open_files: 16,
        ..StoreConfig::default()
    };
    let mut store = open_with(dir.path(), &config);
    let name = |i: usize| (format!("user{}", i % 20), format!("topic{i:04}"));
    for round in 1..=2u64 {
        for i in 0..2_000 {
            let (bucket, stream) = name(i);
            assert_eq!(
                store.append(&bucket, &stream, &payload(round)).unwrap().seq,
                round
            );
        }
    }
    assert!(store.stats().open_files <= 16);
    assert_eq!((store.stream_count(), store.entry_count()), (2_000, 4_000));
    drop(store);

    let mut store = open_with(dir.path(), &config);
    assert!(store.recovery_report().is_clean());
    assert_eq!(
        (
            store.recovery_report().streams,
            store.recovery_report().entries
        ),
        (2_000, 4_000)
    );
    assert_eq!(store.list_buckets().len(), 20);
    let streams = store.list_streams("user7");
    assert_eq!(streams.len(), 100);
    assert!(streams.windows(2).all(|w| w[0] < w[1]));
    for i in (0..2_000).step_by(97) {
        let (bucket, stream) = name(i);
        assert_eq!(
            seqs(&store.read_from(&bucket, &stream, 0, 10).unwrap()),
            [1, 2]
        );
        assert_eq!(store.append(&bucket, &stream, b"third").unwrap().seq, 3);
    }
}

#[test]
fn segments_roll_and_reads_cross_them() {
    let dir = tempfile::tempdir().unwrap();
    let config = StoreConfig {
        cache_entries: 2,
        ..small_segments()
    };
    let mut store = open_with(dir.path(), &config);
    append_n(&mut store, "b", "s", 50);
    let files = segment_files(dir.path());
    assert!(
        files.len() > 5,
        "expected many segments, got {}",
        files.len()
    );
    assert!(files.iter().all(|f| file_len(f) <= 200));
    let all = store.read_from("b", "s", 1, usize::MAX).unwrap();
    assert_eq!(seqs(&all), (1..=50).collect::<Vec<_>>());
    assert!(all.iter().all(|e| e.payload == payload(e.seq)));
    drop(store);

    let mut store = open_with(dir.path(), &config);
    assert_eq!(
        seqs(&store.read_from("b", "s", 17, 20).unwrap()),
        (17..=36).collect::<Vec<_>>()
    );
    assert_eq!(store.append("b", "s", b"more").unwrap().seq, 51);
}

#[test]
fn a_record_larger_than_a_segment_gets_its_own() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = open_with(dir.path(), &small_segments());
    store.append("b", "s", b"small").unwrap();
    store.append("b", "s", &[7; 1000]).unwrap();
    store.append("b", "s", b"small again").unwrap();
    drop(store);
    let mut store = open_with(dir.path(), &small_segments());
    assert_eq!(
        store.read_from("b", "s", 2, 1).unwrap()[0].payload,
        vec![7; 1000]
    );
    assert_eq!(segment_files(dir.path()).len(), 3);
}

#[test]
fn put_entry_is_idempotent_and_accepts_any_order() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = open_with(
        dir.path(),
        &StoreConfig {
            cache_entries: 2,
            ..StoreConfig::default()
        },
    );
    let entry = |seq: u64| Entry {
        seq,
        dot: dot(seq),
        ts_ms: 1_000 + seq,
        payload: payload(seq),
    };
    assert!(store.put_entry("b", "s", &entry(5)).unwrap());
    assert!(store.put_entry("b", "s", &entry(3)).unwrap());
    assert!(store.put_entry("b", "s", &entry(4)).unwrap());
    assert!(!store.put_entry("b", "s", &entry(5)).unwrap());
    let changed = Entry {
        payload: b"other".to_vec(),
        ..entry(3)
    };
    assert!(
        !store.put_entry("b", "s", &changed).unwrap(),
        "an entry is known by its number and dot: the first copy wins"
    );
    assert_eq!(
        store.read_from("b", "s", 0, 10).unwrap(),
        vec![entry(3), entry(4), entry(5)]
    );
    assert_eq!(seqs(&store.last("b", "s", 2).unwrap()), [4, 5]);
    assert_eq!(store.append("b", "s", b"next").unwrap().seq, 6);
    assert!(store.put_entry("b", "s", &entry(1)).unwrap());
    drop(store);

    let mut store = open(dir.path());
    assert_eq!(
        seqs(&store.read_from("b", "s", 0, 10).unwrap()),
        [1, 3, 4, 5, 6]
    );
    assert!(!store.put_entry("b", "s", &entry(4)).unwrap());
    assert_eq!(seqs(&store.last("b", "s", 2).unwrap()), [5, 6]);
    assert_eq!(store.read_from("b", "s", 3, 1).unwrap(), vec![entry(3)]);
}

#[test]
fn append_at_least_skips_past_numbers_seen_elsewhere() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = open(dir.path());
    let first = store.append_at_least("b", "s", b"a".to_vec(), 0).unwrap();
    assert_eq!(first.seq, 1);
    // Another replica reported 9: the next entry is 10, and the one after follows on.
    assert_eq!(
        store
            .append_at_least("b", "s", b"b".to_vec(), 10)
            .unwrap()
            .seq,
        10
    );
    assert_eq!(
        store
            .append_at_least("b", "s", b"c".to_vec(), 2)
            .unwrap()
            .seq,
        11
    );
    assert_eq!(store.append("b", "s", b"d").unwrap().seq, 12);
    assert_eq!(
        seqs(&store.read_from("b", "s", 0, usize::MAX).unwrap()),
        [1, 10, 11, 12]
    );
    assert_eq!(seqs(&store.read_from("b", "s", 5, 2).unwrap()), [10, 11]);
}

#[test]
fn invalid_writes_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = open(dir.path());
    let zero = Entry {
        seq: 0,
        dot: dot(0),
        ts_ms: 0,
        payload: Vec::new(),
    };
    assert_eq!(
        store.put_entry("b", "s", &zero).unwrap_err().kind(),
        io::ErrorKind::InvalidInput
    );
    let huge = vec![0; MAX_PAYLOAD_BYTES + 1];
    assert_eq!(
        store.append("b", "s", &huge).unwrap_err().kind(),
        io::ErrorKind::InvalidInput
    );
    let long_name = "x".repeat(MAX_NAME_BYTES + 1);
    assert_eq!(
        store.append(&long_name, "s", b"").unwrap_err().kind(),
        io::ErrorKind::InvalidInput
    );
    assert_eq!(
        store.append("b", &long_name, b"").unwrap_err().kind(),
        io::ErrorKind::InvalidInput
    );
    let last = Entry {
        seq: u64::MAX,
        dot: dot(1),
        ts_ms: 0,
        payload: Vec::new(),
    };
    assert!(store.put_entry("b", "s", &last).unwrap());
    assert_eq!(
        store.append("b", "s", b"").unwrap_err().kind(),
        io::ErrorKind::InvalidInput
    );
    assert!(store.is_empty() || store.entry_count() == 1);
}

#[test]
fn restart_recovers_everything() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = open_with(dir.path(), &small_segments());
    append_n(&mut store, "alice", "inbox", 30);
    append_n(&mut store, "bob", "inbox", 3);
    let before = store.read_from("alice", "inbox", 0, usize::MAX).unwrap();
    store.close().unwrap();

    let mut store = open_with(dir.path(), &small_segments());
    assert!(
        store.recovery_report().is_clean(),
        "{:?}",
        store.recovery_report()
    );
    assert_eq!(
        store.read_from("alice", "inbox", 0, usize::MAX).unwrap(),
        before
    );
    assert_eq!(store.append("alice", "inbox", b"again").unwrap().seq, 31);
    assert_eq!(store.append("bob", "inbox", b"again").unwrap().seq, 4);
    assert_eq!(store.list_buckets(), ["alice", "bob"]);
}

/// Writes `n` entries to ("b", "s") and returns the single segment file and
/// the offset where the last record starts.
fn one_segment_with(dir: &Path, n: u64) -> (PathBuf, u64) {
    let mut store = open(dir);
    append_n(&mut store, "b", "s", n - 1);
    let file = segment_files(dir).pop().unwrap();
    let last_start = file_len(&file);
    store.append("b", "s", &payload(n)).unwrap();
    drop(store);
    (file, last_start)
}

/// After damage to the last record of a 5-entry stream: four entries are
/// served, the damage was cut off, and appending works across restarts.
fn assert_recovered_to_four(dir: &Path, file: &Path, last_start: u64, damage: Damage) {
    let mut store = open(dir);
    let report = store.recovery_report().clone();
    assert_eq!(report.problems.len(), 1, "{report:?}");
    let problem = &report.problems[0];
    assert_eq!(
        (problem.damage, problem.repair, problem.offset),
        (damage, Repair::Truncated, last_start)
    );
    assert_eq!(report.total_truncated_bytes(), problem.bytes);
    assert_eq!(
        file_len(file),
        last_start,
        "the torn tail is cut off the file"
    );
    assert_eq!(
        seqs(&store.read_from("b", "s", 0, 10).unwrap()),
        [1, 2, 3, 4]
    );
    assert_eq!(seqs(&store.last("b", "s", 1).unwrap()), [4]);
    assert_eq!(store.append("b", "s", b"after repair").unwrap().seq, 5);
    drop(store);

    let mut store = open(dir);
    assert!(
        store.recovery_report().is_clean(),
        "{:?}",
        store.recovery_report()
    );
    let entries = store.read_from("b", "s", 0, 10).unwrap();
    assert_eq!(seqs(&entries), [1, 2, 3, 4, 5]);
    assert_eq!(entries[4].payload, b"after repair");
}

#[test]
fn torn_tail_is_truncated() {
    let dir = tempfile::tempdir().unwrap();
    let (file, last_start) = one_segment_with(dir.path(), 5);
    truncate_to(&file, last_start + 11);
    assert_recovered_to_four(dir.path(), &file, last_start, Damage::ShortRecord);
}

#[test]
fn garbage_after_the_last_record_is_truncated() {
    let dir = tempfile::tempdir().unwrap();
    let (file, _) = one_segment_with(dir.path(), 4);
    let end = file_len(&file);
    // A plausible length (0x24, the bytes that follow the checksum) followed by bytes whose
    // checksum cannot match.
    let garbage = b"\x24\0\0\0garbage garbage garbage garbage garbage!";
    append_bytes(&file, garbage);
    let mut store = open(dir.path());
    assert_eq!(
        store.recovery_report().problems[0].damage,
        Damage::BadChecksum
    );
    assert_eq!(
        store.recovery_report().total_truncated_bytes(),
        garbage.len() as u64
    );
    assert_eq!(file_len(&file), end);
    assert_eq!(
        seqs(&store.read_from("b", "s", 0, 10).unwrap()),
        [1, 2, 3, 4]
    );
    assert_eq!(store.append("b", "s", b"x").unwrap().seq, 5);
}

#[test]
fn zeroed_tail_is_truncated() {
    let dir = tempfile::tempdir().unwrap();
    let (file, _) = one_segment_with(dir.path(), 3);
    append_bytes(&file, &[0; 4096]);
    let store = open(dir.path());
    assert_eq!(store.recovery_report().total_truncated_bytes(), 4096);
    assert_eq!(store.last_seq("b", "s"), Some(3));
}

#[test]
fn bad_checksum_in_the_last_record_is_truncated() {
    let dir = tempfile::tempdir().unwrap();
    let (file, last_start) = one_segment_with(dir.path(), 5);
    let mut bytes = fs::read(&file).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0x01; // flip a bit of the last payload byte
    fs::write(&file, bytes).unwrap();
    assert_recovered_to_four(dir.path(), &file, last_start, Damage::BadChecksum);
}

#[test]
fn torn_segment_header_is_removed() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = open_with(dir.path(), &small_segments());
    append_n(&mut store, "b", "s", 20);
    drop(store);
    // Simulate a crash right after creating the next segment file.
    let newest = segment_files(dir.path()).pop().unwrap();
    let number = segment::parse_file_name(newest.file_name().unwrap().to_str().unwrap()).unwrap();
    let torn = newest.with_file_name(segment::file_name(number + 1));
    fs::write(&torn, b"RC").unwrap();

    let mut store = open_with(dir.path(), &small_segments());
    let problems = &store.recovery_report().problems;
    assert_eq!(
        (problems.len(), problems[0].damage, problems[0].bytes),
        (1, Damage::ShortHeader, 2)
    );
    assert!(!torn.exists());
    assert_eq!(store.append("b", "s", b"x").unwrap().seq, 21);
    assert_eq!(store.read_from("b", "s", 0, 100).unwrap().len(), 21);
}

#[test]
fn corruption_in_an_older_segment_keeps_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = open_with(dir.path(), &small_segments());
    append_n(&mut store, "b", "s", 40);
    drop(store);
    let files = segment_files(dir.path());
    assert!(files.len() >= 3);
    // Flip a byte in the second record of the first segment.
    let mut bytes = fs::read(&files[0]).unwrap();
    let first_record_len = record::record_len("b", "s", payload(1).len());
    let target = record::SEGMENT_HEADER_LEN as usize + first_record_len + 20;
    bytes[target] ^= 0xff;
    fs::write(&files[0], &bytes).unwrap();
    let first_segment_len = bytes.len() as u64;

    let mut store = open_with(dir.path(), &small_segments());
    let problems = store.recovery_report().problems.clone();
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert_eq!(
        (problems[0].repair, problems[0].damage),
        (Repair::Ignored, Damage::BadChecksum)
    );
    assert_eq!(
        file_len(&files[0]),
        first_segment_len,
        "old segments are never cut"
    );
    let got = seqs(&store.read_from("b", "s", 0, usize::MAX).unwrap());
    assert_eq!(got[0], 1);
    assert!(!got.contains(&2));
    assert_eq!(*got.last().unwrap(), 40);
    assert_eq!(store.append("b", "s", b"x").unwrap().seq, 41);
}

#[test]
fn foreign_segment_is_left_alone_and_appends_go_elsewhere() {
    let dir = tempfile::tempdir().unwrap();
    append_n(&mut open(dir.path()), "b", "s", 3);
    let log_dir = dir.path().join(LOG_DIR);
    let foreign = log_dir.join(segment::file_name(2));
    fs::write(&foreign, b"this is not a segment at all").unwrap();
    fs::write(log_dir.join("notes.txt"), b"hello").unwrap();
    fs::write(dir.path().join("README"), b"hello").unwrap();

    let mut store = open(dir.path());
    let report = store.recovery_report().clone();
    assert_eq!(report.problems.len(), 1);
    assert_eq!(
        (report.problems[0].damage, report.problems[0].repair),
        (Damage::BadMagic, Repair::Ignored)
    );
    assert_eq!(report.ignored_paths.len(), 2);
    assert_eq!(store.append("b", "s", b"x").unwrap().seq, 4);
    drop(store);
    assert_eq!(fs::read(&foreign).unwrap(), b"this is not a segment at all");
    assert!(log_dir.join(segment::file_name(3)).exists());
    assert_eq!(
        open(dir.path()).read_from("b", "s", 0, 10).unwrap().len(),
        4
    );
}

#[test]
fn unsupported_format_version_refuses_to_open() {
    let dir = tempfile::tempdir().unwrap();
    let (file, _) = one_segment_with(dir.path(), 2);
    let mut bytes = fs::read(&file).unwrap();
    bytes[4] = 99;
    fs::write(&file, bytes).unwrap();
    let err = PartitionStore::open(dir.path(), StoreConfig::default()).unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::InvalidData);
    assert!(
        err.to_string().contains(&file.display().to_string()),
        "{err}"
    );
}

#[test]
fn fold_visits_everything_in_order_and_can_stop() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = open_with(
        dir.path(),
        &StoreConfig {
            cache_entries: 1,
            ..small_segments()
        },
    );
    append_n(&mut store, "b", "z", 2);
    append_n(&mut store, "a", "y", 300);
    append_n(&mut store, "b", "a", 1);
    append_n(&mut store, "a", "x", 2);
    let mut seen = Vec::new();
    store
        .fold(&mut |bucket, stream, entry| {
            seen.push((bucket.to_owned(), stream.to_owned(), entry.seq));
            ControlFlow::Continue(())
        })
        .unwrap();
    let mut expected = Vec::new();
    for (bucket, stream, n) in [("a", "x", 2), ("a", "y", 300), ("b", "a", 1), ("b", "z", 2)] {
        expected.extend((1..=n).map(|seq| (bucket.to_owned(), stream.to_owned(), seq)));
    }
    assert_eq!(seen, expected);

    let mut count = 0;
    store
        .fold(&mut |_, _, _| {
            count += 1;
            if count == 5 {
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(())
            }
        })
        .unwrap();
    assert_eq!(count, 5);
}

#[test]
fn delete_removes_the_directory() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("partition-42");
    let mut store = open(&root);
    append_n(&mut store, "b", "s", 3);
    store.delete().unwrap();
    assert!(!root.exists());
    assert!(store.is_empty() && store.list_buckets().is_empty());
    assert!(store.read_from("b", "s", 0, 10).unwrap().is_empty());
    store.delete().unwrap(); // deleting twice is fine

    // Still usable afterwards, starting from scratch.
    assert_eq!(store.append("b", "s", b"new life").unwrap().seq, 1);
    drop(store);
    assert_eq!(open(&root).entry_count(), 1);
}

#[test]
fn weird_names_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let names = [
        "../etc",
        "a/b",
        "",
        ".",
        "..",
        "café",
        "CON",
        "con",
        "with space",
        "Alice",
        "alice",
        "日本",
    ];
    let mut store = open(dir.path());
    for bucket in names {
        for stream in names {
            store
                .append(bucket, stream, format!("{bucket}|{stream}").as_bytes())
                .unwrap();
        }
    }
    drop(store);
    assert_eq!(
        fs::read_dir(dir.path()).unwrap().count(),
        2,
        "names are inside records: only LOCK and log/ on disk"
    );
    assert_eq!(segment_files(dir.path()).len(), 1);
    assert!(!dir.path().parent().unwrap().join("etc").exists());

    let mut store = open(dir.path());
    assert!(store.recovery_report().is_clean());
    let mut sorted: Vec<String> = names.iter().map(|n| n.to_string()).collect();
    sorted.sort();
    assert_eq!(store.list_buckets(), sorted);
    assert_eq!(store.list_streams("../etc"), sorted);
    for bucket in names {
        for stream in names {
            let got = store.last(bucket, stream, 1).unwrap();
            assert_eq!(got[0].payload, format!("{bucket}|{stream}").as_bytes());
        }
    }
}

#[test]
fn a_second_store_on_the_same_directory_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let err = PartitionStore::open(dir.path(), StoreConfig::default()).unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::WouldBlock);
    drop(store);
    open(dir.path());
}

#[test]
fn fsync_durability_round_trips() {
    let dir = tempfile::tempdir().unwrap();
    let config = StoreConfig {
        durability: Durability::Fsync,
        ..small_segments()
    };
    let mut store = open_with(dir.path(), &config);
    append_n(&mut store, "b", "s", 12);
    store.flush().unwrap();
    drop(store);
    assert_eq!(open_with(dir.path(), &config).last_seq("b", "s"), Some(12));
}

#[test]
fn few_open_files_many_segments() {
    let dir = tempfile::tempdir().unwrap();
    let config = StoreConfig {
        max_open_files: 2,
        cache_entries: 0,
        ..small_segments()
    };
    let mut store = open_with(dir.path(), &config);
    for i in 1..=30 {
        for stream in ["s1", "s2", "s3", "s4"] {
            assert_eq!(store.append("b", stream, &payload(i)).unwrap().seq, i);
        }
    }
    assert!(store.stats().open_files <= 2);
    for stream in ["s1", "s2", "s3", "s4"] {
        let all = store.read_from("b", stream, 0, usize::MAX).unwrap();
        assert_eq!(seqs(&all), (1..=30).collect::<Vec<_>>());
        assert_eq!(seqs(&store.last("b", stream, 2).unwrap()), [29, 30]);
    }
    store.flush().unwrap();
    assert!(store.stats().open_files <= 2);
}

#[test]
fn an_empty_log_lists_nothing() {
    let dir = tempfile::tempdir().unwrap();
    drop(open(dir.path()));
    let log_dir = dir.path().join(LOG_DIR);
    fs::create_dir_all(&log_dir).unwrap();
    fs::write(
        log_dir.join(segment::file_name(1)),
        record::segment_header(),
    )
    .unwrap();
    let mut store = open(dir.path());
    assert!(store.recovery_report().is_clean());
    assert!(store.list_buckets().is_empty() && store.list_streams("b").is_empty());
    assert_eq!(store.stream_count(), 0);
    assert_eq!(store.append("b", "s", b"x").unwrap().seq, 1);
    assert_eq!(store.list_streams("b"), ["s"]);
    drop(store);
    // The header-only segment received the append: no new file.
    assert_eq!(segment_files(dir.path()).len(), 1);
}

#[test]
fn no_directory_until_the_first_write() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("partition-7");
    let mut store = open(&root);
    assert!(store.read_from("b", "s", 0, 10).unwrap().is_empty());
    assert!(!root.exists());
    store.append("b", "s", b"x").unwrap();
    assert!(root.join(LOCK_FILE).exists());
    assert_eq!(segment_files(&root).len(), 1);
}

#[test]
fn streams_share_one_log_file() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = open_with(
        dir.path(),
        &StoreConfig {
            cache_entries: 0,
            ..StoreConfig::default()
        },
    );
    for i in 1..=10 {
        for stream in ["a", "b", "c"] {
            store.append("x", stream, &payload(i)).unwrap();
        }
    }
    assert_eq!(segment_files(dir.path()).len(), 1);
    assert_eq!(store.stats().open_files, 1);
    for stream in ["a", "b", "c"] {
        let got = store.read_from("x", stream, 3, 4).unwrap();
        assert_eq!(seqs(&got), [3, 4, 5, 6]);
        assert!(got.iter().all(|e| e.payload == payload(e.seq)));
    }
}

#[test]
fn longest_names_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let long = "é".repeat(MAX_NAME_BYTES / 2); // 65,534 bytes
    let mut store = open(dir.path());
    store.append(&long, &long, b"far").unwrap();
    drop(store);
    let mut store = open(dir.path());
    assert_eq!(store.last(&long, &long, 1).unwrap()[0].payload, b"far");
}

#[test]
fn a_duplicate_entry_in_a_later_segment_is_ignored() {
    let dir = tempfile::tempdir().unwrap();
    let entry = |seq: u64, payload: &[u8]| Entry {
        seq,
        dot: dot(seq),
        ts_ms: 1_000 + seq,
        payload: payload.to_vec(),
    };
    let mut store = open(dir.path());
    store.put_entry("b", "s", &entry(1, b"first")).unwrap();
    drop(store);
    // A second segment repeating entry 1 (a replayed write), then entry 2.
    let mut bytes = record::segment_header().to_vec();
    bytes.extend(record::encode_record("b", "s", &entry(1, b"second")));
    let duplicate_len = bytes.len() as u64 - record::SEGMENT_HEADER_LEN;
    bytes.extend(record::encode_record("b", "s", &entry(2, b"two")));
    let second = dir.path().join(LOG_DIR).join(segment::file_name(2));
    fs::write(&second, bytes).unwrap();

    let mut store = open(dir.path());
    let problems = store.recovery_report().problems.clone();
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert_eq!(
        (problems[0].damage, problems[0].repair),
        (Damage::DuplicateEntry(1), Repair::Ignored)
    );
    assert_eq!(
        (problems[0].bucket.as_str(), problems[0].stream.as_str()),
        ("b", "s")
    );
    assert_eq!(
        (problems[0].offset, problems[0].bytes),
        (record::SEGMENT_HEADER_LEN, duplicate_len)
    );
    assert_eq!(
        store.read_from("b", "s", 0, 10).unwrap(),
        vec![entry(1, b"first"), entry(2, b"two")]
    );
    assert_eq!(store.append("b", "s", b"3").unwrap().seq, 3);
}

#[test]
fn a_store_can_move_to_another_thread() {
    fn assert_send<T: Send>() {}
    assert_send::<PartitionStore>();
}

/// A dot of a store that is not the one under test.
pub(super) fn dot(counter: u64) -> Dot {
    Dot {
        actor: 0x5eed,
        counter,
    }
}

#[test]
fn appends_get_dots_of_their_own() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = open(dir.path());
    let a = store.append("b", "s", b"a").unwrap();
    let b = store.append("b", "other", b"b").unwrap();
    assert_eq!(a.dot.actor, b.dot.actor, "one store, one actor");
    assert_ne!(a.dot, b.dot, "every append has a dot of its own");
    drop(store);
    let mut reopened = open(dir.path());
    let c = reopened.append("b", "s", b"c").unwrap();
    assert_ne!(
        c.dot.actor, a.dot.actor,
        "a store opened again is a new actor"
    );
    assert_eq!(
        reopened.read_from("b", "s", 0, 10).unwrap(),
        vec![a, c],
        "dots survive a restart"
    );
}

#[test]
fn entries_sharing_a_number_are_all_kept_in_dot_order() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = open_with(
        dir.path(),
        &StoreConfig {
            cache_entries: 1,
            ..StoreConfig::default()
        },
    );
    let at = |seq: u64, actor: u64, text: &str| Entry {
        seq,
        dot: Dot { actor, counter: 1 },
        ts_ms: 7,
        payload: text.as_bytes().to_vec(),
    };
    // Two coordinators numbered #2 at once; a third wrote #1 and #3.
    let written = [
        at(2, 9, "two from 9"),
        at(1, 5, "one"),
        at(2, 4, "two from 4"),
        at(3, 5, "three"),
    ];
    for entry in &written {
        assert!(store.put_entry("b", "s", entry).unwrap(), "{entry:?}");
        assert!(!store.put_entry("b", "s", entry).unwrap(), "stored once");
    }
    let ordered = vec![
        written[1].clone(),
        written[2].clone(),
        written[0].clone(),
        written[3].clone(),
    ];
    assert_eq!(store.read_from("b", "s", 0, 10).unwrap(), ordered);
    // A page of 2 from #1 would end inside #2: it takes all of #2, so `from=3` skips none.
    assert_eq!(store.read_from("b", "s", 1, 2).unwrap(), ordered[..3]);
    assert_eq!(store.read_from("b", "s", 2, 1).unwrap(), ordered[1..3]);
    assert_eq!(store.last("b", "s", 2).unwrap(), ordered[2..]);
    assert_eq!(store.append("b", "s", b"next").unwrap().seq, 4);
    let ids = store.ids("b", "s");
    assert_eq!(ids.len(), 5);
    assert_eq!(
        store.get("b", "s", &[ids[2], ids[1], ids[2]]).unwrap(),
        ordered[1..3],
        "get returns each entry asked for once, in order"
    );
    drop(store);
    let mut store = open(dir.path());
    assert_eq!(store.read_from("b", "s", 0, 4).unwrap(), ordered);
}

#[test]
fn summaries_depend_on_the_entries_not_on_their_arrival() {
    let (one, two) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (mut first, mut second) = (open(one.path()), open(two.path()));
    let entries: Vec<Entry> = (1..=20)
        .map(|seq| Entry {
            seq,
            dot: dot(seq),
            ts_ms: seq,
            payload: payload(seq),
        })
        .collect();
    for entry in &entries {
        first.put_entry("b", "s", entry).unwrap();
    }
    for entry in entries.iter().rev() {
        second.put_entry("b", "s", entry).unwrap();
    }
    let summary = |store: &PartitionStore| store.summaries().map(|s| s.summary).collect::<Vec<_>>();
    assert_eq!(summary(&first), summary(&second));
    assert_eq!(summary(&first)[0].entries, 20);
    let extra = Entry {
        dot: dot(99),
        ..entries[4].clone()
    };
    second.put_entry("b", "s", &extra).unwrap();
    assert_ne!(summary(&first), summary(&second), "one more entry shows");
    first.put_entry("b", "s", &extra).unwrap();
    assert_eq!(summary(&first), summary(&second));
    drop(first);
    assert_eq!(
        summary(&open(one.path())),
        summary(&second),
        "and a restart keeps it"
    );
}

#[test]
fn summaries_carry_each_streams_place_on_the_ring() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = open(dir.path());
    store.append("alice", "inbox", b"hello").unwrap();
    store.append("bob", "outbox", b"hi").unwrap();
    let places = |store: &PartitionStore| {
        let mut found: Vec<(String, KeyHash)> = store
            .summaries()
            .map(|s| (format!("{}/{}", s.bucket, s.stream), *s.key_hash))
            .collect();
        found.sort();
        found
    };
    let want = vec![
        (
            "alice/inbox".to_string(),
            crate::ring::hash::chash_key(b"alice", b"inbox"),
        ),
        (
            "bob/outbox".to_string(),
            crate::ring::hash::chash_key(b"bob", b"outbox"),
        ),
    ];
    assert_eq!(places(&store), want);
    drop(store);
    assert_eq!(places(&open(dir.path())), want, "recovery hashes them too");
}
