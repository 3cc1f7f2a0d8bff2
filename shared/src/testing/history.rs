//! The history checker: what the writers were told, against what the cluster returns.
//!
//! A fault test records every write attempt (a [`History`]: a unique payload each, and what
//! the writer was told), heals the cluster, then reads every stream through every node (a
//! list of [`Read`]s). [`judge`] compares the two and returns a [`Verdict`], whose line reads
//!
//! ```text
//! acknowledged 52767, lost 0, duplicated 0, concurrent 12 (kept both), unconverged 0
//! ```
//!
//! The promise it checks: every acknowledged write is returned exactly once, under the number
//! it was acknowledged with, by every read with R ≥ 2 through any node, and every replica ends
//! up holding the same entries in the same order. A write that failed or timed out may or may
//! not be stored (a replica may have appended it before the quorum failed), but never twice.
//!
//! `judge` is a pure function of plain data, so a test over HTTP, against node processes, can
//! build the same history and reads and reuse it.

use crate::error::Error;
use crate::store::{Dot, Entry};
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::fmt;

/// How many problems of each kind a verdict describes in words (the counts are complete).
const NOTES_PER_KIND: usize = 4;

/// What became of one write attempt, as its writer saw it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Acknowledged under this sequence number: it must never be lost.
    Acknowledged { seq: u64 },
    /// Refused or failed with an answer (a quorum not reached, a node stopping): it may still
    /// be stored by a replica that appended it first, but at most once.
    Failed,
    /// Timed out or lost its connection: nobody knows whether it was stored (at most once).
    Indeterminate,
}

impl Outcome {
    /// The outcome of a write that returned `error`.
    pub fn of_error(error: &Error) -> Outcome {
        match error {
            Error::Timeout { .. } | Error::ConnectionLost(_) => Outcome::Indeterminate,
            _ => Outcome::Failed,
        }
    }
}

/// One write attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attempt {
    /// Which writer made it.
    pub writer: usize,
    /// The stream written to (all streams are of one bucket).
    pub stream: String,
    /// Unique to this attempt, e.g. `w2-117`: a payload read twice is a write stored twice.
    pub payload: String,
    /// The node the write went through, e.g. `dev2`.
    pub node: String,
    pub outcome: Outcome,
}

/// Every write attempt of a test, in any order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct History {
    pub attempts: Vec<Attempt>,
}

impl History {
    /// The streams written to.
    pub fn streams(&self) -> BTreeSet<String> {
        self.attempts.iter().map(|a| a.stream.clone()).collect()
    }

    /// How many attempts ended with `outcome`'s kind (any sequence number).
    fn count(&self, kind: fn(&Outcome) -> bool) -> usize {
        self.attempts.iter().filter(|a| kind(&a.outcome)).count()
    }
}

/// One entry as a read returned it: its number, its dot (its identity) and its payload (as
/// text).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stored {
    pub seq: u64,
    pub dot: Dot,
    pub payload: String,
}

impl Stored {
    pub fn of(entry: &Entry) -> Stored {
        Stored {
            seq: entry.seq,
            dot: entry.dot,
            payload: String::from_utf8_lossy(&entry.payload).into_owned(),
        }
    }
}

/// One read of a whole stream through one node, with R replicas.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Read {
    pub node: String,
    pub stream: String,
    pub r: usize,
    /// The entries in the order returned, or why the read failed.
    pub entries: Result<Vec<Stored>, String>,
}

/// What [`judge`] found. Counts of distinct payloads, except where said otherwise.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Verdict {
    /// Writes the writers were told succeeded.
    pub acknowledged: usize,
    /// Acknowledged writes missing from some R ≥ 2 read.
    pub lost: usize,
    /// Writes found more than once in one read, or under two numbers.
    pub duplicated: usize,
    /// Sequence numbers held by more than one entry (concurrent writes, both kept).
    pub concurrent: usize,
    /// (node, stream) pairs whose reads (R=1 or R ≥ 2) differ from the union of the R ≥ 2
    /// reads (same entries, same order), or failed.
    pub unconverged: usize,
    /// Attempts that failed with an answer.
    pub failed: usize,
    /// Attempts that timed out or lost their connection.
    pub indeterminate: usize,
    /// Acknowledged writes found under another number than the one acknowledged.
    pub renumbered: usize,
    /// Payloads read that no attempt wrote to that stream.
    pub invented: usize,
    /// Reads that failed (each also makes its pair unconverged).
    pub unreadable: usize,
    /// The first problems, in words, to start debugging from.
    pub notes: Vec<String>,
}

impl Verdict {
    /// Whether the promise holds: nothing lost, duplicated, renumbered or invented, and
    /// every read agrees.
    pub fn holds(&self) -> bool {
        self.lost == 0
            && self.duplicated == 0
            && self.unconverged == 0
            && self.renumbered == 0
            && self.invented == 0
    }

    /// Panics with the verdict line and the notes unless the promise holds.
    pub fn assert_holds(&self) {
        assert!(self.holds(), "{self}\n  {}", self.notes.join("\n  "));
    }

    /// Describes a problem whose description starts with `kind` (a few of each kind).
    fn note(&mut self, kind: &str, text: impl FnOnce() -> String) {
        if self.notes.iter().filter(|n| n.starts_with(kind)).count() < NOTES_PER_KIND {
            let text = text();
            debug_assert!(text.starts_with(kind), "{text:?} is not a note of {kind}");
            self.notes.push(text);
        }
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "acknowledged {}, lost {}, duplicated {}, concurrent {} (kept both), unconverged {}, failed {}, indeterminate {}",
            self.acknowledged,
            self.lost,
            self.duplicated,
            self.concurrent,
            self.unconverged,
            self.failed,
            self.indeterminate
        )?;
        // Rarer findings are shown only when there are some, to keep the line short.
        for (name, count) in [
            ("renumbered", self.renumbered),
            ("invented", self.invented),
            ("unreadable", self.unreadable),
        ] {
            if count > 0 {
                write!(f, ", {name} {count}")?;
            }
        }
        Ok(())
    }
}

/// Judges the reads made after a test against its history.
pub fn judge(history: &History, reads: &[Read]) -> Verdict {
    let mut verdict = Verdict {
        acknowledged: history.count(|o| matches!(o, Outcome::Acknowledged { .. })),
        failed: history.count(|o| *o == Outcome::Failed),
        indeterminate: history.count(|o| *o == Outcome::Indeterminate),
        ..Verdict::default()
    };
    let mut streams = history.streams();
    streams.extend(reads.iter().map(|r| r.stream.clone()));
    let mut problems = Problems::default();
    for stream in &streams {
        let attempts: Vec<&Attempt> = history
            .attempts
            .iter()
            .filter(|a| a.stream == *stream)
            .collect();
        let reads: Vec<&Read> = reads.iter().filter(|r| r.stream == *stream).collect();
        judge_stream(stream, &attempts, &reads, &mut verdict, &mut problems);
    }
    verdict.lost = problems.lost.len();
    verdict.duplicated = problems.duplicated.len();
    verdict.renumbered = problems.renumbered.len();
    verdict.invented = problems.invented.len();
    verdict
}

/// Whether every read of each stream succeeded and returned the same entries in the same
/// order (what "the replicas converged" looks like from outside).
pub fn agree(reads: &[Read]) -> bool {
    let mut first: HashMap<&str, Vec<Key>> = HashMap::new();
    reads.iter().all(|read| {
        let Ok(entries) = &read.entries else {
            return false;
        };
        let seen = first.entry(&read.stream).or_insert_with(|| keys(entries));
        *seen == keys(entries)
    })
}

/// Payloads found at fault, each counted once however many reads show it.
#[derive(Default)]
struct Problems {
    lost: BTreeSet<String>,
    duplicated: BTreeSet<String>,
    renumbered: BTreeSet<String>,
    invented: BTreeSet<String>,
}

/// An entry as compared between reads: its number, its dot and its payload. Ordered as the
/// database orders a stream: by number, then dot.
type Key<'a> = (u64, Dot, &'a str);

fn keys(entries: &[Stored]) -> Vec<Key<'_>> {
    entries
        .iter()
        .map(|e| (e.seq, e.dot, e.payload.as_str()))
        .collect()
}

fn judge_stream(
    stream: &str,
    attempts: &[&Attempt],
    reads: &[&Read],
    verdict: &mut Verdict,
    problems: &mut Problems,
) {
    let quorum: Vec<(&str, Vec<Key>)> = reads
        .iter()
        .filter(|r| r.r >= 2)
        .filter_map(|r| Some((r.node.as_str(), keys(r.entries.as_ref().ok()?))))
        .collect();
    let union = union_of(quorum.iter().map(|(_, keys)| keys.as_slice()));
    find_duplicates(stream, reads, &union, verdict, problems);
    verdict.concurrent += count_shared_numbers(&union);
    find_lost(stream, attempts, &quorum, &union, verdict, problems);
    find_invented(stream, attempts, &union, verdict, problems);
    find_unconverged(stream, reads, &union, verdict);
    if quorum.is_empty() && !attempts.is_empty() {
        // Nothing can be said of this stream's writes: that is a failure too.
        verdict.unconverged += 1;
        verdict.note("no R", || format!("no R ≥ 2 read of {stream} succeeded"));
    }
}

/// Every distinct entry of the R ≥ 2 reads, in the stream's order: by number, then dot (the
/// order every replica must agree on, whichever read showed an entry first).
fn union_of<'a>(lists: impl Iterator<Item = &'a [Key<'a>]>) -> Vec<Key<'a>> {
    let mut seen = HashSet::new();
    let mut union: Vec<Key> = lists
        .flatten()
        .filter(|key| seen.insert(**key))
        .copied()
        .collect();
    union.sort_by_key(|(seq, dot, _)| (*seq, *dot));
    union
}

/// A payload twice in one read, or under two numbers across reads, was stored twice.
fn find_duplicates(
    stream: &str,
    reads: &[&Read],
    union: &[Key],
    verdict: &mut Verdict,
    problems: &mut Problems,
) {
    for read in reads {
        let Ok(entries) = &read.entries else { continue };
        let mut times: HashMap<&str, usize> = HashMap::new();
        for entry in entries {
            *times.entry(entry.payload.as_str()).or_default() += 1;
        }
        for (payload, n) in times.into_iter().filter(|(_, n)| *n > 1) {
            if problems.duplicated.insert(payload.to_string()) {
                verdict.note("duplicated", || {
                    format!(
                        "duplicated {payload}: {n} times in the R={} read of {stream} through {}",
                        read.r, read.node
                    )
                });
            }
        }
    }
    let mut numbers: BTreeMap<&str, BTreeSet<u64>> = BTreeMap::new();
    for (seq, _, payload) in union {
        numbers.entry(payload).or_default().insert(*seq);
    }
    for (payload, seqs) in numbers.into_iter().filter(|(_, s)| s.len() > 1) {
        if problems.duplicated.insert(payload.to_string()) {
            verdict.note("duplicated", || {
                format!("duplicated {payload}: in {stream} under #{seqs:?}")
            });
        }
    }
}

/// How many numbers more than one entry holds.
fn count_shared_numbers(union: &[Key]) -> usize {
    let mut per_number: BTreeMap<u64, usize> = BTreeMap::new();
    for (seq, _, _) in union {
        *per_number.entry(*seq).or_default() += 1;
    }
    per_number.values().filter(|n| **n > 1).count()
}

/// An acknowledged write must be in every R ≥ 2 read, under its own number.
fn find_lost(
    stream: &str,
    attempts: &[&Attempt],
    quorum: &[(&str, Vec<Key>)],
    union: &[Key],
    verdict: &mut Verdict,
    problems: &mut Problems,
) {
    let per_read: Vec<(&str, HashSet<&str>)> = quorum
        .iter()
        .map(|(node, keys)| (*node, keys.iter().map(|(_, _, p)| *p).collect()))
        .collect();
    let mut numbers: HashMap<&str, Vec<u64>> = HashMap::new();
    for (seq, _, payload) in union {
        numbers.entry(payload).or_default().push(*seq);
    }
    for attempt in attempts {
        let Outcome::Acknowledged { seq } = attempt.outcome else {
            continue;
        };
        let payload = attempt.payload.as_str();
        for (node, payloads) in &per_read {
            if !payloads.contains(payload) && problems.lost.insert(payload.to_string()) {
                verdict.note("lost", || {
                    format!("lost {payload} (acknowledged as {stream} #{seq}): missing from the R=2 read through {node}")
                });
            }
        }
        let found = numbers.get(payload).map(Vec::as_slice).unwrap_or_default();
        if found.iter().any(|s| *s != seq) && problems.renumbered.insert(payload.to_string()) {
            verdict.note("renumbered", || {
                format!("renumbered {payload}: acknowledged as {stream} #{seq}, read as #{found:?}")
            });
        }
    }
}

/// What was read must have been written, to that stream.
fn find_invented(
    stream: &str,
    attempts: &[&Attempt],
    union: &[Key],
    verdict: &mut Verdict,
    problems: &mut Problems,
) {
    let written: HashSet<&str> = attempts.iter().map(|a| a.payload.as_str()).collect();
    for (seq, _, payload) in union {
        if !written.contains(payload) && problems.invented.insert(payload.to_string()) {
            verdict.note("invented", || {
                format!("invented {payload}: read in {stream} #{seq}, never written there")
            });
        }
    }
}

/// Every read through every node must return the union, in the same order.
fn find_unconverged(stream: &str, reads: &[&Read], union: &[Key], verdict: &mut Verdict) {
    let nodes: BTreeSet<&str> = reads.iter().map(|r| r.node.as_str()).collect();
    for node in nodes {
        let mut agrees = true;
        for read in reads.iter().filter(|r| r.node == node) {
            match &read.entries {
                Err(error) => {
                    verdict.unreadable += 1;
                    agrees = false;
                    verdict.note("unreadable", || {
                        format!(
                            "unreadable: the R={} read of {stream} through {node}: {error}",
                            read.r
                        )
                    });
                }
                Ok(entries) if keys(entries) != union => {
                    agrees = false;
                    verdict.note("unconverged", || {
                        format!(
                            "unconverged: the R={} read of {stream} through {node} has {} entries, the R=2 union {}{}",
                            read.r,
                            entries.len(),
                            union.len(),
                            first_difference(&keys(entries), union)
                        )
                    });
                }
                Ok(_) => {}
            }
        }
        if !agrees {
            verdict.unconverged += 1;
        }
    }
}

/// Where two lists of entries part, in words.
fn first_difference(read: &[Key], union: &[Key]) -> String {
    let at = read.iter().zip(union).take_while(|(a, b)| a == b).count();
    match (read.get(at), union.get(at)) {
        (Some(a), Some(b)) => format!("; at {at}: #{} {} instead of #{} {}", a.0, a.2, b.0, b.2),
        (None, Some(b)) => format!("; missing from #{} {}", b.0, b.2),
        (Some(a), None) => format!("; extra from #{} {}", a.0, a.2),
        (None, None) => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn acked(writer: usize, stream: &str, i: u64, seq: u64) -> Attempt {
        attempt(writer, stream, i, Outcome::Acknowledged { seq })
    }

    fn attempt(writer: usize, stream: &str, i: u64, outcome: Outcome) -> Attempt {
        Attempt {
            writer,
            stream: stream.into(),
            payload: format!("w{writer}-{i}"),
            node: "dev1".into(),
            outcome,
        }
    }

    /// A dot for a test payload, ordered as the payloads are (`w0-0` < `w1-0`): as if each
    /// payload was appended by a store of its own.
    fn dot_of(payload: &str) -> Dot {
        let mut actor = [0u8; 8];
        for (to, from) in actor.iter_mut().zip(payload.bytes()) {
            *to = from;
        }
        Dot {
            actor: u64::from_be_bytes(actor),
            counter: 1,
        }
    }

    /// A read of `s` through `node` returning `entries` as (seq, payload).
    fn read(node: &str, r: usize, entries: &[(u64, &str)]) -> Read {
        Read {
            node: node.into(),
            stream: "s".into(),
            r,
            entries: Ok(entries
                .iter()
                .map(|(seq, p)| Stored {
                    seq: *seq,
                    dot: dot_of(p),
                    payload: p.to_string(),
                })
                .collect()),
        }
    }

    /// R=1 and R=2 reads through dev1 and dev2, all returning `entries`.
    fn agreeing(entries: &[(u64, &str)]) -> Vec<Read> {
        ["dev1", "dev2"]
            .iter()
            .flat_map(|n| [read(n, 1, entries), read(n, 2, entries)])
            .collect()
    }

    fn two_writes() -> History {
        History {
            attempts: vec![acked(0, "s", 0, 1), acked(1, "s", 0, 2)],
        }
    }

    #[test]
    fn agreeing_reads_of_every_acknowledged_write_hold() {
        let verdict = judge(&two_writes(), &agreeing(&[(1, "w0-0"), (2, "w1-0")]));
        assert_eq!(
            verdict.to_string(),
            "acknowledged 2, lost 0, duplicated 0, concurrent 0 (kept both), unconverged 0, failed 0, indeterminate 0"
        );
        assert!(verdict.holds());
    }

    #[test]
    fn a_write_missing_from_one_quorum_read_is_lost() {
        let mut reads = agreeing(&[(1, "w0-0"), (2, "w1-0")]);
        reads[3] = read("dev2", 2, &[(1, "w0-0")]);
        let verdict = judge(&two_writes(), &reads);
        assert_eq!((verdict.lost, verdict.unconverged), (1, 1));
        assert!(!verdict.holds());
        assert!(
            verdict.notes[0].contains("lost w1-0"),
            "{:?}",
            verdict.notes
        );
    }

    #[test]
    fn concurrent_writes_under_one_number_are_fine_when_both_are_kept() {
        let verdict = judge(&two_writes(), &agreeing(&[(1, "w0-0"), (1, "w1-0")]));
        assert_eq!(verdict.concurrent, 1);
        // w1-0 was acknowledged as #2 but is read as #1.
        assert_eq!(verdict.renumbered, 1);
        let history = History {
            attempts: vec![acked(0, "s", 0, 1), acked(1, "s", 0, 1)],
        };
        let verdict = judge(&history, &agreeing(&[(1, "w0-0"), (1, "w1-0")]));
        assert_eq!(verdict.concurrent, 1);
        assert!(verdict.holds(), "{verdict}");
    }

    #[test]
    fn a_write_collapsed_into_another_of_the_same_number_is_lost() {
        let history = History {
            attempts: vec![acked(0, "s", 0, 1), acked(1, "s", 0, 1)],
        };
        let verdict = judge(&history, &agreeing(&[(1, "w0-0")]));
        assert_eq!((verdict.lost, verdict.concurrent), (1, 0));
    }

    #[test]
    fn quorum_reads_in_another_order_do_not_agree() {
        let history = History {
            attempts: vec![acked(0, "s", 0, 1), acked(1, "s", 0, 1)],
        };
        let mut reads = agreeing(&[(1, "w0-0"), (1, "w1-0")]);
        reads[2] = read("dev2", 1, &[(1, "w1-0"), (1, "w0-0")]);
        reads[3] = read("dev2", 2, &[(1, "w1-0"), (1, "w0-0")]);
        let verdict = judge(&history, &reads);
        assert_eq!((verdict.lost, verdict.unconverged), (0, 1));
    }

    #[test]
    fn a_stale_single_replica_read_is_unconverged_not_lost() {
        let mut reads = agreeing(&[(1, "w0-0"), (2, "w1-0")]);
        reads[0] = read("dev1", 1, &[(1, "w0-0")]);
        let verdict = judge(&two_writes(), &reads);
        assert_eq!((verdict.lost, verdict.unconverged), (0, 1));
    }

    #[test]
    fn a_failed_read_is_unconverged() {
        let mut reads = agreeing(&[(1, "w0-0"), (2, "w1-0")]);
        reads[3].entries = Err("timed out".into());
        let verdict = judge(&two_writes(), &reads);
        assert_eq!((verdict.unreadable, verdict.unconverged), (1, 1));
        assert!(verdict.to_string().ends_with(", unreadable 1"), "{verdict}");
    }

    #[test]
    fn an_indeterminate_write_may_be_stored_once_but_not_twice() {
        let mut history = two_writes();
        history
            .attempts
            .push(attempt(2, "s", 0, Outcome::Indeterminate));
        history.attempts.push(attempt(2, "s", 1, Outcome::Failed));
        let once = judge(
            &history,
            &agreeing(&[(1, "w0-0"), (2, "w1-0"), (3, "w2-0")]),
        );
        assert!(once.holds(), "{once}");
        assert_eq!((once.failed, once.indeterminate), (1, 1));
        let in_one_read = judge(
            &history,
            &agreeing(&[(1, "w0-0"), (2, "w1-0"), (3, "w2-0"), (4, "w2-0")]),
        );
        assert_eq!(in_one_read.duplicated, 1);
        let mut reads = agreeing(&[(1, "w0-0"), (2, "w1-0"), (3, "w2-1")]);
        reads[3] = read("dev2", 2, &[(1, "w0-0"), (2, "w1-0"), (4, "w2-1")]);
        let under_two_numbers = judge(&history, &reads);
        assert_eq!(under_two_numbers.duplicated, 1);
    }

    #[test]
    fn a_payload_nobody_wrote_there_is_invented() {
        let verdict = judge(
            &two_writes(),
            &agreeing(&[(1, "w0-0"), (2, "w1-0"), (3, "w9-9")]),
        );
        assert_eq!(verdict.invented, 1);
        assert!(!verdict.holds());
    }

    #[test]
    fn reads_agree_when_each_stream_reads_the_same_everywhere() {
        let entries = [(1, "w0-0"), (2, "w1-0")];
        assert!(agree(&agreeing(&entries)));
        let mut reads = agreeing(&entries);
        reads[2] = read("dev2", 1, &[(2, "w1-0"), (1, "w0-0")]);
        assert!(!agree(&reads), "another order");
        let mut reads = agreeing(&entries);
        reads[1].entries = Err("timed out".into());
        assert!(!agree(&reads), "a failed read");
        let mut other = read("dev1", 1, &[(1, "w2-0")]);
        other.stream = "t".into();
        reads = agreeing(&entries);
        reads.push(other);
        assert!(agree(&reads), "streams are compared each with itself");
    }

    #[test]
    fn timeouts_and_broken_connections_are_indeterminate() {
        let timeout = Error::timeout("write", 1, 2, std::time::Duration::from_secs(1));
        assert_eq!(Outcome::of_error(&timeout), Outcome::Indeterminate);
        let lost = Error::ConnectionLost(crate::NodeName::new("dev2@127.0.0.1"));
        assert_eq!(Outcome::of_error(&lost), Outcome::Indeterminate);
        assert_eq!(Outcome::of_error(&Error::Stopping), Outcome::Failed);
    }
}
