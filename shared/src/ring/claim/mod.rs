//! Claim: deciding which node owns which partition of the ring.
//!
//! A ring of `R` partitions is shared by the member nodes. Whenever members join or leave, claim computes
//! the new owner of every partition. Three goals pull against each other:
//!
//! * **Balance**: every member owns ⌊R/m⌋ or ⌈R/m⌉ of the `R` partitions, so load is even.
//! * **Spread**: any `target_n` consecutive partitions (one key's preference list) sit on distinct nodes,
//!   so the replicas of a key never share a machine.
//! * **Little movement**: every partition that changes owner is a handoff of its data, so claim keeps as
//!   many partitions where they are as it can.
//!
//! # When is spread possible?
//!
//! No window of `t` consecutive partitions repeats a node exactly when every node's partitions are at least
//! `t` apart around the ring. A node owning `c` partitions has `c` gaps between them that add up to `R`, so
//! it needs `c · t ≤ R`. Balance makes the busiest node own `⌈R/m⌉`, hence spread needs
//! `t ≤ ⌊R / ⌈R/m⌉⌋` ([`max_spread`]). That is also enough: [`spread_layout`] builds a balanced ring whose
//! gaps are never shorter. So [`spread_possible`] is exactly `t ≤ max_spread(R, m)`. For example 3 nodes
//! cannot spread over 64 partitions with `t = 4`: one of them owns 22, and 22 gaps of 4 need 88 > 64.
//!
//! When spread at `target_n` is impossible (always so with fewer members than `target_n`), claim keeps
//! the ring spread at the widest window that can be, [`effective_target`], and lets the next wider window
//! repeat a node no more often than [`spread_layout`] does. So two nodes strictly alternate, and three
//! nodes never sit twice in a row and repeat within a window of three in exactly two windows (every ring
//! size from 8 to 1024), where the three-node round robin has to wrap around.
//!
//! # The algorithm
//!
//! 1. A ring that is already balanced and spread is returned unchanged, so claiming twice moves nothing.
//! 2. **Take** (the idea of riak's claim_v2): start from the current ring and move only what must move.
//!    The partitions of leavers become holes. A joiner that owns nothing takes its share in one walk around
//!    the ring at even spacing, which keeps its partitions far apart. Holes are filled by a bipartite
//!    matching of holes to members that can sit there without a clash. Whatever is left (holes, members
//!    above the ceiling, members below the floor) is settled one transfer at a time, each transfer chosen
//!    so that it is one of the transfers any balanced result needs; a clean run therefore moves the
//!    minimum. When no member can take a hole without a clash, an ejection chain shifts a few neighbours.
//! 3. **Repair** the clashes that the take could not avoid, with swaps and ejection chains, and **tighten**
//!    by undoing swaps that moved partitions needlessly. Greedy choices depend on the direction of travel,
//!    so steps 2 and 3 also run on the mirror image of the ring and the better result is kept.
//! 4. **Fresh layout** (the idea of riak's claim_rebalance): a balanced, spread layout of anonymous roles.
//!    Among its rotations, its mirror images and every assignment of members to its roles (an assignment
//!    problem, solved exactly) claim picks the one that keeps the most partitions in place. It is the
//!    answer when the incremental result is invalid or moves more, and when half the ring must move anyway
//!    (one node handing out to many). A perfectly regular layout is rigid: all of a leaver's partitions
//!    have the same neighbours, so hardly anyone fits into them and the next leave moves a lot. So with
//!    more members than `target_n` the layout is not [`spread_layout`] itself but what growing it by the
//!    last few members one join at a time gives.
//!
//! # Guarantees
//!
//! * Balance, and spread as described above, always: every incremental result is checked, and the fresh
//!   layout is valid by construction.
//! * Deterministic: the same ring and member set give the same answer; member order and duplicates in
//!   `members` do not matter.
//! * At most `R − ⌈(R − orphaned)/m⌉` partitions move, where `orphaned` counts the partitions of leavers:
//!   over all assignments of members to roles the fresh layout keeps `(R − orphaned)/m` partitions on
//!   average, and the best assignment keeps at least that.
//! * When `m` divides `R` and the ring must be spread over windows of exactly `m` (2 members, or 4 with
//!   `target_n = 4`), every node's gaps must all be `m`: only periodic rings qualify, and claim finds the
//!   one that moves least. Such a ring is usually far from the one before, which is why rings of at most
//!   `target_n` members move much more than a share when they change.
//! * Measured by the tests (ring sizes 8 to 1024, up to 20 members, `target_n = 4`, growing one join at a
//!   time, then shrinking one leave at a time by last joined, middle name or first name): a join into
//!   more than `target_n` members moves at most what the joiner receives, `⌈R/m⌉`; a leave moves at most
//!   the leaver's partitions plus 2 while `target_n + 3` or more members remain, and at most twice the
//!   leaver's partitions plus 2 with `target_n + 1` or `+ 2` members left. Those tight rings (gaps average
//!   little more than `target_n`) have few spread layouts, and most orphaned partitions fit nowhere
//!   without shifting a neighbour.
//!
//! # Where the parts live
//!
//! * Here: [`claim`], and the measures of a result the tests and the membership checks use
//!   ([`ownership_counts`], [`moved`]).
//! * `spread`: the arithmetic of spread: its limit ([`max_spread`], [`spread_possible`],
//!   [`effective_target`]), its measure ([`spread_violations`]), and the regular layout that reaches it
//!   ([`spread_layout`]).
//! * `problem`: one claim problem, its nodes numbered in name order, what makes a result valid, and the
//!   solver that runs the steps above and keeps the answer that moves least.
//! * `take`, `repair`, `fresh`: steps 2, 3 and 4; `chain`: the ejection chains that take and repair share.
//! * `work`: the ring under construction that those steps edit; `assignment`: the Hungarian algorithm that
//!   gives the fresh layout's roles to members.

mod assignment;
mod chain;
mod fresh;
mod problem;
mod repair;
mod spread;
mod take;
mod work;

use std::collections::BTreeMap;

use problem::ClaimProblem;

pub use spread::{effective_target, max_spread, spread_layout, spread_possible, spread_violations};

/// The default number of consecutive partitions that must sit on distinct nodes (riak's target_n_val).
pub const DEFAULT_TARGET_N: usize = 4;

/// Computes the new owner of every partition.
/// `current[i]` is the current owner of partition i (len = ring size).
/// `members` are the nodes that will own partitions after the change (non-empty; may contain nodes not in
/// `current` = joiners; nodes in `current` but not in `members` are leavers and must own nothing afterwards).
/// Deterministic: same inputs → same output (no randomness, no HashMap iteration order dependence).
///
/// See the module docs for the algorithm and its guarantees.
///
/// # Panics
/// If `members` is empty while `current` is not.
pub fn claim(current: &[String], members: &[String], target_n: usize) -> Vec<String> {
    if current.is_empty() {
        return Vec::new();
    }
    assert!(!members.is_empty(), "claim needs at least one member");
    let problem = ClaimProblem::new(current, members, target_n);
    problem
        .solve()
        .into_iter()
        .map(|node| problem.names[node].to_string())
        .collect()
}

/// Partitions per node, as (node, count) sorted by node name.
pub fn ownership_counts(owners: &[String]) -> Vec<(String, usize)> {
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for owner in owners {
        *counts.entry(owner).or_default() += 1;
    }
    counts
        .into_iter()
        .map(|(node, count)| (node.to_string(), count))
        .collect()
}

/// Number of partitions whose owner differs between two assignments (partitions present in only one of
/// them count as moved).
pub fn moved(before: &[String], after: &[String]) -> usize {
    let differing = before.iter().zip(after).filter(|(b, a)| b != a).count();
    differing + before.len().abs_diff(after.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A ring written as one letter per partition's owner.
    pub(super) fn ring(owners: &str) -> Vec<String> {
        owners.chars().map(String::from).collect()
    }

    #[test]
    fn ownership_counts_are_sorted_by_name() {
        assert_eq!(
            ownership_counts(&ring("CABAC")),
            vec![
                ("A".to_string(), 2),
                ("B".to_string(), 1),
                ("C".to_string(), 2)
            ]
        );
        assert!(ownership_counts(&[]).is_empty());
    }

    #[test]
    fn moved_counts_differing_owners() {
        assert_eq!(moved(&ring("ABCD"), &ring("ABCD")), 0);
        assert_eq!(moved(&ring("ABCD"), &ring("ABDC")), 2);
        assert_eq!(moved(&ring("ABCD"), &ring("AB")), 2);
    }

    #[test]
    fn claim_fills_a_leavers_partitions_without_clashes() {
        let before = ring("ABCDEABCDEABCDEABCDE");
        let members: Vec<String> = ["A", "B", "C", "D"].map(String::from).to_vec();
        let after = claim(&before, &members, 4);
        assert_eq!(spread_violations(&after, 4), 0);
        assert!(ownership_counts(&after).iter().all(|(_, c)| *c == 5));
    }

    #[test]
    fn claim_without_a_window_only_balances() {
        let before = ring("AAAAAAAA");
        let members: Vec<String> = ["A", "B", "C"].map(String::from).to_vec();
        for target_n in [0, 1] {
            let after = claim(&before, &members, target_n);
            assert_eq!(moved(&before, &after), 5, "A keeps 3 of 8");
            assert!(
                ownership_counts(&after)
                    .iter()
                    .all(|(_, c)| (2..=3).contains(c))
            );
        }
    }

    #[test]
    fn claim_of_an_empty_ring_is_empty() {
        assert!(claim(&[], &["A".to_string()], 4).is_empty());
    }
}
