//! What a node is started with: its name, data directory, ports, the cluster's cookie and the
//! pace of its background work, with the workshop's defaults (`devK`) and quicker ones for
//! tests.

use crate::access::AccessConfig;
use crate::net::cookie::Cookie;
use crate::net::limits::{HttpLimits, Limits};
use crate::net::transport::Faults;
use crate::ring::{DEFAULT_RING_SIZE, NodeName};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// How long a request waits for a vnode unless told otherwise.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(5);

/// The cookie of [`NodeConfig::dev`] and [`NodeConfig::for_test`]: known to everyone, so fit
/// for tests only. The command line always gives a node the cluster's real one.
pub const DEV_COOKIE: &str = "ringcore-dev";

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
    /// Where the node listens for other nodes and the command-line tools (port 0: any free
    /// port). The command line takes its host from the node's name (`ring@10.0.0.2` listens
    /// on 10.0.0.2), unless `--bind` says otherwise.
    pub listen: SocketAddr,
    /// The address other nodes are told to reach this node at, when it is not the one it
    /// listens on (a node bound to 0.0.0.0, or behind a NAT): `--advertise`.
    pub advertise: Option<SocketAddr>,
    /// Where the node serves HTTP: the ring page, and the application's API if it has one
    /// (devK: 8080 + K − 1).
    pub http: SocketAddr,
    /// Where an application serves its chat, if it does (devK: 4040 + K − 1).
    pub chat: SocketAddr,
    /// The cluster's secret: the node proves it knows it to every node it calls, and every
    /// caller must prove it to the node (see [`crate::net::cookie`]).
    pub cookie: Cookie,
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
    /// What one client may take of the cluster port: connections, requests in flight, time
    /// to read its answers, time idle (see [`Limits`]).
    pub limits: Limits,
    /// What one client may take of the HTTP port, for an application that serves HTTP.
    pub http_limits: HttpLimits,
    /// Chat connections taken at once, for an application that serves a chat; one more is
    /// told the server is full.
    pub chat_max_connections: usize,
    /// The pause between two anti-entropy exchanges of an application that runs them (the
    /// stream database: see `streams::aae`); `None`: no anti-entropy on this node.
    pub anti_entropy: Option<Duration>,
    /// Who may call the applications without logging in, the admin's first password, how
    /// long a session lasts (see [`crate::access`]).
    pub access: AccessConfig,
}

impl NodeConfig {
    /// The workshop's node `devK`: name `devK@127.0.0.1`, data in `data/devK` (the command
    /// line puts it in the exercise's own folder, `data/ex1-ping/devK`), cluster port
    /// 10017 + 10·(K−1), and the test cookie [`DEV_COOKIE`] (the command line sets the real
    /// one).
    pub fn dev(k: u32) -> Self {
        NodeConfig {
            name: NodeName::new(format!("dev{k}@127.0.0.1")),
            data_dir: PathBuf::from(format!("data/dev{k}")),
            ring_size: DEFAULT_RING_SIZE,
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
            listen: SocketAddr::from(([127, 0, 0, 1], dev_cluster_port(k))),
            advertise: None,
            http: SocketAddr::from(([127, 0, 0, 1], (8080 + k - 1) as u16)),
            chat: SocketAddr::from(([127, 0, 0, 1], (4040 + k - 1) as u16)),
            cookie: Cookie::new(DEV_COOKIE).expect("not empty"),
            heartbeat: Duration::from_millis(500),
            gossip_interval: Duration::from_secs(1),
            handoff_tick: Duration::from_secs(1),
            handoff_concurrency: 2,
            handoff_timeout: Duration::from_secs(30),
            handoff_rate: None,
            faults: Faults::default(),
            limits: Limits::default(),
            http_limits: HttpLimits::default(),
            chat_max_connections: 1024,
            // One key range a second: a node in charge of a third of 64 ranges (or half of
            // them while a node is down) goes round them all in about half a minute.
            anti_entropy: Some(Duration::from_secs(1)),
            access: AccessConfig::default(),
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
