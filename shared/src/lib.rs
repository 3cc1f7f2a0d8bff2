//! ringcore: the runtime of the Ring Workshop, a riak_core-style system in Rust.
//!
//! The pieces map one to one to riak_core's, so that the Erlang tutorials read across:
//!
//! | riak_core | ringcore |
//! |---|---|
//! | `chash`, `riak_core_util:chash_key` | [`ring`], [`hash`] |
//! | `riak_core_apl` | [`apl`] |
//! | `riak_core_vnode` behaviour | [`Vnode`] |
//! | `riak_core_vnode_master` | [`Service`] |
//! | `riak_core_coverage_fsm` | [`coverage`] and [`Service::coverage`] |
//! | the node's console | [`console`], [`cli`] |
//!
//! An application (an exercise of the workshop) implements [`Vnode`] for its data, writes its
//! service functions on top of a [`Service`], and lists its console commands by implementing
//! [`App`]. Everything else is here.

pub mod admin;
pub mod apl;
pub mod app;
pub mod chat;
pub mod claim;
mod claimant;
pub mod cli;
mod clock;
pub mod console;
pub mod coordinator;
pub mod coverage;
mod devrel;
pub mod error;
mod gossip;
mod handoff;
pub mod hash;
pub mod holes;
pub mod http;
mod liveness;
pub mod membership;
pub mod node;
pub mod quorum;
mod reply;
pub mod ring;
mod ring_file;
mod server;
pub mod service;
pub mod store;
pub mod streams;
pub mod testing;
pub mod transport;
pub mod vnode;
mod vnode_host;
mod vnode_task;
pub mod wire;

pub use apl::{Preflist, PreflistEntry, Replica};
pub use app::{App, CommandHelp};
pub use coverage::CoverageResult;
pub use error::{Error, StartError};
pub use hash::{KeyHash, chash_key};
pub use node::{Node, NodeConfig};
pub use reply::{Reply, ReplyInbox, ReplyTo, RequestId};
pub use ring::{IndexNode, NodeName, Partition, Ring};
pub use service::Service;
/// The logging macros the runtime uses, for applications to log the same way.
pub use tracing;
pub use vnode::{HandoffKind, HandoffTarget, Vnode, VnodeContext};
