//! Following streams: a node learns that a stream changed because the replicas that stored the
//! change told it, not because it asked (riak_core's vnodes send to processes; here, to a node
//! mailbox).
//!
//! - A node with clients following a stream (a live feed, a listen request) *follows* it:
//!   it asks the stream's replicas, fallbacks included, to tell it of every new entry, for a
//!   lease of [`LEASE`], renewed every [`RENEW`] while anyone follows. One subscription per
//!   stream and node, however many of its clients follow the stream.
//! - A replica that stores a new entry of a followed stream (an append, a copy, a repair, a
//!   handoff) sends each follower node a [`Changed`] note with its number. Notes are small and
//!   may be lost (a node restarts, a vnode moves): they only wake the followers, who then read
//!   the stream from where they were, so a lost note delays nothing beyond the next one or the
//!   next renewal (whose answer carries the replica's last number, and wakes them if it is
//!   new). Nothing is missed or delivered twice: what is delivered is always read from the
//!   stream, in its order (see `http::feed`).
//! - A follower that stops following lets its lease run out: replicas forget it.
//! - A node may also follow a [`Pattern`]: every stream of a bucket (`bucket:*`) or a stream
//!   name in every bucket (`*:stream`), present and future. It asks every vnode of the ring,
//!   since any may hold such a stream, and learns of each stream that matches from the first
//!   note about it: from then on that stream is followed like any other. A client of a
//!   pattern is given each stream once, from the entry it was found by; one that comes when
//!   the pattern is followed already is given the streams found before it from their next
//!   entry (what came before is not news to it).

use super::service::{Streams, StreamsVnode};
use super::vnode::{StreamCommand, StreamReply};
use crate::ring::NodeName;
use crate::store::Dot;
use crate::vnode::coordinator::QuorumWaiter;
use serde::{Deserialize, Serialize};
use std::collections::hash_map::Entry;
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::watch;

/// The node mailbox that takes [`Changed`] notes.
pub const MAILBOX: &str = "stream_changes";
/// How long a replica keeps telling a follower that did not renew.
pub const LEASE: Duration = Duration::from_secs(30);
/// How often a follower renews its subscriptions.
pub const RENEW: Duration = Duration::from_secs(10);

/// A replica's note to a follower: stream `bucket/stream` has an entry numbered `seq` (whose
/// dot is `dot`, when the note is about one entry).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Changed {
    pub bucket: String,
    pub stream: String,
    pub seq: u64,
    pub dot: Option<Dot>,
}

/// How many notes of late entries a stream's followers keep (see [`Told`]).
const LATE_KEPT: usize = 64;

/// What the replicas have told a node of a stream: the highest number, and the latest notes
/// of entries *below* it (late entries: one that drew the number of another while nodes
/// disagreed about who was up may reach a replica after later ones), each with a serial so
/// that each client takes those it has not seen.
#[derive(Debug, Default)]
pub struct Told {
    highest: u64,
    late: VecDeque<(u64, u64, Option<Dot>)>,
    serial: u64,
}

type StreamKey = (String, String);

/// Streams named by a pattern: every stream of `bucket`, or every stream called `stream`
/// (one of the two is `None`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Pattern {
    pub bucket: Option<String>,
    pub stream: Option<String>,
}

impl Pattern {
    pub fn matches(&self, bucket: &str, stream: &str) -> bool {
        self.bucket.as_deref().is_none_or(|b| b == bucket)
            && self.stream.as_deref().is_none_or(|s| s == stream)
    }
}

/// A stream found by a pattern, and the number of the entry it was found by.
pub type Found = (String, String, u64);

/// The streams this node follows, each with the clients that follow it.
#[derive(Clone, Default)]
pub struct Followed {
    streams: Arc<Mutex<HashMap<StreamKey, Followers>>>,
    patterns: Arc<Mutex<HashMap<Pattern, PatternFollowers>>>,
}

struct PatternFollowers {
    clients: usize,
    /// Every stream found so far, in the order found.
    found: watch::Sender<Vec<Found>>,
    /// The highest number told of for each stream found: where a client that comes later
    /// starts it.
    latest: HashMap<StreamKey, u64>,
    /// Becomes true once every vnode has answered the subscription (or the time to answer
    /// is up): clients wait for it, whichever of them asked.
    subscribed: watch::Receiver<bool>,
}

/// One client's follow of a pattern: [`PatternFollowing::found`] gives it the streams found;
/// dropping it stops it.
pub struct PatternFollowing {
    found: watch::Receiver<Vec<Found>>,
    /// How many of `found` this client has been given.
    given: usize,
    /// The streams found before this client came, to give it first, each from the entry
    /// after the highest number told of when it came.
    found_before: Vec<Found>,
    pattern: Pattern,
    followed: Followed,
}

impl PatternFollowing {
    /// Waits until streams are found that this client was not given yet; them, each with
    /// the number of the first entry to deliver. Cancel-safe: what a wait given up would have
    /// given, the next one gives.
    pub async fn found(&mut self) -> Vec<Found> {
        if !self.found_before.is_empty() {
            return std::mem::take(&mut self.found_before);
        }
        loop {
            {
                let found = self.found.borrow_and_update();
                if found.len() > self.given {
                    let new = found[self.given..].to_vec();
                    self.given = found.len();
                    return new;
                }
            }
            if self.found.changed().await.is_err() {
                // The pattern is no longer followed (cannot happen while this client holds it).
                std::future::pending::<()>().await;
            }
        }
    }
}

impl Drop for PatternFollowing {
    fn drop(&mut self) {
        let mut patterns = self.followed.patterns.lock().expect("never poisoned");
        if let Some(followers) = patterns.get_mut(&self.pattern) {
            followers.clients -= 1;
            if followers.clients == 0 {
                patterns.remove(&self.pattern);
            }
        }
    }
}

struct Followers {
    clients: usize,
    /// What the replicas told; each client watches it.
    seq: watch::Sender<Told>,
}

/// One client's follow of a stream: [`Following::changed`] wakes it; dropping it stops it.
pub struct Following {
    key: StreamKey,
    seq: watch::Receiver<Told>,
    /// The serial of the last late note this client took.
    late_seen: u64,
    followed: Followed,
}

impl Following {
    /// The highest number a replica has told of.
    pub fn latest(&self) -> u64 {
        self.seq.borrow().highest
    }

    /// The entries below the highest number that replicas told of since this client last
    /// asked (the number alone when a note named no entry). Notes of very many arrive for a
    /// client that did not ask in between only the latest [`LATE_KEPT`] are kept.
    pub fn take_late(&mut self) -> Vec<(u64, Option<Dot>)> {
        let told = self.seq.borrow();
        let late = told
            .late
            .iter()
            .filter(|(serial, _, _)| *serial > self.late_seen)
            .map(|(_, seq, dot)| (*seq, *dot))
            .collect();
        self.late_seen = told.serial;
        late
    }

    /// Waits until a replica tells of an entry this client was not woken for yet (or a
    /// renewal finds one). A note that came while the client was busy is not lost: the next
    /// wait returns at once.
    pub async fn changed(&mut self) {
        if self.seq.changed().await.is_err() {
            // The stream is no longer followed (cannot happen while this client holds it).
            std::future::pending::<()>().await;
        }
    }
}

impl Drop for Following {
    fn drop(&mut self) {
        let mut streams = self.followed.streams.lock().expect("never poisoned");
        if let Some(followers) = streams.get_mut(&self.key) {
            followers.clients -= 1;
            if followers.clients == 0 {
                streams.remove(&self.key);
            }
        }
    }
}

impl Followed {
    /// Takes the notes of replicas on this node's mailbox, and renews the subscriptions of
    /// the streams followed every [`RENEW`] until the node stops.
    pub fn start<Q: QuorumWaiter, V: StreamsVnode>(db: &Streams<Q, V>) -> Followed {
        let followed = Followed::default();
        let node = db.vnodes().node().clone();
        let notes = followed.clone();
        node.register_mailbox(MAILBOX, move |payload| {
            let note: Changed =
                postcard::from_bytes(&payload).map_err(|e| format!("bad note: {e}"))?;
            notes.note(&note.bucket, &note.stream, note.seq, note.dot, false);
            Ok(())
        });
        let (renewer, db) = (followed.clone(), db.clone());
        node.spawn(async move {
            let stop = db.vnodes().node().lifecycle().token().clone();
            loop {
                tokio::select! {
                    _ = stop.cancelled() => return,
                    _ = tokio::time::sleep(RENEW) => {}
                }
                for (bucket, stream) in renewer.streams() {
                    subscribe(&db, &renewer, &bucket, &stream);
                }
                for pattern in renewer.patterns() {
                    // Renewals are not waited for.
                    drop(subscribe_pattern(&db, &pattern));
                }
            }
        });
        followed
    }

    /// Follows a stream for one client; the first client of a stream subscribes this node.
    pub fn follow<Q: QuorumWaiter, V: StreamsVnode>(
        &self,
        db: &Streams<Q, V>,
        bucket: &str,
        stream: &str,
    ) -> Following {
        let key = (bucket.to_string(), stream.to_string());
        let (seq, first) = {
            let mut streams = self.streams.lock().expect("never poisoned");
            let followers = streams.entry(key.clone()).or_insert_with(|| Followers {
                clients: 0,
                seq: watch::Sender::new(Told::default()),
            });
            followers.clients += 1;
            (followers.seq.subscribe(), followers.clients == 1)
        };
        if first {
            subscribe(db, self, bucket, stream);
        }
        let late_seen = seq.borrow().serial;
        Following {
            key,
            seq,
            late_seen,
            followed: self.clone(),
        }
    }

    /// Follows a pattern for one client; the first client of a pattern subscribes this node
    /// on every vnode. Returns once every vnode has answered (at most the request timeout),
    /// whichever client asked, so that an entry posted once this returns is told of.
    pub async fn follow_pattern<Q: QuorumWaiter, V: StreamsVnode>(
        &self,
        db: &Streams<Q, V>,
        pattern: Pattern,
    ) -> PatternFollowing {
        let mut asking = None;
        let (following, mut subscribed) = {
            let mut patterns = self.patterns.lock().expect("never poisoned");
            let followers = patterns.entry(pattern.clone()).or_insert_with(|| {
                let (answered, subscribed) = watch::channel(false);
                asking = Some(answered);
                PatternFollowers {
                    clients: 0,
                    found: watch::Sender::new(Vec::new()),
                    latest: HashMap::new(),
                    subscribed,
                }
            });
            followers.clients += 1;
            let found = followers.found.subscribe();
            let found_before: Vec<Found> = found
                .borrow()
                .iter()
                .map(|(bucket, stream, _)| {
                    let key = (bucket.clone(), stream.clone());
                    (bucket.clone(), stream.clone(), followers.latest[&key] + 1)
                })
                .collect();
            // Made before waiting: a client that gives up while waiting counts itself out.
            let following = PatternFollowing {
                given: found_before.len(),
                found,
                found_before,
                pattern: pattern.clone(),
                followed: self.clone(),
            };
            (following, followers.subscribed.clone())
        };
        if let Some(answered) = asking {
            // The answers are waited for in a task of the node, not by this client, which
            // may give up: the clients that came meanwhile are waiting for them too.
            let mut replies = subscribe_pattern(db, &pattern);
            let node = db.vnodes().node().clone();
            db.vnodes().node().spawn(async move {
                tokio::select! {
                    _ = async { while replies.next().await.is_some() {} } => {
                        let _ = answered.send(true);
                    }
                    // Dropped unsent: the clients stop waiting.
                    _ = node.stopping() => {}
                }
            });
        }
        // An error: the node stopped before the answers came; nothing more to wait for.
        let _ = subscribed.wait_for(|answered| *answered).await;
        following
    }

    fn patterns(&self) -> Vec<Pattern> {
        self.patterns
            .lock()
            .expect("never poisoned")
            .keys()
            .cloned()
            .collect()
    }

    fn streams(&self) -> Vec<StreamKey> {
        self.streams
            .lock()
            .expect("never poisoned")
            .keys()
            .cloned()
            .collect()
    }

    /// A replica says the stream has an entry numbered `seq` (`renewal`: in answer to a
    /// subscription): wakes its clients.
    fn note(&self, bucket: &str, stream: &str, seq: u64, dot: Option<Dot>, renewal: bool) {
        if !renewal {
            self.found(bucket, stream, seq);
        }
        let streams = self.streams.lock().expect("never poisoned");
        let key = (bucket.to_string(), stream.to_string());
        if let Some(followers) = streams.get(&key) {
            // The same number again wakes them too: it comes from another replica, whose copy
            // a read that missed the entry (reading replicas that had not stored it yet) may
            // now find. Renewals report the number every time: those only wake for news.
            followers.seq.send_if_modified(|told| {
                if seq < told.highest && !renewal {
                    // An entry below the highest: most often one whose note from this replica
                    // came after another replica's of a later one (clients know it already);
                    // sometimes a late entry. Clients look.
                    told.serial += 1;
                    told.late.push_back((told.serial, seq, dot));
                    if told.late.len() > LATE_KEPT {
                        told.late.pop_front();
                    }
                    return true;
                }
                let news = seq > told.highest || (seq == told.highest && !renewal);
                told.highest = told.highest.max(seq);
                news
            });
        }
    }
}

/// A note about a stream: the patterns it matches learn of it, if they had not yet, and of
/// its highest number.
impl Followed {
    fn found(&self, bucket: &str, stream: &str, seq: u64) {
        let mut patterns = self.patterns.lock().expect("never poisoned");
        for (pattern, followers) in patterns.iter_mut() {
            if !pattern.matches(bucket, stream) {
                continue;
            }
            let key = (bucket.to_string(), stream.to_string());
            match followers.latest.entry(key) {
                Entry::Occupied(mut told) => {
                    let highest = told.get_mut();
                    *highest = (*highest).max(seq);
                }
                Entry::Vacant(new) => {
                    new.insert(seq);
                    let found = (bucket.to_string(), stream.to_string(), seq);
                    followers.found.send_modify(|all| all.push(found));
                }
            }
        }
    }
}

/// Asks every vnode of the ring to tell this node of new entries of streams that match
/// `pattern`, for a lease; their answers, for whoever waits for them.
fn subscribe_pattern<Q: QuorumWaiter, V: StreamsVnode>(
    db: &Streams<Q, V>,
    pattern: &Pattern,
) -> crate::vnode::coordinator::Replies<StreamReply> {
    let node = db.vnodes().node();
    let ring = node.ring();
    let every: Vec<crate::ring::IndexNode> = ring
        .partitions()
        .map(|partition| crate::ring::IndexNode {
            partition,
            node: ring.owner(partition).clone(),
        })
        .collect();
    let follow = StreamCommand::FollowPattern {
        pattern: pattern.clone(),
        node: node.name().clone(),
        lease_ms: LEASE.as_millis() as u64,
    };
    db.vnodes().ask("follow a pattern", &every, follow)
}

/// Asks the stream's replicas (fallbacks included) to tell this node of new entries for a
/// lease; their answers carry their last number, which wakes the followers if it is new.
fn subscribe<Q: QuorumWaiter, V: StreamsVnode>(
    db: &Streams<Q, V>,
    followed: &Followed,
    bucket: &str,
    stream: &str,
) {
    let node = db.vnodes().node();
    let follow = StreamCommand::Follow {
        bucket: bucket.into(),
        stream: stream.into(),
        node: node.name().clone(),
        lease_ms: LEASE.as_millis() as u64,
    };
    let replicas = crate::ring::apl::targets(&db.preflist(bucket, stream, 3));
    let mut replies = db.vnodes().ask("follow", &replicas, follow);
    let (followed, bucket, stream) = (followed.clone(), bucket.to_string(), stream.to_string());
    node.spawn(async move {
        while let Some(reply) = replies.next().await {
            if let Ok(StreamReply::LastSeq(seq)) = reply.result {
                followed.note(&bucket, &stream, seq, None, true);
            }
        }
    });
}

/// What a replica remembers of its followers: for each stream, who follows it until when.
#[derive(Default)]
pub struct Subscribers {
    streams: HashMap<StreamKey, Vec<(NodeName, u64)>>,
    patterns: Vec<(Pattern, NodeName, u64)>,
}

impl Subscribers {
    /// `node` follows the stream until `until_ms`.
    pub fn follow(&mut self, bucket: &str, stream: &str, node: NodeName, until_ms: u64) {
        let followers = self
            .streams
            .entry((bucket.to_string(), stream.to_string()))
            .or_default();
        followers.retain(|(n, _)| *n != node);
        followers.push((node, until_ms));
    }

    /// `node` follows the streams of `pattern` until `until_ms`.
    pub fn follow_pattern(&mut self, pattern: Pattern, node: NodeName, until_ms: u64) {
        self.patterns
            .retain(|(p, n, _)| !(p == &pattern && *n == node));
        self.patterns.push((pattern, node, until_ms));
    }

    /// The nodes to tell of a new entry of the stream, now (`now_ms`), each once; forgets
    /// the expired.
    pub fn of(&mut self, bucket: &str, stream: &str, now_ms: u64) -> Vec<NodeName> {
        if self.streams.is_empty() && self.patterns.is_empty() {
            return Vec::new();
        }
        let mut nodes: Vec<NodeName> = Vec::new();
        let key = (bucket.to_string(), stream.to_string());
        if let Some(followers) = self.streams.get_mut(&key) {
            followers.retain(|(_, until)| *until > now_ms);
            nodes.extend(followers.iter().map(|(n, _)| n.clone()));
            if followers.is_empty() {
                self.streams.remove(&key);
            }
        }
        self.patterns.retain(|(_, _, until)| *until > now_ms);
        for (pattern, node, _) in &self.patterns {
            if pattern.matches(bucket, stream) && !nodes.contains(node) {
                nodes.push(node.clone());
            }
        }
        nodes
    }
}
