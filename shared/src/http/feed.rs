//! The live feed of a stream: the entries after a sequence number (catch-up), then every new
//! entry, in order and each once, whichever node took the write.
//!
//! The feed reads the stream with the usual quorum reads, starting after the last entry it
//! delivered; the newest entries come from the stream store's in-memory cache, so a caught-up
//! listener costs a cache lookup per poll. Entries are delivered only in sequence: when the
//! next number is missing while later ones are there (its write has reached some replicas but
//! not the ones read), the feed waits for it a little, and skips it only if it never comes (a
//! write that failed after its coordinating replica stored it).

use crate::coordinator::QuorumWaiter;
use crate::store::Entry;
use crate::streams::{Nwr, Streams, StreamsVnode};
use futures_util::Stream;
use std::collections::VecDeque;
use std::time::Duration;
use tokio::time::Instant;

/// How often a caught-up feed looks for new entries.
pub const POLL: Duration = Duration::from_millis(100);
/// How long a missing sequence number is waited for before it is skipped.
pub const GAP_WAIT: Duration = Duration::from_secs(2);
/// Entries read at a time.
const BATCH: usize = 100;

struct Feed<Q: QuorumWaiter, V: StreamsVnode> {
    db: Streams<Q, V>,
    bucket: String,
    stream: String,
    nwr: Nwr,
    next: u64,
    ready: VecDeque<Entry>,
    gap_since: Option<Instant>,
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
        db,
        bucket,
        stream,
        nwr,
        next: after.saturating_add(1),
        ready: VecDeque::new(),
        gap_since: None,
    };
    futures_util::stream::unfold(feed, |mut feed| async move {
        loop {
            if let Some(entry) = feed.ready.pop_front() {
                return Some((entry, feed));
            }
            if feed.db.vnodes().node().is_stopping() {
                return None;
            }
            if !feed.fill().await {
                tokio::time::sleep(POLL).await;
            }
        }
    })
}

impl<Q: QuorumWaiter, V: StreamsVnode> Feed<Q, V> {
    /// Reads what follows `next`; returns whether anything became ready.
    async fn fill(&mut self) -> bool {
        let read = match self
            .db
            .read(&self.bucket, &self.stream, self.next, BATCH, self.nwr)
            .await
        {
            Ok(read) => read,
            Err(error) => {
                tracing::debug!(%error, "feed read failed; trying again");
                return false;
            }
        };
        for entry in read.entries {
            if entry.seq < self.next {
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
            self.ready.push_back(entry);
        }
        !self.ready.is_empty()
    }
}
