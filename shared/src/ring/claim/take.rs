//! Step 2 of claim, the take: start from the current ring and move only what must move. Joiners take
//! their share in one walk around the ring, the leavers' holes are matched to members that fit there,
//! and what is left is settled one minimal transfer at a time.

use std::cmp::Reverse;

use super::problem::{Change, ClaimProblem, NodeIndex};
use super::work::Work;

/// What still keeps a working ring from balance.
pub(super) struct Needs {
    /// Partitions without an owner (they belonged to leavers).
    holes: usize,
    /// Partitions members own above the ceiling.
    surplus: usize,
    /// Partitions members lack below the floor.
    pub(super) deficit: usize,
}

impl Needs {
    /// Partitions that must find a new owner.
    pub(super) fn sources(&self) -> usize {
        self.holes + self.surplus
    }

    fn is_done(&self) -> bool {
        self.sources() == 0 && self.deficit == 0
    }
}

impl ClaimProblem<'_> {
    pub(super) fn take(&self) -> Vec<NodeIndex> {
        let mut work = Work::new(self);
        for &node in &self.members {
            if work.count[node] == 0 {
                self.place_joiner(&mut work, node);
            }
        }
        self.match_holes(&mut work);
        loop {
            let needs = self.needs(&work);
            if needs.is_done() {
                break;
            }
            let changes = if needs.holes > 0 {
                self.fill_hole(&work, &needs)
            } else {
                self.transfer(&work, &needs)
            };
            match changes {
                Some(changes) => work.apply(&changes),
                None => break,
            }
        }
        // A hole can only survive if the loop gave up; its old owner then makes the result invalid.
        (0..self.ring())
            .map(|p| work.owner[p].unwrap_or(self.current[p]))
            .collect()
    }

    pub(super) fn needs(&self, work: &Work) -> Needs {
        let mut needs = Needs {
            holes: work.owner.iter().filter(|o| o.is_none()).count(),
            surplus: 0,
            deficit: 0,
        };
        for &node in &self.members {
            needs.surplus += work.count[node].saturating_sub(self.ceil);
            needs.deficit += self.floor.saturating_sub(work.count[node]);
        }
        needs
    }

    // A transfer is one of the minimal moves if it settles a source (a hole or a partition above a
    // ceiling) or a deficit, whichever of the two is the larger need (both while they are equal).

    fn must_receive(&self, work: &Work, node: NodeIndex) -> bool {
        work.count[node] < self.floor
    }

    fn may_receive(&self, work: &Work, needs: &Needs, node: NodeIndex) -> bool {
        self.must_receive(work, node)
            || (work.count[node] < self.ceil && needs.deficit < needs.sources())
    }

    fn must_give(&self, work: &Work, pos: usize) -> bool {
        work.owner[pos].is_none_or(|n| work.count[n] > self.ceil)
    }

    fn may_give(&self, work: &Work, needs: &Needs, pos: usize) -> bool {
        self.must_give(work, pos)
            || work.owner[pos]
                .is_some_and(|n| work.count[n] > self.floor && needs.sources() < needs.deficit)
    }

    /// Gives a member that owns nothing yet its `floor` partitions in one walk around the ring at (nearly)
    /// even spacing, which keeps them well apart. Every starting offset within one spacing is tried; the
    /// walk that never gets stuck, then takes the fewest partitions from nodes that did not have to give
    /// them up, then strays least from even spacing, wins. A joiner that no walk can place is left to the
    /// transfers.
    fn place_joiner(&self, work: &mut Work, joiner: NodeIndex) {
        let want = self.floor;
        if want == 0 {
            return;
        }
        let spacing = self.ring() / want;
        let best = (0..spacing)
            .filter_map(|offset| self.walk(work, offset, want))
            .min_by_key(|walk| (walk.optional, walk.drift));
        for pos in best.map(|walk| walk.picks).unwrap_or_default() {
            work.assign(pos, joiner);
        }
    }

    /// One walk of `place_joiner`, starting at `offset`: the i-th pick lies within the slack of its even
    /// target, at least a window after the previous pick and a window before the first one (around the
    /// wrap), on a hole or a partition its owner can spare.
    fn walk(&self, work: &Work, offset: usize, want: usize) -> Option<Walk> {
        let ring = self.ring();
        let spacing = ring / want;
        let slack = spacing - self.window.min(spacing);
        let mut count = work.count.clone();
        let mut walk = Walk {
            picks: Vec::with_capacity(want),
            optional: 0,
            drift: 0,
        };
        let mut last: Option<usize> = None;
        for i in 0..want {
            let target = offset + i * ring / want;
            let lo = match last {
                Some(last) => (last + self.window).max(target.saturating_sub(slack)),
                None => target,
            };
            let hi = (target + slack).min(offset + ring - self.window.min(ring));
            // Prefer holes and partitions of nodes that must shed, then of the busiest nodes, then
            // closeness to the target. (A hole counts as the busiest of all.)
            let mut best = None;
            for p in lo..=hi {
                let busy = work.owner[p % ring].map_or(usize::MAX, |d| count[d]);
                let key = (busy, Reverse(p.abs_diff(target)), Reverse(p));
                if busy > self.floor && best.is_none_or(|k| key > k) {
                    best = Some(key);
                }
            }
            let (_, _, Reverse(pick)) = best?;
            if let Some(donor) = work.owner[pick % ring] {
                if count[donor] <= self.ceil {
                    walk.optional += 1;
                }
                count[donor] -= 1;
            }
            walk.drift += pick.abs_diff(target);
            walk.picks.push(pick % ring);
            last = Some(pick);
        }
        Some(walk)
    }

    /// Fills as many holes as possible directly, each with a member that clashes with nobody there: a
    /// bipartite matching with capacities, first up to every member's floor, then up to its ceiling. (The
    /// holes of one spread leaver are a window apart, so these fills cannot clash with each other; holes
    /// closer together, left by several leavers, may, and repair sorts that out.)
    fn match_holes(&self, work: &mut Work) {
        let holes: Vec<usize> = (0..self.ring())
            .filter(|&p| work.owner[p].is_none())
            .collect();
        let fits: Vec<Vec<usize>> = holes
            .iter()
            .map(|&hole| {
                (0..self.members.len())
                    .filter(|&i| work.clashes(self.members[i], hole, self.window) == 0)
                    .collect()
            })
            .collect();
        let mut taken: Vec<Vec<usize>> = vec![Vec::new(); self.members.len()];
        let mut filled = vec![false; holes.len()];
        for limit in [self.floor, self.ceil] {
            let room: Vec<usize> = self
                .members
                .iter()
                .map(|&n| limit.saturating_sub(work.count[n]))
                .collect();
            for (h, filled) in filled.iter_mut().enumerate() {
                if !*filled {
                    let mut visited = vec![false; self.members.len()];
                    *filled = augment(h, &fits, &room, &mut taken, &mut visited);
                }
            }
        }
        for (i, member_holes) in taken.iter().enumerate() {
            for &h in member_holes {
                work.assign(holes[h], self.members[i]);
            }
        }
    }

    /// Fills the hole with the fewest members that fit there. If none fits, an ejection chain makes room;
    /// failing that, the least clashing member takes it and repair deals with the clash.
    fn fill_hole(&self, work: &Work, needs: &Needs) -> Option<Vec<Change>> {
        let receivers: Vec<NodeIndex> = self
            .members
            .iter()
            .copied()
            .filter(|&n| self.may_receive(work, needs, n))
            .collect();
        let fitting = |pos: usize| {
            receivers
                .iter()
                .filter(|&&n| work.clashes(n, pos, self.window) == 0)
                .count()
        };
        let hole = (0..self.ring())
            .filter(|&p| work.owner[p].is_none())
            .min_by_key(|&p| fitting(p))?;
        if fitting(hole) == 0 {
            let chain = self.push_chain(work, hole, |n| self.may_receive(work, needs, n));
            if chain.is_some() {
                return chain;
            }
        }
        let node = receivers.iter().copied().max_by_key(|&n| {
            (
                Reverse(work.clashes(n, hole, self.window)),
                self.must_receive(work, n),
                self.ceil - work.count[n],
                work.nearest(n, hole),
                Reverse(n),
            )
        })?;
        Some(vec![(hole, Some(node))])
    }

    /// One transfer from a member that (must or may) give to one that (must or may) receive. Clash-free
    /// transfers come first, then those that settle two needs at once, then partitions of the busiest
    /// donors, then partitions far from the receiver's own.
    fn transfer(&self, work: &Work, needs: &Needs) -> Option<Vec<Change>> {
        let both_needed = needs.sources() == needs.deficit;
        let mut best = None;
        for &node in &self.members {
            if !self.may_receive(work, needs, node) {
                continue;
            }
            for (pos, distance) in work.distances(node).into_iter().enumerate() {
                if work.owner[pos] == Some(node) || !self.may_give(work, needs, pos) {
                    continue;
                }
                let settles_both = self.must_give(work, pos) && self.must_receive(work, node);
                if both_needed && !settles_both {
                    continue;
                }
                let key = (
                    Reverse(work.clashes(node, pos, self.window)),
                    settles_both,
                    work.owner[pos].map_or(usize::MAX, |donor| work.count[donor]),
                    distance,
                    Reverse(pos),
                    Reverse(node),
                );
                if best.as_ref().is_none_or(|(k, _)| key > *k) {
                    best = Some((key, (pos, Some(node))));
                }
            }
        }
        best.map(|(_, change)| vec![change])
    }
}

/// A candidate placement of a joiner: its partitions, how many came from nodes that did not have to give
/// them up, and how far in total they stray from even spacing.
struct Walk {
    picks: Vec<usize>,
    optional: usize,
    drift: usize,
}

/// One augmenting-path step of bipartite matching with capacities (Kuhn's algorithm): tries to give hole
/// `h` to a member it fits, moving holes already taken to other members when that frees room.
fn augment(
    h: usize,
    fits: &[Vec<usize>],
    room: &[usize],
    taken: &mut [Vec<usize>],
    visited: &mut [bool],
) -> bool {
    for &i in &fits[h] {
        if visited[i] {
            continue;
        }
        visited[i] = true;
        if taken[i].len() < room[i] {
            taken[i].push(h);
            return true;
        }
        for k in 0..taken[i].len() {
            if augment(taken[i][k], fits, room, taken, visited) {
                taken[i][k] = h;
                return true;
            }
        }
    }
    false
}
