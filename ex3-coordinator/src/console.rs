//! The console commands of the replicated database. Every command takes optional `n=`, `w=`
//! and `r=` settings (defaults N=3, W=2, R=2).

use crate::service::Db;
use ringcore::streams::Nwr;
use ringcore::streams::console::{show_entries, show_listing, show_newest, show_written};
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
            ("store", [key, value]) => {
                Ok(show_written(&self.db.store(key, value, nwr).await?, nwr))
            }
            ("fetch", [key]) => Ok(show_newest(&self.db.fetch(key, nwr).await?)),
            ("post", [bucket, stream, text @ ..]) if !text.is_empty() => Ok(show_written(
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
                Ok(show_entries(&read))
            }
            ("list-streams", [bucket]) => Ok(show_listing(
                &self.db.list_streams(bucket, nwr).await?,
                "no streams",
            )),
            ("list-buckets", []) => Ok(show_listing(
                &self.db.list_buckets(nwr).await?,
                "no buckets",
            )),
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
