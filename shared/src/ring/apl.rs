//! Active preference lists (riak_core's `riak_core_apl`): which vnodes serve a key right now.
//!
//! The primary preference list of a key is the `n` partitions that follow its hash, each on
//! its owner. When an owner is down, [`apl`] puts a *fallback* in its place: the same
//! partition, hosted for now by the owner of the next partition further round the ring that is
//! up (riak's sloppy quorum). The fallback keeps the writes it takes and hands them back to the
//! primary when it returns (hinted handoff).
//!
//! One difference from riak_core: a fallback is never a node that is already in the list. So
//! the replicas of a write are on distinct nodes, and "W replicas acknowledged" means W nodes
//! have the data; when too few nodes are up, the list is shorter than `n` and a quorum that
//! cannot be met fails at once, saying so.

use crate::ring::hash::KeyHash;
use crate::ring::{IndexNode, NodeName, Ring};
use std::fmt;

/// Whether an entry of a preference list is the partition's owner or stands in for it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum Replica {
    Primary,
    Fallback,
}

impl fmt::Display for Replica {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(match self {
            Replica::Primary => "primary",
            Replica::Fallback => "fallback",
        })
    }
}

/// One vnode of a preference list, annotated as riak annotates it.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct PreflistEntry {
    pub target: IndexNode,
    pub replica: Replica,
}

/// A key's vnodes, in priority order.
pub type Preflist = Vec<PreflistEntry>;

/// The vnodes of a preference list, in its order.
pub fn targets(preflist: &[PreflistEntry]) -> Vec<IndexNode> {
    // A new vector rather than `into_iter().map(..).collect()`: that would reuse the list's
    // memory and shrink it with `realloc`, which takes the allocator's lock on every request.
    preflist.iter().map(|entry| entry.target.clone()).collect()
}

/// The primaries of the key that are up (riak's `get_primary_apl`): at most `n` entries.
pub fn primary_apl(
    ring: &Ring,
    hash: &KeyHash,
    n: usize,
    is_up: impl Fn(&NodeName) -> bool,
) -> Preflist {
    ring.preflist(hash, n)
        .into_iter()
        .filter(|target| is_up(&target.node))
        .map(|target| PreflistEntry {
            target,
            replica: Replica::Primary,
        })
        .collect()
}

/// The key's `n` replicas with fallbacks standing in for primaries that are down (riak's
/// `get_apl_ann`). Fewer than `n` entries come back only when too few nodes are up.
pub fn apl(ring: &Ring, hash: &KeyHash, n: usize, is_up: impl Fn(&NodeName) -> bool) -> Preflist {
    // The common case, every primary up, needs only the first n partitions.
    let primaries = primary_apl(ring, hash, n, &is_up);
    if primaries.len() == n.min(ring.size() as usize) {
        return primaries;
    }
    let whole_ring = ring.preflist(hash, ring.size() as usize);
    let (primaries, further) = whole_ring.split_at(n.min(whole_ring.len()));
    let mut list = Vec::with_capacity(n.min(whole_ring.len()));
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
    // Each down primary's partition is taken, in order, by the owner of the next partition
    // round the ring that is up and not in the list yet.
    let mut candidates = further.iter().filter(|t| is_up(&t.node));
    for partition in down {
        let in_list = |node: &NodeName| list.iter().any(|e: &PreflistEntry| e.target.node == *node);
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
    list
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ring::Partition;

    fn four_node_ring() -> Ring {
        let names = ["a", "b", "c", "d"];
        Ring::from_owners((0..8).map(|i| NodeName::from(names[i % 4])).collect()).unwrap()
    }

    /// A hash that belongs to partition 1 of a ring of 8.
    fn hash_of_partition_1() -> KeyHash {
        KeyHash([0; 20])
    }

    fn describe(list: &Preflist) -> Vec<(u32, String, Replica)> {
        list.iter()
            .map(|e| {
                (
                    e.target.partition.index(),
                    e.target.node.to_string(),
                    e.replica,
                )
            })
            .collect()
    }

    #[test]
    fn with_everyone_up_the_apl_is_the_primaries() {
        let ring = four_node_ring();
        let list = apl(&ring, &hash_of_partition_1(), 3, |_| true);
        assert_eq!(
            describe(&list),
            vec![
                (1, "b".into(), Replica::Primary),
                (2, "c".into(), Replica::Primary),
                (3, "d".into(), Replica::Primary)
            ]
        );
        assert_eq!(
            list,
            primary_apl(&ring, &hash_of_partition_1(), 3, |_| true)
        );
    }

    #[test]
    fn a_down_primary_is_replaced_by_the_next_node_up_round_the_ring() {
        let ring = four_node_ring();
        let up = |n: &NodeName| n.as_str() != "c";
        let list = apl(&ring, &hash_of_partition_1(), 3, up);
        // Partition 2 (owned by c) is taken by the owner of partition 4, the next one up.
        assert_eq!(
            describe(&list),
            vec![
                (1, "b".into(), Replica::Primary),
                (3, "d".into(), Replica::Primary),
                (2, "a".into(), Replica::Fallback)
            ]
        );
        let primaries = primary_apl(&ring, &hash_of_partition_1(), 3, up);
        assert_eq!(primaries.len(), 2);
        assert!(primaries.iter().all(|e| e.target.node.as_str() != "c"));
    }

    #[test]
    fn fallbacks_run_out_when_too_few_nodes_are_up() {
        let ring = four_node_ring();
        let list = apl(&ring, &hash_of_partition_1(), 3, |n| n.as_str() == "a");
        let two_up = apl(&ring, &hash_of_partition_1(), 3, |n| {
            n.as_str() == "a" || n.as_str() == "b"
        });
        assert_eq!(
            describe(&two_up),
            vec![
                (1, "b".into(), Replica::Primary),
                (2, "a".into(), Replica::Fallback)
            ]
        );
        // Only a is up: it stands in once, since replicas go to distinct nodes.
        assert_eq!(describe(&list), vec![(1, "a".into(), Replica::Fallback)]);
        assert!(apl(&ring, &hash_of_partition_1(), 3, |_| false).is_empty());
        assert_eq!(Partition::new(1, 8), list[0].target.partition);
    }
}
