//! A node: one member of the cluster, hosting vnodes of one or more vnode types.
//!
//! A [`Node`] is a cheap handle (an `Arc`) on everything that runs on the node. It owns small
//! handles, each given only to the work that needs it:
//!
//! - the view of the cluster ([`RingState`]), which gossip, liveness and the claimant keep;
//! - the cluster metadata ([`Metadata`]), which its own exchange keeps;
//! - the claimant's door ([`Claimant`]);
//! - what the vnode machinery sees of the node (`NodeContext`) and the vnode hosts;
//! - the handoff manager ([`crate::handoff`]);
//! - its background tasks ([`Lifecycle`]).
//!
//! [`Node::start`] makes them and starts the listener, gossip, liveness, the metadata
//! exchange and handoff; what arrives over the wire is answered by `dispatch`; [`Node::stop`]
//! ends it all.

pub mod admin;
mod config;
mod dispatch;
mod vnode_master;

pub use config::{DEFAULT_REQUEST_TIMEOUT, DEV_COOKIE, NodeConfig, dev_cluster_port};
pub use vnode_master::VnodeMaster;

use crate::access::Access;
use crate::cluster::{self, Claimant, Metadata, RingState};
use crate::error::{Error, StartError};
use crate::handoff;
use crate::lifecycle::Lifecycle;
use crate::net::server;
use crate::net::transport::{Identity, Transport};
use crate::net::wire::{self, AddressBook, PeerAddr};
use crate::ring::{NodeName, Ring, check_ring_size};
use crate::vnode::Vnode;
use crate::vnode::context::NodeContext;
use crate::vnode::host::Hosts;
use futures_util::future::BoxFuture;
use std::any::Any;
use std::collections::{BTreeSet, HashMap};
use std::future::Future;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};
use tokio::net::TcpListener;
use tokio::sync::Notify;

/// A running node. Clone it freely: every clone is the same node.
#[derive(Clone)]
pub struct Node {
    inner: Arc<NodeInner>,
}

struct NodeInner {
    config: NodeConfig,
    addr: SocketAddr,
    state: RingState,
    claimant: Claimant,
    context: NodeContext,
    hosts: Hosts,
    handoff: handoff::Manager,
    /// Its users and grants: who may call its applications.
    access: Access,
    lifecycle: Lifecycle,
    console: Mutex<Option<Arc<dyn RemoteConsole>>>,
    /// Node-wide state of the applications, by name (see [`Node::singleton`]).
    singletons: Mutex<HashMap<String, Arc<dyn Any + Send + Sync>>>,
    stop_requested: Notify,
}

/// A console that `attach` talks to (the node's own, see [`crate::ops::console`]).
pub trait RemoteConsole: Send + Sync {
    /// Evaluates one line typed at an attached console and returns what to print.
    fn eval_remote(&self, line: String) -> BoxFuture<'static, String>;
}

impl Node {
    /// Starts a node: loads its ring and its cluster metadata from the data directory (or
    /// makes a fresh one-node ring and an empty map), listens for other nodes, and starts
    /// gossip, liveness checks, the metadata exchange and transfers.
    pub async fn start(config: NodeConfig) -> Result<Node, StartError> {
        check_ring_size(config.ring_size)?;
        let saved = cluster::load_saved_ring(&config.data_dir).map_err(StartError::SavedRing)?;
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
        let advertised = advertised(&config, addr);
        addresses.insert(
            config.name.clone(),
            PeerAddr {
                addr: advertised,
                incarnation,
            },
        );
        let lifecycle = Lifecycle::new();
        let identity = Identity {
            name: config.name.clone(),
            ring_size: config.ring_size,
            addr: advertised,
            incarnation,
        };
        let transport = Transport::new(
            identity,
            config.cookie.clone(),
            addresses,
            lifecycle.token().clone(),
            config.faults.clone(),
        );
        let transport = Arc::new(transport);
        let state = RingState::new(
            config.name.clone(),
            config.data_dir.clone(),
            ring,
            Arc::clone(&transport),
            lifecycle.clone(),
            config.gossip_interval,
        );
        let metadata =
            Metadata::open(state.clone(), config.request_timeout).map_err(StartError::Metadata)?;
        let claimant = Claimant::new(state.clone(), config.request_timeout);
        let access = Access::new(metadata.clone(), &config.cookie, config.access.clone());
        let context = NodeContext::new(state.clone(), config.request_timeout, metadata);
        let hosts = Hosts::default();
        let handoff = handoff::Manager::new(
            context.clone(),
            hosts.clone(),
            claimant.clone(),
            config.handoff_concurrency,
            (
                config.handoff_tick,
                config.handoff_timeout,
                config.handoff_rate,
            ),
        );
        let node = Node {
            inner: Arc::new(NodeInner {
                claimant,
                context,
                hosts,
                handoff,
                access,
                config,
                addr,
                state,
                lifecycle,
                console: Mutex::new(None),
                singletons: Mutex::new(HashMap::new()),
                stop_requested: Notify::new(),
            }),
        };
        let listening = server::Listener {
            me: node.name().clone(),
            ring_size: node.config().ring_size,
            cookie: node.config().cookie.clone(),
            wrong_cookie: Default::default(),
            transport,
            lifecycle: node.inner.lifecycle.clone(),
            answer: dispatch::answerer(&node),
            limits: node.config().limits,
            metrics: Arc::clone(node.metrics()),
        };
        node.spawn(server::serve(listener, listening));
        node.spawn(cluster::gossip::run(node.inner.state.clone()));
        node.spawn(cluster::liveness::run(
            node.inner.state.clone(),
            node.config().heartbeat,
        ));
        node.spawn(cluster::metadata::run(node.metadata().clone()));
        node.spawn(handoff::run(node.inner.handoff.clone()));
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
        self.inner.state.ring()
    }

    /// Whether a node is taking requests, as far as this node knows.
    pub fn is_up(&self, node: &NodeName) -> bool {
        self.inner.state.is_up(node)
    }

    /// The members that do not answer.
    pub fn down_nodes(&self) -> BTreeSet<NodeName> {
        self.inner.state.down_nodes()
    }

    /// The node's view of the cluster.
    pub(crate) fn state(&self) -> &RingState {
        &self.inner.state
    }

    /// The way to the claimant.
    pub(crate) fn claimant(&self) -> &Claimant {
        &self.inner.claimant
    }

    /// The node as its vnode machinery sees it.
    pub(crate) fn context(&self) -> &NodeContext {
        &self.inner.context
    }

    /// Its users and grants, and the rule that decides what a caller may do (see
    /// [`crate::access`]).
    pub fn access(&self) -> &Access {
        &self.inner.access
    }

    /// The cluster metadata: a small map every node holds a copy of, read locally (see
    /// [`crate::cluster::metadata`]).
    pub fn metadata(&self) -> &Metadata {
        self.inner.context.metadata()
    }

    /// The node's counters (see [`crate::metrics`]).
    pub fn metrics(&self) -> &Arc<crate::metrics::Metrics> {
        self.inner.context.metrics()
    }

    /// How many vnodes are started on this node, of every type.
    pub fn vnodes_running(&self) -> usize {
        self.inner
            .hosts
            .all()
            .iter()
            .map(|h| h.started_count())
            .sum()
    }

    /// Whether an application has registered its vnodes here.
    pub fn hosts_any(&self) -> bool {
        !self.inner.hosts.all().is_empty()
    }

    /// The vnode types hosted here.
    pub(crate) fn hosts(&self) -> &Hosts {
        &self.inner.hosts
    }

    /// The holes of the exercise (`not implemented yet: write …`) that this node's vnodes ran
    /// into, each once: a callback that failed that way will fail so every time it is called,
    /// so whatever waits for it (a handoff, a settled ring) waits in vain. A test waiting on
    /// the node gives up as soon as one is here.
    pub fn holes_met(&self) -> Vec<String> {
        self.inner.context.holes_met()
    }

    /// Hosts vnodes of type `V` on this node under the name `vnode_type` (riak's
    /// `riak_core:register`), and returns the handle to send them requests. Registering the
    /// same name again returns the same vnodes.
    pub fn register<V: Vnode>(&self, vnode_type: &'static str) -> VnodeMaster<V> {
        let host =
            self.inner
                .hosts
                .host::<V>(vnode_type, &self.inner.context, &self.inner.lifecycle);
        VnodeMaster::new(self.clone(), host)
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

    /// Every node-wide state of type `T` made so far by [`Node::singleton`], made by none
    /// here: for those that only look (the ring page shows what anti-entropy did, when the
    /// application runs it).
    pub fn singletons_of<T: Any + Send + Sync>(&self) -> Vec<Arc<T>> {
        let singletons = self.inner.singletons.lock().expect("singletons lock");
        let mut found: Vec<(&String, Arc<T>)> = singletons
            .iter()
            .filter_map(|(name, made)| Some((name, Arc::clone(made).downcast::<T>().ok()?)))
            .collect();
        // By name, so that whoever shows them shows them in the same order every time.
        found.sort_by(|a, b| a.0.cmp(b.0));
        found.into_iter().map(|(_, made)| made).collect()
    }

    /// The handoff manager.
    pub(crate) fn handoff(&self) -> &handoff::Manager {
        &self.inner.handoff
    }

    /// The transfers this node is sending now.
    pub fn transfers(&self) -> Vec<wire::TransferStatus> {
        self.inner.handoff.status()
    }

    /// Receives the messages sent to `name` on this node by [`Node::deliver`] (from any node).
    /// The handler runs on the receiving connection's task: it must not block. An `Err` goes
    /// back to the sender.
    pub fn register_mailbox(
        &self,
        name: &str,
        handler: impl Fn(Vec<u8>) -> Result<(), String> + Send + Sync + 'static,
    ) {
        self.inner.context.mailboxes().register(name, handler);
    }

    /// Sends a message to mailbox `mailbox` on node `to` (this node included) and waits until
    /// its handler took it.
    pub async fn deliver(
        &self,
        to: &NodeName,
        mailbox: &str,
        payload: Vec<u8>,
    ) -> Result<(), Error> {
        self.inner.context.deliver(to, mailbox, payload).await
    }

    /// The console that `attach` talks to.
    pub fn set_console(&self, console: Arc<dyn RemoteConsole>) {
        *self.inner.console.lock().expect("console") = Some(console);
    }

    /// The console that `attach` talks to, if the node has one.
    fn console(&self) -> Option<Arc<dyn RemoteConsole>> {
        self.inner.console.lock().expect("console").clone()
    }

    /// Notes that someone asked this node to stop (`Request::Stop`).
    fn request_stop(&self) {
        self.inner.stop_requested.notify_waiters();
        self.inner.stop_requested.notify_one();
    }

    /// Waits until someone asks this node to stop (`Request::Stop`).
    pub async fn stop_requested(&self) {
        self.inner.stop_requested.notified().await;
    }

    /// Runs a background task of this node (the runtime's, or an application's). `stop`
    /// waits for it, so the task must end once [`Node::stopping`] says so.
    pub fn spawn(&self, task: impl Future<Output = ()> + Send + 'static) {
        self.inner.lifecycle.spawn(task);
    }

    /// Completes once the node begins to stop: what a task given to [`Node::spawn`] waits
    /// for beside its work, to end with the node.
    pub async fn stopping(&self) {
        self.inner.lifecycle.stopping().await;
    }

    /// The node's background tasks and its stop signal.
    pub fn lifecycle(&self) -> &Lifecycle {
        &self.inner.lifecycle
    }

    /// Whether `stop` has begun.
    pub fn is_stopping(&self) -> bool {
        self.inner.lifecycle.is_stopping()
    }

    /// Stops the node: closes its port, stops its background work and every vnode (each runs
    /// `terminate`), and waits for all of it to finish.
    pub async fn stop(&self) {
        self.inner.lifecycle.begin_stop();
        for host in self.inner.hosts.all() {
            host.stop_all();
        }
        self.inner.console.lock().expect("console").take();
        self.inner.lifecycle.wait().await;
        tracing::info!(node = %self.name(), "node stopped");
    }
}

/// The address other nodes are told to reach a node at: `--advertise` if given; else where it
/// listens, unless that is every interface (0.0.0.0), which nobody can dial: then the host of
/// its name, with the port it listens on.
fn advertised(config: &NodeConfig, listening: SocketAddr) -> SocketAddr {
    if let Some(addr) = config.advertise {
        return addr;
    }
    if !listening.ip().is_unspecified() {
        return listening;
    }
    let named = config.name.host().parse::<std::net::IpAddr>().ok();
    named.map_or(listening, |ip| SocketAddr::new(ip, listening.port()))
}

impl std::fmt::Debug for Node {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Node({})", self.name())
    }
}
