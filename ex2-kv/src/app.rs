//! The console commands of the key/value application: parse the arguments, call the service,
//! print the answer. Entries print as every exercise prints them: `#3 1763884800123 hello`
//! (sequence number, milliseconds since 1970, text).

use crate::service::{Kv, Stored};
use crate::vnode::is_tombstone;
use ringcore::store::Entry;
use ringcore::streams::ShowEntry;
use ringcore::{App, CommandHelp, Error, Node};
use std::str::FromStr;

/// How many entries `get BUCKET STREAM FROM` returns when no LIMIT is given.
const DEFAULT_LIMIT: usize = 100;

/// The key/value application as the node runs it.
#[derive(Clone)]
pub struct KvApp {
    pub kv: Kv,
}

impl App for KvApp {
    const COMMANDS: &'static [CommandHelp] = &[
        CommandHelp {
            usage: "store KEY VALUE",
            help: "append VALUE to the stream of KEY",
        },
        CommandHelp {
            usage: "fetch KEY",
            help: "the newest value of KEY (step 1)",
        },
        CommandHelp {
            usage: "post BUCKET STREAM TEXT…",
            help: "append TEXT to a stream",
        },
        CommandHelp {
            usage: "get BUCKET STREAM [FROM] [LIMIT]",
            help: "the newest entry, or at most LIMIT (100) entries from FROM (step 2)",
        },
        CommandHelp {
            usage: "delete KEY",
            help: "delete KEY: a tombstone in its stream (Going further)",
        },
    ];

    async fn start(node: &Node) -> Result<Self, Error> {
        Ok(KvApp {
            kv: Kv::start(node),
        })
    }

    async fn run(&self, command: &str, args: &[&str]) -> Result<String, Error> {
        match (command, args) {
            ("store", [key, value]) => Ok(stored(&self.kv.store(key, value).await?)),
            ("fetch", [key]) => Ok(match self.kv.fetch(key).await? {
                Some(entry) => show(&entry),
                None => "not found".to_string(),
            }),
            ("post", [bucket, stream, text @ ..]) if !text.is_empty() => {
                let text = text.join(" ");
                Ok(stored(&self.kv.post(bucket, stream, &text).await?))
            }
            ("delete", [key]) => Ok(match self.kv.delete(key).await? {
                Some(tombstone) => format!("deleted: {}", stored(&tombstone)),
                None => "not found".to_string(),
            }),
            ("get", [bucket, stream]) => self.get(bucket, stream, None, 1).await,
            ("get", [bucket, stream, from]) => {
                self.get(bucket, stream, Some(number(from)?), DEFAULT_LIMIT)
                    .await
            }
            ("get", [bucket, stream, from, limit]) => {
                self.get(bucket, stream, Some(number(from)?), number(limit)?)
                    .await
            }
            _ => Err(Self::usage(command)),
        }
    }
}

impl KvApp {
    /// `get`, printed one entry per line.
    async fn get(
        &self,
        bucket: &str,
        stream: &str,
        from: Option<u64>,
        limit: usize,
    ) -> Result<String, Error> {
        let entries = self.kv.get(bucket, stream, from, limit).await?;
        Ok(lines(&entries))
    }
}

/// A stored entry and the node that keeps it.
fn stored(stored: &Stored) -> String {
    format!("{}  (on {})", show(&stored.entry), stored.vnode.node)
}

/// An entry as `#SEQ TIME TEXT`; a tombstone (Going further) as `#SEQ TIME (deleted)`.
fn show(entry: &Entry) -> String {
    if is_tombstone(entry) {
        format!("#{} {} (deleted)", entry.seq, entry.ts_ms)
    } else {
        ShowEntry(entry).to_string()
    }
}

fn lines(entries: &[Entry]) -> String {
    if entries.is_empty() {
        return "no entries".to_string();
    }
    let lines: Vec<String> = entries.iter().map(show).collect();
    lines.join("\n")
}

fn number<T: FromStr>(text: &str) -> Result<T, Error> {
    text.parse()
        .map_err(|_| Error::bad_request(format!("'{text}' is not a whole number")))
}
