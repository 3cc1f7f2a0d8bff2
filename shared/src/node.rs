//! A node: one member of the cluster, hosting vnodes of one or more vnode types.
//!
//! A [`Node`] is a cheap handle (an `Arc`) shared by everything that runs on the node: the
//! console, the vnode hosts, the services of the application. It holds the node's name, its
//! data directory and its current view of the ring.

use crate::error::Error;
use crate::ring::{DEFAULT_RING_SIZE, NodeName, Ring, check_ring_size};
use crate::service::Service;
use crate::vnode::Vnode;
use crate::vnode_host::VnodeHost;
use arc_swap::ArcSwap;
use std::any::Any;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio_util::task::TaskTracker;

/// How long a request waits for a vnode unless told otherwise.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(5);

/// What a node is started with.
#[derive(Clone, Debug)]
pub struct NodeConfig {
    /// The node's name, e.g. `dev1@127.0.0.1`.
    pub name: NodeName,
    /// Where the node keeps its files, e.g. `data/dev1`.
    pub data_dir: PathBuf,
    /// Partitions in the ring (a power of two, 8–1024).
    pub ring_size: u32,
    /// How long requests wait for vnodes by default.
    pub request_timeout: Duration,
}

impl NodeConfig {
    /// The workshop's node `devK`: name `devK@127.0.0.1`, data in `data/devK`.
    pub fn dev(k: u32) -> Self {
        NodeConfig {
            name: NodeName::new(format!("dev{k}@127.0.0.1")),
            data_dir: PathBuf::from(format!("data/dev{k}")),
            ring_size: DEFAULT_RING_SIZE,
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
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
    ring: ArcSwap<Ring>,
    hosts: Mutex<Vec<Arc<dyn HostedVnodes>>>,
    next_request: AtomicU64,
    tasks: TaskTracker,
}

/// The type-erased view of a vnode host, so that the node can hold hosts of any vnode type.
pub(crate) trait HostedVnodes: Send + Sync {
    fn vnode_type(&self) -> &'static str;
    fn stop_all(&self);
    fn as_any(self: Arc<Self>) -> Arc<dyn Any + Send + Sync>;
}

impl<V: Vnode> HostedVnodes for VnodeHost<V> {
    fn vnode_type(&self) -> &'static str {
        VnodeHost::vnode_type(self)
    }

    fn stop_all(&self) {
        VnodeHost::stop_all(self)
    }

    fn as_any(self: Arc<Self>) -> Arc<dyn Any + Send + Sync> {
        self
    }
}

impl Node {
    /// Starts a node alone in its own one-node cluster: it owns every partition.
    pub async fn start(config: NodeConfig) -> Result<Node, Error> {
        check_ring_size(config.ring_size).map_err(|e| Error::bad_request(e.to_string()))?;
        let ring = Ring::new(config.ring_size, config.name.clone())
            .map_err(|e| Error::bad_request(e.to_string()))?;
        tracing::info!(node = %config.name, ring_size = config.ring_size, "node started");
        Ok(Node {
            inner: Arc::new(NodeInner {
                config,
                ring: ArcSwap::from_pointee(ring),
                hosts: Mutex::new(Vec::new()),
                next_request: AtomicU64::new(1),
                tasks: TaskTracker::new(),
            }),
        })
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

    /// The node's current view of the ring.
    pub fn ring(&self) -> Arc<Ring> {
        self.inner.ring.load_full()
    }

    /// Whether a node is taking requests, as far as this node knows.
    pub fn is_up(&self, node: &NodeName) -> bool {
        node == self.name()
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
            self.name().clone(),
            self.data_dir().to_path_buf(),
            self.inner.config.ring_size,
            self.inner.tasks.clone(),
        ));
        hosts.push(host.clone());
        Service::new(self.clone(), host)
    }

    /// A fresh id for an asynchronous request.
    pub(crate) fn next_request_id(&self) -> u64 {
        self.inner.next_request.fetch_add(1, Ordering::Relaxed)
    }

    /// Stops every vnode (each runs `terminate`) and waits for them to finish.
    pub async fn stop(&self) {
        let hosts: Vec<_> = self.inner.hosts.lock().expect("hosts lock").clone();
        for host in &hosts {
            host.stop_all();
        }
        self.inner.tasks.close();
        self.inner.tasks.wait().await;
        tracing::info!(node = %self.name(), "node stopped");
    }
}
