//! Ejection chains: making room for a node in a partition where it would clash, by shifting a few
//! neighbours along. The take uses them to fill a hole nobody fits into, repair to clear a clash no swap
//! removes.

use super::problem::{Change, ClaimProblem, NodeIndex};
use super::work::Work;

/// Longest ejection chain tried: how many neighbours may shift to make room for one partition.
const MAX_CHAIN: usize = 5;

impl ClaimProblem<'_> {
    /// The shortest ejection chain that fills `hole` without a clash: each link moves a node into the
    /// current hole out of the one partition that clashed with it there, which becomes the next hole, and
    /// the last link brings in a node that `accept`s and clashes with nobody.
    pub(super) fn push_chain(
        &self,
        work: &Work,
        hole: usize,
        accept: impl Fn(NodeIndex) -> bool,
    ) -> Option<Vec<Change>> {
        let ring = self.ring();
        // A path lists its links as (filled, node, vacated).
        let mut frontier: Vec<Vec<(usize, NodeIndex, usize)>> = vec![Vec::new()];
        for _ in 0..=MAX_CHAIN {
            let mut next = Vec::new();
            for path in &frontier {
                let open = path.last().map_or(hole, |link| link.2);
                let owner = |p: usize| {
                    path.iter()
                        .fold(work.owner[p], |owner, &(filled, node, vacated)| {
                            if p == filled {
                                Some(node)
                            } else if p == vacated {
                                None
                            } else {
                                owner
                            }
                        })
                };
                let touched = |p: usize| p == hole || path.iter().any(|l| l.0 == p || l.2 == p);
                for &node in &self.members {
                    let clashes: Vec<usize> = (1..self.window)
                        .flat_map(|d| [(open + d) % ring, (open + ring - d) % ring])
                        .filter(|&p| owner(p) == Some(node))
                        .collect();
                    match clashes[..] {
                        [] if accept(node) => {
                            let mut changes: Vec<Change> = path
                                .iter()
                                .flat_map(|&(filled, node, vacated)| {
                                    [(vacated, None), (filled, Some(node))]
                                })
                                .collect();
                            changes.push((open, Some(node)));
                            return Some(changes);
                        }
                        [p] if !touched(p) => {
                            let mut longer = path.clone();
                            longer.push((open, node, p));
                            next.push(longer);
                        }
                        _ => {}
                    }
                }
            }
            frontier = next;
        }
        None
    }
}
