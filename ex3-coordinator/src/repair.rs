//! Going further: a read that repairs, written by you.
//!
//! The database's own reads already send the entries a replica lacked back to it (read
//! repair, riak_kv's get FSM). Here you write one yourself, on top of your coordinator: ask
//! every replica of a stream for all it holds, merge the answers by identity, and send each
//! replica what it lacked. `repair BUCKET STREAM` at the console runs it.

use crate::coordinator::{YourQuorum, wait_for_quorum};
use ringcore::coordinator::{Answer, Replies};
use ringcore::store::Entry;
use ringcore::streams::{StreamCommand, StreamReply, Streams};
use ringcore::{Error, IndexNode, ReplyTo};
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
    let _ = (streams, bucket, stream, n);
    Err(Error::not_implemented(
        "write read_repair in src/repair.rs: ask every replica for the stream, merge by identity, send each what it lacked (README, Going further)",
    ))
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
