//! The cluster application's API: a ping that shows where a partition lives, and two
//! questions about the ring that you answer from the node's view of it.

use crate::vnode::{Ping, PingVnode, Pong};
use ringcore::{Error, Node, NodeName, Partition, VnodeMaster, chash_key};
use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

#[derive(Clone)]
pub struct Cluster {
    vnodes: VnodeMaster<PingVnode>,
}

/// Which partition a key belongs to, and which node owns that partition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Owner {
    pub partition: Partition,
    pub node: NodeName,
}

/// How many partitions a node owns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Share {
    pub node: NodeName,
    pub partitions: usize,
}

impl Cluster {
    pub fn start(node: &Node) -> Self {
        Cluster {
            vnodes: node.register::<PingVnode>("ping_vnode"),
        }
    }

    /// The node this service runs on: `self.node().ring()` is its view of the ring.
    pub fn node(&self) -> &Node {
        self.vnodes.node()
    }

    /// Pings the vnode of a partition chosen by the current time: once the cluster is joined,
    /// the answers come from different nodes.
    pub async fn ping(&self) -> Result<Pong, Error> {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos();
        let hash = chash_key(b"ping", &now.to_be_bytes());
        let first = self
            .vnodes
            .apl(&hash, 1)
            .into_iter()
            .next()
            .ok_or_else(|| Error::Unavailable("no vnode is up".to_string()))?;
        self.vnodes.sync_command(&first.target, Ping).await
    }

    /// Step 1: the partition the key `("ring", key)` belongs to, and that partition's owner,
    /// according to this node's ring.
    pub fn owner(&self, key: &str) -> Result<Owner, Error> {
        let _ = key;
        Err(Error::not_implemented(
            "write Cluster::owner in src/service.rs: hash (\"ring\", key), find its partition and owner in self.node().ring() (README step 1)",
        ))
    }

    /// Step 2: how many partitions each member owns, every member listed (even with 0), in
    /// name order.
    pub fn ownership(&self) -> Result<Vec<Share>, Error> {
        Err(Error::not_implemented(
            "write Cluster::ownership in src/service.rs: count each member's partitions in self.node().ring() (README step 2)",
        ))
    }
}

impl fmt::Display for Owner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "partition {} (index {}) is owned by {}",
            self.partition,
            self.partition.index(),
            self.node
        )
    }
}
