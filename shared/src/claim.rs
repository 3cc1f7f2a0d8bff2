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

use std::cmp::Reverse;
use std::collections::BTreeMap;

/// The default number of consecutive partitions that must sit on distinct nodes (riak's target_n_val).
pub const DEFAULT_TARGET_N: usize = 4;

/// The widest window of consecutive partitions that a balanced assignment of `ring_size` partitions to
/// `nodes` nodes can keep free of repeats: `⌊R / ⌈R/m⌉⌋` (see the module docs). 0 without nodes.
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
fn spoiled_windows<T: Ord>(owners: &[T], window: usize) -> usize {
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
    let plan = Plan::new(current, members, target_n);
    plan.solve()
        .into_iter()
        .map(|node| plan.names[node].to_string())
        .collect()
}

/// How many roles of a fresh layout join one at a time rather than being laid out regularly: enough to
/// make its gaps uneven, few enough to stay cheap.
const GROWN_ROLES: usize = 4;

/// Longest ejection chain tried: how many neighbours may shift to make room for one partition.
const MAX_CHAIN: usize = 5;

/// Repair is for the few clashes a take could not avoid; beyond this many the current ring is no useful
/// starting point (the window grew, say) and the fresh layout is the answer.
const MAX_REPAIRS: usize = 64;

/// Ejection chains are costlier than swaps, so they are tried only for this many stubborn clashes or fewer.
const MAX_EJECTIONS: usize = 16;

/// A node, as an index into the sorted, deduplicated names of members and current owners.
type Node = usize;

/// A change to a working ring: the partition, and its new owner (`None` leaves a hole).
type Change = (usize, Option<Node>);

/// One claim problem, with nodes numbered in name order so that every tie breaks the same way.
struct Plan<'a> {
    names: Vec<&'a str>,
    is_member: Vec<bool>,
    members: Vec<Node>,
    current: Vec<Node>,
    floor: usize,
    ceil: usize,
    target_n: usize,
    /// The window that must be free of repeats: [`effective_target`].
    window: usize,
    /// When that falls short of target_n: the next wider window and how many of its windows may repeat
    /// a node.
    wider: Option<(usize, usize)>,
}

impl<'a> Plan<'a> {
    fn new(current: &'a [String], members: &'a [String], target_n: usize) -> Self {
        let mut names: Vec<&str> = current.iter().chain(members).map(String::as_str).collect();
        names.sort_unstable();
        names.dedup();
        let id = |name: &str| names.binary_search(&name).expect("every name is listed");
        let mut is_member = vec![false; names.len()];
        for member in members {
            is_member[id(member)] = true;
        }
        let members: Vec<Node> = (0..names.len()).filter(|&n| is_member[n]).collect();
        let current: Vec<Node> = current.iter().map(|owner| id(owner)).collect();
        let (ring, m) = (current.len(), members.len());
        let window = effective_target(ring, m, target_n);
        // When spread at target_n is impossible, the next wider window should still repeat a node as
        // rarely as the fresh layout manages (for 3 nodes and target_n 4: in two windows of 3).
        let wider = (window < target_n && window < ring).then(|| {
            let allowed = spoiled_windows(&spread_layout(ring, m), window + 1);
            (window + 1, allowed)
        });
        Plan {
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

    fn ring(&self) -> usize {
        self.current.len()
    }

    fn solve(&self) -> Vec<Node> {
        if self.is_valid(&self.current) {
            return self.current.clone();
        }
        let fewest = self.fewest_moves();
        let mut best: Option<Vec<Node>> = None;
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
    fn incremental(&self) -> Option<Vec<Node>> {
        let owners = self.tighten(self.repair(self.take()));
        self.is_valid(&owners).then_some(owners)
    }

    /// The same problem on the ring read backwards.
    fn mirrored(&self) -> Plan<'a> {
        Plan {
            names: self.names.clone(),
            is_member: self.is_member.clone(),
            members: self.members.clone(),
            current: mirror(self.current.clone()),
            ..*self
        }
    }

    fn moves(&self, owners: &[Node]) -> usize {
        owners
            .iter()
            .zip(&self.current)
            .filter(|(a, b)| a != b)
            .count()
    }

    fn counts(&self, owners: &[Node]) -> Vec<usize> {
        let mut counts = vec![0; self.names.len()];
        for &owner in owners {
            counts[owner] += 1;
        }
        counts
    }

    /// Balanced among the members, nothing owned by others, and spread at the window.
    fn is_valid(&self, owners: &[Node]) -> bool {
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

fn mirror(mut owners: Vec<Node>) -> Vec<Node> {
    owners.reverse();
    owners
}

// ---- take ----

/// What still keeps a working ring from balance.
struct Needs {
    /// Partitions without an owner (they belonged to leavers).
    holes: usize,
    /// Partitions members own above the ceiling.
    surplus: usize,
    /// Partitions members lack below the floor.
    deficit: usize,
}

impl Needs {
    /// Partitions that must find a new owner.
    fn sources(&self) -> usize {
        self.holes + self.surplus
    }

    fn is_done(&self) -> bool {
        self.sources() == 0 && self.deficit == 0
    }
}

impl Plan<'_> {
    fn take(&self) -> Vec<Node> {
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

    fn needs(&self, work: &Work) -> Needs {
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

    fn must_receive(&self, work: &Work, node: Node) -> bool {
        work.count[node] < self.floor
    }

    fn may_receive(&self, work: &Work, needs: &Needs, node: Node) -> bool {
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
    fn place_joiner(&self, work: &mut Work, joiner: Node) {
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
        let receivers: Vec<Node> = self
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

    /// The shortest ejection chain that fills `hole` without a clash: each link moves a node into the
    /// current hole out of the one partition that clashed with it there, which becomes the next hole, and
    /// the last link brings in a node that `accept`s and clashes with nobody.
    fn push_chain(
        &self,
        work: &Work,
        hole: usize,
        accept: impl Fn(Node) -> bool,
    ) -> Option<Vec<Change>> {
        let ring = self.ring();
        // A path lists its links as (filled, node, vacated).
        let mut frontier: Vec<Vec<(usize, Node, usize)>> = vec![Vec::new()];
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

// ---- repair and tighten ----

impl Plan<'_> {
    /// Removes clashes while keeping the counts: the best improving swap first, an ejection chain when no
    /// swap helps. Gives up (leaving the ring invalid) when nothing helps or there are too many clashes.
    fn repair(&self, mut owners: Vec<Node>) -> Vec<Node> {
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
    fn best_swap(&self, owners: &[Node], p: usize) -> Option<usize> {
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
    fn swap_gain(&self, owners: &[Node], p: usize, q: usize) -> isize {
        let (x, y, w) = (owners[p], owners[q], self.window);
        let before = clashes_ignoring(owners, x, p, w, p) + clashes_ignoring(owners, y, q, w, q);
        let after = clashes_ignoring(owners, y, p, w, q) + clashes_ignoring(owners, x, q, w, p);
        after as isize - before as isize
    }

    /// Change in the number of moved partitions if the owners of `p` and `q` swap.
    fn swap_cost(&self, owners: &[Node], p: usize, q: usize) -> isize {
        let cost = |pos: usize, node: Node| isize::from(self.current[pos] != node);
        cost(p, owners[q]) + cost(q, owners[p]) - cost(p, owners[p]) - cost(q, owners[q])
    }

    /// Evicts the owner of the clashing partition `p` along an ejection chain that refills `p` and ends
    /// with some member landing where it clashes with nobody. If the counts then leave the balance, the
    /// evicted node takes a partition of that member elsewhere. Returns the changes if clashes drop.
    fn eject(&self, owners: &[Node], p: usize) -> Option<Vec<(usize, Node)>> {
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
            let after: Vec<Node> = work
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
    fn pull(&self, work: &Work, owners: &[Node], to: Node, from: Node) -> Option<usize> {
        (0..self.ring())
            .filter(|&q| owners[q] == from && work.owner[q] == Some(from))
            .filter(|&q| work.clashes(to, q, self.window) == 0)
            .min_by_key(|&q| (self.current[q] != to, q))
    }

    /// Undoes needless moves: when `p` could go back to its original owner `y` in exchange for a partition
    /// that `y` received, and neither clashes, the two swap (two fewer moves).
    fn tighten(&self, mut owners: Vec<Node>) -> Vec<Node> {
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

// ---- fresh layout ----

impl Plan<'_> {
    /// The rotation and mirror image of [`spread_layout`], and the assignment of members to its roles, that
    /// keep the most partitions with their current owner. Every candidate gets a cheap upper bound first;
    /// the exact assignment is solved in order of decreasing bound until no bound can beat the best.
    fn best_fresh(&self) -> Vec<Node> {
        let ring = self.ring();
        let m = self.members.len();
        let roles = fresh_roles(ring, m, self.target_n);
        let mirrored: Vec<usize> = (0..ring).map(|p| roles[(ring - p) % ring]).collect();
        // Doubled, so that every rotation is a plain slice.
        let orientations = [roles.repeat(2), mirrored.repeat(2)];
        let placed = |o: usize, rotation: usize| &orientations[o][rotation..rotation + ring];
        // Only members that own partitions now can keep any: one row of `kept` for each of them.
        let counts = self.counts(&self.current);
        let owning: Vec<usize> = (0..m)
            .filter(|&slot| counts[self.members[slot]] > 0)
            .collect();
        let mut row_of = vec![usize::MAX; self.names.len()];
        for (row, &slot) in owning.iter().enumerate() {
            row_of[self.members[slot]] = row;
        }
        let rows: Vec<usize> = self.current.iter().map(|&n| row_of[n]).collect();
        let mut kept = vec![0i64; owning.len() * m];
        let mut candidates = Vec::with_capacity(2 * ring);
        for o in 0..2 {
            for rotation in 0..ring {
                count_kept(&rows, placed(o, rotation), m, &mut kept);
                candidates.push((optimistic(&kept, m), o, rotation));
            }
        }
        candidates.sort_by_key(|&(bound, o, rotation)| (Reverse(bound), o, rotation));
        let mut best: Option<(i64, Vec<Node>)> = None;
        let mut weight = vec![0i64; m * m];
        for (bound, o, rotation) in candidates {
            if best.as_ref().is_some_and(|(total, _)| *total >= bound) {
                break;
            }
            count_kept(&rows, placed(o, rotation), m, &mut kept);
            for (row, &slot) in owning.iter().enumerate() {
                weight[slot * m..(slot + 1) * m].copy_from_slice(&kept[row * m..(row + 1) * m]);
            }
            let role_of = max_weight_assignment(&weight, m);
            let total = (0..m).map(|slot| weight[slot * m + role_of[slot]]).sum();
            if best.as_ref().is_none_or(|(b, _)| total > *b) {
                let mut owner_of_role = vec![0; m];
                for (slot, &role) in role_of.iter().enumerate() {
                    owner_of_role[role] = self.members[slot];
                }
                let owners = placed(o, rotation)
                    .iter()
                    .map(|&role| owner_of_role[role])
                    .collect();
                best = Some((total, owners));
            }
        }
        best.expect("a non-empty ring has candidates").1
    }
}

/// The fresh layout of `m` anonymous roles that claim relabels. [`spread_layout`] is perfectly regular,
/// and regular rings are rigid: a leaver's partitions all have the same neighbours, so hardly anyone fits
/// into them and a later leave moves a lot. With more roles than `target_n`, the last few of them (at most
/// [`GROWN_ROLES`]) join the regular layout of the others one at a time instead, the way a real cluster
/// grows, which leaves the gaps uneven enough. A join that does not work out starts over from the regular
/// layout of its size. Where spread at `target_n` is impossible the regular layout is kept: it is the
/// yardstick for the next wider window.
fn fresh_roles(ring: usize, m: usize, target_n: usize) -> Vec<usize> {
    if !spread_possible(ring, m, target_n) {
        return spread_layout(ring, m);
    }
    // Zero-padded names sort like the roles, so a plan's node numbers are the roles themselves.
    let name = |role: usize| format!("{role:06}");
    let regular = m.saturating_sub(GROWN_ROLES).max(target_n).clamp(1, m);
    let mut roles = spread_layout(ring, regular);
    for size in regular + 1..=m {
        let current: Vec<String> = roles.iter().map(|&r| name(r)).collect();
        let members: Vec<String> = (0..size).map(name).collect();
        let plan = Plan::new(&current, &members, target_n);
        roles = plan
            .incremental()
            .unwrap_or_else(|| spread_layout(ring, size));
    }
    roles
}

/// Fills `kept[row * m + role]` with the partitions that the member of `row` owns now and `role` owns in
/// `placed` (`rows` gives the row of every partition's current owner, `usize::MAX` for leavers).
fn count_kept(rows: &[usize], placed: &[usize], m: usize, kept: &mut [i64]) {
    kept.fill(0);
    for (&row, &role) in rows.iter().zip(placed) {
        if row != usize::MAX {
            kept[row * m + role] += 1;
        }
    }
}

/// An upper bound on the best assignment's total: every role, or every member, paired with its best
/// partner.
fn optimistic(kept: &[i64], m: usize) -> i64 {
    let mut best_for_role = vec![0i64; m];
    let mut by_member = 0;
    for row in kept.chunks(m) {
        by_member += row.iter().copied().max().unwrap_or(0);
        for (best, &k) in best_for_role.iter_mut().zip(row) {
            *best = (*best).max(k);
        }
    }
    by_member.min(best_for_role.iter().sum())
}

/// The assignment of rows to columns of the `n × n` matrix `weight` (row-major) with the largest total
/// weight: the Hungarian algorithm with potentials, O(n³). Returns the column of every row.
fn max_weight_assignment(weight: &[i64], n: usize) -> Vec<usize> {
    // Minimise the negated weights. Index 0 is a sentinel; rows and columns are 1-based.
    let cost = |row: usize, col: usize| -weight[(row - 1) * n + col - 1];
    let (mut u, mut v) = (vec![0i64; n + 1], vec![0i64; n + 1]);
    let mut row_of = vec![0usize; n + 1];
    let mut way = vec![0usize; n + 1];
    for row in 1..=n {
        row_of[0] = row;
        let mut col = 0;
        let mut min_slack = vec![i64::MAX; n + 1];
        let mut used = vec![false; n + 1];
        loop {
            used[col] = true;
            let r = row_of[col];
            let (mut delta, mut next) = (i64::MAX, 0);
            for j in 1..=n {
                if !used[j] {
                    let slack = cost(r, j) - u[r] - v[j];
                    if slack < min_slack[j] {
                        min_slack[j] = slack;
                        way[j] = col;
                    }
                    if min_slack[j] < delta {
                        delta = min_slack[j];
                        next = j;
                    }
                }
            }
            for j in 0..=n {
                if used[j] {
                    u[row_of[j]] += delta;
                    v[j] -= delta;
                } else {
                    min_slack[j] -= delta;
                }
            }
            col = next;
            if row_of[col] == 0 {
                break;
            }
        }
        while col != 0 {
            let prev = way[col];
            row_of[col] = row_of[prev];
            col = prev;
        }
    }
    let mut col_of = vec![0; n];
    for col in 1..=n {
        col_of[row_of[col] - 1] = col - 1;
    }
    col_of
}

// ---- working rings ----

/// A ring under construction: owners (`None` for a hole) and how many partitions each node holds.
struct Work {
    owner: Vec<Option<Node>>,
    count: Vec<usize>,
}

impl Work {
    /// The current ring with the leavers' partitions turned into holes.
    fn new(plan: &Plan) -> Self {
        let owner = plan
            .current
            .iter()
            .map(|&n| plan.is_member[n].then_some(n))
            .collect();
        Work::counted(owner, plan.names.len())
    }

    fn from_owners(owners: &[Node], nodes: usize) -> Self {
        Work::counted(owners.iter().copied().map(Some).collect(), nodes)
    }

    fn counted(owner: Vec<Option<Node>>, nodes: usize) -> Self {
        let mut count = vec![0; nodes];
        for &node in owner.iter().flatten() {
            count[node] += 1;
        }
        Work { owner, count }
    }

    fn assign(&mut self, pos: usize, node: Node) {
        self.vacate(pos);
        self.owner[pos] = Some(node);
        self.count[node] += 1;
    }

    fn vacate(&mut self, pos: usize) {
        if let Some(old) = self.owner[pos].take() {
            self.count[old] -= 1;
        }
    }

    fn apply(&mut self, changes: &[Change]) {
        for &(pos, node) in changes {
            match node {
                Some(node) => self.assign(pos, node),
                None => self.vacate(pos),
            }
        }
    }

    /// Partitions of `node` less than `window` away from `pos`.
    fn clashes(&self, node: Node, pos: usize, window: usize) -> usize {
        let ring = self.owner.len();
        (1..window)
            .flat_map(|d| [(pos + d) % ring, (pos + ring - d) % ring])
            .filter(|&p| self.owner[p] == Some(node))
            .count()
    }

    /// Distance from `pos` to the nearest other partition of `node` (the ring size if there is none).
    fn nearest(&self, node: Node, pos: usize) -> usize {
        let ring = self.owner.len();
        (1..ring)
            .find(|&d| {
                self.owner[(pos + d) % ring] == Some(node)
                    || self.owner[(pos + ring - d) % ring] == Some(node)
            })
            .unwrap_or(ring)
    }

    /// `nearest(node, p)` for every partition `p`, in two sweeps around the ring.
    fn distances(&self, node: Node) -> Vec<usize> {
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
fn clashes_ignoring(
    owners: &[Node],
    node: Node,
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
fn conflicted(owners: &[Node], window: usize) -> Vec<usize> {
    (0..owners.len())
        .filter(|&p| clashes_ignoring(owners, owners[p], p, window, p) > 0)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ring(owners: &str) -> Vec<String> {
        owners.chars().map(String::from).collect()
    }

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

    #[test]
    fn hungarian_matches_brute_force() {
        let mut seed = 7u64;
        let mut next = || {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((seed >> 33) % 10) as i64
        };
        for n in 1..=6 {
            for _ in 0..20 {
                let weight: Vec<i64> = (0..n * n).map(|_| next()).collect();
                let col_of = max_weight_assignment(&weight, n);
                let mut sorted = col_of.clone();
                sorted.sort_unstable();
                assert_eq!(sorted, (0..n).collect::<Vec<_>>(), "a permutation");
                let total: i64 = (0..n).map(|r| weight[r * n + col_of[r]]).sum();
                assert_eq!(total, best_by_brute_force(&weight, n, &mut Vec::new()));
            }
        }
    }

    fn best_by_brute_force(weight: &[i64], n: usize, cols: &mut Vec<usize>) -> i64 {
        if cols.len() == n {
            return (0..n).map(|r| weight[r * n + cols[r]]).sum();
        }
        let mut best = i64::MIN;
        for c in 0..n {
            if !cols.contains(&c) {
                cols.push(c);
                best = best.max(best_by_brute_force(weight, n, cols));
                cols.pop();
            }
        }
        best
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
