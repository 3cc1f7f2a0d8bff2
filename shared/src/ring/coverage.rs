//! Coverage plans (riak_core's `riak_core_coverage_plan`): the set of vnodes that together hold
//! every key once. Asking them and gathering their answers is [`crate::vnode::coverage`].
//!
//! With `n` replicas, the key of partition `q` also lives on partitions `q+1 … q+n-1`, so every
//! `n`-th vnode is enough to see every key: `ceil(ring size / n)` vnodes instead of all of them.
//! Neighbouring vnodes of the plan may still share some keys (when the ring size is not a
//! multiple of `n`), and replicas are copies, so merging code removes duplicates.

use crate::ring::{IndexNode, NodeName, Partition, Ring};

/// The vnodes to ask, and the ones that could not be covered because their node is down.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CoveragePlan {
    pub vnodes: Vec<IndexNode>,
    pub unavailable: Vec<IndexNode>,
}

/// Picks the fewest vnodes that see every key stored with `n` replicas, preferring a choice
/// whose vnodes are all on nodes that are up.
pub fn coverage_plan(ring: &Ring, n: usize, is_up: impl Fn(&NodeName) -> bool) -> CoveragePlan {
    let size = ring.size() as usize;
    let n = n.clamp(1, size);
    let count = size.div_ceil(n);
    let plan_at = |offset: usize| -> Vec<IndexNode> {
        (0..count)
            .map(|k| {
                let partition = Partition::new(((k * n + offset) % size) as u32, size as u32);
                IndexNode {
                    partition,
                    node: ring.owner(partition).clone(),
                }
            })
            .collect()
    };
    // Shifting every chosen vnode by the same offset (< n) still covers every key.
    let best = (0..n)
        .map(plan_at)
        .min_by_key(|plan| plan.iter().filter(|v| !is_up(&v.node)).count())
        .expect("n >= 1");
    let (vnodes, unavailable) = best.into_iter().partition(|v| is_up(&v.node));
    CoveragePlan {
        vnodes,
        unavailable,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ring::hash::chash_key;

    fn ring_of(size: u32, nodes: &[&str]) -> Ring {
        Ring::from_owners(
            (0..size as usize)
                .map(|i| NodeName::from(nodes[i % nodes.len()]))
                .collect(),
        )
        .unwrap()
    }

    #[test]
    fn with_one_replica_every_partition_is_asked_once() {
        let ring = ring_of(64, &["a"]);
        let plan = coverage_plan(&ring, 1, |_| true);
        let mut indexes: Vec<u32> = plan.vnodes.iter().map(|v| v.partition.index()).collect();
        indexes.sort();
        assert_eq!(indexes, (0..64).collect::<Vec<_>>());
        assert!(plan.unavailable.is_empty());
    }

    #[test]
    fn every_key_is_seen_by_some_vnode_of_the_plan() {
        for (size, n) in [(64u32, 3usize), (64, 2), (8, 3), (16, 5), (64, 64)] {
            let ring = ring_of(size, &["a", "b", "c", "d"]);
            let plan = coverage_plan(&ring, n, |_| true);
            assert_eq!(plan.vnodes.len(), (size as usize).div_ceil(n));
            for i in 0..2000u32 {
                let replicas = ring.preflist(&chash_key(b"b", &i.to_be_bytes()), n);
                assert!(
                    replicas.iter().any(|r| plan.vnodes.contains(r)),
                    "size {size} n {n}: key {i} not covered"
                );
            }
        }
    }

    #[test]
    fn a_plan_avoids_nodes_that_are_down_when_it_can() {
        let ring = ring_of(64, &["a", "b", "c", "d"]);
        // With n = 2 and owners a,b,c,d,a,b,…, offset 0 asks a and c, offset 1 asks b and d.
        let plan = coverage_plan(&ring, 2, |n| n.as_str() != "a");
        assert!(plan.unavailable.is_empty());
        assert!(plan.vnodes.iter().all(|v| v.node.as_str() != "a"));
        let plan = coverage_plan(&ring, 1, |n| n.as_str() != "a");
        assert_eq!(plan.unavailable.len(), 16);
    }
}
