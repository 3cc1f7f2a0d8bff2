//! The node's view of the cluster: the ring it holds and the members that do not answer
//! (riak_core's ring manager and the down list of its node watcher).
//!
//! The ring is read without locks on every request (an `ArcSwap`). A change goes through
//! [`RingState::update`], one at a time, and is saved to the data directory before it is
//! installed, so that no one — here or on another node — hears of a ring the node would not
//! come back with after a crash; then it is gossiped to every other member.

use crate::cluster::{gossip, ring_file};
use crate::error::Error;
use crate::lifecycle::Lifecycle;
use crate::net::transport::Transport;
use crate::net::wire::{AddressBook, GossipState};
use crate::ring::reconcile::{Verdict, reconcile};
use crate::ring::{NodeName, Ring};
use arc_swap::ArcSwap;
use std::collections::BTreeSet;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::Notify;

/// The node's view of the cluster. Cheap to clone: every clone is the same view.
#[derive(Clone)]
pub struct RingState {
    inner: Arc<Inner>,
}

struct Inner {
    me: NodeName,
    data_dir: PathBuf,
    ring: ArcSwap<Ring>,
    /// Serialises ring changes (reads never wait for it).
    writer: Mutex<()>,
    changed: Notify,
    /// Members that do not answer; everyone else is taken to be up.
    down: ArcSwap<BTreeSet<NodeName>>,
    transport: Arc<Transport>,
    lifecycle: Lifecycle,
    gossip_interval: Duration,
}

/// A ring saved in a data directory, with the addresses of its members.
pub type SavedRing = (Ring, AddressBook);

/// Reads the ring a node saved in `data_dir`, if it saved one.
pub fn load_saved_ring(data_dir: &Path) -> io::Result<Option<SavedRing>> {
    ring_file::load(data_dir)
}

impl RingState {
    /// The view of node `me`, starting from `ring`, which it saves at once.
    pub(crate) fn new(
        me: NodeName,
        data_dir: PathBuf,
        ring: Ring,
        transport: Arc<Transport>,
        lifecycle: Lifecycle,
        gossip_interval: Duration,
    ) -> Self {
        let state = RingState {
            inner: Arc::new(Inner {
                me,
                data_dir,
                ring: ArcSwap::from_pointee(ring),
                writer: Mutex::new(()),
                changed: Notify::new(),
                down: ArcSwap::from_pointee(BTreeSet::new()),
                transport,
                lifecycle,
                gossip_interval,
            }),
        };
        state.save(&state.ring());
        state
    }

    /// This node's name.
    pub fn me(&self) -> &NodeName {
        &self.inner.me
    }

    pub fn data_dir(&self) -> &Path {
        &self.inner.data_dir
    }

    /// The ring as this node sees it now.
    pub fn ring(&self) -> Arc<Ring> {
        self.inner.ring.load_full()
    }

    /// Whether a node is taking requests, as far as this node knows.
    pub fn is_up(&self, node: &NodeName) -> bool {
        node == self.me() || !self.inner.down.load().contains(node)
    }

    /// The members that do not answer.
    pub fn down_nodes(&self) -> BTreeSet<NodeName> {
        (**self.inner.down.load()).clone()
    }

    pub(crate) fn set_down(&self, down: BTreeSet<NodeName>) {
        self.inner.down.store(Arc::new(down));
    }

    /// The connections to the other nodes.
    pub(crate) fn transport(&self) -> &Transport {
        &self.inner.transport
    }

    pub(crate) fn lifecycle(&self) -> &Lifecycle {
        &self.inner.lifecycle
    }

    pub(crate) fn gossip_interval(&self) -> Duration {
        self.inner.gossip_interval
    }

    /// The ring and the addresses to reach its members, as gossip carries them.
    pub fn gossip_state(&self) -> GossipState {
        GossipState {
            ring: (*self.ring()).clone(),
            addresses: self.transport().addresses(),
        }
    }

    /// Changes the ring, one change at a time. `change` returns `Ok(Some(ring))` to install a
    /// new ring; the new ring is saved, installed and gossiped before this returns.
    pub fn update<T>(
        &self,
        change: impl FnOnce(&Ring) -> Result<(Option<Ring>, T), Error>,
    ) -> Result<T, Error> {
        let guard = self.inner.writer.lock().expect("ring writer");
        let current = self.ring();
        let (new_ring, answer) = change(&current)?;
        if let Some(ring) = new_ring {
            self.save(&ring);
            self.inner.ring.store(Arc::new(ring));
            self.inner.changed.notify_waiters();
            gossip::push_to_all(self);
        }
        drop(guard);
        Ok(answer)
    }

    /// Takes in what another node gossiped: its addresses, and its ring if the merge rule
    /// ([`reconcile`]) says so. Returns whether our ring changed.
    pub fn receive_gossip(&self, state: GossipState) -> bool {
        self.transport().learn_all(&state.addresses);
        let me = self.me().clone();
        self.update(|current| match reconcile(&me, current, &state.ring) {
            Verdict::Adopt => Ok((Some(state.ring.clone()), true)),
            Verdict::Keep => Ok((None, false)),
            Verdict::Malformed => {
                tracing::warn!(node = %me, "gossip with a malformed ring ignored");
                Ok((None, false))
            }
            Verdict::Removed => {
                tracing::info!(node = %me, "removed from the cluster; now a cluster of one");
                let fresh = Ring::new(current.size(), me.clone()).expect("same size");
                Ok((Some(fresh), true))
            }
        })
        .unwrap_or(false)
    }

    /// Replaces our ring by a cluster's, when this node joins it.
    pub fn adopt_cluster(&self, state: GossipState) {
        self.transport().learn_all(&state.addresses);
        let _ = self.update(|_| Ok((Some(state.ring.clone()), ())));
    }

    /// Waits until the ring changes (or `at_most`, whichever is first).
    pub async fn changed(&self, at_most: Duration) {
        let _ = tokio::time::timeout(at_most, self.inner.changed.notified()).await;
    }

    fn save(&self, ring: &Ring) {
        if let Err(error) = ring_file::save(self.data_dir(), ring, &self.transport().addresses()) {
            tracing::error!(node = %self.me(), %error, "cannot save the ring");
        }
    }
}
