//! One claim problem: the current ring and the members, with every node numbered, the rules a result must
//! satisfy, and the choice between the incremental answer (take, repair, tighten, on the ring and on its
//! mirror image) and the fresh layout.

use super::spread::{effective_target, spoiled_windows, spread_layout};
use super::work::{Work, conflicted};

/// A node, as an index into the sorted, deduplicated names of members and current owners.
pub(super) type NodeIndex = usize;

/// A change to a working ring: the partition, and its new owner (`None` leaves a hole).
pub(super) type Change = (usize, Option<NodeIndex>);

/// One claim problem, with nodes numbered in name order so that every tie breaks the same way.
pub(super) struct ClaimProblem<'a> {
    pub(super) names: Vec<&'a str>,
    pub(super) is_member: Vec<bool>,
    pub(super) members: Vec<NodeIndex>,
    pub(super) current: Vec<NodeIndex>,
    pub(super) floor: usize,
    pub(super) ceil: usize,
    pub(super) target_n: usize,
    /// The window that must be free of repeats: [`effective_target`].
    pub(super) window: usize,
    /// When that falls short of target_n: the next wider window and how many of its windows may repeat
    /// a node.
    wider: Option<(usize, usize)>,
}

impl<'a> ClaimProblem<'a> {
    pub(super) fn new(current: &'a [String], members: &'a [String], target_n: usize) -> Self {
        let mut names: Vec<&str> = current.iter().chain(members).map(String::as_str).collect();
        names.sort_unstable();
        names.dedup();
        let id = |name: &str| names.binary_search(&name).expect("every name is listed");
        let mut is_member = vec![false; names.len()];
        for member in members {
            is_member[id(member)] = true;
        }
        let members: Vec<NodeIndex> = (0..names.len()).filter(|&n| is_member[n]).collect();
        let current: Vec<NodeIndex> = current.iter().map(|owner| id(owner)).collect();
        let (ring, m) = (current.len(), members.len());
        let window = effective_target(ring, m, target_n);
        // When spread at target_n is impossible, the next wider window should still repeat a node as
        // rarely as the fresh layout manages (for 3 nodes and target_n 4: in two windows of 3).
        let wider = (window < target_n && window < ring).then(|| {
            let allowed = spoiled_windows(&spread_layout(ring, m), window + 1);
            (window + 1, allowed)
        });
        ClaimProblem {
            floor: ring / m,
            ceil: ring.div_ceil(m),
            target_n,
            window,
            wider,
            names,
            is_member,
            members,
            current,
        }
    }

    pub(super) fn ring(&self) -> usize {
        self.current.len()
    }

    pub(super) fn solve(&self) -> Vec<NodeIndex> {
        if self.is_valid(&self.current) {
            return self.current.clone();
        }
        let fewest = self.fewest_moves();
        let mut best: Option<Vec<NodeIndex>> = None;
        // When half the ring must move anyway, the fresh layout does as well and is much cheaper to find.
        if fewest * 2 < self.ring() {
            for attempt in [
                self.incremental(),
                self.mirrored().incremental().map(mirror),
            ] {
                let Some(owners) = attempt else { continue };
                if self.moves(&owners) == fewest {
                    return owners;
                }
                if best
                    .as_ref()
                    .is_none_or(|b| self.moves(&owners) < self.moves(b))
                {
                    best = Some(owners);
                }
            }
        }
        let fresh = self.best_fresh();
        match best {
            Some(taken) if self.moves(&taken) <= self.moves(&fresh) => taken,
            _ => fresh,
        }
    }

    /// Take, repair and tighten; `None` if the result is still not valid.
    pub(super) fn incremental(&self) -> Option<Vec<NodeIndex>> {
        let owners = self.tighten(self.repair(self.take()));
        self.is_valid(&owners).then_some(owners)
    }

    /// The same problem on the ring read backwards.
    fn mirrored(&self) -> ClaimProblem<'a> {
        ClaimProblem {
            names: self.names.clone(),
            is_member: self.is_member.clone(),
            members: self.members.clone(),
            current: mirror(self.current.clone()),
            ..*self
        }
    }

    fn moves(&self, owners: &[NodeIndex]) -> usize {
        owners
            .iter()
            .zip(&self.current)
            .filter(|(a, b)| a != b)
            .count()
    }

    pub(super) fn counts(&self, owners: &[NodeIndex]) -> Vec<usize> {
        let mut counts = vec![0; self.names.len()];
        for &owner in owners {
            counts[owner] += 1;
        }
        counts
    }

    /// Balanced among the members, nothing owned by others, and spread at the window.
    fn is_valid(&self, owners: &[NodeIndex]) -> bool {
        let counts = self.counts(owners);
        let balanced = (0..self.names.len()).all(|n| match self.is_member[n] {
            true => (self.floor..=self.ceil).contains(&counts[n]),
            false => counts[n] == 0,
        });
        balanced
            && conflicted(owners, self.window).is_empty()
            && self
                .wider
                .is_none_or(|(window, allowed)| spoiled_windows(owners, window) <= allowed)
    }

    /// The fewest moves any balanced result needs: every orphaned partition and every partition above a
    /// member's ceiling must move, and so must every partition missing below a member's floor.
    fn fewest_moves(&self) -> usize {
        let needs = self.needs(&Work::new(self));
        needs.sources().max(needs.deficit)
    }
}

fn mirror(mut owners: Vec<NodeIndex>) -> Vec<NodeIndex> {
    owners.reverse();
    owners
}
