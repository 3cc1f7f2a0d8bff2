//! Going further: a key's preference list, computed from the ring by hand.
//!
//! The runtime's `primary_apl` and `apl` (riak_core_apl) answer "which vnodes serve this
//! key right now?". Here you answer it yourself, from the ring and from this node's view of
//! which nodes are up: the `n` partitions that follow the key's hash, each on its owner when
//! that owner is up, and a fallback standing in for it when it is not.

use ringcore::apl::Preflist;
use ringcore::{Error, KeyHash, NodeName, Ring};
// What you will use (README, Going further):
#[allow(unused_imports)]
use {
    ringcore::IndexNode,
    ringcore::apl::{PreflistEntry, Replica},
};

/// Going further: the active preference list of `hash` for `n` replicas (README, Going
/// further): first the primaries that are up, in ring order, then a fallback for each
/// primary that is down.
pub fn preflist(
    ring: &Ring,
    hash: &KeyHash,
    n: usize,
    is_up: impl Fn(&NodeName) -> bool,
) -> Result<Preflist, Error> {
    let _ = (ring, hash, n, is_up);
    Err(Error::not_implemented(
        "write preflist in src/preflist.rs: walk the ring from the key's partition (README, Going further)",
    ))
}
