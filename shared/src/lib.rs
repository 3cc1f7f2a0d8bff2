//! ringcore: the runtime of the Ring Workshop, a riak_core-style system in Rust.
//!
//! An application (an exercise of the workshop) implements [`Vnode`] for its data, writes its
//! service functions on top of a [`VnodeMaster`], and lists its console commands by
//! implementing [`App`]. Everything else is here.
//!
//! # Layout
//!
//! Each folder is a room with one job. The rooms are layered: a module uses only modules of
//! its own room and of the rooms listed before it, never one listed after it (the test
//! `tests/layout.rs` holds the code to that).
//!
//! | room | what it is |
//! |---|---|
//! | [`ring`] | pure rules, no I/O: the ring and its hash, preference lists, coverage plans, membership and claim, the gossip merge rule |
//! | [`error`], [`clock`], [`logs`], [`holes`], [`lifecycle`], [`metrics`] | the words every room shares: errors, time, where log lines go, the exercise's holes, a node's background tasks, its counters |
//! | [`store`] | the stream database's files: segments, recovery, the cache |
//! | [`net`] | how nodes talk: the messages ([`net::wire`]), the connections ([`net::transport`]), the listener ([`net::server`]), the cluster's cookie each end proves it knows ([`net::cookie`]) |
//! | [`cluster`] | how the members agree on the ring: the ring state a node holds and saves, gossip, liveness, the claimant; and the cluster metadata ([`cluster::metadata`]), a small map every node holds a copy of |
//! | [`access`] | users, sessions and permissions: passwords kept as argon2 hashes, signed session tokens, the rule that allows a request; kept in the cluster metadata |
//! | [`vnode`] | the [`Vnode`] behaviour and its machinery: the vnodes hosted on a node, each one's task, remote calls, replies, quorums, coverage |
//! | [`handoff`] | moving a partition's data to the node that should hold it |
//! | [`node`] | [`Node`]: starts and stops the handles above and answers what arrives over the wire; [`VnodeMaster`], an application's handle on its vnodes; the admin commands |
//! | [`app`], [`streams`], [`http`], [`chat`] | applications: the [`App`] trait, the stream database, its HTTP API (and the ring page every node serves), its chat |
//! | [`ops`] | what people run: the command line, the console, devrel |
//! | `testing` | clusters in a test process and faults on purpose (cargo feature `testing`) |
//!
//! # From riak_core
//!
//! The pieces map one to one to riak_core's, so that the Erlang tutorials read across:
//!
//! | riak_core | ringcore |
//! |---|---|
//! | `chash`, `riak_core_util:chash_key` | [`ring`], [`ring::hash`] |
//! | `riak_core_apl` | [`ring::apl`] |
//! | `riak_core_claim`, `riak_core_claimant` | [`ring::claim`], [`cluster::claimant`] |
//! | `riak_core_gossip`, `riak_core_ring_manager` | [`cluster::gossip`], [`cluster::RingState`] |
//! | `riak_core_node_watcher` | [`cluster::liveness`] |
//! | `riak_core_metadata`, `_metadata_manager`, `riak_core_broadcast` | [`cluster::metadata`] |
//! | `riak_core_vnode` behaviour | [`Vnode`] |
//! | `riak_core_vnode_master` | [`VnodeMaster`] |
//! | `riak_core_coverage_fsm` | [`ring::coverage`] and [`VnodeMaster::coverage`] |
//! | `riak_core_handoff_manager`, `_sender`, `_receiver` | [`handoff`] |
//! | `riak_core_console` | [`node::admin`] |
//! | the node's console, `riak-admin` | [`ops::console`], [`ops::cli`] |

pub mod ring;

pub mod clock;
pub mod error;
pub mod holes;
pub mod lifecycle;
pub mod logs;
pub mod metrics;

pub mod store;

pub mod net;

pub mod cluster;

pub mod access;

pub mod vnode;

pub mod handoff;

pub mod node;

pub mod app;
pub mod chat;
pub mod http;
pub mod streams;

pub mod ops;

#[cfg(feature = "testing")]
pub mod testing;

// Paths the exercises import.
pub use app::{App, CommandHelp};
pub use error::{Error, StartError};
pub use node::{Node, NodeConfig, VnodeMaster};
pub use ops::cli;
pub use ring::apl::{self, Preflist, PreflistEntry, Replica};
pub use ring::hash::{KeyHash, chash_key};
pub use ring::{HandoffKind, IndexNode, NodeName, Partition, Ring};
/// The logging macros the runtime uses, for applications to log the same way.
pub use tracing;
pub use vnode::coverage::CoverageResult;
pub use vnode::reply::{Reply, ReplyInbox, ReplyTo, RequestId};
pub use vnode::{HandoffTarget, Mailer, Vnode, VnodeContext, coordinator, quorum};
