//! Working rings: a ring under construction, where partitions may be holes, with the owner counts kept
//! up to date, and the clash counts every step of claim asks for.

use super::problem::{Change, ClaimProblem, NodeIndex};

/// A ring under construction: owners (`None` for a hole) and how many partitions each node holds.
pub(super) struct Work {
    pub(super) owner: Vec<Option<NodeIndex>>,
    pub(super) count: Vec<usize>,
}

impl Work {
    /// The current ring with the leavers' partitions turned into holes.
    pub(super) fn new(problem: &ClaimProblem) -> Self {
        let owner = problem
            .current
            .iter()
            .map(|&n| problem.is_member[n].then_some(n))
            .collect();
        Work::counted(owner, problem.names.len())
    }

    pub(super) fn from_owners(owners: &[NodeIndex], nodes: usize) -> Self {
        Work::counted(owners.iter().copied().map(Some).collect(), nodes)
    }

    fn counted(owner: Vec<Option<NodeIndex>>, nodes: usize) -> Self {
        let mut count = vec![0; nodes];
        for &node in owner.iter().flatten() {
            count[node] += 1;
        }
        Work { owner, count }
    }

    pub(super) fn assign(&mut self, pos: usize, node: NodeIndex) {
        self.vacate(pos);
        self.owner[pos] = Some(node);
        self.count[node] += 1;
    }

    pub(super) fn vacate(&mut self, pos: usize) {
        if let Some(old) = self.owner[pos].take() {
            self.count[old] -= 1;
        }
    }

    pub(super) fn apply(&mut self, changes: &[Change]) {
        for &(pos, node) in changes {
            match node {
                Some(node) => self.assign(pos, node),
                None => self.vacate(pos),
            }
        }
    }

    /// Partitions of `node` less than `window` away from `pos`.
    pub(super) fn clashes(&self, node: NodeIndex, pos: usize, window: usize) -> usize {
        let ring = self.owner.len();
        (1..window)
            .flat_map(|d| [(pos + d) % ring, (pos + ring - d) % ring])
            .filter(|&p| self.owner[p] == Some(node))
            .count()
    }

    /// Distance from `pos` to the nearest other partition of `node` (the ring size if there is none).
    pub(super) fn nearest(&self, node: NodeIndex, pos: usize) -> usize {
        let ring = self.owner.len();
        (1..ring)
            .find(|&d| {
                self.owner[(pos + d) % ring] == Some(node)
                    || self.owner[(pos + ring - d) % ring] == Some(node)
            })
            .unwrap_or(ring)
    }

    /// `nearest(node, p)` for every partition `p`, in two sweeps around the ring.
    pub(super) fn distances(&self, node: NodeIndex) -> Vec<usize> {
        let ring = self.owner.len();
        let mut distance = vec![ring; ring];
        let mut seen: Option<usize> = None;
        for i in 0..2 * ring {
            if let Some(s) = seen {
                distance[i % ring] = distance[i % ring].min(i - s);
            }
            if self.owner[i % ring] == Some(node) {
                seen = Some(i);
            }
        }
        seen = None;
        for i in (0..2 * ring).rev() {
            if let Some(s) = seen {
                distance[i % ring] = distance[i % ring].min(s - i);
            }
            if self.owner[i % ring] == Some(node) {
                seen = Some(i);
            }
        }
        distance
    }
}

/// Partitions of `node` less than `window` away from `pos`, not counting the partition `ignore`.
pub(super) fn clashes_ignoring(
    owners: &[NodeIndex],
    node: NodeIndex,
    pos: usize,
    window: usize,
    ignore: usize,
) -> usize {
    let ring = owners.len();
    (1..window)
        .flat_map(|d| [(pos + d) % ring, (pos + ring - d) % ring])
        .filter(|&q| q != ignore && owners[q] == node)
        .count()
}

/// Partitions whose owner also owns a partition less than `window` away.
pub(super) fn conflicted(owners: &[NodeIndex], window: usize) -> Vec<usize> {
    (0..owners.len())
        .filter(|&p| clashes_ignoring(owners, owners[p], p, window, p) > 0)
        .collect()
}
