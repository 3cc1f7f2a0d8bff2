//! The ping service: the functions the console calls. Each one decides which vnode a request
//! belongs to by hashing a key, then sends the command there (flavio.erl).

use crate::vnode::{Answer, Command, PingVnode};
use ringcore::{Error, IndexNode, Node, VnodeMaster, chash_key};
use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

/// The ping application's API.
#[derive(Clone)]
pub struct Ping {
    vnodes: VnodeMaster<PingVnode>,
}

/// A vnode's answer to a ping.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pong(pub Answer);

/// The sum of an addition and the vnode that did it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sum {
    pub sum: i64,
    pub by: Answer,
}

/// How many additions one vnode made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VnodeStats {
    pub vnode: IndexNode,
    pub ops_count: u64,
}

impl Ping {
    /// Hosts the ping vnodes on a node.
    pub fn start(node: &Node) -> Self {
        Ping {
            vnodes: node.register::<PingVnode>("ping_vnode"),
        }
    }

    /// Pings a vnode chosen by hashing the current time: a different one almost every time.
    pub async fn ping(&self) -> Result<Pong, Error> {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos();
        let hash = chash_key(b"ping", &now.to_be_bytes());
        let preflist = self.vnodes.primary_apl(&hash, 1);
        let first = preflist.first().ok_or_else(no_vnode)?;
        let answer = self
            .vnodes
            .sync_command(&first.target, Command::Ping)
            .await??;
        Ok(Pong(answer))
    }

    /// Step 1: pings the vnode that `key` hashes to: the same key reaches the same vnode.
    pub async fn ping_key(&self, key: &str) -> Result<Pong, Error> {
        let _ = key;
        Err(Error::not_implemented(
            "write Ping::ping_key in src/service.rs: hash (\"ping\", key) like ping does (README step 1)",
        ))
    }

    /// Step 2: adds two numbers on the vnode that the pair hashes to.
    pub async fn add(&self, a: i64, b: i64) -> Result<Sum, Error> {
        let _ = (a, b);
        Err(Error::not_implemented(
            "write Ping::add in src/service.rs: hash (\"add\", \"A,B\") and send Command::Add (README step 2)",
        ))
    }

    /// Step 3: asks every vnode for its count (a coverage call) and keeps those above zero.
    pub async fn stats(&self) -> Result<Vec<VnodeStats>, Error> {
        Err(Error::not_implemented(
            "write Ping::stats in src/service.rs: a coverage call with CoverageRequest::Stats (README step 3)",
        ))
    }
}

impl Ping {
    /// Going further: the vnodes that serve `("ping", key)` with `n` replicas, as this node
    /// sees the cluster now, computed by your `preflist`.
    pub fn preflist(&self, key: &str, n: usize) -> Result<ringcore::Preflist, Error> {
        let node = self.vnodes.node();
        let hash = chash_key(b"ping", key.as_bytes());
        crate::preflist::preflist(&node.ring(), &hash, n, |other| node.is_up(other))
    }
}

fn no_vnode() -> Error {
    Error::Unavailable("no vnode is available for this key".to_string())
}

impl fmt::Display for Pong {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "pong from partition {} on {}",
            self.0.partition, self.0.node
        )
    }
}

impl fmt::Display for Sum {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} from partition {} on {}",
            self.sum, self.by.partition, self.by.node
        )
    }
}
