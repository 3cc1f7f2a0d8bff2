//! Step 4 of claim, the fresh layout: a balanced, spread ring of anonymous roles, turned and mirrored and
//! its roles given to members so that the most partitions stay where they are.

use std::cmp::Reverse;

use super::assignment::max_weight_assignment;
use super::problem::{ClaimProblem, NodeIndex};
use super::spread::{spread_layout, spread_possible};

/// How many roles of a fresh layout join one at a time rather than being laid out regularly: enough to
/// make its gaps uneven, few enough to stay cheap.
const GROWN_ROLES: usize = 4;

impl ClaimProblem<'_> {
    /// The rotation and mirror image of [`spread_layout`], and the assignment of members to its roles, that
    /// keep the most partitions with their current owner. Every candidate gets a cheap upper bound first;
    /// the exact assignment is solved in order of decreasing bound until no bound can beat the best.
    pub(super) fn best_fresh(&self) -> Vec<NodeIndex> {
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
        let mut best: Option<(i64, Vec<NodeIndex>)> = None;
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
    // Zero-padded names sort like the roles, so a problem's node indices are the roles themselves.
    let name = |role: usize| format!("{role:06}");
    let regular = m.saturating_sub(GROWN_ROLES).max(target_n).clamp(1, m);
    let mut roles = spread_layout(ring, regular);
    for size in regular + 1..=m {
        let current: Vec<String> = roles.iter().map(|&r| name(r)).collect();
        let members: Vec<String> = (0..size).map(name).collect();
        let problem = ClaimProblem::new(&current, &members, target_n);
        roles = problem
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
