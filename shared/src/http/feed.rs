//! The live feed of a stream: the entries after a sequence number (catch-up), then every new
//! entry, in order and each once, whichever node took the write.
//!
//! The feed reads the stream with the usual quorum reads, from the number of the last entry it
//! delivered (concurrent entries may share it); the newest entries come from the stream
//! store's in-memory cache. A caught-up feed reads nothing: it waits until a replica tells
//! its node of a new entry ([`crate::streams::follow`]), then reads once. Entries are
//! delivered in the stream's order: when the next number is missing while later ones are
//! there (its write has reached some replicas but not the ones read), the feed waits for it a
//! little, and skips it only if it never comes (a write that failed after its coordinating
//! replica stored it). An entry that arrives later with a number below the last delivered
//! (written during a partition) is not delivered live; a read from an earlier number finds it.

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
}

/// The entries of `bucket/stream` with sequence numbers above `after`, as they come.
pub fn entries_after<Q: QuorumWaiter, V: StreamsVnode>(
    db: Streams<Q, V>,
    bucket: String,
    stream: String,
    after: u64,
    nwr: Nwr,
) -> impl Stream<Item = Entry> + Send + 'static {
    let feed = Feed {
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
    };
    futures_util::stream::unfold(feed, |mut feed| async move {
        let stop = feed.db.vnodes().node().lifecycle().token().clone();
        loop {
            if let Some(entry) = feed.ready.pop_front() {
                return Some((entry, feed));
            }
            if stop.is_cancelled() {
                return None;
            }
            if feed.fill().await {
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
            self.ready.push_back(entry);
        }
        !self.ready.is_empty()
    }
}
