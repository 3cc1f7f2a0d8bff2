//! Cluster metadata (riak_core_metadata): a small key/value map of which every node holds a
//! full copy, for what every node must answer alike — the stream database's users, their
//! permission grants, its eviction policies.
//!
//! Keys live under a prefix (`users`, `grants`, …); values are JSON. Reads
//! ([`Metadata::get`], [`Metadata::list`]) are local: they never wait for the network and
//! never fail.
//!
//! **Writes.** [`Metadata::put`] gives the change a version, saves the whole map in the data
//! directory (`metadata.json`) and installs it, then pushes it to every other member of the
//! ring that is up and waits — at most the node's request timeout — until each says it has
//! saved and installed it too. So when `put` returns, every node that could be reached
//! already answers with the new value: a revoked grant is refused everywhere at once. A member
//! that did not answer (down, cut off) gets the change from the exchange below; `put` still
//! succeeds, since the change is saved here and will spread. (riak's `put` waits for the
//! local write alone and broadcasts in the background; waiting for the others costs an
//! admin's write a round trip and buys "revoked means revoked".)
//!
//! **Deletes** write a tombstone (`None`) instead of removing the key, so that the delete
//! spreads like any change and a node that missed it cannot bring the old value back.
//! Tombstones are kept forever, as riak keeps them: each is a few dozen bytes, and metadata
//! is written by people, not by traffic.
//!
//! **Conflicts.** Each entry carries a version `(time_ms, node, counter)`, and of two entries
//! for one key the higher version wins, on every node alike: last writer wins. A put takes a
//! time past the version it replaces, so a node's later write always wins over what it held,
//! whatever the clocks say. riak keeps concurrent values side by side (dotted version
//! vectors) for a resolver to pick from; that is more than this map needs: its values are
//! whole small records written by admins, and each grant is a key of its own, so two admins
//! granting different permissions at once write different keys and never conflict. Two
//! writes of one key at once are two versions of the same record; every node keeps the same
//! one. The merge is commutative, associative and idempotent (see `table`), so entries may
//! arrive in any order, any number of times.
//!
//! **Anti-entropy.** Every gossip interval a node picks a member that is up, at random, and
//! compares digests (a hash of every key and version); when they differ it sends all its
//! entries and gets back those the other holds newer or it lacks (push-pull: the map is
//! small, so one message carries it). A node that was down or just joined converges within a
//! few rounds. riak compares hash trees, to send only what differs; with a map this small one
//! digest does.
//!
//! **Size.** An exchange carries the whole map in one message, and a frame holds at most
//! [`crate::net::wire::MAX_FRAME_BYTES`] (16 MiB); so a put that would make the map larger than
//! [`MAX_BYTES`] (4 MiB, as sent) is refused. Puts on two nodes at once may together go a
//! little past it; the frame leaves room for that.

mod exchange;
mod file;
mod table;

pub(crate) use exchange::run;

use crate::clock::now_ms;
use crate::cluster::RingState;
use crate::error::Error;
use crate::net::wire::{
    MetadataAnswer, MetadataEntry, MetadataRequest, MetadataVersion, Request, Response,
};
use crate::ring::NodeName;
use arc_swap::ArcSwap;
use serde_json::Value;
use std::io;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;
use table::{Stored, Table};
use tokio::sync::watch;

/// The largest the map may grow, as an exchange sends it: a put past it is refused.
pub const MAX_BYTES: usize = 4 * 1024 * 1024;

/// A node's cluster metadata. Cheap to clone: every clone is the same map.
#[derive(Clone)]
pub struct Metadata {
    inner: Arc<Inner>,
}

struct Inner {
    me: NodeName,
    /// Where the map is saved; `None` for a detached map (in memory only).
    data_dir: Option<PathBuf>,
    held: ArcSwap<Held>,
    /// Serialises changes (reads never wait for it): each is worked out, saved and installed
    /// under it, so no change is lost to another made at the same time.
    writer: Mutex<()>,
    /// How many puts this node has made (it only grows): the last part of their versions.
    puts: AtomicU64,
    /// Bumped on every change installed.
    changes: watch::Sender<u64>,
    /// The same count, read without a lock: vnodes and the access check look at it on every
    /// request, from every core at once.
    changed: AtomicU64,
    /// The cluster a node's map spreads to; `None` for a detached map.
    cluster: Option<Cluster>,
}

/// The map as installed, with its digest (worked out once per change, not per exchange).
struct Held {
    table: Table,
    digest: u64,
}

/// What a node's map needs of the node: its members and the way to them.
struct Cluster {
    state: RingState,
    request_timeout: Duration,
}

impl Metadata {
    /// The map of a node: the one it saved in its data directory, or an empty one. A saved
    /// file that cannot be read is an error naming it.
    pub(crate) fn open(state: RingState, request_timeout: Duration) -> io::Result<Metadata> {
        let data_dir = state.data_dir().to_path_buf();
        let table = file::load(&data_dir)?.unwrap_or_default();
        let cluster = Cluster {
            state,
            request_timeout,
        };
        Ok(Metadata::with(
            cluster.state.me().clone(),
            Some(data_dir),
            table,
            Some(cluster),
        ))
    }

    /// A map of its own, in memory, part of no node: for a vnode run on its own in a test
    /// ([`crate::VnodeContext::standalone`]). Its puts go nowhere else.
    pub fn detached() -> Metadata {
        let me = NodeName::new("standalone@127.0.0.1");
        Metadata::with(me, None, Table::default(), None)
    }

    fn with(
        me: NodeName,
        data_dir: Option<PathBuf>,
        table: Table,
        cluster: Option<Cluster>,
    ) -> Metadata {
        // Versions this node gave before a restart stay below the ones it gives now.
        let puts = table
            .iter()
            .filter(|(_, _, s)| s.version.node == me)
            .map(|(_, _, s)| s.version.counter)
            .max()
            .unwrap_or(0);
        let digest = table.digest();
        Metadata {
            inner: Arc::new(Inner {
                me,
                data_dir,
                held: ArcSwap::from_pointee(Held { table, digest }),
                writer: Mutex::new(()),
                puts: AtomicU64::new(puts),
                changes: watch::Sender::new(0),
                changed: AtomicU64::new(0),
                cluster,
            }),
        }
    }

    /// The value of `key` under `prefix`, as this node holds it (`None`: never set, or
    /// deleted).
    pub fn get(&self, prefix: &str, key: &str) -> Option<Value> {
        let held = self.inner.held.load();
        held.table.get(prefix, key)?.value.clone()
    }

    /// The keys under `prefix` that have a value (deleted ones left out), with their values,
    /// sorted by key.
    pub fn list(&self, prefix: &str) -> Vec<(String, Value)> {
        let held = self.inner.held.load();
        held.table
            .prefix(prefix)
            .filter_map(|(key, stored)| Some((key.clone(), stored.value.clone()?)))
            .collect()
    }

    /// Sets `key` under `prefix` to `value`, or deletes it (`None`), on every node: saved and
    /// installed here, then pushed to every other member that is up, and waited for (see the
    /// module's doc). An error means the change was made nowhere: the map would grow past
    /// [`MAX_BYTES`], the node is stopping, or the file cannot be written.
    pub async fn put(&self, prefix: &str, key: &str, value: Option<Value>) -> Result<(), Error> {
        self.write(prefix, key, value, false).await
    }

    /// Sets `key` under `prefix` to `value` *as a default*, unless this node holds a value or
    /// a tombstone for it already: its version has time 0, so that any [`put`](Self::put),
    /// made anywhere before or after, wins over it. Nodes that start apart and each write the
    /// same default (the first admin user, say) end up agreeing on one of them (by node name)
    /// and never overwrite a real change with it.
    pub async fn put_default(&self, prefix: &str, key: &str, value: Value) -> Result<(), Error> {
        self.write(prefix, key, Some(value), true).await
    }

    async fn write(
        &self,
        prefix: &str,
        key: &str,
        value: Option<Value>,
        default: bool,
    ) -> Result<(), Error> {
        if self
            .cluster()
            .is_some_and(|c| c.state.lifecycle().is_stopping())
        {
            return Err(Error::Stopping);
        }
        let inner = Arc::clone(&self.inner);
        let (prefix, key) = (prefix.to_string(), key.to_string());
        let text = value.as_ref().map(Value::to_string);
        let entry = self
            .change(move |table| {
                // Past the version it replaces, whatever the clock says: a put always wins
                // over what this node held.
                let held = table.get(&prefix, &key);
                if default && held.is_some() {
                    return Ok((None, None));
                }
                let floor = held.map_or(0, |held| held.version.time_ms + 1);
                let entry = MetadataEntry {
                    version: MetadataVersion {
                        time_ms: if default { 0 } else { now_ms().max(floor) },
                        node: inner.me.clone(),
                        counter: inner.puts.fetch_add(1, Ordering::Relaxed) + 1,
                    },
                    prefix,
                    key,
                    value: text,
                };
                let (prefix, key, stored) =
                    Stored::from_wire(entry.clone()).map_err(Error::internal)?;
                let mut next = table.clone();
                next.merge(prefix, key, stored);
                if next.bytes() > MAX_BYTES {
                    tracing::warn!(
                        node = %inner.me,
                        prefix = %entry.prefix,
                        key = %entry.key,
                        bytes = next.bytes(),
                        "metadata put refused: the map would grow past its limit of {MAX_BYTES} bytes"
                    );
                    return Err(Error::bad_request(format!(
                        "cannot put {}/{}: the cluster metadata would take {} bytes, more than \
                         its limit of {MAX_BYTES} (4 MiB)",
                        entry.prefix,
                        entry.key,
                        next.bytes()
                    )));
                }
                Ok((Some(next), Some(entry)))
            })
            .await?;
        if let Some(entry) = entry {
            self.push(entry).await;
        }
        Ok(())
    }

    /// The number of changes this node has installed since it started (see
    /// [`subscribe`](Self::subscribe)): a cache built at one number is current while it holds.
    pub fn version(&self) -> u64 {
        self.inner.changed.load(Ordering::Acquire)
    }

    /// A counter bumped on every change this node installs, its own or one it received
    /// (starting at 0 when the node starts), so that a cache of what the map says knows when
    /// to read it again.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.inner.changes.subscribe()
    }

    /// A hash of every key and its version: equal on two nodes that hold the same map (what
    /// the exchange compares; tests wait on it too).
    pub fn digest(&self) -> u64 {
        self.inner.held.load().digest
    }

    /// Every entry, tombstones included, as they travel.
    fn entries(&self) -> Vec<MetadataEntry> {
        self.inner.held.load().table.entries()
    }

    fn me(&self) -> &NodeName {
        &self.inner.me
    }

    fn cluster(&self) -> Option<&Cluster> {
        self.inner.cluster.as_ref()
    }

    /// Answers another node's request.
    pub(crate) async fn answer(&self, request: MetadataRequest) -> Result<Response, Error> {
        match request {
            MetadataRequest::Push(entries) => {
                self.merge(entries).await?;
                Ok(Response::Done)
            }
            MetadataRequest::Digest(theirs) => Ok(Response::Metadata(if theirs == self.digest() {
                MetadataAnswer::Same
            } else {
                MetadataAnswer::Differs
            })),
            MetadataRequest::Exchange(theirs) => {
                // Worked out before theirs are taken in, so as not to send theirs back.
                let ours = self.inner.held.load().table.newer_than(&theirs);
                self.merge(theirs).await?;
                Ok(Response::Metadata(MetadataAnswer::Entries(ours)))
            }
        }
    }

    /// Takes in entries from another node: those that win over what this node holds are
    /// saved and installed. Returns how many did. An entry whose value is not JSON is left
    /// out, with a warning.
    pub(crate) async fn merge(&self, entries: Vec<MetadataEntry>) -> Result<usize, Error> {
        let me = self.me().clone();
        let mut decoded = Vec::with_capacity(entries.len());
        for entry in entries {
            match Stored::from_wire(entry) {
                Ok(found) => decoded.push(found),
                Err(why) => tracing::warn!(node = %me, "metadata entry ignored: {why}"),
            }
        }
        let inner = Arc::clone(&self.inner);
        self.change(move |table| {
            let winners: Vec<(String, String, Stored)> = decoded
                .into_iter()
                .filter(|(prefix, key, stored)| table.would_take(prefix, key, stored))
                .collect();
            if winners.is_empty() {
                return Ok((None, 0));
            }
            let mut next = table.clone();
            let mut taken = 0;
            for (prefix, key, stored) in winners {
                if stored.version.node == inner.me {
                    // Our own puts, come back (our file was lost): count on from them.
                    inner
                        .puts
                        .fetch_max(stored.version.counter, Ordering::Relaxed);
                }
                taken += usize::from(next.merge(prefix, key, stored));
            }
            Ok((Some(next), taken))
        })
        .await
    }

    /// Makes one change: `edit` works out the new map from the current one (`None`: no
    /// change) and an answer; the new map is saved, then installed, before this returns.
    async fn change<T: Send + 'static>(
        &self,
        edit: impl FnOnce(&Table) -> Result<(Option<Table>, T), Error> + Send + 'static,
    ) -> Result<T, Error> {
        let inner = Arc::clone(&self.inner);
        if inner.data_dir.is_none() {
            return inner.apply(edit);
        }
        // Saving writes and syncs a file: off the async threads. And once begun, the change
        // runs to its end even if the caller stops waiting, so that the file and the map
        // never part.
        tokio::task::spawn_blocking(move || inner.apply(edit))
            .await
            .map_err(|e| Error::internal(format!("a cluster metadata change failed: {e}")))?
    }

    /// Sends a change just made here to every other member that is up, and waits until each
    /// has taken it in or the request timeout has passed.
    async fn push(&self, entry: MetadataEntry) {
        let Some(cluster) = self.cluster() else {
            return;
        };
        let state = &cluster.state;
        let ring = state.ring();
        let (up, down): (Vec<&NodeName>, Vec<&NodeName>) =
            ring.others(state.me()).partition(|peer| state.is_up(peer));
        let asks = up.iter().map(|peer| {
            let request = Request::Metadata(MetadataRequest::Push(vec![entry.clone()]));
            async move {
                let answer = state
                    .transport()
                    .request(peer, request, cluster.request_timeout)
                    .await;
                matches!(answer, Ok(Response::Done))
            }
        });
        let answers = futures_util::future::join_all(asks).await;
        let missed: Vec<String> = up
            .iter()
            .zip(&answers)
            .filter(|(_, took)| !**took)
            .map(|(peer, _)| peer.to_string())
            .chain(down.iter().map(|peer| format!("{peer} (down)")))
            .collect();
        if !missed.is_empty() {
            tracing::debug!(
                node = %state.me(),
                prefix = %entry.prefix,
                key = %entry.key,
                missed = %missed.join(", "),
                "metadata change not taken in by every member yet; the exchange will bring it"
            );
        }
    }
}

impl Inner {
    /// [`Metadata::change`], on the calling thread.
    fn apply<T>(
        &self,
        edit: impl FnOnce(&Table) -> Result<(Option<Table>, T), Error>,
    ) -> Result<T, Error> {
        let _turn = self.writer.lock().unwrap_or_else(PoisonError::into_inner);
        let current = self.held.load_full();
        let (next, answer) = edit(&current.table)?;
        if let Some(table) = next {
            if let Some(data_dir) = &self.data_dir {
                file::save(data_dir, &table).map_err(|e| {
                    tracing::error!(node = %self.me, error = %e, "cannot save the cluster metadata");
                    Error::internal(format!("cannot save the cluster metadata: {e}"))
                })?;
            }
            let digest = table.digest();
            self.held.store(Arc::new(Held { table, digest }));
            self.changed.fetch_add(1, Ordering::Release);
            self.changes.send_modify(|version| *version += 1);
        }
        Ok(answer)
    }
}

impl std::fmt::Debug for Metadata {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let held = self.inner.held.load();
        f.debug_struct("Metadata")
            .field("node", &self.inner.me)
            .field("entries", &held.table.len())
            .field("bytes", &held.table.bytes())
            .finish()
    }
}

#[cfg(test)]
mod tests;
