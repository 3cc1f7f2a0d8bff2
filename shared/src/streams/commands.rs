//! The stream database's console commands, for applications that offer them as they are:
//! `store`, `fetch`, `post`, `get`, `delete`, `list-streams`, `list-buckets`, `stats`,
//! `populate` (the tutorial's demo data), `aae-status`, and the eviction policies
//! (`eviction`, `eviction-set`, `eviction-clear`). Every command takes optional `n=`, `w=`,
//! `r=` settings. (Users and grants are admin commands: `security …`.)
//!
//! The `show_*` functions print results the same way in every exercise.

use super::aae::{AaeReport, Outcome};
use super::service::{Listing, Nwr, ReadResult, ShowEntry, Streams, StreamsVnode, Written};
use crate::app::CommandHelp;
use crate::error::Error;
use crate::node::admin::tables::{banner, rule};
use crate::store::EvictionPolicy;
use crate::vnode::coordinator::QuorumWaiter;
use std::time::Duration;

/// The bucket of the workshop's key/value commands (`store`, `fetch`).
pub const KV_BUCKET: &str = "kv";

/// The commands, with their help.
pub const COMMANDS: &[CommandHelp] = &[
    CommandHelp {
        usage: "store KEY VALUE [n=3 w=2]",
        help: "append VALUE to KEY's stream, on N replicas, acknowledged by W",
    },
    CommandHelp {
        usage: "fetch KEY [n=3 r=2]",
        help: "the newest value of KEY, read from R replicas",
    },
    CommandHelp {
        usage: "post BUCKET STREAM TEXT… [n= w=]",
        help: "append TEXT to a stream",
    },
    CommandHelp {
        usage: "get BUCKET STREAM [FROM] [LIMIT] [n= r=]",
        help: "entries from FROM (at most LIMIT), or the newest LIMIT (default 1)",
    },
    CommandHelp {
        usage: "delete BUCKET STREAM [n= w=]",
        help: "empty a stream on every replica, for good (its numbers go on)",
    },
    CommandHelp {
        usage: "list-streams BUCKET",
        help: "the streams of a bucket, each once (a coverage query)",
    },
    CommandHelp {
        usage: "list-buckets",
        help: "every bucket, each once (a coverage query)",
    },
    CommandHelp {
        usage: "stats",
        help: "writes and reads per vnode (a coverage query over every partition)",
    },
    CommandHelp {
        usage: "populate USERS STREAMS MESSAGES [BYTES]",
        help: "write demo data: user1…/stream1…, MESSAGES each (padded to BYTES)",
    },
    CommandHelp {
        usage: "aae-status",
        help: "anti-entropy on this node: each key range in its charge, last exchange, repairs",
    },
    CommandHelp {
        usage: "eviction BUCKET [STREAM]",
        help: "the eviction policy set on a bucket or a stream",
    },
    CommandHelp {
        usage: "eviction-set BUCKET [STREAM] [keep_last=N] [max_bytes=X] [max_age_s=T]",
        help: "keep only the newest N entries, X bytes, entries younger than T seconds",
    },
    CommandHelp {
        usage: "eviction-clear BUCKET [STREAM]",
        help: "remove a policy (what was evicted stays evicted)",
    },
];

/// Runs one of [`COMMANDS`]; `None` when `command` is not one of them.
pub async fn run<Q: QuorumWaiter, V: StreamsVnode>(
    db: &Streams<Q, V>,
    command: &str,
    args: &[&str],
) -> Option<Result<String, Error>> {
    if !COMMANDS.iter().any(|c| c.name() == command) {
        return None;
    }
    Some(run_command(db, command, args).await)
}

async fn run_command<Q: QuorumWaiter, V: StreamsVnode>(
    db: &Streams<Q, V>,
    command: &str,
    args: &[&str],
) -> Result<String, Error> {
    let (nwr, args) = Nwr::from_args(args)?;
    match (command, args.as_slice()) {
        ("store", [key, value]) => Ok(show_written(
            &db.post(KV_BUCKET, key, value.as_bytes().to_vec(), nwr)
                .await?,
            nwr,
        )),
        ("fetch", [key]) => Ok(show_newest(&db.last(KV_BUCKET, key, 1, nwr).await?)),
        ("post", [bucket, stream, text @ ..]) if !text.is_empty() => {
            let payload = text.join(" ").into_bytes();
            Ok(show_written(
                &db.post(bucket, stream, payload, nwr).await?,
                nwr,
            ))
        }
        ("get", [bucket, stream, rest @ ..]) if rest.len() <= 2 => {
            let read = match rest {
                [] => db.last(bucket, stream, 1, nwr).await?,
                [from] => db.read(bucket, stream, number(from)?, 100, nwr).await?,
                [from, limit] => {
                    db.read(bucket, stream, number(from)?, number(limit)? as usize, nwr)
                        .await?
                }
                _ => unreachable!("at most two"),
            };
            Ok(show_entries(&read))
        }
        ("delete", [bucket, stream]) => {
            let floor = db.delete(bucket, stream, nwr).await?;
            Ok(format!(
                "deleted {bucket}/{stream}: its next entry will be #{floor} or more"
            ))
        }
        ("eviction", [bucket, stream @ ..]) if stream.len() <= 1 => {
            let stream = stream.first().copied();
            Ok(show_policy(bucket, stream, db.eviction(bucket, stream)))
        }
        ("eviction-set", [bucket, rest @ ..]) => {
            let (stream, rules) = match rest.split_first() {
                Some((first, rules)) if !first.contains('=') => (Some(*first), rules),
                _ => (None, rest),
            };
            let policy = policy_of(rules)?;
            db.set_eviction(bucket, stream, Some(policy)).await?;
            Ok(show_policy(bucket, stream, Some(policy)))
        }
        ("eviction-clear", [bucket, stream @ ..]) if stream.len() <= 1 => {
            let stream = stream.first().copied();
            db.set_eviction(bucket, stream, None).await?;
            Ok(show_policy(bucket, stream, None))
        }
        ("list-streams", [bucket]) => Ok(show_listing(
            &db.list_streams(bucket, nwr).await?,
            "no streams",
        )),
        ("list-buckets", []) => Ok(show_listing(&db.list_buckets(nwr).await?, "no buckets")),
        ("stats", []) => show_stats(db).await,
        ("aae-status", []) => Ok(show_aae_status(&db.anti_entropy().report())),
        ("populate", [users, streams, messages, rest @ ..]) if rest.len() <= 1 => {
            let (users, streams, messages) = (number(users)?, number(streams)?, number(messages)?);
            let bytes = rest.first().map(|b| number(b)).transpose()?.unwrap_or(0) as usize;
            for user in 1..=users {
                for stream in 1..=streams {
                    for message in 1..=messages {
                        let mut text = format!("message {message} of user{user}/stream{stream}");
                        if text.len() < bytes {
                            text.push(' ');
                            text.extend(std::iter::repeat_n('.', bytes.saturating_sub(text.len())));
                        }
                        let (bucket, name) = (format!("user{user}"), format!("stream{stream}"));
                        db.post(&bucket, &name, text.into_bytes(), nwr).await?;
                    }
                }
            }
            Ok(format!("wrote {} messages", users * streams * messages))
        }
        _ => {
            let usage = COMMANDS
                .iter()
                .find(|c| c.name() == command)
                .map_or("", |c| c.usage);
            Err(Error::bad_request(format!("usage: {usage}")))
        }
    }
}

/// `keep_last=N max_bytes=X max_age_s=T`, at least one.
fn policy_of(rules: &[&str]) -> Result<EvictionPolicy, Error> {
    let mut policy = EvictionPolicy::default();
    for rule in rules {
        let (name, value) = rule
            .split_once('=')
            .ok_or_else(|| Error::bad_request(format!("'{rule}' is not NAME=NUMBER")))?;
        let slot = match name {
            "keep_last" => &mut policy.keep_last,
            "max_bytes" => &mut policy.max_bytes,
            "max_age_s" => &mut policy.max_age_s,
            _ => {
                return Err(Error::bad_request(format!(
                    "unknown rule '{name}' (keep_last, max_bytes, max_age_s)"
                )));
            }
        };
        *slot = Some(number(value)?);
    }
    if policy.is_empty() {
        return Err(Error::bad_request(
            "name at least one rule: keep_last=N, max_bytes=X or max_age_s=T",
        ));
    }
    if policy.keep_last == Some(0) {
        return Err(Error::bad_request(
            "keep_last must be at least 1 (delete the stream to empty it)",
        ));
    }
    Ok(policy)
}

/// `eviction on user1/stream1: keep_last=3 max_age_s=60`, or `… : none`.
fn show_policy(bucket: &str, stream: Option<&str>, policy: Option<EvictionPolicy>) -> String {
    let place = match stream {
        Some(stream) => format!("{bucket}/{stream}"),
        None => bucket.to_string(),
    };
    let policy = policy.unwrap_or_default();
    let rules: Vec<String> = [
        ("keep_last", policy.keep_last),
        ("max_bytes", policy.max_bytes),
        ("max_age_s", policy.max_age_s),
    ]
    .into_iter()
    .filter_map(|(name, value)| value.map(|v| format!("{name}={v}")))
    .collect();
    if rules.is_empty() {
        format!("eviction on {place}: none")
    } else {
        format!("eviction on {place}: {}", rules.join(" "))
    }
}

async fn show_stats<Q: QuorumWaiter, V: StreamsVnode>(db: &Streams<Q, V>) -> Result<String, Error> {
    let stats = db.stats().await?;
    let mut lines = Vec::new();
    let (mut writes, mut reads, mut entries, mut evicted) = (0, 0, 0, 0);
    for (vnode, s) in stats
        .iter()
        .filter(|(_, s)| s.writes + s.reads + s.entries > 0)
    {
        lines.push(format!(
            "{} on {}: writes={} reads={} entries={}",
            vnode.partition, vnode.node, s.writes, s.reads, s.entries
        ));
        (writes, reads, entries) = (writes + s.writes, reads + s.reads, entries + s.entries);
        evicted += s.evicted_entries;
    }
    let evicted_bytes: u64 = stats.iter().map(|(_, s)| s.evicted_bytes).sum();
    let mut total = format!("total: writes={writes} reads={reads} entries={entries}");
    if evicted > 0 {
        total += &format!(" evicted={evicted} ({evicted_bytes} bytes)");
    }
    lines.push(total);
    Ok(lines.join("\n"))
}

/// `aae-status`: a table of the key ranges this node is in charge of, then a summary line.
///
/// ```text
/// ================================ Anti-Entropy =================================
/// Range  Last exchange  Repaired  Outcome
/// -------------------------------------------------------------------------------
///     1     400 ms ago         0  in sync
///    12     12.0 s ago        40  repaired 40 entries
///    20              -         0  not exchanged yet
/// -------------------------------------------------------------------------------
/// 3 ranges, one exchanged every 1.0 s: 1 in sync, 1 repaired, 0 skipped, 0 failed, 1 not yet; 40 entries repaired since start
/// ```
pub fn show_aae_status(report: &AaeReport) -> String {
    let Some(pause) = report.pause else {
        return format!("anti-entropy is off on {}", report.node);
    };
    let mut out = banner("Anti-Entropy");
    out.push('\n');
    out.push_str("Range  Last exchange  Repaired  Outcome\n");
    out.push_str(&rule('-'));
    let mut count = [0usize; 5]; // in sync, repaired, skipped, failed, not yet
    for range in &report.ranges {
        let (ago, outcome, tally) = match &range.last {
            Some((ago, outcome)) => (
                format!("{} ago", show_duration(*ago)),
                outcome.to_string(),
                match outcome {
                    Outcome::InSync => 0,
                    Outcome::Repaired { .. } => 1,
                    Outcome::Skipped(_) => 2,
                    Outcome::Failed { .. } => 3,
                },
            ),
            None => ("-".to_string(), "not exchanged yet".to_string(), 4),
        };
        count[tally] += 1;
        out.push_str(&format!(
            "{:>5}  {:>13}  {:>8}  {outcome}\n",
            range.range.index(),
            ago,
            range.repaired
        ));
    }
    out.push_str(&rule('-'));
    let [in_sync, repaired, skipped, failed, not_yet] = count;
    out.push_str(&format!(
        "{} ranges, one exchanged every {}: {in_sync} in sync, {repaired} repaired, \
         {skipped} skipped, {failed} failed, {not_yet} not yet; {} repaired since start",
        report.ranges.len(),
        show_duration(pause),
        match report.repaired {
            1 => "1 entry".to_string(),
            k => format!("{k} entries"),
        },
    ));
    out
}

/// `400 ms`, `12.0 s`, `3.5 min`, `2.0 h`.
fn show_duration(duration: Duration) -> String {
    let seconds = duration.as_secs_f64();
    if seconds < 1.0 {
        format!("{} ms", duration.as_millis())
    } else if seconds < 120.0 {
        format!("{seconds:.1} s")
    } else if seconds < 7200.0 {
        format!("{:.1} min", seconds / 60.0)
    } else {
        format!("{:.1} h", seconds / 3600.0)
    }
}

fn number(text: &str) -> Result<u64, Error> {
    text.parse()
        .map_err(|_| Error::bad_request(format!("'{text}' is not a whole number")))
}

/// `#1 1763884800123 hello  (stored on 2 of n=3 replicas, w=2)`
pub fn show_written(written: &Written, nwr: Nwr) -> String {
    format!(
        "{}  (stored on {} of n={} replicas, w={})",
        ShowEntry(&written.entry),
        written.acks,
        nwr.n,
        nwr.w
    )
}

/// The newest entry of a read, or `not found`.
pub fn show_newest(read: &ReadResult) -> String {
    let text = match read.entries.last() {
        Some(entry) => ShowEntry(entry).to_string(),
        None => "not found".to_string(),
    };
    with_note(text, read)
}

/// Every entry of a read, one a line, or `no entries`.
pub fn show_entries(read: &ReadResult) -> String {
    if read.entries.is_empty() {
        return with_note("no entries".to_string(), read);
    }
    let lines: Vec<String> = read
        .entries
        .iter()
        .map(|e| ShowEntry(e).to_string())
        .collect();
    with_note(lines.join("\n"), read)
}

fn with_note(mut text: String, read: &ReadResult) -> String {
    if read.concurrent > 0 {
        let numbers = match read.concurrent {
            1 => "1 number is".to_string(),
            k => format!("{k} numbers are"),
        };
        text.push_str(&format!(
            "\n({numbers} held by several entries: writes numbered at once by two coordinators, all kept)"
        ));
    }
    if read.disagreed {
        text.push_str("\n(the replicas disagreed; the ones behind were repaired)");
    }
    text
}

/// Names one a line (or `empty`), with the note of a partial result.
pub fn show_listing(listing: &Listing, empty: &str) -> String {
    let mut text = if listing.names.is_empty() {
        empty.to_string()
    } else {
        listing.names.join("\n")
    };
    if let Some(note) = &listing.partial {
        text.push_str(&format!("\n({note})"));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ring::Partition;
    use crate::streams::aae::RangeReport;

    #[test]
    fn aae_status_is_a_table_and_a_summary() {
        let at = |index| Partition::new(index, 64);
        let report = AaeReport {
            node: "dev1@127.0.0.1".into(),
            pause: Some(Duration::from_secs(1)),
            ranges: vec![
                RangeReport {
                    range: at(1),
                    last: Some((Duration::from_millis(400), Outcome::InSync)),
                    repaired: 0,
                },
                RangeReport {
                    range: at(12),
                    last: Some((
                        Duration::from_secs(200),
                        Outcome::Repaired {
                            entries: 40,
                            more: false,
                        },
                    )),
                    repaired: 40,
                },
                RangeReport {
                    range: at(20),
                    last: Some((
                        Duration::from_secs(3),
                        Outcome::Skipped("only 1 of 3 replicas up".into()),
                    )),
                    repaired: 0,
                },
                RangeReport {
                    range: at(63),
                    last: None,
                    repaired: 0,
                },
            ],
            exchanges: 57,
            repaired: 42,
        };
        let want = "\
================================ Anti-Entropy =================================
Range  Last exchange  Repaired  Outcome
-------------------------------------------------------------------------------
    1     400 ms ago         0  in sync
   12    3.3 min ago        40  repaired 40 entries
   20      3.0 s ago         0  skipped: only 1 of 3 replicas up
   63              -         0  not exchanged yet
-------------------------------------------------------------------------------
4 ranges, one exchanged every 1.0 s: 1 in sync, 1 repaired, 1 skipped, 0 failed, 1 not yet; 42 entries repaired since start";
        assert_eq!(show_aae_status(&report), want);
        let off = AaeReport {
            pause: None,
            ranges: Vec::new(),
            ..report
        };
        assert_eq!(
            show_aae_status(&off),
            "anti-entropy is off on dev1@127.0.0.1"
        );
    }
}
