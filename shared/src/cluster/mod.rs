//! How the members of a cluster agree on the ring (riak_core's ring manager, gossip, node
//! watcher and claimant).
//!
//! [`RingState`] is the node's view: the ring it holds, saved in its data directory, and the
//! members that do not answer. Three loops keep it current: [`gossip`] spreads every new ring
//! and takes in newer ones, [`liveness`] pings the other members, and the [`claimant`] (one
//! node, named in the ring) makes every membership change, so that changes never conflict.
//! The vnode layer above reads this view on every request; nothing here knows of vnodes.
//!
//! Beside the ring, every node holds a full copy of the cluster [`metadata`]: a small
//! key/value map (users, grants, policies) that every node answers alike.

pub mod claimant;
pub mod gossip;
pub mod liveness;
pub mod metadata;
mod ring_file;
mod state;

pub use claimant::Claimant;
pub use metadata::Metadata;
pub use state::{RingState, SavedRing, load_saved_ring};
