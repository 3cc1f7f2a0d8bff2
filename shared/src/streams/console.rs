//! The stream database's console commands, for applications that offer them as they are:
//! `store`, `fetch`, `post`, `get`, `list-streams`, `list-buckets`, `stats`, and `populate`
//! (the tutorial's demo data). Every command takes optional `n=`, `w=`, `r=` settings.
//!
//! The `show_*` functions print results the same way in every exercise.

use super::service::{Listing, Nwr, ReadResult, ShowEntry, Streams, StreamsVnode, Written};
use crate::app::CommandHelp;
use crate::coordinator::QuorumWaiter;
use crate::error::Error;

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
        ("list-streams", [bucket]) => Ok(show_listing(
            &db.list_streams(bucket, nwr).await?,
            "no streams",
        )),
        ("list-buckets", []) => Ok(show_listing(&db.list_buckets(nwr).await?, "no buckets")),
        ("stats", []) => show_stats(db).await,
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

async fn show_stats<Q: QuorumWaiter, V: StreamsVnode>(db: &Streams<Q, V>) -> Result<String, Error> {
    let stats = db.stats().await?;
    let mut lines = Vec::new();
    let (mut writes, mut reads, mut entries) = (0, 0, 0);
    for (vnode, s) in stats
        .iter()
        .filter(|(_, s)| s.writes + s.reads + s.entries > 0)
    {
        lines.push(format!(
            "{} on {}: writes={} reads={} entries={}",
            vnode.partition, vnode.node, s.writes, s.reads, s.entries
        ));
        (writes, reads, entries) = (writes + s.writes, reads + s.reads, entries + s.entries);
    }
    lines.push(format!(
        "total: writes={writes} reads={reads} entries={entries}"
    ));
    Ok(lines.join("\n"))
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
