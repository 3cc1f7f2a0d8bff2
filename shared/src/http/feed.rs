//! The live feed of a stream: the entries after a sequence number (catch-up), then every new
//! entry, in order and each once, whichever node took the write.
//!
//! A node has one reader per stream however many clients follow it (`live.rs`): a client
//! reads what it missed itself, up to where the reader was when it joined, then takes the
//! reader's entries; one that falls too far behind reads again. So a new entry costs one
//! read per node, not one per client. What follows is how a feed reads.
//!
//! The feed reads the stream with the usual quorum reads, from the number of the last entry it
//! delivered (concurrent entries may share it); the newest entries come from the stream
//! store's in-memory cache. A caught-up feed reads nothing: it waits until a replica tells
//! its node of a new entry ([`crate::streams::follow`]), then reads once. Entries are
//! delivered in the stream's order: when the next number is missing while later ones are
//! there (its write has reached some replicas but not the ones read), the feed waits for it a
//! little, and skips it only if it never comes (a write that failed after its coordinating
//! replica stored it).
//!
//! A *late* entry, one that arrives with a number below the last delivered, is delivered
//! when it comes, after the later ones: only a concurrent entry can arrive so (one that drew
//! the number of another, by a coordinator that disagreed with the others about who was up:
//! a partition, a stall, a crash not noticed yet), and missing it would lose an acknowledged
//! write for the listener. The replica that stores it (by replication, repair, anti-entropy
//! or handoff) tells the followers its number and dot (`follow.rs`); the feed reads back from
//! there and delivers what it had not, once, telling it from what it delivered by identity
//! among the last [`RECENT`] numbers (one older than that is left to a read from an earlier
//! number). The fault suite checks it (`solutions/ex6-chat/tests/faults.rs`, its `listen
//! verdict` line).

use crate::store::{Entry, EntryId};
use crate::streams::follow::Following;
use crate::streams::{Nwr, Streams, StreamsVnode};
use crate::vnode::coordinator::QuorumWaiter;
use futures_util::Stream;
use std::collections::VecDeque;
use std::time::Duration;
use tokio::time::Instant;

/// How often a feed waiting for a missing number looks again.
pub const POLL: Duration = Duration::from_millis(100);
/// How long a missing sequence number is waited for before it is skipped.
pub const GAP_WAIT: Duration = Duration::from_secs(2);
/// Entries read at a time.
const BATCH: usize = 100;
/// How far back (in sequence numbers) a feed remembers what it delivered, to deliver a late
/// entry once.
pub const RECENT: u64 = 1024;

struct Feed<Q: QuorumWaiter, V: StreamsVnode> {
    db: Streams<Q, V>,
    following: Following,
    bucket: String,
    stream: String,
    nwr: Nwr,
    /// The next sequence number expected.
    next: u64,
    /// The last entry delivered, if any: entries up to it (in the stream's order) are done.
    delivered: Option<EntryId>,
    ready: VecDeque<Entry>,
    gap_since: Option<Instant>,
    /// The last read failed (a quorum missed): tried again shortly rather than on a change.
    failed: bool,
    /// Since when a replica told of an entry the reads have not found yet.
    behind_since: Option<Instant>,
    /// What was delivered among the last [`RECENT`] numbers.
    recent: std::collections::BTreeSet<EntryId>,
    /// Entries numbered at most this are not this feed's to deliver (its `after`).
    start: u64,
}

/// The entries of `bucket/stream` with sequence numbers above `after`, as they come: those
/// already there (read by this client), then the new ones (from the node's one reader of the
/// stream, see `live.rs`), each once, in the stream's order.
pub fn entries_after<Q: QuorumWaiter, V: StreamsVnode>(
    db: Streams<Q, V>,
    bucket: String,
    stream: String,
    after: u64,
    nwr: Nwr,
) -> impl Stream<Item = Entry> + Send + 'static {
    let live = super::live::join(&db, &bucket, &stream, nwr);
    let stop = db.vnodes().node().lifecycle().token().clone();
    let client = Client {
        catch_up: Feed::new(db, bucket, stream, after, nwr),
        live,
        target: None,
        since: Instant::now(),
        caught_up: false,
    };
    futures_util::stream::unfold(client, move |mut client| {
        let stop = stop.clone();
        async move {
            tokio::select! {
                _ = stop.cancelled() => None,
                entry = client.next() => entry.map(|entry| (entry, client)),
            }
        }
    })
}

/// One client of a stream's feed: it reads what it has not seen yet until it reaches where the
/// node's reader was when the client joined, then takes the reader's entries.
struct Client<Q: QuorumWaiter, V: StreamsVnode> {
    /// Reads the stream from the client's position (its `ready`, `next`, `delivered` are the
    /// client's).
    catch_up: Feed<Q, V>,
    live: super::live::Live,
    /// How far the reader had gone when the client (re)joined: read up to there first.
    target: Option<u64>,
    since: Instant,
    caught_up: bool,
}

impl<Q: QuorumWaiter, V: StreamsVnode> Client<Q, V> {
    async fn next(&mut self) -> Option<Entry> {
        loop {
            if let Some(entry) = self.catch_up.ready.pop_front() {
                return Some(entry);
            }
            if self.caught_up {
                match self.live.next().await? {
                    Some(entry)
                        if self.catch_up.is_new(&entry) || self.catch_up.is_late(&entry) =>
                    {
                        self.catch_up.delivered(&entry);
                        return Some(entry);
                    }
                    Some(_) => continue,
                    None => {
                        // Fell behind the reader: read what was missed, then take its entries
                        // again.
                        self.caught_up = false;
                        self.target = None;
                        continue;
                    }
                }
            }
            let target = match self.target {
                Some(target) => target,
                None => {
                    let target = self.live.position().await?;
                    self.target = Some(target);
                    self.since = Instant::now();
                    target
                }
            };
            if self.catch_up.fill().await {
                continue;
            }
            // Read up to where the reader was (the replicas read may lag a moment behind
            // those it read), or give up waiting after a while: then on with the reader.
            if self.catch_up.next > target || self.since.elapsed() >= GAP_WAIT {
                self.caught_up = true;
            } else {
                tokio::time::sleep(POLL).await;
            }
        }
    }
}

/// The node's one reader of a stream (see `live.rs`): from `after`, every new entry, woken
/// by the replicas that store them.
pub(super) fn reader<Q: QuorumWaiter, V: StreamsVnode>(
    db: Streams<Q, V>,
    bucket: String,
    stream: String,
    after: u64,
    nwr: Nwr,
) -> impl Stream<Item = Entry> + Send + 'static {
    let feed = Feed::new(db, bucket, stream, after, nwr);
    futures_util::stream::unfold(feed, |mut feed| async move {
        let stop = feed.db.vnodes().node().lifecycle().token().clone();
        loop {
            if let Some(entry) = feed.ready.pop_front() {
                return Some((entry, feed));
            }
            if stop.is_cancelled() {
                return None;
            }
            if feed.fill_late().await || feed.fill().await {
                continue;
            }

            // Caught up: nothing is read until a replica says something changed. Waiting for
            // a missing number, after a failed read, or told of an entry the read did not
            // find yet (the replica that stored it tells at once; the others, whose copies
            // the read may have asked, get theirs a moment later), look again shortly.
            let again = feed.gap_since.is_some() || feed.failed || feed.behind();
            tokio::select! {
                _ = stop.cancelled() => return None,
                _ = feed.following.changed() => {}
                _ = tokio::time::sleep(POLL), if again => {}
            }
        }
    })
}

impl<Q: QuorumWaiter, V: StreamsVnode> Feed<Q, V> {
    fn new(db: Streams<Q, V>, bucket: String, stream: String, after: u64, nwr: Nwr) -> Self {
        Feed {
            following: db.follow(&bucket, &stream),
            db,
            bucket,
            stream,
            nwr,
            next: after.saturating_add(1),
            delivered: None,
            ready: VecDeque::new(),
            gap_since: None,
            failed: false,
            behind_since: None,
            recent: Default::default(),
            start: after,
        }
    }

    /// Whether `entry` comes after everything delivered.
    fn is_new(&self, entry: &Entry) -> bool {
        match self.delivered {
            Some(last) => entry.id() > last,
            None => entry.seq >= self.next,
        }
    }

    /// Whether `entry` is a late one this feed has to deliver: below the last delivered, past
    /// where the feed started, and not delivered (as far as it remembers).
    fn is_late(&self, entry: &Entry) -> bool {
        entry.seq > self.start
            && entry.seq + RECENT >= self.next
            && !self.is_new(entry)
            && !self.recent.contains(&entry.id())
    }

    /// Notes `entry` as delivered (a late one leaves the position where it was).
    fn delivered(&mut self, entry: &Entry) {
        if self.is_new(entry) {
            self.next = entry.seq + 1;
            self.delivered = Some(entry.id());
            self.gap_since = None;
        }
        self.remember(entry.id());
    }

    /// Remembers a delivered entry, forgetting those more than [`RECENT`] numbers back.
    fn remember(&mut self, id: EntryId) {
        self.recent.insert(id);
        let oldest = self.next.saturating_sub(RECENT);
        while self.recent.first().is_some_and(|first| first.seq < oldest) {
            self.recent.pop_first();
        }
    }

    /// Reads back for the late entries replicas told of since it last looked, and makes
    /// ready those not delivered yet; returns whether any became ready.
    async fn fill_late(&mut self) -> bool {
        let late = self.following.take_late();
        // Those delivered already (the usual case: one replica's note of an entry came after
        // another's of a later one) need no read.
        let from = late
            .into_iter()
            .filter(|(seq, dot)| {
                let known =
                    dot.is_some_and(|dot| self.recent.contains(&EntryId { seq: *seq, dot }));
                !known && *seq < self.next && *seq > self.start && seq + RECENT >= self.next
            })
            .map(|(seq, _)| seq)
            .min();
        let Some(from) = from else {
            return false;
        };
        let Ok(read) = self
            .db
            .read(&self.bucket, &self.stream, from, BATCH, self.nwr)
            .await
        else {
            // Not lost: a later note, or a read from an earlier number, finds it.
            return false;
        };
        for entry in read.entries {
            if self.is_late(&entry) {
                self.remember(entry.id());
                self.ready.push_back(entry);
            }
        }
        !self.ready.is_empty()
    }

    /// Whether a replica told of an entry past what was delivered, for less than
    /// [`GAP_WAIT`]: one that stays unread that long (stored by one replica of a write that
    /// then failed) waits for the next change instead.
    fn behind(&mut self) -> bool {
        if self.following.latest() < self.next {
            self.behind_since = None;
            return false;
        }
        let since = *self.behind_since.get_or_insert_with(Instant::now);
        since.elapsed() < GAP_WAIT
    }

    /// Reads what follows the last entry delivered; returns whether anything became ready.
    async fn fill(&mut self) -> bool {
        // From the last delivered number again: an entry concurrent with it may have arrived.
        let from = self.delivered.map_or(self.next, |last| last.seq);
        let read = match self
            .db
            .read(&self.bucket, &self.stream, from, BATCH, self.nwr)
            .await
        {
            Ok(read) => read,
            Err(error) => {
                tracing::debug!(%error, "feed read failed; trying again");
                self.failed = true;
                return false;
            }
        };
        self.failed = false;
        for entry in read.entries {
            let done = match self.delivered {
                Some(last) => entry.id() <= last,
                None => entry.seq < self.next,
            };
            if done {
                continue;
            }
            if entry.seq > self.next {
                // A hole: wait for it a while, then give up on it.
                let since = *self.gap_since.get_or_insert_with(Instant::now);
                if since.elapsed() < GAP_WAIT {
                    break;
                }
                tracing::warn!(bucket = %self.bucket, stream = %self.stream, missing = self.next, "feed skips an entry that never arrived");
            }
            self.gap_since = None;
            self.next = entry.seq + 1;
            self.delivered = Some(entry.id());
            self.remember(entry.id());
            self.ready.push_back(entry);
        }
        !self.ready.is_empty()
    }
}
