//! The stream database's API: replicated appends and reads with N/W/R, and listings and
//! stats as coverage queries. Every front end (console, HTTP, chat) calls these.
//!
//! # What it promises
//!
//! Whatever nodes die, stall, restart, join or leave, and whatever they think of each other:
//!
//! - a replica acknowledges only the very entry it stores, and an entry keeps one identity
//!   (its [`Dot`](crate::store::Dot)) on every replica: two writes are never taken for one;
//! - every acknowledged write is returned, exactly once, by every later read with R ≥ 2
//!   (N=3, W=2) through any node, once the cluster has healed (hinted handoff has brought
//!   back what fallbacks took, and anti-entropy, [`super::aae`], has filled the replicas that
//!   missed it);
//! - replicas end up with the same entries in the same order: by sequence number, then dot.
//!
//! The database is available rather than consistent (riak's way, "AP"): a write goes through
//! as long as W replicas of the key's preference list (fallbacks included) take it, even when
//! nodes disagree on who is up. So two coordinators may give the same sequence number to two
//! writes at once, during a partition say. Neither is lost: both are kept, side by side, in
//! the same order everywhere, and a read says that it saw such *concurrent* entries.
//!
//! # A write
//!
//! 1. ask the other replicas of the key's N (fallbacks included) for the stream's last
//!    sequence number, and wait for W−1 of them;
//! 2. have the first replica of the preference list (the *coordinating* replica) append the
//!    entry with the next number: one more than its own last, and than any other replica
//!    reported. The store gives the entry its dot: the coordinating store's actor and its own
//!    counter. When that replica cannot be reached at all (its node refuses the connection
//!    before anyone noticed it is down), the next replica coordinates instead; when the
//!    request may have reached it (a timeout, a connection lost after sending), the write
//!    fails instead, since appending it elsewhere too could store it twice;
//! 3. send the entry to the other replicas and wait until W replicas in all hold it.
//!
//! Steps 1 and 2 together hear from W replicas. When W + W > N, any W replicas share one with
//! the W that acknowledged the previous write, so while the preference list is the same for
//! everyone a new entry's number is above every acknowledged one. When it is not (nodes that
//! disagree about who is up use different fallbacks), numbers may repeat: the dots keep the
//! entries apart. With W=1 there is no step 1: the coordinating replica alone decides.
//!
//! # A read
//!
//! A read asks N replicas, waits for R, returns the union of what they hold (by identity), says
//! whether they disagreed and whether it saw concurrent entries, and sends each replica what
//! it lacked (read repair, the same merge as everywhere: [`PartitionStore::put_entry`]).
//! A page never ends in the middle of a sequence number held by several entries, so paging
//! on with `from` = the last number + 1 skips none.
//!
//! Each replica answers with its *floor* too: the lowest number it keeps of the stream (see
//! [`super::eviction`]). The read returns nothing below the highest floor it heard, and sends
//! that floor to the replicas that are behind (entries evicted or deleted on one replica are
//! never taken, from another, for entries that one lacks).
//!
//! # A delete
//!
//! Asks W replicas for the stream's last sequence number (as a write's step 1 does, so it
//! hears of every acknowledged entry), then has every replica evict everything up to it
//! (`Trim`), acknowledged by W. The stream's numbering goes on after it; replicas that missed
//! the delete get the floor from a read, from anti-entropy or from handoff.
//!
//! [`PartitionStore::put_entry`]: crate::store::PartitionStore::put_entry

use super::aae::{self, AntiEntropy};
use super::eviction;
use super::follow::{Followed, Following};
use super::listing::merge_names;
use super::vnode::{
    PageWindow, StreamCommand, StreamCoverage, StreamCoverageReply, StreamReply, StreamVnode,
    VnodeStats,
};
use crate::access::Access;
use crate::error::Error;
use crate::metrics::Op;
use crate::node::Node;
use crate::node::VnodeMaster;
use crate::ring::IndexNode;
use crate::ring::apl::Preflist;
use crate::ring::hash::chash_key;
use crate::store::EvictionPolicy;
use crate::store::{Entry, EntryId};
use crate::vnode::Vnode;
use crate::vnode::coordinator::{Answer, Quorum, QuorumWaiter};
use crate::vnode::coverage::CoverageResult;
use std::collections::BTreeMap;
use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The buckets the system keeps its own data in (the workshop's key/value store, the chat's
/// rooms): left out of the bucket listings of the HTTP API (the console, an operator's, shows
/// them), and reached only with the permissions they need like any other. (Users, grants and settings live in the cluster metadata, in no bucket.)
pub const SYSTEM_BUCKETS: &[&str] = &[super::commands::KV_BUCKET, "chat"];

/// Whether a bucket is one of the [`SYSTEM_BUCKETS`].
pub fn is_system_bucket(bucket: &str) -> bool {
    SYSTEM_BUCKETS.contains(&bucket)
}

/// The vnode type the stream database registers.
pub const VNODE_TYPE: &str = "stream_vnode";

/// What a write's errors call its first and last steps (they ask the other replicas only).
const ASK_LAST_SEQ: &str = "write (asking the other replicas for the last sequence number)";
const COPY_ENTRY: &str = "write (copying the entry to the other replicas)";

/// Replication settings of one request: N replicas, W acknowledgements for a write, R answers
/// for a read.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Nwr {
    pub n: usize,
    pub w: usize,
    pub r: usize,
}

impl Default for Nwr {
    /// N=3, W=2, R=2: a write and a read always share a replica, and one node may be down.
    fn default() -> Self {
        Nwr { n: 3, w: 2, r: 2 }
    }
}

impl Nwr {
    /// One replica: the key's primary vnode alone.
    pub const ONE: Nwr = Nwr { n: 1, w: 1, r: 1 };

    /// Takes `n=3`, `w=2`, `r=1` words out of a command's arguments; returns the settings and
    /// the other words. A W or R not given is the default, but never more than N.
    pub fn from_args<'a>(args: &[&'a str]) -> Result<(Nwr, Vec<&'a str>), Error> {
        let (mut n, mut w, mut r) = (None, None, None);
        let mut rest = Vec::new();
        for arg in args {
            let setting = arg
                .split_once('=')
                .filter(|(k, _)| matches!(*k, "n" | "w" | "r"));
            let Some((key, value)) = setting else {
                rest.push(*arg);
                continue;
            };
            let value: usize = value
                .parse()
                .map_err(|_| Error::bad_request(format!("{key}= takes a number, not '{value}'")))?;
            match key {
                "n" => n = Some(value),
                "w" => w = Some(value),
                _ => r = Some(value),
            }
        }
        Ok((Nwr::given(n, w, r)?, rest))
    }

    /// The settings given, the defaults for the others; a W or R not given is never more than
    /// N. Checked.
    pub fn given(n: Option<usize>, w: Option<usize>, r: Option<usize>) -> Result<Nwr, Error> {
        let default = Nwr::default();
        let n = n.unwrap_or(default.n);
        let nwr = Nwr {
            n,
            w: w.unwrap_or(default.w.min(n.max(1))),
            r: r.unwrap_or(default.r.min(n.max(1))),
        };
        nwr.check()?;
        Ok(nwr)
    }

    /// Refuses settings that make no sense.
    pub fn check(&self) -> Result<(), Error> {
        if self.n == 0 || self.w == 0 || self.r == 0 {
            return Err(Error::bad_request("n, w and r must be at least 1"));
        }
        if self.w > self.n || self.r > self.n {
            return Err(Error::bad_request(format!(
                "w ({}) and r ({}) cannot be more than n ({})",
                self.w, self.r, self.n
            )));
        }
        Ok(())
    }
}

/// An acknowledged write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Written {
    pub entry: Entry,
    /// Replicas that hold the entry when the write returned (at least W).
    pub acks: usize,
}

/// What a read found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadResult {
    pub entries: Vec<Entry>,
    /// Replicas that answered (at least R).
    pub answered: usize,
    /// Whether those replicas held different entries (the missing ones were sent back to them).
    pub disagreed: bool,
    /// Sequence numbers among `entries` held by more than one entry: writes that drew the
    /// same number at once (during a failure) and were both kept.
    pub concurrent: usize,
}

/// Names gathered by a coverage query, without duplicates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listing {
    pub names: Vec<String>,
    /// Set when some vnodes did not answer: the list may be incomplete.
    pub partial: Option<String>,
}

/// A vnode that keeps streams: the finished [`StreamVnode`], or an exercise's own.
pub trait StreamsVnode:
    Vnode<
        Command = StreamCommand,
        Reply = StreamReply,
        CoverageRequest = StreamCoverage,
        CoverageReply = StreamCoverageReply,
    >
{
}

impl<V> StreamsVnode for V where
    V: Vnode<
            Command = StreamCommand,
            Reply = StreamReply,
            CoverageRequest = StreamCoverage,
            CoverageReply = StreamCoverageReply,
        >
{
}

/// The stream database on one node.
pub struct Streams<Q: QuorumWaiter = Quorum, V: StreamsVnode = StreamVnode> {
    vnodes: VnodeMaster<V>,
    quorum: Q,
    anti_entropy: Arc<AntiEntropy>,
    /// The streams this node's clients follow (see [`super::follow`]).
    followed: Followed,
}

impl<Q: QuorumWaiter, V: StreamsVnode> Clone for Streams<Q, V> {
    fn clone(&self) -> Self {
        Streams {
            vnodes: self.vnodes.clone(),
            quorum: self.quorum.clone(),
            anti_entropy: Arc::clone(&self.anti_entropy),
            followed: self.followed.clone(),
        }
    }
}

impl Streams {
    /// Hosts the stream vnodes on a node.
    pub fn start(node: &Node) -> Self {
        Streams::start_with(node, VNODE_TYPE)
    }
}

impl<V: StreamsVnode> Streams<Quorum, V> {
    /// Hosts vnodes of your own type `V` under the name `vnode_type`, and starts their
    /// anti-entropy if the node's configuration asks for it (see [`super::aae`]).
    pub fn start_with(node: &Node, vnode_type: &'static str) -> Self {
        let vnodes = node.register::<V>(vnode_type);
        let mut db = Streams {
            anti_entropy: aae::start(&vnodes),
            vnodes,
            quorum: Quorum,
            followed: Followed::default(),
        };
        db.followed = Followed::start(&db);
        db
    }
}

impl<Q: QuorumWaiter, V: StreamsVnode> Streams<Q, V> {
    /// The same database, waiting for quorums with `quorum` (an exercise's own version).
    pub fn with_quorum<Q2: QuorumWaiter>(self, quorum: Q2) -> Streams<Q2, V> {
        Streams {
            vnodes: self.vnodes,
            quorum,
            anti_entropy: self.anti_entropy,
            followed: self.followed,
        }
    }

    /// The stream vnodes, for requests of your own.
    pub fn vnodes(&self) -> &VnodeMaster<V> {
        &self.vnodes
    }

    /// Follows a stream for one client: [`Following::changed`] wakes when a replica stores a
    /// new entry of it (see [`super::follow`]).
    pub fn follow(&self, bucket: &str, stream: &str) -> Following {
        self.followed.follow(self, bucket, stream)
    }

    /// Follows every stream that matches `pattern`, present and future, for one client (see
    /// [`super::follow`]).
    pub async fn follow_pattern(
        &self,
        pattern: super::follow::Pattern,
    ) -> super::follow::PatternFollowing {
        self.followed.follow_pattern(self, pattern).await
    }

    /// Who may do what on this database (the node's users and grants).
    pub fn access(&self) -> &Access {
        self.vnodes.node().access()
    }

    /// This node's anti-entropy: what it did (`aae-status`).
    pub fn anti_entropy(&self) -> &AntiEntropy {
        &self.anti_entropy
    }

    fn wait(&self) -> Duration {
        self.vnodes.node().config().request_timeout
    }

    /// The replicas of a stream: N vnodes, fallbacks standing in for those that are down.
    pub fn preflist(&self, bucket: &str, stream: &str, n: usize) -> Preflist {
        self.vnodes
            .apl(&chash_key(bucket.as_bytes(), stream.as_bytes()), n)
    }

    /// Appends a message to a stream, on N replicas, acknowledged by W.
    pub async fn post(
        &self,
        bucket: &str,
        stream: &str,
        payload: Vec<u8>,
        nwr: Nwr,
    ) -> Result<Written, Error> {
        let write = self.write(bucket, stream, payload, nwr);
        self.metered("post", write).await
    }

    /// A post's steps, in the order the module doc lists them.
    async fn write(
        &self,
        bucket: &str,
        stream: &str,
        payload: Vec<u8>,
        nwr: Nwr,
    ) -> Result<Written, Error> {
        nwr.check()?;
        let replicas = self.replicas(bucket, stream, nwr.n, nwr.w, "write")?;
        // 1. The highest sequence number W−1 of the other replicas know.
        let at_least = if nwr.w > 1 {
            let command = StreamCommand::LastSeq {
                bucket: bucket.into(),
                stream: stream.into(),
            };
            let others = &replicas[1..];
            let answers = self.ask(others, command, nwr.w - 1, ASK_LAST_SEQ).await?;
            answers
                .iter()
                .filter_map(|a| match a.reply {
                    StreamReply::LastSeq(seq) => Some(seq),
                    _ => None,
                })
                .max()
                .unwrap_or(0)
                + 1
        } else {
            0
        };
        // 2. The coordinating replica appends and decides the entry.
        let (coordinator, entry) = self
            .append(bucket, stream, payload, at_least, &replicas)
            .await?;
        // 3. The others store the same entry.
        let others: Vec<IndexNode> = replicas
            .iter()
            .filter(|r| **r != coordinator)
            .cloned()
            .collect();
        if others.is_empty() {
            return Ok(Written { entry, acks: 1 });
        }
        let put = StreamCommand::Put {
            bucket: bucket.into(),
            stream: stream.into(),
            entry: entry.clone(),
        };
        if nwr.w == 1 {
            // The coordinating replica's copy is the one acknowledgement asked for: the others
            // get theirs without anyone waiting (or failing the write) for their answers.
            self.vnodes.tell(&others, put);
            return Ok(Written { entry, acks: 1 });
        }
        let stored = self.ask(&others, put, nwr.w - 1, COPY_ENTRY).await?;
        Ok(Written {
            entry,
            acks: 1 + stored.len(),
        })
    }

    /// Step 2 of a write: the first replica that can be reached appends the entry. Only a
    /// replica that certainly did not get the request (its node could not be reached at all)
    /// is passed over; any other failure fails the write, which may then have been stored by
    /// that replica alone (it is not acknowledged, so nothing promised is lost).
    async fn append(
        &self,
        bucket: &str,
        stream: &str,
        payload: Vec<u8>,
        at_least: u64,
        replicas: &[IndexNode],
    ) -> Result<(IndexNode, Entry), Error> {
        let mut passed_over = Vec::new();
        for replica in replicas {
            let append = StreamCommand::Append {
                bucket: bucket.into(),
                stream: stream.into(),
                payload: payload.clone(),
                at_least,
            };
            match self.vnodes.sync_command(replica, append).await {
                Ok(StreamReply::Appended(entry)) => {
                    if !passed_over.is_empty() {
                        tracing::debug!(%bucket, %stream, coordinator = %replica.node, unreachable = ?passed_over, "write coordinated by a later replica");
                    }
                    return Ok((replica.clone(), entry));
                }
                Ok(StreamReply::Failed(reason)) => return Err(failed(replica, reason)),
                Ok(other) => return Err(unexpected(other)),
                Err(Error::Unreachable(node)) => passed_over.push(node),
                Err(error) => return Err(error),
            }
        }
        Err(Error::Quorum {
            what: "write (appending the entry)".to_string(),
            needed: 1,
            succeeded: 0,
            asked: replicas.len(),
            reasons: passed_over
                .iter()
                .map(|node| Error::Unreachable(node.clone()).to_string())
                .collect(),
        })
    }

    /// Entries of a stream from sequence number `from` (1 or 0: the start): `limit` of them,
    /// or a few more when concurrent entries share the last number (a page never splits them).
    pub async fn read(
        &self,
        bucket: &str,
        stream: &str,
        from: u64,
        limit: usize,
        nwr: Nwr,
    ) -> Result<ReadResult, Error> {
        let read = self.read_with(bucket, stream, Window::First { from, limit }, nwr);
        self.metered("read", read).await
    }

    /// The newest `n` entries of a stream, oldest first (the newest included).
    pub async fn last(
        &self,
        bucket: &str,
        stream: &str,
        n: usize,
        nwr: Nwr,
    ) -> Result<ReadResult, Error> {
        let read = self.read_with(bucket, stream, Window::Last(n), nwr);
        self.metered("last", read).await
    }

    async fn read_with(
        &self,
        bucket: &str,
        stream: &str,
        window: Window,
        nwr: Nwr,
    ) -> Result<ReadResult, Error> {
        nwr.check()?;
        let command = StreamCommand::Page {
            bucket: bucket.into(),
            stream: stream.into(),
            window: window.asked(),
        };
        let replicas = self.replicas(bucket, stream, nwr.n, nwr.r, "read")?;
        let mut answers = self.ask(&replicas, command, nwr.r, "read").await?;
        if answers.len() == 1 {
            // One replica asked (R=1): nothing to merge, nothing to repair.
            let answer = answers.pop().expect("one answer");
            let StreamReply::Page { mut entries, .. } = answer.reply else {
                return Err(unexpected(answer.reply));
            };
            window.trim(&mut entries);
            return Ok(ReadResult {
                concurrent: concurrent_numbers(&entries),
                entries,
                answered: 1,
                disagreed: false,
            });
        }
        let mut union: BTreeMap<EntryId, Entry> = BTreeMap::new();
        let mut seen: Vec<(IndexNode, Held)> = Vec::new();
        let mut floors: Vec<(IndexNode, u64)> = Vec::new();
        for answer in answers {
            let StreamReply::Page { entries, floor } = answer.reply else {
                return Err(unexpected(answer.reply));
            };
            seen.push((answer.from.clone(), Held::new(&entries, window)));
            floors.push((answer.from, floor));
            for entry in entries {
                union.entry(entry.id()).or_insert(entry);
            }
        }
        // What one replica evicted is gone, however many others still hold it: those are
        // told to evict it too, and it is neither returned nor repaired.
        let floor = floors.iter().map(|(_, f)| *f).max().unwrap_or(1);
        let behind: Vec<IndexNode> = floors
            .into_iter()
            .filter(|(_, f)| *f < floor)
            .map(|(replica, _)| replica)
            .collect();
        if !behind.is_empty() {
            let trim = StreamCommand::Trim {
                bucket: bucket.into(),
                stream: stream.into(),
                floor,
            };
            self.vnodes.tell(&behind, trim);
        }
        let mut entries: Vec<Entry> = union.into_values().filter(|e| e.seq >= floor).collect();
        window.trim(&mut entries);
        let lacking: Vec<(&IndexNode, Vec<&Entry>)> = seen
            .iter()
            .map(|(replica, held)| {
                let missing = entries.iter().filter(|e| held.lacks(e.id())).collect();
                (replica, missing)
            })
            .collect();
        let disagreed = lacking.iter().any(|(_, missing)| !missing.is_empty());
        if disagreed {
            self.repair(bucket, stream, &lacking);
        }
        Ok(ReadResult {
            concurrent: concurrent_numbers(&entries),
            entries,
            answered: seen.len(),
            disagreed,
        })
    }

    /// Runs a request of `op` and counts it in the node's metrics: how it ended (`ok`, or its
    /// error's kind), how long it took, and whether it missed its quorum.
    async fn metered<T>(
        &self,
        op: &'static str,
        request: impl Future<Output = Result<T, Error>>,
    ) -> Result<T, Error> {
        let started = Instant::now();
        let result = request.await;
        let metrics = self.vnodes.node().metrics();
        let outcome = result.as_ref().map_or_else(Error::kind, |_| "ok");
        metrics.request(op, outcome, started.elapsed());
        if let Err(Error::Quorum { .. } | Error::Timeout { .. }) = &result {
            metrics.quorum_failures.get_or_create(&Op { op }).inc();
        }
        result
    }

    /// Sends each replica the entries it lacked (read repair). Nobody waits for the answers.
    fn repair(&self, bucket: &str, stream: &str, lacking: &[(&IndexNode, Vec<&Entry>)]) {
        let entries: usize = lacking.iter().map(|(_, missing)| missing.len()).sum();
        let metrics = self.vnodes.node().metrics();
        metrics.read_repairs.inc_by(entries as u64);
        for (replica, missing) in lacking {
            for entry in missing {
                let put = StreamCommand::Put {
                    bucket: bucket.into(),
                    stream: stream.into(),
                    entry: (*entry).clone(),
                };
                self.vnodes.tell(std::slice::from_ref(*replica), put);
            }
        }
    }

    /// The vnodes of a stream's preference list, if at least `needed` of them are reachable.
    fn replicas(
        &self,
        bucket: &str,
        stream: &str,
        n: usize,
        needed: usize,
        what: &str,
    ) -> Result<Vec<IndexNode>, Error> {
        let partitions = self.vnodes.node().config().ring_size as usize;
        if n > partitions {
            return Err(Error::bad_request(format!(
                "n ({n}) cannot be more than the ring's {partitions} partitions"
            )));
        }
        let replicas = crate::ring::apl::targets(&self.preflist(bucket, stream, n));
        if replicas.len() < needed {
            return Err(Error::Quorum {
                what: what.to_string(),
                needed,
                succeeded: 0,
                asked: replicas.len(),
                reasons: vec![format!(
                    "only {} of the {n} replicas are on nodes that are up",
                    replicas.len()
                )],
            });
        }
        Ok(replicas)
    }

    /// Sends a command to every replica and waits for `needed` successful answers.
    async fn ask(
        &self,
        replicas: &[IndexNode],
        command: StreamCommand,
        needed: usize,
        what: &'static str,
    ) -> Result<Vec<Answer<StreamReply>>, Error> {
        let replies = self
            .vnodes
            .ask(what, replicas, command)
            .with_failures(|reply| match reply {
                StreamReply::Failed(reason) => Some(reason.clone()),
                _ => None,
            });
        self.quorum.wait_for_quorum(replies, needed).await
    }

    /// Asks a covering set of vnodes (for data stored with `n` replicas).
    pub async fn coverage(
        &self,
        request: StreamCoverage,
        n: usize,
    ) -> CoverageResult<StreamCoverageReply> {
        self.vnodes.coverage(request, n, self.wait()).await
    }

    /// Every bucket, each once, the system's included (the HTTP API leaves those out of the
    /// listings it gives users: see [`SYSTEM_BUCKETS`]).
    pub async fn list_buckets(&self, nwr: Nwr) -> Result<Listing, Error> {
        let list = async { merge_names(self.coverage(StreamCoverage::ListBuckets, nwr.n).await) };
        self.metered("list", list).await
    }

    /// Empties a stream on every replica, for good (see "A delete" in the module docs);
    /// returns its new floor: the number the next entry will have at least.
    pub async fn delete(&self, bucket: &str, stream: &str, nwr: Nwr) -> Result<u64, Error> {
        let delete = async {
            nwr.check()?;
            let replicas = self.replicas(bucket, stream, nwr.n, nwr.w, "delete")?;
            let last_seq = StreamCommand::LastSeq {
                bucket: bucket.into(),
                stream: stream.into(),
            };
            let answers = self
                .ask(
                    &replicas,
                    last_seq,
                    nwr.w,
                    "delete (asking for the last sequence number)",
                )
                .await?;
            let last = answers
                .iter()
                .filter_map(|a| match a.reply {
                    StreamReply::LastSeq(seq) => Some(seq),
                    _ => None,
                })
                .max()
                .unwrap_or(0);
            let trim = StreamCommand::Trim {
                bucket: bucket.into(),
                stream: stream.into(),
                floor: last + 1,
            };
            self.ask(&replicas, trim, nwr.w, "delete (evicting on the replicas)")
                .await?;
            Ok(last + 1)
        };
        self.metered("delete", delete).await
    }

    /// Asks one vnode (the primary of a key drawn from the clock) whether it is there;
    /// returns its partition.
    pub async fn ping(&self) -> Result<crate::ring::Partition, Error> {
        let key = crate::clock::now_ms().to_string();
        let replicas = self.replicas("ping", &key, 1, 1, "ping")?;
        let ask = StreamCommand::LastSeq {
            bucket: "ping".into(),
            stream: key,
        };
        self.vnodes.sync_command(&replicas[0], ask).await?;
        Ok(replicas[0].partition)
    }

    /// The eviction policy set on exactly this bucket (`stream` None) or stream.
    pub fn eviction(&self, bucket: &str, stream: Option<&str>) -> Option<EvictionPolicy> {
        eviction::policy(self.vnodes.node().metadata(), bucket, stream)
    }

    /// Sets (or, with `None`, removes) the eviction policy of a bucket or stream, on every
    /// node; every replica applies it from then on.
    pub async fn set_eviction(
        &self,
        bucket: &str,
        stream: Option<&str>,
        policy: Option<EvictionPolicy>,
    ) -> Result<(), Error> {
        eviction::set_policy(self.vnodes.node().metadata(), bucket, stream, policy).await
    }

    /// Every stream of a bucket, each once.
    pub async fn list_streams(&self, bucket: &str, nwr: Nwr) -> Result<Listing, Error> {
        let request = StreamCoverage::ListStreams {
            bucket: bucket.into(),
        };
        let list = async { merge_names(self.coverage(request, nwr.n).await) };
        self.metered("list", list).await
    }

    /// What every vnode did and holds (every partition is asked).
    pub async fn stats(&self) -> Result<Vec<(IndexNode, VnodeStats)>, Error> {
        let result = self.coverage(StreamCoverage::Stats, 1).await;
        if let Some(note) = result.partial_note() {
            return Err(Error::Unavailable(note));
        }
        result
            .replies
            .into_iter()
            .map(|(vnode, reply)| match reply {
                StreamCoverageReply::Stats(stats) => Ok((vnode, stats)),
                StreamCoverageReply::Failed(reason) => Err(failed(&vnode, reason)),
                StreamCoverageReply::Names(_) => {
                    Err(Error::internal("a vnode answered stats with names"))
                }
            })
            .collect()
    }
}

/// Which part of a stream a read asked each replica for.
#[derive(Debug, Clone, Copy)]
enum Window {
    /// The first `limit` entries from a number on (and the rest of the last number's).
    First { from: u64, limit: usize },
    /// The newest `n` entries.
    Last(usize),
}

impl Window {
    /// What each replica is asked for.
    fn asked(self) -> PageWindow {
        match self {
            Window::First { from, limit } => PageWindow::From { from, limit },
            Window::Last(n) => PageWindow::Newest(n),
        }
    }

    /// Cuts the union of the replicas' answers to what was asked.
    fn trim(self, entries: &mut Vec<Entry>) {
        match self {
            Window::First { limit: 0, .. } => entries.clear(),
            Window::First { limit, .. } if limit < entries.len() => {
                // Keep whole sequence numbers: concurrent entries are never split by a page.
                let last_seq = entries[limit - 1].seq;
                let end = entries[limit..]
                    .iter()
                    .position(|e| e.seq != last_seq)
                    .map_or(entries.len(), |extra| limit + extra);
                entries.truncate(end);
            }
            Window::First { .. } => {}
            Window::Last(n) => {
                let extra = entries.len().saturating_sub(n);
                entries.drain(..extra);
            }
        }
    }
}

/// What one replica answered a read with, and the span of the stream that answer covers: a
/// replica that returned fewer entries than asked holds nothing more on that side, while one
/// that returned a full page may hold more beyond it, which the read did not ask about.
struct Held {
    /// Sorted: a replica answers in the stream's order.
    ids: Vec<EntryId>,
    /// The covered span's ends, when the answer was cut there.
    from: Option<EntryId>,
    to: Option<EntryId>,
}

impl Held {
    fn new(entries: &[Entry], window: Window) -> Self {
        let mut ids: Vec<EntryId> = entries.iter().map(Entry::id).collect();
        ids.sort_unstable(); // already in order from a store; cheap to make sure
        let (from, to) = match window {
            Window::First { limit, .. } if entries.len() >= limit => (None, ids.last().copied()),
            Window::Last(n) if entries.len() >= n => (ids.first().copied(), None),
            _ => (None, None),
        };
        Held { ids, from, to }
    }

    /// Whether the replica lacks this entry, as far as its answer shows.
    fn lacks(&self, id: EntryId) -> bool {
        let covered = self.from.is_none_or(|from| id >= from) && self.to.is_none_or(|to| id <= to);
        covered && self.ids.binary_search(&id).is_err()
    }
}

/// How many sequence numbers are held by more than one of these (ordered) entries.
fn concurrent_numbers(entries: &[Entry]) -> usize {
    let mut count = 0;
    for (i, pair) in entries.windows(2).enumerate() {
        let starts_group = i == 0 || entries[i - 1].seq != pair[0].seq;
        if pair[0].seq == pair[1].seq && starts_group {
            count += 1;
        }
    }
    count
}

pub(super) fn failed(vnode: &IndexNode, reason: String) -> Error {
    Error::VnodeFailed {
        vnode: vnode.clone(),
        reason,
    }
}

fn unexpected(reply: StreamReply) -> Error {
    Error::internal(format!("unexpected answer from a stream vnode: {reply:?}"))
}

/// How the consoles print an entry: `#3 1763884800123 hello world`.
pub struct ShowEntry<'a>(pub &'a Entry);

impl fmt::Display for ShowEntry<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "#{} {} {}",
            self.0.seq,
            self.0.ts_ms,
            String::from_utf8_lossy(&self.0.payload)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Dot;

    /// Entry `#seq` appended by store `actor`.
    fn entry(seq: u64, actor: u64) -> Entry {
        Entry {
            seq,
            dot: Dot { actor, counter: 1 },
            ts_ms: 0,
            payload: format!("{seq}/{actor}").into_bytes(),
        }
    }

    fn ids(entries: &[Entry]) -> Vec<(u64, u64)> {
        entries.iter().map(|e| (e.seq, e.dot.actor)).collect()
    }

    #[test]
    fn a_page_never_splits_a_number_held_by_several_entries() {
        let all = vec![
            entry(1, 1),
            entry(2, 1),
            entry(2, 2),
            entry(2, 3),
            entry(3, 1),
        ];
        let mut page = all.clone();
        Window::First { from: 0, limit: 2 }.trim(&mut page);
        assert_eq!(ids(&page), [(1, 1), (2, 1), (2, 2), (2, 3)]);
        let mut page = all.clone();
        Window::First { from: 0, limit: 1 }.trim(&mut page);
        assert_eq!(ids(&page), [(1, 1)]);
        let mut page = all.clone();
        Window::First { from: 0, limit: 0 }.trim(&mut page);
        assert!(page.is_empty());
        let mut newest = all.clone();
        Window::Last(2).trim(&mut newest);
        assert_eq!(ids(&newest), [(2, 3), (3, 1)]);
    }

    #[test]
    fn concurrent_numbers_are_counted_once_each() {
        assert_eq!(concurrent_numbers(&[]), 0);
        assert_eq!(concurrent_numbers(&[entry(1, 1), entry(2, 1)]), 0);
        let twice = [
            entry(1, 1),
            entry(1, 2),
            entry(2, 1),
            entry(3, 1),
            entry(3, 2),
            entry(3, 3),
        ];
        assert_eq!(concurrent_numbers(&twice), 2);
    }

    #[test]
    fn a_replica_lacks_only_what_its_answer_covered() {
        // Asked for 2 from the start, it returned a full page: it may hold more after #2.
        let full = Held::new(
            &[entry(1, 1), entry(2, 1)],
            Window::First { from: 0, limit: 2 },
        );
        assert!(
            full.lacks(entry(1, 9).id()),
            "a concurrent #1 it did not return"
        );
        assert!(!full.lacks(entry(2, 1).id()));
        assert!(
            !full.lacks(entry(3, 1).id()),
            "past its page: unknown, not lacking"
        );
        // A short answer covers the whole rest of the stream.
        let short = Held::new(&[entry(1, 1)], Window::First { from: 0, limit: 5 });
        assert!(short.lacks(entry(7, 1).id()));
        // The newest 2: it may hold older entries than its first.
        let newest = Held::new(&[entry(4, 1), entry(5, 1)], Window::Last(2));
        assert!(!newest.lacks(entry(3, 1).id()));
        assert!(newest.lacks(entry(5, 2).id()));
    }
}
