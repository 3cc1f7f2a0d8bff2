//! Going further: a key's preference list, computed from the ring by hand.
//!
//! The runtime's `primary_apl` and `apl` (riak_core_apl) answer "which vnodes serve this
//! key right now?". Here you answer it yourself, from the ring and from this node's view of
//! which nodes are up: the `n` partitions that follow the key's hash, each on its owner when
//! that owner is up, and a fallback standing in for it when it is not.

use ringcore::apl::{Preflist, PreflistEntry, Replica};
use ringcore::{Error, IndexNode, KeyHash, NodeName, Ring};

/// Going further: the active preference list of `hash` for `n` replicas (README, Going
/// further): first the primaries that are up, in ring order, then a fallback for each
/// primary that is down.
pub fn preflist(
    ring: &Ring,
    hash: &KeyHash,
    n: usize,
    is_up: impl Fn(&NodeName) -> bool,
) -> Result<Preflist, Error> {
    // The whole ring, from the key's partition on: the first n are the primaries, the
    // rest the candidates to stand in for those that are down.
    let walk = ring.preflist(hash, ring.size() as usize);
    let (primaries, further) = walk.split_at(n.min(walk.len()));
    let mut list: Preflist = Vec::new();
    let mut down = Vec::new();
    for target in primaries {
        if is_up(&target.node) {
            list.push(PreflistEntry {
                target: target.clone(),
                replica: Replica::Primary,
            });
        } else {
            down.push(target.partition);
        }
    }
    // Each partition whose owner is down goes, in order, to the owner of the next
    // partition round the ring that is up and not in the list yet: replicas on distinct
    // nodes. When no such node is left, the list stays short.
    let mut candidates = further.iter().filter(|t| is_up(&t.node));
    for partition in down {
        let in_list = |node: &NodeName| list.iter().any(|e| e.target.node == *node);
        let Some(stand_in) = candidates.find(|t| !in_list(&t.node)) else {
            break;
        };
        list.push(PreflistEntry {
            target: IndexNode {
                partition,
                node: stand_in.node.clone(),
            },
            replica: Replica::Fallback,
        });
    }
    Ok(list)
}
