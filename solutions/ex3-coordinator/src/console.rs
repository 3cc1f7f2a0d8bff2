//! The console commands of the replicated database. Every command takes optional `n=`, `w=`
//! and `r=` settings (defaults N=3, W=2, R=2).

use crate::service::Db;
use ringcore::streams::{Listing, Nwr, ReadResult, ShowEntry, Written};
use ringcore::{App, CommandHelp, Error, Node};

#[derive(Clone)]
pub struct DbApp {
    pub db: Db,
}

impl App for DbApp {
    const COMMANDS: &'static [CommandHelp] = &[
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
            help: "the streams of a bucket, each once (a coverage query; step 2)",
        },
        CommandHelp {
            usage: "list-buckets",
            help: "every bucket, each once (a coverage query)",
        },
        CommandHelp {
            usage: "stats",
            help: "writes and reads per vnode (a coverage query over every partition)",
        },
    ];

    async fn start(node: &Node) -> Result<Self, Error> {
        Ok(DbApp {
            db: Db::start(node),
        })
    }

    async fn run(&self, command: &str, args: &[&str]) -> Result<String, Error> {
        let (nwr, args) = Nwr::from_args(args)?;
        match (command, args.as_slice()) {
            ("store", [key, value]) => Ok(written(&self.db.store(key, value, nwr).await?, nwr)),
            ("fetch", [key]) => {
                let read = self.db.fetch(key, nwr).await?;
                Ok(match read.entries.last() {
                    Some(entry) => with_note(ShowEntry(entry).to_string(), &read),
                    None => with_note("not found".to_string(), &read),
                })
            }
            ("post", [bucket, stream, text @ ..]) if !text.is_empty() => Ok(written(
                &self.db.post(bucket, stream, &text.join(" "), nwr).await?,
                nwr,
            )),
            ("get", [bucket, stream, rest @ ..]) if rest.len() <= 2 => {
                let (from, limit) = match rest {
                    [] => (None, 1),
                    [from] => (Some(number(from)?), 100),
                    [from, limit] => (Some(number(from)?), number(limit)? as usize),
                    _ => unreachable!("at most two"),
                };
                let read = self.db.get(bucket, stream, from, limit, nwr).await?;
                Ok(entries(&read))
            }
            ("list-streams", [bucket]) => Ok(listing(
                &self.db.list_streams(bucket, nwr).await?,
                "no streams",
            )),
            ("list-buckets", []) => Ok(listing(&self.db.list_buckets(nwr).await?, "no buckets")),
            ("stats", []) => {
                let stats = self.db.stats().await?;
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
                    (writes, reads, entries) =
                        (writes + s.writes, reads + s.reads, entries + s.entries);
                }
                lines.push(format!(
                    "total: writes={writes} reads={reads} entries={entries}"
                ));
                Ok(lines.join("\n"))
            }
            _ => Err(Self::usage(command)),
        }
    }
}

fn number(text: &str) -> Result<u64, Error> {
    text.parse()
        .map_err(|_| Error::bad_request(format!("'{text}' is not a whole number")))
}

fn written(written: &Written, nwr: Nwr) -> String {
    format!(
        "{}  (stored on {} of n={} replicas, w={})",
        ShowEntry(&written.entry),
        written.acks,
        nwr.n,
        nwr.w
    )
}

fn with_note(text: String, read: &ReadResult) -> String {
    if read.disagreed {
        format!("{text}\n(the replicas disagreed; the ones behind were repaired)")
    } else {
        text
    }
}

fn entries(read: &ReadResult) -> String {
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

fn listing(listing: &Listing, empty: &str) -> String {
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
