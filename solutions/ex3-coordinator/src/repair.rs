//! Going further: a read that repairs, written by you.
//!
//! The database's own reads already send the entries a replica lacked back to it (read
//! repair, riak_kv's get FSM). Here you write one yourself, on top of your coordinator: ask
//! every replica of a stream for all it holds, merge the answers by identity, and send each
//! replica what it lacked. `repair BUCKET STREAM` at the console runs it.

use crate::coordinator::{YourQuorum, wait_for_quorum};
use ringcore::coordinator::{Answer, Replies};
use ringcore::store::{Entry, EntryId};
use ringcore::streams::{StreamCommand, StreamReply, Streams};
use ringcore::{Error, IndexNode, ReplyTo};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

/// What a repairing read found and did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Repaired {
    /// Every entry some replica holds, each once, in stream order (sequence number, then dot).
    pub entries: Vec<Entry>,
    /// Every replica asked, in preference-list order, with how many entries it lacked (and
    /// was sent, and stored).
    pub sent: Vec<(IndexNode, usize)>,
}

/// Sends `command` to every replica in `replicas` and waits, with your `wait_for_quorum`,
/// until `needed` of them answered (a vnode's `StreamReply::Failed` counts as a failure).
pub async fn ask(
    streams: &Streams<YourQuorum>,
    replicas: &[IndexNode],
    command: StreamCommand,
    needed: usize,
) -> Result<Vec<Answer<StreamReply>>, Error> {
    let (reply_to, inbox) = ReplyTo::channel();
    let request = streams.vnodes().command(replicas, command, &reply_to);
    let wait = streams.vnodes().node().config().request_timeout;
    let replies =
        Replies::new("read repair", request, inbox, replicas.len(), wait).with_failures(|reply| {
            match reply {
                StreamReply::Failed(reason) => Some(reason.clone()),
                _ => None,
            }
        });
    wait_for_quorum(replies, needed).await
}

/// Going further: reads the whole stream from all `n` replicas and sends each replica the
/// entries it lacked (README, Going further).
pub async fn read_repair(
    streams: &Streams<YourQuorum>,
    bucket: &str,
    stream: &str,
    n: usize,
) -> Result<Repaired, Error> {
    let replicas = ringcore::apl::targets(&streams.preflist(bucket, stream, n));
    // Every replica must answer: one that does not cannot be compared, nor repaired.
    let read = StreamCommand::Read {
        bucket: bucket.into(),
        stream: stream.into(),
        from: 1,
        limit: usize::MAX,
    };
    let answers = ask(streams, &replicas, read, replicas.len()).await?;
    // The union, by identity: two entries that share a number are both kept.
    let mut union: BTreeMap<EntryId, Entry> = BTreeMap::new();
    let mut held: Vec<(IndexNode, BTreeSet<EntryId>)> = Vec::new();
    for answer in answers {
        let StreamReply::Entries(entries) = answer.reply else {
            return Err(Error::internal("a replica answered a read without entries"));
        };
        held.push((answer.from, entries.iter().map(Entry::id).collect()));
        for entry in entries {
            union.entry(entry.id()).or_insert(entry);
        }
    }
    // Each replica gets what it lacked, and the repair waits until every one stored it.
    let mut sent = Vec::new();
    for replica in &replicas {
        let Some((_, ids)) = held.iter().find(|(from, _)| from == replica) else {
            continue;
        };
        let missing: Vec<Entry> = union
            .iter()
            .filter(|(id, _)| !ids.contains(id))
            .map(|(_, entry)| entry.clone())
            .collect();
        if !missing.is_empty() {
            let put = StreamCommand::PutMany {
                bucket: bucket.into(),
                stream: stream.into(),
                entries: missing.clone(),
            };
            ask(streams, std::slice::from_ref(replica), put, 1).await?;
        }
        sent.push((replica.clone(), missing.len()));
    }
    Ok(Repaired {
        entries: union.into_values().collect(),
        sent,
    })
}

impl fmt::Display for Repaired {
    /// One line per replica, then the total:
    /// `… on dev3@127.0.0.1: lacked 1 entry, sent it` … `4 entries on 3 replicas`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (replica, lacked) in &self.sent {
            let what = match lacked {
                0 => "held every entry".to_string(),
                1 => "lacked 1 entry, sent it".to_string(),
                n => format!("lacked {n} entries, sent them"),
            };
            writeln!(f, "{} on {}: {what}", replica.partition, replica.node)?;
        }
        write!(
            f,
            "{} entries on {} replicas",
            self.entries.len(),
            self.sent.len()
        )
    }
}
