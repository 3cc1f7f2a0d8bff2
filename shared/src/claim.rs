//! Claim (draft).

use std::collections::BTreeMap;

/// The default number of consecutive partitions that must sit on distinct nodes (riak's target_n_val).
pub const DEFAULT_TARGET_N: usize = 4;

pub fn max_spread(ring_size: usize, nodes: usize) -> usize {
    if ring_size == 0 || nodes == 0 {
        return 0;
    }
    ring_size / ring_size.div_ceil(nodes)
}

pub fn spread_possible(ring_size: usize, nodes: usize, target_n: usize) -> bool {
    if ring_size == 0 {
        return true;
    }
    nodes > 0 && target_n <= max_spread(ring_size, nodes)
}

pub fn effective_target(ring_size: usize, nodes: usize, target_n: usize) -> usize {
    target_n.min(max_spread(ring_size, nodes))
}

pub fn spread_violations(owners: &[String], target_n: usize) -> usize {
    let ring = owners.len();
    if target_n <= 1 || ring == 0 {
        return 0;
    }
    if target_n > ring {
        return ring;
    }
    (0..ring)
        .filter(|&start| {
            (0..target_n).any(|i| {
                (i + 1..target_n).any(|j| owners[(start + i) % ring] == owners[(start + j) % ring])
            })
        })
        .count()
}

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

pub fn moved(before: &[String], after: &[String]) -> usize {
    let differing = before.iter().zip(after).filter(|(b, a)| b != a).count();
    differing + before.len().abs_diff(after.len())
}

pub fn claim(current: &[String], members: &[String], target_n: usize) -> Vec<String> {
    assert!(!members.is_empty(), "claim needs at least one member");
    if current.is_empty() {
        return Vec::new();
    }
    let plan = Plan::new(current, members, target_n);
    let owners = plan.solve();
    owners
        .iter()
        .map(|&id| plan.names[id].to_string())
        .collect()
}

type Node = usize;

struct Plan<'a> {
    names: Vec<&'a str>,
    is_member: Vec<bool>,
    current: Vec<Node>,
    members: Vec<Node>,
    floor: usize,
    ceil: usize,
    window: usize,
}

impl<'a> Plan<'a> {
    fn new(current: &'a [String], members: &'a [String], target_n: usize) -> Self {
        let mut names: Vec<&str> = current.iter().chain(members).map(String::as_str).collect();
        names.sort_unstable();
        names.dedup();
        let id = |name: &str| names.binary_search(&name).expect("known name");
        let mut is_member = vec![false; names.len()];
        for m in members {
            is_member[id(m)] = true;
        }
        let member_ids: Vec<Node> = (0..names.len()).filter(|&n| is_member[n]).collect();
        let current_ids = current.iter().map(|c| id(c)).collect();
        let ring = current.len();
        let m = member_ids.len();
        Plan {
            window: effective_target(ring, m, target_n),
            floor: ring / m,
            ceil: ring.div_ceil(m),
            names,
            is_member,
            current: current_ids,
            members: member_ids,
        }
    }

    fn ring(&self) -> usize {
        self.current.len()
    }

    fn solve(&self) -> Vec<Node> {
        if self.is_valid(&self.current) {
            return self.current.clone();
        }
        let bound = self.lower_bound();
        let mut best: Option<Vec<Node>> = None;
        if bound * 2 < self.ring() {
            let raw = self.take();
            let repaired = self.repair(raw.clone());
            let taken = self.tighten(repaired.clone());
            if std::env::var("CLAIM_DEBUG").is_ok() {
                eprintln!(
                    "take R={} m={}: moves {} conflicts {} | repaired moves {} conflicts {} | tight moves {} valid {}",
                    self.ring(),
                    self.members.len(),
                    self.moves(&raw),
                    conflicted(&raw, self.window).len(),
                    self.moves(&repaired),
                    conflicted(&repaired, self.window).len(),
                    self.moves(&taken),
                    self.is_valid(&taken)
                );
            }
            if std::env::var("CLAIM_DEBUG").is_ok() {
                let bad = conflicted(&taken, self.window);
                let counts = self.counts(&taken);
                eprintln!(
                    "floor {} ceil {} counts {:?}",
                    self.floor,
                    self.ceil,
                    self.members.iter().map(|&n| counts[n]).collect::<Vec<_>>()
                );
                for &p in &bad {
                    let r = self.ring();
                    let seg: Vec<String> = (0..15)
                        .map(|d| (p + r - 7 + d) % r)
                        .map(|q| {
                            format!(
                                "{}{}",
                                taken[q],
                                if self.current[q] != taken[q] { "*" } else { "" }
                            )
                        })
                        .collect();
                    eprintln!("bad {p}: {}", seg.join(" "));
                }
            }
            if self.is_valid(&taken) {
                if self.moves(&taken) == bound {
                    return taken;
                }
                best = Some(taken);
            }
        }
        let fresh = self.best_fresh();
        if std::env::var("CLAIM_FRESH").is_ok() && self.members.len() > self.window {
            eprintln!(
                "FRESH used: ring {} members {} window {} take_valid {}",
                self.ring(),
                self.members.len(),
                self.window,
                best.is_some()
            );
        }
        match best {
            Some(taken) if self.moves(&taken) <= self.moves(&fresh) => taken,
            _ => fresh,
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
        for &o in owners {
            counts[o] += 1;
        }
        counts
    }

    fn is_valid(&self, owners: &[Node]) -> bool {
        let counts = self.counts(owners);
        let balanced = (0..self.names.len()).all(|n| {
            if self.is_member[n] {
                (self.floor..=self.ceil).contains(&counts[n])
            } else {
                counts[n] == 0
            }
        });
        balanced && conflicted(owners, self.window).is_empty()
    }

    /// Fewest moves any balanced assignment needs.
    fn lower_bound(&self) -> usize {
        let counts = self.counts(&self.current);
        let mut orphaned = 0;
        let mut surplus = 0;
        let mut deficit = 0;
        for n in 0..self.names.len() {
            if !self.is_member[n] {
                orphaned += counts[n];
            } else {
                surplus += counts[n].saturating_sub(self.ceil);
                deficit += self.floor.saturating_sub(counts[n]);
            }
        }
        (orphaned + surplus).max(deficit)
    }

    // ---- take phase ----

    fn take(&self) -> Vec<Node> {
        let mut work = Work::new(self);
        self.match_holes(&mut work);
        if std::env::var("CLAIM_DEBUG").is_ok() {
            eprintln!(
                "after match: holes {} needs {:?}",
                work.owner.iter().filter(|o| o.is_none()).count(),
                {
                    let n = self.needs(&work);
                    (n.holes, n.surplus, n.deficit)
                }
            );
        }
        loop {
            let needs = self.needs(&work);
            if needs.is_done() {
                break;
            }
            let chain = if needs.holes > 0 {
                self.fill_hole(&work, &needs)
            } else {
                self.transfer(&work, &needs)
            };
            let Some(chain) = chain else { break };
            for (pos, node) in chain {
                match node {
                    Some(node) => work.assign(pos, node),
                    None => work.vacate(pos),
                }
            }
        }
        work.owner
            .iter()
            .enumerate()
            .map(|(p, o)| o.unwrap_or(self.current[p]))
            .collect()
    }

    /// Fills as many holes as possible directly, each with a member that is safe there, as a bipartite
    /// matching: first up to every member's floor, then up to its ceiling.
    fn match_holes(&self, work: &mut Work) {
        let holes: Vec<usize> = (0..self.ring())
            .filter(|&p| work.owner[p].is_none())
            .collect();
        let safe: Vec<Vec<usize>> = holes
            .iter()
            .map(|&h| {
                (0..self.members.len())
                    .filter(|&r| work.clashes(self.members[r], h, self.window) == 0)
                    .collect()
            })
            .collect();
        let mut taken: Vec<Vec<usize>> = vec![Vec::new(); self.members.len()];
        let mut matched = vec![false; holes.len()];
        for limit in [self.floor, self.ceil] {
            let caps: Vec<usize> = self
                .members
                .iter()
                .map(|&n| limit.saturating_sub(work.count[n]))
                .collect();
            for h in 0..holes.len() {
                if !matched[h] {
                    let mut visited = vec![false; self.members.len()];
                    matched[h] = augment(h, &safe, &caps, &mut taken, &mut visited);
                }
            }
        }
        for (r, hs) in taken.iter().enumerate() {
            for &h in hs {
                work.assign(holes[h], self.members[r]);
            }
        }
    }

    fn needs(&self, work: &Work) -> Needs {
        let mut needs = Needs {
            holes: work.owner.iter().filter(|o| o.is_none()).count(),
            surplus: 0,
            deficit: 0,
        };
        for &n in &self.members {
            needs.surplus += work.count[n].saturating_sub(self.ceil);
            needs.deficit += self.floor.saturating_sub(work.count[n]);
        }
        needs
    }

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

    fn fill_hole(&self, work: &Work, needs: &Needs) -> Option<Vec<(usize, Option<Node>)>> {
        let receivers: Vec<Node> = self
            .members
            .iter()
            .copied()
            .filter(|&n| self.may_receive(work, needs, n))
            .collect();
        let safe_receivers = |pos: usize| {
            receivers
                .iter()
                .filter(|&&n| work.clashes(n, pos, self.window) == 0)
                .count()
        };
        let hole = (0..self.ring())
            .filter(|&p| work.owner[p].is_none())
            .min_by_key(|&p| safe_receivers(p))?;
        if safe_receivers(hole) == 0 {
            if let Some(chain) = self.push_chain(work, hole, |n| self.may_receive(work, needs, n)) {
                return Some(chain);
            }
        }
        let key = |n: Node| {
            (
                std::cmp::Reverse(work.clashes(n, hole, self.window)),
                self.must_receive(work, n),
                self.ceil - work.count[n],
                work.nearest(n, hole),
                std::cmp::Reverse(n),
            )
        };
        let node = receivers.iter().copied().max_by_key(|&n| key(n))?;
        Some(vec![(hole, Some(node))])
    }

    /// Shortest ejection chain that fills `hole` safely: each link moves a node into the current hole out of
    /// the single position that clashed with it, which becomes the next hole; the last link's node may receive.
    fn push_chain(
        &self,
        work: &Work,
        hole: usize,
        accept: impl Fn(Node) -> bool,
    ) -> Option<Vec<(usize, Option<Node>)>> {
        let ring = self.ring();
        let mut frontier: Vec<Vec<(usize, Node, usize)>> = vec![Vec::new()];
        for _ in 0..=MAX_CHAIN {
            let mut next = Vec::new();
            for path in &frontier {
                let current = path.last().map_or(hole, |link| link.2);
                let owner_at = |p: usize| {
                    let mut owner = work.owner[p];
                    for &(filled, node, vacated) in path {
                        if filled == p {
                            owner = Some(node);
                        } else if vacated == p {
                            owner = None;
                        }
                    }
                    owner
                };
                let touched = |p: usize| p == hole || path.iter().any(|l| l.0 == p || l.2 == p);
                for &x in &self.members {
                    let clashes: Vec<usize> = (1..self.window)
                        .flat_map(|d| [(current + d) % ring, (current + ring - d) % ring])
                        .filter(|&p| owner_at(p) == Some(x))
                        .collect();
                    match clashes[..] {
                        [] if accept(x) => {
                            let mut chain = Vec::new();
                            for &(filled, node, vacated) in path {
                                chain.push((vacated, None));
                                chain.push((filled, Some(node)));
                            }
                            chain.push((current, Some(x)));
                            return Some(chain);
                        }
                        [p] if !touched(p) => {
                            let mut longer = path.clone();
                            longer.push((current, x, p));
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

    fn transfer(&self, work: &Work, needs: &Needs) -> Option<Vec<(usize, Option<Node>)>> {
        let both_must = needs.sources() == needs.deficit;
        let mut best = None;
        for &n in &self.members {
            if !self.may_receive(work, needs, n) {
                continue;
            }
            let dist = work.distances(n);
            for pos in 0..self.ring() {
                if work.owner[pos] == Some(n) || !self.may_give(work, needs, pos) {
                    continue;
                }
                let must = self.must_give(work, pos) && self.must_receive(work, n);
                if both_must && !must {
                    continue;
                }
                let donor = work.owner[pos].map_or(usize::MAX, |d| work.count[d]);
                let key = (
                    std::cmp::Reverse(work.clashes(n, pos, self.window)),
                    must,
                    donor,
                    dist[pos],
                    std::cmp::Reverse(pos),
                    std::cmp::Reverse(n),
                );
                if best.as_ref().is_none_or(|(k, _, _)| key > *k) {
                    best = Some((key, pos, n));
                }
            }
        }
        best.map(|(_, pos, n)| vec![(pos, Some(n))])
    }

    // ---- repair phase ----

    fn repair(&self, mut owners: Vec<Node>) -> Vec<Node> {
        'fix: loop {
            let bad = conflicted(&owners, self.window);
            for &p in &bad {
                if let Some(q) = self.best_swap(&owners, p) {
                    owners.swap(p, q);
                    continue 'fix;
                }
            }
            for &p in &bad {
                if let Some(chain) = self.eject(&owners, p) {
                    for (pos, node) in chain {
                        owners[pos] = node;
                    }
                    continue 'fix;
                }
            }
            return owners;
        }
    }

    /// Moves the owner of the clashing position `p` out along an ejection chain: the chain refills `p` and
    /// ends with some node landing where it clashes with nobody. If that node is not the evicted one and the
    /// counts would leave the balance, the evicted node then takes one partition from it elsewhere.
    fn eject(&self, owners: &[Node], p: usize) -> Option<Vec<(usize, Node)>> {
        let evicted = owners[p];
        let before = conflicted(owners, self.window).len();
        for &last in &self.members {
            let mut work = Work::from_owners(owners, self.names.len());
            work.vacate(p);
            let Some(chain) = self.push_chain(&work, p, |n| n == last) else {
                continue;
            };
            for (pos, node) in chain {
                match node {
                    Some(node) => work.assign(pos, node),
                    None => work.vacate(pos),
                }
            }
            if work.count[last] > self.ceil || work.count[evicted] < self.floor {
                let Some(q) = self.pull(&work, owners, evicted, last) else {
                    continue;
                };
                work.assign(q, evicted);
            }
            let after: Vec<Node> = work
                .owner
                .iter()
                .map(|o| o.expect("chain refills every hole"))
                .collect();
            if conflicted(&after, self.window).len() < before {
                return Some(
                    (0..self.ring())
                        .filter(|&q| after[q] != owners[q])
                        .map(|q| (q, after[q]))
                        .collect(),
                );
            }
        }
        None
    }

    /// A partition of `from` that `to` can take without clashing, preferring one `to` owned originally.
    fn pull(&self, work: &Work, owners: &[Node], to: Node, from: Node) -> Option<usize> {
        (0..self.ring())
            .filter(|&q| work.owner[q] == Some(from) && owners[q] == from)
            .filter(|&q| work.clashes(to, q, self.window) == 0)
            .min_by_key(|&q| (self.current[q] != to, q))
    }

    /// The swap with `p` that removes the most clashing pairs (then moves the fewest partitions), if any helps.
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
        let (x, y) = (owners[p], owners[q]);
        let w = self.window;
        let before = clashes_ignoring(owners, x, p, w, p) + clashes_ignoring(owners, y, q, w, q);
        let after = clashes_ignoring(owners, y, p, w, q) + clashes_ignoring(owners, x, q, w, p);
        after as isize - before as isize
    }

    /// Change in the number of moved partitions if the owners of `p` and `q` swap.
    fn swap_cost(&self, owners: &[Node], p: usize, q: usize) -> isize {
        let cost = |pos: usize, node: Node| isize::from(self.current[pos] != node);
        cost(p, owners[q]) + cost(q, owners[p]) - cost(p, owners[p]) - cost(q, owners[q])
    }

    /// Undoes needless moves: swaps two moved positions when that gives at least one back to its original
    /// owner without breaking the spread.
    fn tighten(&self, mut owners: Vec<Node>) -> Vec<Node> {
        loop {
            let mut improved = false;
            for p in 0..self.ring() {
                let x = owners[p];
                let y = self.current[p];
                if x == y || !self.is_member[y] {
                    continue;
                }
                let found = (0..self.ring()).find(|&q| {
                    owners[q] == y
                        && self.current[q] != y
                        && clashes_ignoring(&owners, y, p, self.window, q) == 0
                        && clashes_ignoring(&owners, x, q, self.window, p) == 0
                });
                if let Some(q) = found {
                    owners.swap(p, q);
                    improved = true;
                }
            }
            if !improved {
                return owners;
            }
        }
    }

    // ---- fresh layout ----

    fn best_fresh(&self) -> Vec<Node> {
        let ring = self.ring();
        let m = self.members.len();
        let roles = block_layout(ring, m);
        let reflected: Vec<usize> = (0..ring).map(|p| roles[(ring - p) % ring]).collect();
        let orientations = [roles.repeat(2), reflected.repeat(2)];
        let placed = |o: usize, rot: usize| &orientations[o][rot..rot + ring];
        let mut slot = vec![usize::MAX; self.names.len()];
        for (i, &n) in self.members.iter().enumerate() {
            slot[n] = i;
        }
        let slots: Vec<usize> = self.current.iter().map(|&n| slot[n]).collect();
        let mut kept = vec![0i64; m * m];
        let mut candidates = Vec::with_capacity(2 * ring);
        for o in 0..2 {
            for rot in 0..ring {
                count_kept(&slots, placed(o, rot), m, &mut kept);
                candidates.push((optimistic(&kept, m), o, rot));
            }
        }
        candidates.sort_by_key(|&(bound, o, rot)| (std::cmp::Reverse(bound), o, rot));
        let mut best: Option<(i64, Vec<Node>)> = None;
        for (bound, o, rot) in candidates {
            if best.as_ref().is_some_and(|(total, _)| *total >= bound) {
                break;
            }
            count_kept(&slots, placed(o, rot), m, &mut kept);
            let role_of = max_weight_assignment(&kept, m);
            let total = (0..m).map(|i| kept[i * m + role_of[i]]).sum();
            if best.as_ref().is_none_or(|(b, _)| total > *b) {
                let mut owner_of_role = vec![0; m];
                for (i, &role) in role_of.iter().enumerate() {
                    owner_of_role[role] = self.members[i];
                }
                let layout = placed(o, rot)
                    .iter()
                    .map(|&role| owner_of_role[role])
                    .collect();
                best = Some((total, layout));
            }
        }
        best.expect("ring is non-empty").1
    }
}

/// `kept[i * m + role]` = partitions member `i` owns now that `role` owns in `placed`.
fn count_kept(slots: &[usize], placed: &[usize], m: usize, kept: &mut [i64]) {
    kept.fill(0);
    for (&slot, &role) in slots.iter().zip(placed) {
        if slot != usize::MAX {
            kept[slot * m + role] += 1;
        }
    }
}

/// An upper bound on the best assignment: every role (or every member) keeps as much as it could with its
/// best partner.
fn optimistic(kept: &[i64], m: usize) -> i64 {
    let by_role = (0..m)
        .map(|role| (0..m).map(|i| kept[i * m + role]).max().unwrap_or(0))
        .sum();
    let by_member = (0..m)
        .map(|i| kept[i * m..(i + 1) * m].iter().copied().max().unwrap_or(0))
        .sum();
    i64::min(by_role, by_member)
}

/// The sequence of roles of a fresh, fully spread layout.
pub fn block_layout(ring: usize, nodes: usize) -> Vec<usize> {
    let blocks = ring.div_ceil(nodes);
    let base = ring / blocks;
    let long = ring % blocks;
    let start = |b: usize| b * base + b.min(long);
    let most = blocks;
    let full_roles = ring - nodes * (most - 1);
    let mut layout = vec![0; ring];
    let mut role = 0;
    let mut used = 0;
    for k in 0..ring {
        let (row, block) = if k < blocks * base {
            (k / blocks, k % blocks)
        } else {
            (base, k - blocks * base)
        };
        let quota = if role < full_roles { most } else { most - 1 };
        if used == quota {
            role += 1;
            used = 0;
        }
        layout[start(block) + row] = role;
        used += 1;
    }
    layout
}

const MAX_CHAIN: usize = 5;

struct Needs {
    holes: usize,
    surplus: usize,
    deficit: usize,
}

impl Needs {
    fn sources(&self) -> usize {
        self.holes + self.surplus
    }

    fn is_done(&self) -> bool {
        self.sources() == 0 && self.deficit == 0
    }
}

struct Work {
    owner: Vec<Option<Node>>,
    count: Vec<usize>,
}

impl Work {
    fn new(plan: &Plan) -> Self {
        let owner: Vec<Option<Node>> = plan
            .current
            .iter()
            .map(|&n| plan.is_member[n].then_some(n))
            .collect();
        let mut count = vec![0; plan.names.len()];
        for n in owner.iter().flatten() {
            count[*n] += 1;
        }
        Work { owner, count }
    }

    fn assign(&mut self, pos: usize, node: Node) {
        if let Some(old) = self.owner[pos] {
            self.count[old] -= 1;
        }
        self.owner[pos] = Some(node);
        self.count[node] += 1;
    }

    fn from_owners(owners: &[Node], nodes: usize) -> Self {
        let mut count = vec![0; nodes];
        for &n in owners {
            count[n] += 1;
        }
        Work {
            owner: owners.iter().map(|&n| Some(n)).collect(),
            count,
        }
    }

    fn vacate(&mut self, pos: usize) {
        if let Some(old) = self.owner[pos].take() {
            self.count[old] -= 1;
        }
    }

    fn clashes(&self, node: Node, pos: usize, window: usize) -> usize {
        let ring = self.owner.len();
        (1..window)
            .filter(|&d| self.owner[(pos + d) % ring] == Some(node))
            .count()
            + (1..window)
                .filter(|&d| self.owner[(pos + ring - d) % ring] == Some(node))
                .count()
    }

    fn nearest(&self, node: Node, pos: usize) -> usize {
        let ring = self.owner.len();
        (1..ring)
            .find(|&d| {
                self.owner[(pos + d) % ring] == Some(node)
                    || self.owner[(pos + ring - d) % ring] == Some(node)
            })
            .unwrap_or(ring)
    }

    /// Cyclic distance from every position to the nearest other position owned by `node`.
    fn distances(&self, node: Node) -> Vec<usize> {
        let ring = self.owner.len();
        let mut dist = vec![ring; ring];
        let mut last: Option<usize> = None;
        for i in 0..2 * ring {
            let p = i % ring;
            if let Some(l) = last {
                dist[p] = dist[p].min(i - l);
            }
            if self.owner[p] == Some(node) {
                last = Some(i);
            }
        }
        last = None;
        for i in (0..2 * ring).rev() {
            let p = i % ring;
            if let Some(l) = last {
                dist[p] = dist[p].min(l - i);
            }
            if self.owner[p] == Some(node) {
                last = Some(i);
            }
        }
        dist
    }
}

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

/// Positions whose owner also owns a position less than `window` away.
fn conflicted(owners: &[Node], window: usize) -> Vec<usize> {
    let ring = owners.len();
    (0..ring)
        .filter(|&p| clashes_ignoring(owners, owners[p], p, window, p) > 0)
        .collect()
}

/// One augmenting-path step of bipartite matching with capacities (Kuhn's algorithm): tries to give hole `h`
/// to a receiver, re-routing holes already taken when that frees room.
fn augment(
    h: usize,
    safe: &[Vec<usize>],
    caps: &[usize],
    taken: &mut [Vec<usize>],
    visited: &mut [bool],
) -> bool {
    for &r in &safe[h] {
        if visited[r] {
            continue;
        }
        visited[r] = true;
        if taken[r].len() < caps[r] {
            taken[r].push(h);
            return true;
        }
        for i in 0..taken[r].len() {
            let other = taken[r][i];
            if augment(other, safe, caps, taken, visited) {
                taken[r][i] = h;
                return true;
            }
        }
    }
    false
}

/// Hungarian algorithm: row -> column maximizing the total weight.
fn max_weight_assignment(weight: &[i64], n: usize) -> Vec<usize> {
    let inf = i64::MAX / 4;
    let mut u = vec![0i64; n + 1];
    let mut v = vec![0i64; n + 1];
    let mut row_of = vec![0usize; n + 1];
    let mut way = vec![0usize; n + 1];
    for i in 1..=n {
        row_of[0] = i;
        let mut j0 = 0;
        let mut minv = vec![inf; n + 1];
        let mut used = vec![false; n + 1];
        loop {
            used[j0] = true;
            let i0 = row_of[j0];
            let mut delta = inf;
            let mut j1 = 0;
            for j in 1..=n {
                if !used[j] {
                    let cur = -weight[(i0 - 1) * n + j - 1] - u[i0] - v[j];
                    if cur < minv[j] {
                        minv[j] = cur;
                        way[j] = j0;
                    }
                    if minv[j] < delta {
                        delta = minv[j];
                        j1 = j;
                    }
                }
            }
            for j in 0..=n {
                if used[j] {
                    u[row_of[j]] += delta;
                    v[j] -= delta;
                } else {
                    minv[j] -= delta;
                }
            }
            j0 = j1;
            if row_of[j0] == 0 {
                break;
            }
        }
        loop {
            let j1 = way[j0];
            row_of[j0] = row_of[j1];
            j0 = j1;
            if j0 == 0 {
                break;
            }
        }
    }
    let mut assign = vec![0; n];
    for j in 1..=n {
        assign[row_of[j] - 1] = j - 1;
    }
    assign
}
