//! The stream vnode: one partition's streams, kept in a [`PartitionStore`].
//!
//! [`StreamState`] is the data and the commands on it; [`StreamVnode`] is the finished vnode
//! (the state plus its handoff callbacks). An exercise can wrap `StreamState` in a vnode of
//! its own and write the handoff callbacks itself: it answers anti-entropy's questions too.
//!
//! Each replica applies its streams' eviction policies itself (see [`super::eviction`]): a
//! stream's *floor* is the lowest sequence number it still keeps, and the answers that tell
//! other replicas what a stream holds (`Page`, `Ids`) carry it, so that a reader or an
//! anti-entropy exchange never takes an evicted entry from a replica that has not evicted it
//! yet for one that was lost.

use super::aae::{NamedSummary, RangeDigest, summaries_in};
use super::eviction::Policies;
use super::follow::{self, Changed, Subscribers};
use crate::ring::Partition;
use crate::store::{Dot, Entry, EntryId, Evicted, PartitionStore, StoreConfig};
use crate::vnode::Mailer;
use crate::vnode::{Vnode, VnodeContext};
use serde::{Deserialize, Serialize};
use std::io;
use std::ops::ControlFlow;

/// What a stream vnode can be asked.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum StreamCommand {
    /// Append as the coordinating replica: the entry gets the next sequence number of the
    /// stream, and at least `at_least` (the highest the other replicas reported, plus one),
    /// and a dot of this replica's store: its identity everywhere.
    Append {
        bucket: String,
        stream: String,
        #[serde(with = "serde_bytes")]
        payload: Vec<u8>,
        at_least: u64,
    },
    /// Store an entry appended by another replica (replication, read repair, anti-entropy),
    /// merged by identity: the same entry twice is stored once, and an entry that shares its
    /// number with another is kept beside it.
    Put {
        bucket: String,
        stream: String,
        entry: Entry,
    },
    /// The stream's highest sequence number (0 for an unknown stream).
    LastSeq { bucket: String, stream: String },
    /// Entries from sequence number `from`, at most `limit`.
    Read {
        bucket: String,
        stream: String,
        from: u64,
        limit: usize,
    },
    /// The newest `n` entries, oldest first.
    Last {
        bucket: String,
        stream: String,
        n: usize,
    },
    /// A read as the stream database's coordinator asks it: the entries of `window`, and the
    /// stream's floor here (answered with `Page`).
    Page {
        bucket: String,
        stream: String,
        window: PageWindow,
    },
    /// `node` follows the stream for `lease_ms`: it is told of every new entry stored here
    /// (see [`super::follow`]). Answered with `LastSeq`.
    Follow {
        bucket: String,
        stream: String,
        node: crate::ring::NodeName,
        lease_ms: u64,
    },
    /// `node` follows every stream of this partition that matches `pattern`, for `lease_ms`
    /// (see [`super::follow`]). Answered with `LastSeq(0)`.
    FollowPattern {
        pattern: super::follow::Pattern,
        node: crate::ring::NodeName,
        lease_ms: u64,
    },
    /// Evict every entry numbered below `floor`, for good (a DELETE of the stream, or a floor
    /// another replica reached). Answered with `Trimmed`.
    Trim {
        bucket: String,
        stream: String,
        floor: u64,
    },
    /// Anti-entropy, level 1: the digest of what this vnode holds of key range `range` (the
    /// streams whose first primary is that partition). See [`super::aae`].
    RangeDigest { range: Partition },
    /// Anti-entropy, level 2: the streams of key range `range` that fall in these segments,
    /// with their summaries.
    RangeSummaries { range: Partition, segments: Vec<u8> },
    /// Anti-entropy, the leaves: the identities of every entry of the stream, in order, and
    /// its floor.
    Ids { bucket: String, stream: String },
    /// The entries of the stream with these identities, in order; those not held are left
    /// out (anti-entropy fetches what a replica lacks with it).
    Get {
        bucket: String,
        stream: String,
        ids: Vec<EntryId>,
    },
    /// Store several entries of one stream appended elsewhere, each merged by identity as
    /// `Put` does (anti-entropy sends what a replica lacks in batches).
    PutMany {
        bucket: String,
        stream: String,
        entries: Vec<Entry>,
    },
}

/// Which entries a `Page` asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum PageWindow {
    /// From sequence number `from`, at most `limit` (and the rest of the last number's).
    From { from: u64, limit: usize },
    /// The newest `n`.
    Newest(usize),
}

/// A stream vnode's answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum StreamReply {
    Appended(Entry),
    Stored {
        new: bool,
    },
    LastSeq(u64),
    Entries(Vec<Entry>),
    /// The store could not do it (a disk error); the text says why.
    Failed(String),
    RangeDigest(RangeDigest),
    Summaries(Vec<NamedSummary>),
    Ids {
        floor: u64,
        ids: Vec<EntryId>,
    },
    /// The entries of a `Page`, and the stream's floor on this replica: entries numbered
    /// below it were evicted here, whatever other replicas still hold.
    Page {
        entries: Vec<Entry>,
        floor: u64,
    },
    /// The stream's floor after a `Trim`, and what it evicted.
    Trimmed {
        floor: u64,
        evicted: Evicted,
    },
    /// How many of a `PutMany`'s entries were new here.
    StoredMany {
        new: u64,
    },
}

/// What a coverage query asks every stream vnode of a covering set.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum StreamCoverage {
    ListBuckets,
    ListStreams { bucket: String },
    Stats,
}

/// One vnode's part of a coverage answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum StreamCoverageReply {
    Names(Vec<String>),
    Stats(VnodeStats),
    Failed(String),
}

/// What one vnode did and holds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct VnodeStats {
    /// Entries appended or stored (replicas count once each).
    pub writes: u64,
    /// Reads answered.
    pub reads: u64,
    /// Streams and entries held.
    pub streams: u64,
    pub entries: u64,
    /// Entries evicted (by a policy or a delete) since the vnode started, and their bytes.
    #[serde(default)]
    pub evicted_entries: u64,
    #[serde(default)]
    pub evicted_bytes: u64,
}

/// One item handed off: a stream entry with its place.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HandoffEntry {
    pub bucket: String,
    pub stream: String,
    pub entry: Entry,
}

/// One item a stream vnode hands off: an entry, or a stream's floor (so that a stream
/// deleted or evicted on a fallback stays so on the owner it hands over to).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum StreamHandoff {
    Entry(HandoffEntry),
    Floor {
        bucket: String,
        stream: String,
        floor: u64,
    },
}

/// The streams of one partition and the counters of what was done with them.
pub struct StreamState {
    store: PartitionStore,
    policies: Policies,
    /// The nodes that follow streams of this partition, and how to tell them.
    subscribers: Subscribers,
    mailer: Mailer,
    writes: u64,
    reads: u64,
}

impl StreamState {
    /// Opens (or creates) the partition's store in the vnode's data directory.
    pub fn open(ctx: &VnodeContext) -> Result<Self, String> {
        let store = PartitionStore::open(&ctx.data_dir, StoreConfig::default())
            .map_err(|e| format!("cannot open the store in {}: {e}", ctx.data_dir.display()))?;
        let report = store.recovery_report();
        if !report.is_clean() {
            tracing::warn!(partition = %ctx.partition, problems = ?report.problems, "store recovered with repairs");
        }
        let mut state = StreamState {
            store,
            policies: Policies::new(ctx.metadata.clone()),
            subscribers: Subscribers::default(),
            mailer: ctx.mailer.clone(),
            writes: 0,
            reads: 0,
        };
        // Policies set while this replica was away apply now.
        state.sweep();
        Ok(state)
    }

    /// The partition's store, for handoff callbacks.
    pub fn store(&mut self) -> &mut PartitionStore {
        &mut self.store
    }

    /// Handles one command.
    pub fn handle_command(&mut self, command: StreamCommand) -> StreamReply {
        self.run(command)
            .unwrap_or_else(|e| StreamReply::Failed(e.to_string()))
    }

    fn run(&mut self, command: StreamCommand) -> io::Result<StreamReply> {
        if self.policies.refresh() {
            // A policy changed: every stream it may touch is trimmed now, not on its next write.
            self.sweep();
        }
        let reply = self.answer(command)?;
        Ok(reply)
    }

    /// Applies the stream's policy now (cheap when it has none); a failure to remove files is
    /// logged, never fails the request (the floor was raised before the files went).
    fn evict(&mut self, bucket: &str, stream: &str) {
        if self.policies.is_empty() || !self.policies.may_apply_to(bucket) {
            return;
        }
        let policy = self.policies.for_stream(bucket, stream);
        if policy.is_empty() {
            return;
        }
        if let Err(error) = self
            .store
            .apply_policy(bucket, stream, &policy, crate::clock::now_ms())
        {
            tracing::warn!(%bucket, %stream, %error, "cannot apply the eviction policy");
        }
    }

    /// Tells the nodes that follow the stream that it has an entry numbered `seq` (`dot`, when
    /// the note is about that one entry).
    fn tell_followers(&mut self, bucket: &str, stream: &str, seq: u64, dot: Option<Dot>) {
        let nodes = self.subscribers.of(bucket, stream, crate::clock::now_ms());
        if nodes.is_empty() {
            return;
        }
        let note = Changed {
            bucket: bucket.to_string(),
            stream: stream.to_string(),
            seq,
            dot,
        };
        let note = postcard::to_allocvec(&note).expect("a note always encodes");
        for node in nodes {
            self.mailer.send(&node, follow::MAILBOX, note.clone());
        }
    }

    /// Applies the policies to every stream that has one.
    fn sweep(&mut self) {
        if self.policies.is_empty() {
            return;
        }
        for bucket in self.store.list_buckets() {
            if !self.policies.may_apply_to(&bucket) {
                continue;
            }
            for stream in self.store.list_streams(&bucket) {
                self.evict(&bucket, &stream);
            }
        }
    }

    fn answer(&mut self, command: StreamCommand) -> io::Result<StreamReply> {
        Ok(match command {
            StreamCommand::Append {
                bucket,
                stream,
                payload,
                at_least,
            } => {
                let entry = self
                    .store
                    .append_at_least(&bucket, &stream, payload, at_least)?;
                self.writes += 1;
                self.evict(&bucket, &stream);
                self.tell_followers(&bucket, &stream, entry.seq, Some(entry.dot));
                StreamReply::Appended(entry)
            }
            StreamCommand::Put {
                bucket,
                stream,
                entry,
            } => {
                let new = self.put_one(&bucket, &stream, &entry)?;
                self.writes += u64::from(new);
                StreamReply::Stored { new }
            }
            StreamCommand::LastSeq { bucket, stream } => {
                StreamReply::LastSeq(self.store.last_seq(&bucket, &stream).unwrap_or(0))
            }
            StreamCommand::Read {
                bucket,
                stream,
                from,
                limit,
            } => {
                self.reads += 1;
                self.evict(&bucket, &stream);
                StreamReply::Entries(self.store.read_from(&bucket, &stream, from, limit)?)
            }
            StreamCommand::Last { bucket, stream, n } => {
                self.reads += 1;
                self.evict(&bucket, &stream);
                StreamReply::Entries(self.store.last(&bucket, &stream, n)?)
            }
            StreamCommand::Page {
                bucket,
                stream,
                window,
            } => {
                self.reads += 1;
                self.evict(&bucket, &stream);
                let entries = match window {
                    PageWindow::From { from, limit } => {
                        self.store.read_from(&bucket, &stream, from, limit)?
                    }
                    PageWindow::Newest(n) => self.store.last(&bucket, &stream, n)?,
                };
                let floor = self.store.floor(&bucket, &stream);
                StreamReply::Page { entries, floor }
            }
            StreamCommand::Follow {
                bucket,
                stream,
                node,
                lease_ms,
            } => {
                let until = crate::clock::now_ms() + lease_ms;
                self.subscribers.follow(&bucket, &stream, node, until);
                StreamReply::LastSeq(self.store.last_seq(&bucket, &stream).unwrap_or(0))
            }
            StreamCommand::FollowPattern {
                pattern,
                node,
                lease_ms,
            } => {
                let until = crate::clock::now_ms() + lease_ms;
                self.subscribers.follow_pattern(pattern, node, until);
                StreamReply::LastSeq(0)
            }
            StreamCommand::Trim {
                bucket,
                stream,
                floor,
            } => {
                let evicted = self.store.raise_floor(&bucket, &stream, floor)?;
                let floor = self.store.floor(&bucket, &stream);
                StreamReply::Trimmed { floor, evicted }
            }
            // Anti-entropy's questions are not counted as reads: the counters are the users'.
            StreamCommand::RangeDigest { range } => {
                // The digest covers what the policies keep, as every replica's does.
                self.sweep();
                StreamReply::RangeDigest(RangeDigest::of_range(&self.store, range))
            }
            StreamCommand::RangeSummaries { range, segments } => {
                StreamReply::Summaries(summaries_in(&self.store, range, &segments))
            }
            StreamCommand::Ids { bucket, stream } => StreamReply::Ids {
                floor: self.store.floor(&bucket, &stream),
                ids: self.store.ids(&bucket, &stream),
            },
            StreamCommand::Get {
                bucket,
                stream,
                ids,
            } => StreamReply::Entries(self.store.get(&bucket, &stream, &ids)?),
            StreamCommand::PutMany {
                bucket,
                stream,
                entries,
            } => {
                let (stored, error) = self.put_many(&bucket, &stream, entries);
                if let Some(error) = error {
                    return Err(error);
                }
                self.evict(&bucket, &stream);
                StreamReply::StoredMany {
                    new: stored.len() as u64,
                }
            }
        })
    }

    /// Merges one entry into a stream (replication, read repair, handoff); whether it was
    /// new here. A new one may evict older ones, and is told of to followers.
    fn put_one(&mut self, bucket: &str, stream: &str, entry: &Entry) -> io::Result<bool> {
        let new = self.store.put_entry(bucket, stream, entry)?;
        if new {
            self.evict(bucket, stream);
            self.tell_followers(bucket, stream, entry.seq, Some(entry.dot));
        }
        Ok(new)
    }

    /// Merges entries into a stream one by one; returns those that were new, and the error
    /// that stopped it, if any (the entries stored before it stay stored).
    fn put_many(
        &mut self,
        bucket: &str,
        stream: &str,
        entries: Vec<Entry>,
    ) -> (Vec<Entry>, Option<io::Error>) {
        let mut stored = Vec::new();
        for entry in entries {
            match self.store.put_entry(bucket, stream, &entry) {
                Ok(true) => stored.push(entry),
                Ok(false) => {}
                Err(error) => return (stored, Some(error)),
            }
        }
        self.writes += stored.len() as u64;
        // The newest, and the oldest if it is another: an entry that came late (concurrent
        // with one the followers have had) is most often a batch's first.
        let oldest = stored.iter().min_by_key(|e| e.id()).map(Entry::id);
        let newest = stored.iter().max_by_key(|e| e.id()).map(Entry::id);
        if let (Some(oldest), Some(newest)) = (oldest, newest) {
            self.tell_followers(
                bucket,
                stream,
                newest.seq,
                (stored.len() == 1).then_some(newest.dot),
            );
            if oldest.seq < newest.seq {
                self.tell_followers(bucket, stream, oldest.seq, Some(oldest.dot));
            }
        }
        (stored, None)
    }

    /// Handles a command during a handoff: the reply, and the entries it stored (if any),
    /// which must reach the new owner too. (A floor it raised is left out: see
    /// [`handoff_command`](Self::handoff_command), which the finished vnode uses.)
    pub fn handle_handoff_command(
        &mut self,
        command: StreamCommand,
    ) -> (StreamReply, Vec<HandoffEntry>) {
        let (reply, changed) = self.handoff_command(command);
        let entries = changed
            .into_iter()
            .filter_map(|item| match item {
                StreamHandoff::Entry(entry) => Some(entry),
                StreamHandoff::Floor { .. } => None,
            })
            .collect();
        (reply, entries)
    }

    /// Handles a command during a handoff: the reply, and what it changed that must reach the
    /// new owner too: the entries it stored, and the floor a `Trim` raised.
    pub fn handoff_command(&mut self, command: StreamCommand) -> (StreamReply, Vec<StreamHandoff>) {
        if let StreamCommand::Trim { bucket, stream, .. } = &command {
            let (bucket, stream) = (bucket.clone(), stream.clone());
            let reply = self.handle_command(command);
            let changed = match &reply {
                StreamReply::Trimmed { floor, .. } => vec![StreamHandoff::Floor {
                    bucket,
                    stream,
                    floor: *floor,
                }],
                _ => Vec::new(),
            };
            return (reply, changed);
        }
        if let StreamCommand::PutMany {
            bucket,
            stream,
            entries,
        } = command
        {
            // Every entry that was new here must reach the new owner, even if a later one
            // failed.
            let (stored, error) = self.put_many(&bucket, &stream, entries);
            let reply = match error {
                Some(error) => StreamReply::Failed(error.to_string()),
                None => StreamReply::StoredMany {
                    new: stored.len() as u64,
                },
            };
            let changed = stored
                .into_iter()
                .map(|entry| {
                    StreamHandoff::Entry(HandoffEntry {
                        bucket: bucket.clone(),
                        stream: stream.clone(),
                        entry,
                    })
                })
                .collect();
            return (reply, changed);
        }
        let place = match &command {
            StreamCommand::Append { bucket, stream, .. } => {
                Some((bucket.clone(), stream.clone(), None))
            }
            StreamCommand::Put {
                bucket,
                stream,
                entry,
            } => Some((bucket.clone(), stream.clone(), Some(entry.clone()))),
            _ => None,
        };
        let reply = self.handle_command(command);
        let stored = match (&reply, place) {
            (StreamReply::Appended(entry), Some((bucket, stream, _))) => {
                Some((bucket, stream, entry.clone()))
            }
            (StreamReply::Stored { new: true }, Some((bucket, stream, Some(entry)))) => {
                Some((bucket, stream, entry))
            }
            _ => None,
        };
        let changed = stored
            .map(|(bucket, stream, entry)| {
                StreamHandoff::Entry(HandoffEntry {
                    bucket,
                    stream,
                    entry,
                })
            })
            .into_iter()
            .collect();
        (reply, changed)
    }

    /// Answers one coverage request.
    pub fn handle_coverage(&mut self, request: StreamCoverage) -> StreamCoverageReply {
        match request {
            StreamCoverage::ListBuckets => StreamCoverageReply::Names(self.store.list_buckets()),
            StreamCoverage::ListStreams { bucket } => {
                StreamCoverageReply::Names(self.store.list_streams(&bucket))
            }
            StreamCoverage::Stats => {
                let evicted = self.store.evicted_totals();
                StreamCoverageReply::Stats(VnodeStats {
                    writes: self.writes,
                    reads: self.reads,
                    streams: self.store.stream_count() as u64,
                    entries: self.store.entry_count(),
                    evicted_entries: evicted.entries,
                    evicted_bytes: evicted.bytes,
                })
            }
        }
    }

    /// Visits every floor, then every entry of the partition, for the finished vnode's
    /// handoff: a stream emptied by a delete here must stay empty on the new owner, which may
    /// still hold its old entries.
    pub fn fold_with_floors(&mut self, visit: &mut dyn FnMut(StreamHandoff) -> ControlFlow<()>) {
        let floors: Vec<StreamHandoff> = self
            .store
            .floors()
            .map(|(bucket, stream, floor)| StreamHandoff::Floor {
                bucket: bucket.to_string(),
                stream: stream.to_string(),
                floor,
            })
            .collect();
        for floor in floors {
            if visit(floor).is_break() {
                return;
            }
        }
        self.fold(&mut |entry| visit(StreamHandoff::Entry(entry)));
    }

    /// Visits every entry of the partition, for handoff. Panics on a read error, which fails
    /// (and so cancels) the handoff.
    pub fn fold(&mut self, visit: &mut dyn FnMut(HandoffEntry) -> ControlFlow<()>) {
        let result = self.store.fold(&mut |bucket, stream, entry| {
            visit(HandoffEntry {
                bucket: bucket.to_string(),
                stream: stream.to_string(),
                entry: entry.clone(),
            })
        });
        if let Err(error) = result {
            // A snapshot cut short would be handed over as if whole, and the data after the
            // bad record deleted with the partition. Failing the fold (the vnode task turns the
            // panic into an error) cancels the handoff instead; it is tried again later.
            panic!("the handoff snapshot stopped at a read error: {error}");
        }
    }
}

/// The finished stream vnode.
pub struct StreamVnode {
    state: StreamState,
}

impl Vnode for StreamVnode {
    type Command = StreamCommand;
    type Reply = StreamReply;
    type CoverageRequest = StreamCoverage;
    type CoverageReply = StreamCoverageReply;
    type HandoffItem = StreamHandoff;

    fn init(ctx: VnodeContext) -> Result<Self, String> {
        Ok(StreamVnode {
            state: StreamState::open(&ctx)?,
        })
    }

    fn handle_command(&mut self, command: StreamCommand) -> StreamReply {
        self.state.handle_command(command)
    }

    fn handle_coverage(&mut self, request: StreamCoverage) -> StreamCoverageReply {
        self.state.handle_coverage(request)
    }

    fn handle_handoff_command(
        &mut self,
        command: StreamCommand,
    ) -> (StreamReply, Vec<StreamHandoff>) {
        self.state.handoff_command(command)
    }

    fn fold(&mut self, visit: &mut dyn FnMut(StreamHandoff) -> ControlFlow<()>) {
        self.state.fold_with_floors(visit)
    }

    fn encode_handoff_item(item: &StreamHandoff) -> Vec<u8> {
        postcard::to_allocvec(item).expect("a handoff item always encodes")
    }

    fn handle_handoff_data(&mut self, data: &[u8]) -> Result<(), String> {
        let item: StreamHandoff =
            postcard::from_bytes(data).map_err(|e| format!("bad handoff item: {e}"))?;
        let stored = match item {
            // The same merge as replication: by identity, so an entry already present is
            // skipped, one that shares its number with another is kept beside it, and one
            // below the stream's floor here stays evicted. Followers hear of a new one (it
            // may be a late entry, see `follow.rs`).
            StreamHandoff::Entry(item) => self
                .state
                .put_one(&item.bucket, &item.stream, &item.entry)
                .map(|_| ()),
            StreamHandoff::Floor {
                bucket,
                stream,
                floor,
            } => self
                .state
                .store()
                .raise_floor(&bucket, &stream, floor)
                .map(|_| ()),
        };
        stored.map_err(|e| e.to_string())
    }

    fn is_empty(&mut self) -> bool {
        self.state.store().is_empty()
    }

    fn delete(&mut self) {
        if let Err(error) = self.state.store().delete() {
            tracing::error!(%error, "cannot delete the partition's data after handoff");
        }
    }
}
