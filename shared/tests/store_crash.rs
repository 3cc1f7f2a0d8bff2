//! Crash tests for the partition store, with real processes.
//!
//! `sigkill_loses_no_acknowledged_entry` runs this very test binary a second
//! time as a child process (selecting only `writer_child` with `--exact`),
//! lets it append as fast as it can, kills it with SIGKILL in the middle of
//! its writes and checks that every entry the child reported as written is
//! there after recovery.
//!
//! `torn_write_at_every_offset` fabricates the crash instead: it cuts the
//! last record of the partition log at every possible byte and checks each time
//! that recovery drops exactly that record.

use std::fs;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use ringcore::store::{Damage, Durability, Entry, PartitionStore, Repair, StoreConfig};

/// Set in the child's environment to the directory it must write to.
const WRITER_DIR_ENV: &str = "STOREDEV_CRASH_WRITER_DIR";
/// Acknowledgements the parent waits for before killing the child.
const ACKS_BEFORE_KILL: u64 = 2_000;
const BUCKET: &str = "crash";
const STREAM: &str = "log";

/// Config shared by the child and the parent: small segments, so that the
/// child also rolls segments while it is being killed.
fn config() -> StoreConfig {
    StoreConfig {
        segment_bytes: 64 * 1024,
        durability: Durability::Buffered,
        ..StoreConfig::default()
    }
}

/// The payload of entry `seq`: its number and a seq-dependent length, so a
/// misplaced or damaged entry is noticed.
fn expected_payload(seq: u64) -> Vec<u8> {
    let mut payload = format!("entry {seq} ").into_bytes();
    payload.resize(payload.len() + (seq % 97) as usize, b'a' + (seq % 26) as u8);
    payload
}

/// The writer, run only as the child of `sigkill_loses_no_acknowledged_entry`
/// (hence ignored: on its own it is not a test). It appends forever,
/// printing `ACK <seq>` after each append has returned.
#[test]
#[ignore = "the child process of sigkill_loses_no_acknowledged_entry"]
fn writer_child() {
    let dir = std::env::var_os(WRITER_DIR_ENV).expect("run by sigkill_loses_no_acknowledged_entry");
    let mut store = PartitionStore::open(PathBuf::from(dir), config()).expect("child: open");
    let stdout = std::io::stdout();
    // Stop on our own if the parent never kills us (it died, say).
    let give_up = Instant::now() + Duration::from_secs(60);
    while Instant::now() < give_up {
        let seq = store.last_seq(BUCKET, STREAM).unwrap_or(0) + 1;
        let entry = store
            .append(BUCKET, STREAM, &expected_payload(seq))
            .expect("child: append");
        assert_eq!(entry.seq, seq);
        let mut out = stdout.lock();
        writeln!(out, "ACK {seq}").expect("child: stdout");
        out.flush().expect("child: flush stdout");
    }
}

#[test]
fn sigkill_loses_no_acknowledged_entry() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "writer_child",
            "--exact",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(WRITER_DIR_ENV, dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit()) // shows the child's panic, if any
        .spawn()
        .unwrap();

    // Read acknowledgements on a thread, so the parent can wait with a deadline.
    let stdout = child.stdout.take().unwrap();
    let (acks_tx, acks) = mpsc::channel();
    let reader = thread::spawn(move || read_acks(stdout, acks_tx));

    let deadline = Instant::now() + Duration::from_secs(20);
    let mut acked = 0;
    while acked < ACKS_BEFORE_KILL {
        let left = deadline.saturating_duration_since(Instant::now());
        match acks.recv_timeout(left) {
            Ok(seq) => acked = seq,
            Err(err) => {
                let _ = child.kill();
                panic!("child stopped acknowledging after {acked} entries: {err}");
            }
        }
    }
    child.kill().unwrap(); // SIGKILL on Unix: no destructor, no flush runs
    child.wait().unwrap();
    // Acks still in the pipe were acknowledged before the kill: count them.
    reader.join().unwrap();
    acked = acked.max(acks.try_iter().max().unwrap_or(0));

    let mut store = PartitionStore::open(dir.path(), config()).unwrap();
    let report = store.recovery_report().clone();
    assert!(
        report
            .problems
            .iter()
            .all(|p| p.repair == Repair::Truncated),
        "{report:?}"
    );
    let last = store.last_seq(BUCKET, STREAM).unwrap();
    assert!(
        last >= acked,
        "acknowledged {acked} entries, recovered only {last}"
    );
    // Every entry on disk is complete and in place, the unacknowledged one
    // being written at the kill included, if it made it.
    let entries = store.read_from(BUCKET, STREAM, 1, usize::MAX).unwrap();
    assert_eq!(
        entries.len() as u64,
        last,
        "sequence numbers are contiguous"
    );
    for (i, entry) in entries.iter().enumerate() {
        assert_eq!(entry.seq, i as u64 + 1);
        assert_eq!(
            entry.payload,
            expected_payload(entry.seq),
            "entry {}",
            entry.seq
        );
    }

    // Life goes on after the crash, and survives another restart.
    assert_eq!(
        store
            .append(BUCKET, STREAM, b"after the crash")
            .unwrap()
            .seq,
        last + 1
    );
    drop(store);
    let mut store = PartitionStore::open(dir.path(), config()).unwrap();
    assert!(
        store.recovery_report().is_clean(),
        "{:?}",
        store.recovery_report()
    );
    assert_eq!(
        store.last(BUCKET, STREAM, 1).unwrap()[0].payload,
        b"after the crash"
    );
}

/// Forwards the sequence numbers of complete `ACK <seq>` lines. A line cut
/// by the kill (no newline) is not an acknowledgement.
fn read_acks(stdout: impl std::io::Read, acks: mpsc::Sender<u64>) {
    let mut reader = BufReader::new(stdout);
    let mut line = String::new();
    while reader.read_line(&mut line).unwrap_or(0) > 0 {
        let complete = line.strip_suffix('\n');
        if let Some(seq) = complete
            .and_then(|l| l.strip_prefix("ACK "))
            .and_then(|n| n.parse().ok())
            && acks.send(seq).is_err()
        {
            return;
        }
        line.clear();
    }
}

/// The only segment file of the partition log.
fn only_segment(dir: &Path) -> PathBuf {
    let log_dir = dir.join("log");
    let mut files: Vec<PathBuf> = fs::read_dir(log_dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
    files.pop().unwrap()
}

#[test]
fn torn_write_at_every_offset() {
    let dir = tempfile::tempdir().unwrap();
    let entry = |seq: u64| Entry {
        seq,
        dot: ringcore::store::Dot {
            actor: 42,
            counter: seq,
        },
        ts_ms: 1_700_000_000_000 + seq,
        payload: expected_payload(seq),
    };
    let mut store = PartitionStore::open(dir.path(), StoreConfig::default()).unwrap();
    for seq in 1..=3 {
        store.put_entry(BUCKET, STREAM, &entry(seq)).unwrap();
    }
    store.flush().unwrap();
    let file = only_segment(dir.path());
    let last_start = fs::metadata(&file).unwrap().len();
    store.put_entry(BUCKET, STREAM, &entry(4)).unwrap();
    drop(store);
    let intact = fs::read(&file).unwrap();

    // Every cut from "none of the last record written" to "all but one byte".
    for cut in last_start..intact.len() as u64 {
        fs::write(&file, &intact[..cut as usize]).unwrap();

        let mut store = PartitionStore::open(dir.path(), StoreConfig::default()).unwrap();
        let report = store.recovery_report();
        let torn = cut - last_start;
        assert_eq!(report.total_truncated_bytes(), torn, "cut at {cut}");
        if torn > 0 {
            assert_eq!(report.problems.len(), 1, "cut at {cut}: {report:?}");
            assert_eq!(report.problems[0].damage, Damage::ShortRecord);
        } else {
            assert!(report.is_clean(), "cut at {cut}: {report:?}");
        }
        let expected: Vec<Entry> = (1..=3).map(entry).collect();
        assert_eq!(
            store.read_from(BUCKET, STREAM, 0, 10).unwrap(),
            expected,
            "cut at {cut}"
        );

        // The next write lands right after the last good record...
        assert_eq!(store.append(BUCKET, STREAM, b"next").unwrap().seq, 4);
        drop(store);
        // ...and is read back intact after another restart.
        let mut store = PartitionStore::open(dir.path(), StoreConfig::default()).unwrap();
        assert!(store.recovery_report().is_clean(), "cut at {cut}");
        let got = store.read_from(BUCKET, STREAM, 0, 10).unwrap();
        assert_eq!(got.len(), 4, "cut at {cut}");
        assert_eq!(got[3].payload, b"next", "cut at {cut}");
    }
}
