//! What the vnode machinery sees of the node it runs on: its name and view of the ring, the
//! way to other nodes, request ids, mailboxes, the cluster metadata, and the holes its vnodes
//! ran into. The node ([`crate::node::Node`]) owns one and hands clones to its vnode hosts, so
//! that nothing in this room needs the whole node.

use crate::cluster::{Metadata, RingState};
use crate::error::Error;
use crate::metrics::Metrics;
use crate::net::wire::{Request, Response};
use crate::ring::{NodeName, Ring};
use crate::vnode::mailer::Mailboxes;
use crate::vnode::reply::RequestId;
use std::collections::BTreeSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The node, as the vnode layer sees it. Cheap to clone: every clone is the same node.
#[derive(Clone)]
pub(crate) struct NodeContext {
    inner: Arc<Inner>,
}

struct Inner {
    state: RingState,
    request_timeout: Duration,
    next_request: AtomicU64,
    mailboxes: Mailboxes,
    metadata: Metadata,
    metrics: Arc<Metrics>,
    /// The holes of the exercise this node's vnodes ran into (see [`NodeContext::holes_met`]).
    holes_met: Mutex<BTreeSet<String>>,
}

impl NodeContext {
    pub(crate) fn new(state: RingState, request_timeout: Duration, metadata: Metadata) -> Self {
        NodeContext {
            inner: Arc::new(Inner {
                state,
                request_timeout,
                next_request: AtomicU64::new(1),
                mailboxes: Mailboxes::default(),
                metadata,
                metrics: Arc::new(Metrics::default()),
                holes_met: Mutex::new(BTreeSet::new()),
            }),
        }
    }

    pub(crate) fn name(&self) -> &NodeName {
        self.inner.state.me()
    }

    /// The node's view of the cluster.
    pub(crate) fn state(&self) -> &RingState {
        &self.inner.state
    }

    pub(crate) fn ring(&self) -> Arc<Ring> {
        self.inner.state.ring()
    }

    pub(crate) fn is_up(&self, node: &NodeName) -> bool {
        self.inner.state.is_up(node)
    }

    /// How long a request waits for a vnode unless told otherwise.
    pub(crate) fn request_timeout(&self) -> Duration {
        self.inner.request_timeout
    }

    /// A fresh id for an asynchronous request.
    pub(crate) fn next_request_id(&self) -> RequestId {
        self.inner.next_request.fetch_add(1, Ordering::Relaxed)
    }

    /// Sends a request to another node.
    pub(crate) async fn request(
        &self,
        to: &NodeName,
        body: Request,
        wait: Duration,
    ) -> Result<Response, Error> {
        self.inner.state.transport().request(to, body, wait).await
    }

    /// The node's counters.
    pub(crate) fn metrics(&self) -> &Arc<Metrics> {
        &self.inner.metrics
    }

    pub(crate) fn mailboxes(&self) -> &Mailboxes {
        &self.inner.mailboxes
    }

    /// The node's cluster metadata.
    pub(crate) fn metadata(&self) -> &Metadata {
        &self.inner.metadata
    }

    /// Sends a message to mailbox `mailbox` on node `to` (this node included) and waits until
    /// its handler took it.
    pub(crate) async fn deliver(
        &self,
        to: &NodeName,
        mailbox: &str,
        payload: Vec<u8>,
    ) -> Result<(), Error> {
        if to == self.name() {
            return self.inner.mailboxes.deliver(self.name(), mailbox, payload);
        }
        let request = Request::Deliver {
            mailbox: mailbox.to_string(),
            payload,
        };
        self.request(to, request, self.request_timeout())
            .await
            .map(|_| ())
    }

    /// The holes of the exercise (`not implemented yet: write …`) that this node's vnodes ran
    /// into, each once.
    pub(crate) fn holes_met(&self) -> Vec<String> {
        let holes = self.inner.holes_met.lock().expect("holes lock");
        holes.iter().cloned().collect()
    }

    /// Notes that a vnode callback failed with `hole` (the message of a hole).
    pub(crate) fn met_hole(&self, hole: &str) {
        let mut holes = self.inner.holes_met.lock().expect("holes lock");
        if !holes.contains(hole) {
            holes.insert(hole.to_string());
        }
    }

    /// A node of one, alone in `data_dir`, for the unit tests of the vnode machinery.
    #[cfg(test)]
    pub(crate) fn alone(
        data_dir: &std::path::Path,
        ring_size: u32,
        tasks: &crate::lifecycle::Lifecycle,
    ) -> Self {
        use crate::net::cookie::Cookie;
        use crate::net::transport::{Faults, Identity, Transport};
        use crate::net::wire::AddressBook;
        let name = NodeName::new("dev1@127.0.0.1");
        let identity = Identity {
            name: name.clone(),
            ring_size,
            addr: std::net::SocketAddr::from(([127, 0, 0, 1], 0)),
            incarnation: 1,
        };
        let transport = Transport::new(
            identity,
            Cookie::generate(),
            AddressBook::new(),
            tasks.token().clone(),
            Faults::default(),
        );
        let ring = Ring::new(ring_size, name.clone()).expect("a valid ring size");
        let state = RingState::new(
            name,
            data_dir.to_path_buf(),
            ring,
            Arc::new(transport),
            tasks.clone(),
            Duration::from_secs(1),
        );
        NodeContext::new(state, Duration::from_secs(5), Metadata::detached())
    }
}
