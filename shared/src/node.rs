//! A node: one member of the cluster, hosting vnodes of one or more vnode types.
//!
//! A [`Node`] is a cheap handle (an `Arc`) shared by everything that runs on the node: the
//! console, the vnode hosts, the services of the application, and the node's own background
//! work — the listener ([`crate::server`]), gossip ([`crate::gossip`]), liveness
//! ([`crate::liveness`]) and transfers ([`crate::handoff`]).
//!
//! The node's view of the ring is read without locks on every request (an `ArcSwap`); changes
//! to it go through [`Node::update_ring`], one at a time, and are saved to the data directory
//! before anyone else hears of them.

use crate::error::{Error, StartError};
use crate::membership::Plan;
use crate::ring::{DEFAULT_RING_SIZE, NodeName, Ring, check_ring_size};
use crate::service::Service;
use crate::transport::{Faults, Transport};
use crate::vnode::Vnode;
use crate::vnode_host::{HostedVnodes, VnodeHost};
use crate::wire::{
    self, AddressBook, ClaimantRequest, GossipState, Hello, PeerAddr, Request, Response,
};
use crate::{console, gossip, handoff, liveness, ring_file, server};
use arc_swap::ArcSwap;
use std::any::Any;
use std::collections::{BTreeSet, HashMap};
use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// How long a request waits for a vnode unless told otherwise.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(5);

/// The cluster port of node `devK` (riak's devrel numbering: 10017, 10027, …).
pub fn dev_cluster_port(k: u32) -> u16 {
    (10017 + 10 * (k - 1)) as u16
}

/// What a node is started with.
#[derive(Clone, Debug)]
pub struct NodeConfig {
    /// The node's name, e.g. `dev1@127.0.0.1`.
    pub name: NodeName,
    /// Where the node keeps its files, e.g. `data/ex1-ping/dev1`.
    pub data_dir: PathBuf,
    /// Partitions in the ring (a power of two, 8–1024).
    pub ring_size: u32,
    /// How long requests wait for vnodes by default.
    pub request_timeout: Duration,
    /// Where other nodes and the command-line tools reach this node (port 0: any free port).
    pub listen: SocketAddr,
    /// Where an application serves HTTP, if it does (devK: 8080 + K − 1).
    pub http: SocketAddr,
    /// Where an application serves its chat, if it does (devK: 4040 + K − 1).
    pub chat: SocketAddr,
    /// How often every other member is pinged to see that it is up.
    pub heartbeat: Duration,
    /// How often the ring is gossiped to another member, besides after every change.
    pub gossip_interval: Duration,
    /// How often the node looks for partitions to hand over.
    pub handoff_tick: Duration,
    /// Transfers (in and out together) that may run at once on this node.
    pub handoff_concurrency: usize,
    /// How long either end of a transfer waits for the other before giving up.
    pub handoff_timeout: Duration,
    /// At most this many bytes per second per transfer (None: as fast as it goes), so that
    /// moving data leaves room for the requests of users.
    pub handoff_rate: Option<u64>,
    /// Links to other nodes that a test cut on purpose (none, unless a test shares one
    /// switch between its nodes and flips it): see [`Faults`].
    pub faults: Faults,
    /// The pause between two anti-entropy exchanges of an application that runs them (the
    /// stream database: see `streams::aae`); `None`: no anti-entropy on this node.
    pub anti_entropy: Option<Duration>,
}

impl NodeConfig {
    /// The workshop's node `devK`: name `devK@127.0.0.1`, data in `data/devK` (the command
    /// line puts it in the exercise's own folder, `data/ex1-ping/devK`), cluster port
    /// 10017 + 10·(K−1).
    pub fn dev(k: u32) -> Self {
        NodeConfig {
            name: NodeName::new(format!("dev{k}@127.0.0.1")),
            data_dir: PathBuf::from(format!("data/dev{k}")),
            ring_size: DEFAULT_RING_SIZE,
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
            listen: SocketAddr::from(([127, 0, 0, 1], dev_cluster_port(k))),
            http: SocketAddr::from(([127, 0, 0, 1], (8080 + k - 1) as u16)),
            chat: SocketAddr::from(([127, 0, 0, 1], (4040 + k - 1) as u16)),
            heartbeat: Duration::from_millis(500),
            gossip_interval: Duration::from_secs(1),
            handoff_tick: Duration::from_secs(1),
            handoff_concurrency: 2,
            handoff_timeout: Duration::from_secs(30),
            handoff_rate: None,
            faults: Faults::default(),
            // One key range a second: a node in charge of a third of 64 ranges (or half of
            // them while a node is down) goes round them all in about half a minute.
            anti_entropy: Some(Duration::from_secs(1)),
        }
    }

    /// Node `devK` for a test: data in `data_dir`, any free port, quick background ticks, and
    /// no anti-entropy (a test that wants it switches it on), so that it never hides what
    /// replication, read repair or handoff alone did.
    pub fn for_test(k: u32, data_dir: impl Into<PathBuf>) -> Self {
        NodeConfig {
            data_dir: data_dir.into(),
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            http: SocketAddr::from(([127, 0, 0, 1], 0)),
            chat: SocketAddr::from(([127, 0, 0, 1], 0)),
            heartbeat: Duration::from_millis(200),
            gossip_interval: Duration::from_millis(300),
            handoff_tick: Duration::from_millis(200),
            handoff_timeout: Duration::from_secs(10),
            anti_entropy: None,
            ..NodeConfig::dev(k)
        }
    }
}

/// A running node. Clone it freely: every clone is the same node.
#[derive(Clone)]
pub struct Node {
    inner: Arc<NodeInner>,
}

struct NodeInner {
    config: NodeConfig,
    addr: SocketAddr,
    ring: ArcSwap<Ring>,
    /// Serialises ring changes (reads never wait for it).
    ring_writer: Mutex<()>,
    ring_changed: Notify,
    /// Members that do not answer; everyone else is taken to be up.
    down: ArcSwap<BTreeSet<NodeName>>,
    hosts: Mutex<Vec<Arc<dyn HostedVnodes>>>,
    transport: Transport,
    console: Mutex<Option<Arc<dyn console::RemoteConsole>>>,
    mailboxes: Mutex<HashMap<String, Mailbox>>,
    /// Node-wide state of the applications, by name (see [`Node::singleton`]).
    singletons: Mutex<HashMap<String, Arc<dyn Any + Send + Sync>>>,
    handoffs: handoff::Handoffs,
    /// The last plan the claimant showed, which `cluster commit` must match.
    last_plan: Mutex<Option<Plan>>,
    /// The holes of the exercise this node's vnodes ran into (see [`Node::holes_met`]).
    holes_met: Mutex<BTreeSet<String>>,
    next_request: AtomicU64,
    tasks: TaskTracker,
    shutdown: CancellationToken,
    stop_requested: Notify,
}

impl Node {
    /// Starts a node: loads its ring from the data directory (or makes a fresh one-node
    /// ring), listens for other nodes, and starts gossip, liveness checks and transfers.
    pub async fn start(config: NodeConfig) -> Result<Node, StartError> {
        check_ring_size(config.ring_size)?;
        let saved = ring_file::load(&config.data_dir).map_err(StartError::SavedRing)?;
        let (ring, mut addresses) = match saved {
            Some((ring, _)) if ring.size() != config.ring_size => {
                return Err(StartError::RingSizeMismatch {
                    data_dir: config.data_dir.clone(),
                    saved: ring.size(),
                    asked: config.ring_size,
                });
            }
            Some((ring, addresses)) => (ring, addresses),
            None => (
                Ring::new(config.ring_size, config.name.clone()).expect("size checked"),
                AddressBook::new(),
            ),
        };
        let listener =
            TcpListener::bind(config.listen)
                .await
                .map_err(|source| StartError::Listen {
                    addr: config.listen,
                    node: config.name.clone(),
                    source,
                })?;
        let addr = listener.local_addr().map_err(StartError::LocalAddr)?;
        let incarnation = crate::clock::now_ms();
        addresses.insert(config.name.clone(), PeerAddr { addr, incarnation });
        let shutdown = CancellationToken::new();
        let config_concurrency = config.handoff_concurrency.max(1);
        let hello = Hello::Node {
            protocol: wire::PROTOCOL_VERSION,
            name: config.name.clone(),
            ring_size: config.ring_size,
            addr,
            incarnation,
        };
        let node = Node {
            inner: Arc::new(NodeInner {
                transport: Transport::new(
                    hello,
                    addresses,
                    shutdown.clone(),
                    config.faults.clone(),
                ),
                config,
                addr,
                ring: ArcSwap::from_pointee(ring),
                ring_writer: Mutex::new(()),
                ring_changed: Notify::new(),
                down: ArcSwap::from_pointee(BTreeSet::new()),
                hosts: Mutex::new(Vec::new()),
                console: Mutex::new(None),
                mailboxes: Mutex::new(HashMap::new()),
                singletons: Mutex::new(HashMap::new()),
                handoffs: handoff::Handoffs::new(config_concurrency),
                last_plan: Mutex::new(None),
                holes_met: Mutex::new(BTreeSet::new()),
                next_request: AtomicU64::new(1),
                tasks: TaskTracker::new(),
                shutdown,
                stop_requested: Notify::new(),
            }),
        };
        node.save_ring(&node.ring());
        node.spawn(server::serve(listener, node.clone()));
        node.spawn(gossip::run(node.clone()));
        node.spawn(liveness::run(node.clone()));
        node.spawn(handoff::run(node.clone()));
        tracing::info!(node = %node.name(), %addr, ring_size = node.ring().size(), "node started");
        Ok(node)
    }

    pub fn name(&self) -> &NodeName {
        &self.inner.config.name
    }

    pub fn config(&self) -> &NodeConfig {
        &self.inner.config
    }

    pub fn data_dir(&self) -> &Path {
        &self.inner.config.data_dir
    }

    /// Where this node listens for other nodes and for the command-line tools.
    pub fn addr(&self) -> SocketAddr {
        self.inner.addr
    }

    /// The node's current view of the ring.
    pub fn ring(&self) -> Arc<Ring> {
        self.inner.ring.load_full()
    }

    /// Whether a node is taking requests, as far as this node knows.
    pub fn is_up(&self, node: &NodeName) -> bool {
        node == self.name() || !self.inner.down.load().contains(node)
    }

    /// The members that do not answer.
    pub fn down_nodes(&self) -> BTreeSet<NodeName> {
        (**self.inner.down.load()).clone()
    }

    pub(crate) fn set_down(&self, down: BTreeSet<NodeName>) {
        self.inner.down.store(Arc::new(down));
    }

    /// The holes of the exercise (`not implemented yet: write …`) that this node's vnodes ran
    /// into, each once: a callback that failed that way will fail so every time it is called,
    /// so whatever waits for it (a handoff, a settled ring) waits in vain. A test waiting on
    /// the node gives up as soon as one is here.
    pub fn holes_met(&self) -> Vec<String> {
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

    /// Hosts vnodes of type `V` on this node under the name `vnode_type` (riak's
    /// `riak_core:register`), and returns the handle to send them requests. Registering the
    /// same name again returns the same vnodes.
    pub fn register<V: Vnode>(&self, vnode_type: &'static str) -> Service<V> {
        let mut hosts = self.inner.hosts.lock().expect("hosts lock");
        if let Some(existing) = hosts.iter().find(|h| h.vnode_type() == vnode_type) {
            let host = Arc::clone(existing)
                .as_any()
                .downcast::<VnodeHost<V>>()
                .unwrap_or_else(|_| {
                    panic!("vnode type {vnode_type} is registered with another Vnode type")
                });
            return Service::new(self.clone(), host);
        }
        let host = Arc::new(VnodeHost::<V>::new(
            vnode_type,
            self.mailer(),
            self.name().clone(),
            self.data_dir().to_path_buf(),
            self.inner.config.ring_size,
            self.inner.tasks.clone(),
        ));
        hosts.push(host.clone());
        Service::new(self.clone(), host)
    }

    /// Node-wide state of an application that must exist once per node, however many handles
    /// on the application are made (the stream database's anti-entropy: one task per node).
    /// `make` makes it (and starts what goes with it) the first time `name` is asked for;
    /// later calls get the same one.
    pub fn singleton<T: Any + Send + Sync>(
        &self,
        name: &str,
        make: impl FnOnce() -> Arc<T>,
    ) -> Arc<T> {
        let mut singletons = self.inner.singletons.lock().expect("singletons lock");
        let found = singletons
            .entry(name.to_string())
            .or_insert_with(|| make() as Arc<dyn Any + Send + Sync>);
        Arc::clone(found)
            .downcast::<T>()
            .unwrap_or_else(|_| panic!("singleton {name} was made with another type"))
    }

    /// The vnode types hosted here.
    pub(crate) fn hosts(&self) -> Vec<Arc<dyn HostedVnodes>> {
        self.inner.hosts.lock().expect("hosts lock").clone()
    }

    fn host(&self, vnode_type: &str) -> Option<Arc<dyn HostedVnodes>> {
        self.hosts()
            .into_iter()
            .find(|h| h.vnode_type() == vnode_type)
    }

    /// A fresh id for an asynchronous request.
    pub(crate) fn next_request_id(&self) -> u64 {
        self.inner.next_request.fetch_add(1, Ordering::Relaxed)
    }

    /// Sends a request to another node.
    pub(crate) async fn request(
        &self,
        to: &NodeName,
        body: Request,
        wait: Duration,
    ) -> Result<Response, Error> {
        self.inner.transport.request(to, body, wait).await
    }

    pub(crate) fn learn_address(&self, node: &NodeName, peer: PeerAddr) {
        if self.inner.transport.learn(node, peer) {
            tracing::debug!(node = %self.name(), peer = %node, addr = %peer.addr, "learned address");
        }
    }

    pub(crate) fn address_of(&self, node: &NodeName) -> Option<SocketAddr> {
        self.inner.transport.address_of(node)
    }

    /// The ring and the addresses to reach its members, as gossip carries them.
    pub(crate) fn gossip_state(&self) -> GossipState {
        GossipState {
            ring: (*self.ring()).clone(),
            addresses: self.inner.transport.addresses(),
        }
    }

    /// Changes the ring, one change at a time. `change` returns `Ok(Some(ring))` to install a
    /// new ring; the new ring is saved and gossiped before this returns.
    pub(crate) fn update_ring<T>(
        &self,
        change: impl FnOnce(&Ring) -> Result<(Option<Ring>, T), Error>,
    ) -> Result<T, Error> {
        let guard = self.inner.ring_writer.lock().expect("ring writer");
        let current = self.ring();
        let (new_ring, answer) = change(&current)?;
        if let Some(ring) = new_ring {
            self.install_ring(ring);
        }
        drop(guard);
        Ok(answer)
    }

    fn install_ring(&self, ring: Ring) {
        self.save_ring(&ring);
        self.inner.ring.store(Arc::new(ring));
        self.inner.ring_changed.notify_waiters();
        gossip::push_to_all(self);
    }

    fn save_ring(&self, ring: &Ring) {
        if let Err(error) =
            ring_file::save(self.data_dir(), ring, &self.inner.transport.addresses())
        {
            tracing::error!(node = %self.name(), %error, "cannot save the ring");
        }
    }

    /// Takes in what another node gossiped: its addresses, and its ring if it is newer.
    /// Returns whether our ring changed.
    pub(crate) fn receive_gossip(&self, state: GossipState) -> bool {
        self.inner.transport.learn_all(&state.addresses);
        let me = self.name().clone();
        self.update_ring(|current| {
            if state.ring.version() <= current.version() {
                return Ok((None, false));
            }
            // Peers are trusted, but a ring this node cannot use would make every task that
            // reads it panic: it is ignored.
            if state.ring.size() != current.size() || !state.ring.is_well_formed() {
                tracing::warn!(node = %me, "gossip with a malformed ring ignored");
                return Ok((None, false));
            }
            // A newer ring of our own cluster (its claimant is one of our members) that no
            // longer lists us: we were removed (we left, or were force-removed).
            let ours = current.is_member(state.ring.claimant());
            if ours
                && current.is_member(&me)
                && !state.ring.is_member(&me)
                && current.members().len() > 1
            {
                tracing::info!(node = %me, "removed from the cluster; now a cluster of one");
                // A fresh ring, at version 1: it must never look newer than the cluster's.
                let fresh = Ring::new(current.size(), me.clone()).expect("same size");
                return Ok((Some(fresh), true));
            }
            if !state.ring.is_member(&me) {
                return Ok((None, false));
            }
            Ok((Some(state.ring.clone()), true))
        })
        .unwrap_or(false)
    }

    pub(crate) fn adopt_addresses(&self, book: &AddressBook) {
        self.inner.transport.learn_all(book);
    }

    /// Replaces our ring by a cluster's, when this node joins it.
    pub(crate) fn adopt_cluster(&self, state: GossipState) {
        self.inner.transport.learn_all(&state.addresses);
        let _ = self.update_ring(|_| Ok((Some(state.ring.clone()), ())));
    }

    /// Waits until the ring changes (or a short while, whichever is first).
    pub(crate) async fn ring_changed(&self, at_most: Duration) {
        let _ = tokio::time::timeout(at_most, self.inner.ring_changed.notified()).await;
    }

    pub(crate) fn handoffs(&self) -> &handoff::Handoffs {
        &self.inner.handoffs
    }

    /// The transfers this node is sending now.
    pub fn transfers(&self) -> Vec<wire::TransferStatus> {
        self.inner.handoffs.status()
    }

    pub(crate) fn last_plan(&self) -> &Mutex<Option<Plan>> {
        &self.inner.last_plan
    }

    /// Sends a request to the claimant (running it here if this node is the claimant).
    pub(crate) async fn claimant_call(&self, request: ClaimantRequest) -> Result<Response, Error> {
        let mut claimant = self.ring().claimant().clone();
        for _ in 0..3 {
            let result = if claimant == *self.name() {
                crate::claimant::handle(self, request.clone()).await
            } else {
                self.request(
                    &claimant,
                    Request::Claimant(request.clone()),
                    self.config().request_timeout,
                )
                .await
            };
            match result {
                Err(Error::NotClaimant { claimant: other }) if other != claimant => {
                    claimant = other
                }
                other => return other,
            }
        }
        Err(Error::Unavailable(
            "the claimant keeps moving; try again".to_string(),
        ))
    }

    /// Receives the messages sent to `name` on this node by [`Node::deliver`] (from any node).
    /// The handler runs on the receiving connection's task: it must not block. An `Err` goes
    /// back to the sender.
    pub fn register_mailbox(
        &self,
        name: &str,
        handler: impl Fn(Vec<u8>) -> Result<(), String> + Send + Sync + 'static,
    ) {
        self.inner
            .mailboxes
            .lock()
            .expect("mailboxes")
            .insert(name.to_string(), Arc::new(handler));
    }

    /// Sends a message to mailbox `mailbox` on node `to` (this node included) and waits until
    /// its handler took it.
    pub async fn deliver(
        &self,
        to: &NodeName,
        mailbox: &str,
        payload: Vec<u8>,
    ) -> Result<(), Error> {
        if to == self.name() {
            return self.deliver_here(mailbox, payload);
        }
        let request = Request::Deliver {
            mailbox: mailbox.to_string(),
            payload,
        };
        self.request(to, request, self.config().request_timeout)
            .await
            .map(|_| ())
    }

    /// A handle that vnodes (whose callbacks cannot wait) use to send messages.
    pub fn mailer(&self) -> Mailer {
        Mailer {
            node: Arc::downgrade(&self.inner),
        }
    }

    fn deliver_here(&self, mailbox: &str, payload: Vec<u8>) -> Result<(), Error> {
        let handler = self
            .inner
            .mailboxes
            .lock()
            .expect("mailboxes")
            .get(mailbox)
            .cloned();
        let handler = handler.ok_or_else(|| {
            Error::bad_request(format!("no mailbox '{mailbox}' on {}", self.name()))
        })?;
        handler(payload).map_err(Error::BadRequest)
    }

    /// The console that `attach` talks to.
    pub fn set_console(&self, console: Arc<dyn console::RemoteConsole>) {
        *self.inner.console.lock().expect("console") = Some(console);
    }

    /// Answers a request from another node or a command-line tool.
    pub(crate) async fn handle_request(&self, body: Request) -> Result<Response, Error> {
        match body {
            Request::Ping => Ok(Response::Pong {
                name: self.name().clone(),
                ring_version: self.ring().version(),
            }),
            Request::Vnode {
                vnode_type,
                partition,
                call,
                payload,
            } => {
                if partition >= self.ring().size() {
                    return Err(Error::bad_request(format!(
                        "there is no partition {partition}"
                    )));
                }
                let host = self.host(&vnode_type).ok_or_else(|| {
                    Error::bad_request(format!("no vnode type '{vnode_type}' on {}", self.name()))
                })?;
                host.dispatch(partition, call, payload)
                    .await
                    .map(Response::Payload)
            }
            Request::Gossip(state) => {
                let theirs = state.ring.version();
                self.receive_gossip(state);
                let mine = self.ring();
                Ok(Response::Gossip(
                    (mine.version() > theirs).then(|| self.gossip_state()),
                ))
            }
            Request::State => Ok(Response::State(self.gossip_state())),
            Request::Claimant(request) => crate::claimant::handle(self, request).await,
            Request::Admin(words) => {
                let words: Vec<&str> = words.iter().map(String::as_str).collect();
                crate::admin::run(self, &words).await.map(Response::Text)
            }
            Request::Console(line) => {
                let console = self.inner.console.lock().expect("console").clone();
                match console {
                    Some(console) => Ok(Response::Text(console.eval_remote(line).await)),
                    None => Err(Error::bad_request("this node has no console")),
                }
            }
            Request::Handoff(request) => handoff::handle_request(self, request).await,
            Request::Transfers => Ok(Response::Transfers(self.transfers())),
            Request::Deliver { mailbox, payload } => self
                .deliver_here(&mailbox, payload)
                .map(|()| Response::Done),
            Request::Stop => {
                self.inner.stop_requested.notify_waiters();
                self.inner.stop_requested.notify_one();
                Ok(Response::Done)
            }
        }
    }

    /// Waits until someone asks this node to stop (`Request::Stop`).
    pub async fn stop_requested(&self) {
        self.inner.stop_requested.notified().await;
    }

    /// Runs a background task of this node (the runtime's, or an application's). `stop`
    /// waits for it, so the task must end once [`Node::stopping`] says so.
    pub fn spawn(&self, task: impl Future<Output = ()> + Send + 'static) {
        self.inner.tasks.spawn(task);
    }

    /// Completes once the node begins to stop: what a task given to [`Node::spawn`] waits
    /// for beside its work, to end with the node.
    pub async fn stopping(&self) {
        self.inner.shutdown.cancelled().await;
    }

    pub(crate) fn shutdown_token(&self) -> CancellationToken {
        self.inner.shutdown.clone()
    }

    /// Whether `stop` has begun.
    pub fn is_stopping(&self) -> bool {
        self.inner.shutdown.is_cancelled()
    }

    /// Stops the node: closes its port, stops its background work and every vnode (each runs
    /// `terminate`), and waits for all of it to finish.
    pub async fn stop(&self) {
        self.inner.shutdown.cancel();
        for host in self.hosts() {
            host.stop_all();
        }
        self.inner.console.lock().expect("console").take();
        self.inner.tasks.close();
        self.inner.tasks.wait().await;
        tracing::info!(node = %self.name(), "node stopped");
    }
}

/// A mailbox's handler.
type Mailbox = Arc<dyn Fn(Vec<u8>) -> Result<(), String> + Send + Sync>;

/// Sends messages to mailboxes from code that cannot wait (vnode callbacks): each send runs in
/// the background, and a failure is logged.
#[derive(Clone)]
pub struct Mailer {
    node: std::sync::Weak<NodeInner>,
}

impl Mailer {
    /// A mailer attached to no node: what it sends goes nowhere (for vnodes run alone, in tests).
    pub fn detached() -> Self {
        Mailer {
            node: std::sync::Weak::new(),
        }
    }

    /// The node, while it runs (for the vnode task, which passes requests on after a
    /// handoff).
    pub(crate) fn node(&self) -> Option<Node> {
        self.node.upgrade().map(|inner| Node { inner })
    }

    /// Sends `payload` to `mailbox` on node `to`, in the background.
    pub fn send(&self, to: &NodeName, mailbox: &str, payload: Vec<u8>) {
        let Some(inner) = self.node.upgrade() else {
            return;
        };
        let node = Node { inner };
        let (to, mailbox) = (to.clone(), mailbox.to_string());
        tokio::spawn(async move {
            if let Err(error) = node.deliver(&to, &mailbox, payload).await {
                tracing::debug!(%to, %mailbox, %error, "message not delivered");
            }
        });
    }
}

impl std::fmt::Debug for Mailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Mailer")
    }
}

impl std::fmt::Debug for Node {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Node({})", self.name())
    }
}
