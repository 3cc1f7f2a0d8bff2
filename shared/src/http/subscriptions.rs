//! What one `/listen` connection follows, whatever its mode (server-sent events, long-poll,
//! WebSocket): streams named, and patterns with the streams they find, merged into one
//! sequence of entries.
//!
//! - Each stream is followed once, however many reasons the connection has to follow it (its
//!   name, and every pattern that found it): one live feed per stream (`feed.rs`), so each
//!   entry comes once, in its stream's order. The feed stops when its last reason goes.
//! - A stream a pattern finds is followed from the entry it was found by, if the caller may
//!   read it (`get`); one it may not read is left out, silently, as are those found once
//!   [`MAX_STREAMS`] streams are followed.

use super::feed::entries_after;
use super::listen::{MAX_STREAMS, Place};
use crate::access::{Caller, Permission, Resource};
use crate::store::Entry;
use crate::streams::follow::{Found, Pattern, PatternFollowing};
use crate::streams::{Nwr, Streams, StreamsVnode};
use crate::vnode::coordinator::QuorumWaiter;
use futures_util::stream::{BoxStream, SelectAll};
use futures_util::{Stream, StreamExt};
use std::collections::{BTreeMap, BTreeSet};
use tokio_util::sync::CancellationToken;

/// The streams and patterns one connection follows, for the caller it was opened by.
pub(super) struct Subscriptions<Q: QuorumWaiter, V: StreamsVnode> {
    db: Streams<Q, V>,
    caller: Caller,
    nwr: Nwr,
    /// Every stream followed, with why.
    streams: BTreeMap<Place, Reasons>,
    /// Every pattern followed; dropping one ends this node's follow of it (if no other
    /// client of the node follows it).
    patterns: BTreeMap<Pattern, PatternFollowing>,
    /// Every stream's feed; one switched off ends at its next poll, and leaves.
    feeds: SelectAll<BoxStream<'static, (Place, Entry)>>,
}

/// Why a connection follows a stream, and the switch that ends its feed once none is left.
struct Reasons {
    named: bool,
    /// The patterns that found it.
    found_by: BTreeSet<Pattern>,
    switch: CancellationToken,
}

impl Reasons {
    fn any(&self) -> bool {
        self.named || !self.found_by.is_empty()
    }
}

impl<Q: QuorumWaiter, V: StreamsVnode> Subscriptions<Q, V> {
    pub(super) fn new(db: &Streams<Q, V>, caller: Caller, nwr: Nwr) -> Self {
        Subscriptions {
            db: db.clone(),
            caller,
            nwr,
            streams: BTreeMap::new(),
            patterns: BTreeMap::new(),
            feeds: SelectAll::new(),
        }
    }

    /// How many subscriptions: streams named and patterns (each counts against
    /// [`MAX_STREAMS`]).
    pub(super) fn len(&self) -> usize {
        self.streams.values().filter(|r| r.named).count() + self.patterns.len()
    }

    /// The quorum the streams are read with.
    pub(super) fn nwr(&self) -> Nwr {
        self.nwr
    }

    /// Whether the caller may read the stream.
    pub(super) fn may_read(&self, place: &Place) -> bool {
        let resource = Resource::of(&place.bucket, Some(&place.stream));
        self.db
            .access()
            .allows(&self.caller, &resource, Permission::Get)
    }

    /// Whether the stream is subscribed by name.
    pub(super) fn names(&self, place: &Place) -> bool {
        self.streams.get(place).is_some_and(|r| r.named)
    }

    /// Whether the pattern is subscribed.
    pub(super) fn follows_pattern(&self, pattern: &Pattern) -> bool {
        self.patterns.contains_key(pattern)
    }

    /// Follows a stream by name, after entry `seq`. A stream a pattern found already goes on
    /// as it is (it is not followed twice), and is now kept when the pattern goes.
    pub(super) fn add_stream(&mut self, place: Place, seq: u64) {
        match self.streams.get_mut(&place) {
            Some(reasons) => reasons.named = true,
            None => self.start(place, seq).named = true,
        }
    }

    /// Stops following a stream by name; its feed ends unless a pattern still wants it.
    /// False when it was not named.
    pub(super) fn remove_stream(&mut self, place: &Place) -> bool {
        let Some(reasons) = self.streams.get_mut(place).filter(|r| r.named) else {
            return false;
        };
        reasons.named = false;
        if !reasons.any() {
            reasons.switch.cancel();
            self.streams.remove(place);
        }
        true
    }

    /// Follows a pattern; returns once every vnode will tell this node of its streams' new
    /// entries, so that none posted afterwards is missed. Following it twice does nothing.
    pub(super) async fn add_pattern(&mut self, pattern: Pattern) {
        if !self.patterns.contains_key(&pattern) {
            let following = self.db.follow_pattern(pattern.clone()).await;
            self.patterns.insert(pattern, following);
        }
    }

    /// Stops following a pattern, and the streams it found that nothing else wants. False
    /// when it was not followed.
    pub(super) fn remove_pattern(&mut self, pattern: &Pattern) -> bool {
        if self.patterns.remove(pattern).is_none() {
            return false;
        }
        self.streams.retain(|_, reasons| {
            reasons.found_by.remove(pattern);
            if !reasons.any() {
                reasons.switch.cancel();
            }
            reasons.any()
        });
        true
    }

    /// The next entry of any stream followed, with its place; `None` once nothing is
    /// followed, or the node stops. Cancel-safe, so that it may be a branch of a `select!`.
    pub(super) async fn next(&mut self) -> Option<(Place, Entry)> {
        let stop = self.db.vnodes().node().lifecycle().token().clone();
        loop {
            if self.feeds.is_empty() && self.patterns.is_empty() {
                return None;
            }
            tokio::select! {
                _ = stop.cancelled() => return None,
                item = self.feeds.next(), if !self.feeds.is_empty() => {
                    // None: every feed ended (switched off); the loop looks again.
                    if item.is_some() {
                        return item;
                    }
                }
                (pattern, found) = found_by_any(&mut self.patterns) => {
                    for (bucket, stream, seq) in found {
                        self.take_in(&pattern, Place { bucket, stream }, seq);
                    }
                }
            }
        }
    }

    /// The entries, as a stream that ends when [`Self::next`] says so.
    pub(super) fn into_stream(self) -> impl Stream<Item = (Place, Entry)> + Send + 'static {
        futures_util::stream::unfold(self, |mut subscriptions| async move {
            let item = subscriptions.next().await?;
            Some((item, subscriptions))
        })
    }

    /// A stream `pattern` found by its entry numbered `seq`.
    fn take_in(&mut self, pattern: &Pattern, place: Place, seq: u64) {
        if let Some(reasons) = self.streams.get_mut(&place) {
            reasons.found_by.insert(pattern.clone());
            return;
        }
        if self.streams.len() >= MAX_STREAMS || !self.may_read(&place) {
            return;
        }
        let reasons = self.start(place, seq.saturating_sub(1));
        reasons.found_by.insert(pattern.clone());
    }

    /// Starts the feed of a stream not followed yet, after entry `seq`; its reasons, none yet.
    fn start(&mut self, place: Place, seq: u64) -> &mut Reasons {
        let switch = CancellationToken::new();
        let (bucket, stream) = (place.bucket.clone(), place.stream.clone());
        let tag = place.clone();
        let entries = entries_after(self.db.clone(), bucket, stream, seq, self.nwr)
            .take_until(switch.clone().cancelled_owned())
            .map(move |entry| (tag.clone(), entry));
        self.feeds.push(entries.boxed());
        let reasons = Reasons {
            named: false,
            found_by: BTreeSet::new(),
            switch,
        };
        self.streams.entry(place).or_insert(reasons)
    }
}

/// Waits until one of the patterns finds streams; the pattern, and them. Never returns when
/// there is no pattern.
async fn found_by_any(patterns: &mut BTreeMap<Pattern, PatternFollowing>) -> (Pattern, Vec<Found>) {
    if patterns.is_empty() {
        return std::future::pending().await;
    }
    let waits = patterns.iter_mut().map(|(pattern, following)| {
        Box::pin(async move { (pattern.clone(), following.found().await) })
    });
    futures_util::future::select_all(waits).await.0
}
