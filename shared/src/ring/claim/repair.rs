//! Step 3 of claim: repair the clashes the take could not avoid (swaps, then ejection chains), and tighten
//! by undoing swaps that moved partitions needlessly.

use super::problem::{ClaimProblem, NodeIndex};
use super::work::{Work, clashes_ignoring, conflicted};

/// Repair is for the few clashes a take could not avoid; beyond this many the current ring is no useful
/// starting point (the window grew, say) and the fresh layout is the answer.
const MAX_REPAIRS: usize = 64;

/// Ejection chains are costlier than swaps, so they are tried only for this many stubborn clashes or fewer.
const MAX_EJECTIONS: usize = 16;

impl ClaimProblem<'_> {
    /// Removes clashes while keeping the counts: the best improving swap first, an ejection chain when no
    /// swap helps. Gives up (leaving the ring invalid) when nothing helps or there are too many clashes.
    pub(super) fn repair(&self, mut owners: Vec<NodeIndex>) -> Vec<NodeIndex> {
        if conflicted(&owners, self.window).len() > MAX_REPAIRS {
            return owners;
        }
        'fix: loop {
            let bad = conflicted(&owners, self.window);
            for &p in &bad {
                if let Some(q) = self.best_swap(&owners, p) {
                    owners.swap(p, q);
                    continue 'fix;
                }
            }
            if bad.len() > MAX_EJECTIONS {
                return owners;
            }
            for &p in &bad {
                if let Some(changes) = self.eject(&owners, p) {
                    for (pos, node) in changes {
                        owners[pos] = node;
                    }
                    continue 'fix;
                }
            }
            return owners;
        }
    }

    /// The swap of `p` with another partition that removes the most clashing pairs, then moves the fewest
    /// partitions; `None` if no swap removes any.
    fn best_swap(&self, owners: &[NodeIndex], p: usize) -> Option<usize> {
        (0..self.ring())
            .filter(|&q| owners[q] != owners[p])
            .map(|q| {
                (
                    (self.swap_gain(owners, p, q), self.swap_cost(owners, p, q)),
                    q,
                )
            })
            .filter(|&((gain, _), _)| gain < 0)
            .min()
            .map(|(_, q)| q)
    }

    /// Change in the number of clashing pairs if the owners of `p` and `q` swap.
    fn swap_gain(&self, owners: &[NodeIndex], p: usize, q: usize) -> isize {
        let (x, y, w) = (owners[p], owners[q], self.window);
        let before = clashes_ignoring(owners, x, p, w, p) + clashes_ignoring(owners, y, q, w, q);
        let after = clashes_ignoring(owners, y, p, w, q) + clashes_ignoring(owners, x, q, w, p);
        after as isize - before as isize
    }

    /// Change in the number of moved partitions if the owners of `p` and `q` swap.
    fn swap_cost(&self, owners: &[NodeIndex], p: usize, q: usize) -> isize {
        let cost = |pos: usize, node: NodeIndex| isize::from(self.current[pos] != node);
        cost(p, owners[q]) + cost(q, owners[p]) - cost(p, owners[p]) - cost(q, owners[q])
    }

    /// Evicts the owner of the clashing partition `p` along an ejection chain that refills `p` and ends
    /// with some member landing where it clashes with nobody. If the counts then leave the balance, the
    /// evicted node takes a partition of that member elsewhere. Returns the changes if clashes drop.
    fn eject(&self, owners: &[NodeIndex], p: usize) -> Option<Vec<(usize, NodeIndex)>> {
        let evicted = owners[p];
        let before = conflicted(owners, self.window).len();
        for &last in &self.members {
            let mut work = Work::from_owners(owners, self.names.len());
            work.vacate(p);
            let Some(chain) = self.push_chain(&work, p, |n| n == last) else {
                continue;
            };
            work.apply(&chain);
            if work.count[last] > self.ceil || work.count[evicted] < self.floor {
                let Some(q) = self.pull(&work, owners, evicted, last) else {
                    continue;
                };
                work.assign(q, evicted);
            }
            let after: Vec<NodeIndex> = work
                .owner
                .iter()
                .map(|o| o.expect("chains refill their holes"))
                .collect();
            if conflicted(&after, self.window).len() < before {
                let changed = (0..self.ring()).filter(|&q| after[q] != owners[q]);
                return Some(changed.map(|q| (q, after[q])).collect());
            }
        }
        None
    }

    /// A partition `from` held before the chain and still holds that `to` can take without a clash,
    /// preferring one that `to` owned originally.
    fn pull(
        &self,
        work: &Work,
        owners: &[NodeIndex],
        to: NodeIndex,
        from: NodeIndex,
    ) -> Option<usize> {
        (0..self.ring())
            .filter(|&q| owners[q] == from && work.owner[q] == Some(from))
            .filter(|&q| work.clashes(to, q, self.window) == 0)
            .min_by_key(|&q| (self.current[q] != to, q))
    }

    /// Undoes needless moves: when `p` could go back to its original owner `y` in exchange for a partition
    /// that `y` received, and neither clashes, the two swap (two fewer moves).
    pub(super) fn tighten(&self, mut owners: Vec<NodeIndex>) -> Vec<NodeIndex> {
        loop {
            let mut improved = false;
            for p in 0..self.ring() {
                let (x, y) = (owners[p], self.current[p]);
                if x == y || !self.is_member[y] {
                    continue;
                }
                let partner = (0..self.ring()).find(|&q| {
                    owners[q] == y
                        && self.current[q] != y
                        && clashes_ignoring(&owners, y, p, self.window, q) == 0
                        && clashes_ignoring(&owners, x, q, self.window, p) == 0
                });
                if let Some(q) = partner {
                    owners.swap(p, q);
                    improved = true;
                }
            }
            if !improved {
                return owners;
            }
        }
    }
}
