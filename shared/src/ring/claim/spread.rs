//! Spread: how far apart a node's partitions can sit on a ring of a given size, how to count the windows
//! where they sit too close, and the regular layout that reaches the limit (the arithmetic behind the
//! module docs' "When is spread possible?").

use std::collections::BTreeMap;

/// The widest window of consecutive partitions that a balanced assignment of `ring_size` partitions to
/// `nodes` nodes can keep free of repeats: `⌊R / ⌈R/m⌉⌋` (see the [module docs](super)). 0 without nodes.
pub fn max_spread(ring_size: usize, nodes: usize) -> usize {
    if ring_size == 0 || nodes == 0 {
        return 0;
    }
    ring_size / ring_size.div_ceil(nodes)
}

/// Whether a fully spread (and balanced) assignment exists for this ring size and node count.
pub fn spread_possible(ring_size: usize, nodes: usize, target_n: usize) -> bool {
    ring_size == 0 || (nodes > 0 && target_n <= max_spread(ring_size, nodes))
}

/// The window claim keeps free of repeats: `target_n` when that is possible, else the widest that is.
pub fn effective_target(ring_size: usize, nodes: usize, target_n: usize) -> usize {
    target_n.min(max_spread(ring_size, nodes))
}

/// Number of windows of `target_n` consecutive partitions (wrap-around included, one window starting at each
/// partition) that contain some node twice. 0 means fully spread.
pub fn spread_violations(owners: &[String], target_n: usize) -> usize {
    spoiled_windows(owners, target_n)
}

/// [`spread_violations`] for any kind of owner.
pub(super) fn spoiled_windows<T: Ord>(owners: &[T], window: usize) -> usize {
    let ring = owners.len();
    if window <= 1 || ring == 0 {
        return 0;
    }
    if window > ring {
        // Every window wraps onto itself and so holds some partition, and its owner, twice.
        return ring;
    }
    // Two partitions of one node `gap` apart (gap < window) spoil exactly the windows that hold both,
    // those starting from `window - 1 - gap` before the first of them up to the first itself.
    let mut spoiled = vec![false; ring];
    for (p, gap) in gaps(owners).into_iter().enumerate() {
        for back in 0..window.saturating_sub(gap) {
            spoiled[(p + ring - back) % ring] = true;
        }
    }
    spoiled.into_iter().filter(|&s| s).count()
}

/// For every partition, how far ahead (cyclically) the next partition of the same owner is; the ring size
/// for an owner of a single partition.
fn gaps<T: Ord>(owners: &[T]) -> Vec<usize> {
    let ring = owners.len();
    let mut next_seen: BTreeMap<&T, usize> = BTreeMap::new();
    let mut gaps = vec![ring; ring];
    for i in (0..2 * ring).rev() {
        if let Some(next) = next_seen.insert(&owners[i % ring], i)
            && i < ring
        {
            gaps[i] = next - i;
        }
    }
    gaps
}

/// A balanced ring of `nodes` anonymous roles (`0..nodes`) in which the partitions of every role are at
/// least [`max_spread`] apart: the regular layout that claim's fresh layouts start from.
///
/// With `q = ⌈R/m⌉`, the ring is cut into `q` blocks of nearly equal length (every block is at least
/// `⌊R/q⌋` long), and the roles, those owning `q` partitions first, are written into it row by row: the
/// first partition of every block, then the second of every block, and so on. A role owning `q`
/// partitions fills a whole row and so sits at the same offset in every block, one block length apart. A
/// role owning `q − 1` partitions occupies `q − 1` consecutive blocks (moving one row down when it wraps
/// past the last block); across the one block it misses, its gap spans two blocks less one partition.
/// Either way no gap is shorter than the shortest block.
///
/// # Panics
/// If `nodes` is 0 while `ring_size` is not.
pub fn spread_layout(ring_size: usize, nodes: usize) -> Vec<usize> {
    if ring_size == 0 {
        return Vec::new();
    }
    assert!(nodes > 0, "a ring needs at least one node");
    let blocks = ring_size.div_ceil(nodes);
    let short = ring_size / blocks;
    let long_blocks = ring_size % blocks;
    let block_start = |b: usize| b * short + b.min(long_blocks);
    let busiest_roles = ring_size - nodes * (blocks - 1);
    let mut layout = vec![0; ring_size];
    let (mut role, mut written) = (0, 0);
    for k in 0..ring_size {
        let (row, block) = if k < blocks * short {
            (k / blocks, k % blocks)
        } else {
            (short, k - blocks * short)
        };
        let share = if role < busiest_roles {
            blocks
        } else {
            blocks - 1
        };
        if written == share {
            role += 1;
            written = 0;
        }
        layout[block_start(block) + row] = role;
        written += 1;
    }
    layout
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ring::claim::tests::ring;

    #[test]
    fn spread_violations_counts_windows_with_a_repeat() {
        assert_eq!(spread_violations(&ring("ABCDABCD"), 4), 0);
        assert_eq!(spread_violations(&ring("ABCDABCD"), 5), 8);
        // The two A's, 2 apart, share one window of 3 (starting at 0) and two windows of 4 (at 7 and 0).
        assert_eq!(spread_violations(&ring("ABACDEFG"), 3), 1);
        assert_eq!(spread_violations(&ring("ABACDEFG"), 4), 2);
        // Across the wrap: G at 7 and 0.
        assert_eq!(spread_violations(&ring("GBCDEFAG"), 2), 1);
        assert_eq!(spread_violations(&ring("AAAA"), 2), 4);
        assert_eq!(spread_violations(&ring("ABCD"), 1), 0);
        assert_eq!(spread_violations(&ring("ABCD"), 0), 0);
        assert_eq!(
            spread_violations(&ring("ABCD"), 5),
            4,
            "a window longer than the ring wraps onto itself"
        );
        assert_eq!(spread_violations(&[], 4), 0);
    }

    #[test]
    fn spread_violations_matches_the_definition() {
        let owners = ring("ABCABDACBDCADBCA");
        for t in 0..=18 {
            let ring_size = owners.len();
            let by_definition = (0..ring_size)
                .filter(|&s| {
                    (0..t).any(|i| {
                        (i + 1..t)
                            .any(|j| owners[(s + i) % ring_size] == owners[(s + j) % ring_size])
                    })
                })
                .count();
            assert_eq!(spread_violations(&owners, t), by_definition, "t = {t}");
        }
    }

    #[test]
    fn max_spread_follows_the_busiest_node() {
        assert_eq!(max_spread(64, 3), 2, "22 partitions: gaps of 64 / 22");
        assert_eq!(max_spread(64, 4), 4);
        assert_eq!(max_spread(64, 5), 4, "13 partitions: gaps of 64 / 13");
        assert_eq!(max_spread(64, 64), 64);
        assert_eq!(max_spread(8, 20), 8, "one partition each at most");
        assert_eq!(max_spread(64, 0), 0);
        assert_eq!(effective_target(64, 3, 4), 2);
        assert_eq!(effective_target(64, 8, 4), 4);
    }

    #[test]
    fn spread_possible_edges() {
        assert!(spread_possible(0, 0, 4));
        assert!(!spread_possible(8, 0, 1));
        assert!(spread_possible(8, 1, 1));
        assert!(spread_possible(8, 1, 0));
        assert!(!spread_possible(8, 1, 2));
        assert!(spread_possible(8, 8, 8));
        assert!(!spread_possible(8, 8, 9));
    }

    #[test]
    fn spread_layout_examples() {
        assert_eq!(spread_layout(8, 4), vec![0, 1, 2, 3, 0, 1, 2, 3]);
        // 16 partitions, 5 roles: 4 blocks of 4. Role 0 owns 4 and fills the first row; the others own 3
        // and each skips one block, written row by row: 1 1 1 | 2 2 2 | 3 3 3 | 4 4 4.
        assert_eq!(
            spread_layout(16, 5),
            vec![0, 1, 2, 3, 0, 1, 2, 4, 0, 1, 3, 4, 0, 2, 3, 4]
        );
        assert_eq!(spread_layout(3, 5), vec![0, 1, 2]);
        assert!(spread_layout(0, 0).is_empty());
    }
}
