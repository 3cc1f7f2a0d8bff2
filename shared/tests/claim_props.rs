//! Property tests for claim, run over the whole domain the runtime supports: every ring size from 8 to 1024
//! and every member count from 1 to 20, with the default target_n. Every claim is checked for balance,
//! spread, determinism, stability and the worst-case movement bound; growing and shrinking paths are
//! checked for the movement bounds that the module docs state.

use std::sync::OnceLock;

use ringcore::ring::claim::{
    DEFAULT_TARGET_N as T, claim, effective_target, max_spread, moved, ownership_counts,
    spread_layout, spread_possible, spread_violations,
};

const RING_SIZES: [usize; 8] = [8, 16, 32, 64, 128, 256, 512, 1024];
const MAX_MEMBERS: usize = 20;

/// Extra transfers, beyond the partitions the leaver hands over, that a single leave may cost when the ring
/// has room (at least T + 3 members remain), or beyond twice that in a tight ring (T + 1 or T + 2). A join
/// into more than T members costs none: it moves at most the joiner's share.
const MARGIN: usize = 2;

fn node(i: usize) -> String {
    format!("dev{i}@127.0.0.1")
}

fn nodes(count: usize) -> Vec<String> {
    (1..=count).map(node).collect()
}

fn count_of(owners: &[String], name: &str) -> usize {
    owners.iter().filter(|o| *o == name).count()
}

/// Every member owns floor(R/m) or ceil(R/m) partitions and nobody else owns any.
fn assert_balanced(owners: &[String], members: &[String], context: &str) {
    let (ring, m) = (owners.len(), members.len());
    for (owner, count) in ownership_counts(owners) {
        assert!(
            members.contains(&owner),
            "{context}: {owner} is not a member"
        );
        assert!(
            count >= ring / m && count <= ring.div_ceil(m),
            "{context}: {owner} owns {count}"
        );
    }
    for member in members {
        assert!(
            count_of(owners, member) >= ring / m,
            "{context}: {member} owns too little"
        );
    }
}

/// Fully spread at target_n when that is possible. Otherwise fully spread at the widest window that can
/// be, and the next wider window repeats a node no more often than in the fresh layout. With fewer members
/// than T every window of T repeats a node, and at most m - 1 windows of m do (3 nodes: exactly 2).
fn assert_spread(owners: &[String], m: usize, context: &str) {
    let ring = owners.len();
    if spread_possible(ring, m, T) {
        assert_eq!(spread_violations(owners, T), 0, "{context}");
        return;
    }
    let window = effective_target(ring, m, T);
    assert_eq!(window, max_spread(ring, m), "{context}");
    assert_eq!(
        spread_violations(owners, window),
        0,
        "{context}: window {window}"
    );
    let fresh = names(&spread_layout(ring, m));
    let wider = spread_violations(owners, window + 1);
    assert!(
        wider <= spread_violations(&fresh, window + 1),
        "{context}: {wider} windows of {}",
        window + 1
    );
    if m < T {
        assert_eq!(spread_violations(owners, T), ring, "{context}");
        assert!(spread_violations(owners, m) < m, "{context}");
        if m == 3 {
            assert_eq!(spread_violations(owners, 3), 2, "{context}");
        }
    }
}

/// Roles of a layout as node names.
fn names(roles: &[usize]) -> Vec<String> {
    roles.iter().map(|r| format!("n{r:03}")).collect()
}

/// What claim guarantees in the worst case: the best relabelled fresh layout keeps at least the average
/// over all relabellings, i.e. ceil((R - orphaned) / m) partitions where they are.
fn universal_bound(before: &[String], members: &[String]) -> usize {
    let orphaned = before.iter().filter(|o| !members.contains(o)).count();
    before.len() - (before.len() - orphaned).div_ceil(members.len())
}

/// When spread forces the layout to be periodic (window == m and m divides R), the fewest moves any valid
/// result can have: the best assignment of members to residues, by brute force.
fn periodic_optimum(before: &[String], members: &[String]) -> usize {
    let m = members.len();
    let mut best_kept = 0;
    permutations(m, &mut Vec::new(), &mut |perm| {
        let kept = (0..before.len())
            .filter(|&p| before[p] == members[perm[p % m]])
            .count();
        best_kept = best_kept.max(kept);
    });
    before.len() - best_kept
}

fn permutations(n: usize, prefix: &mut Vec<usize>, visit: &mut dyn FnMut(&[usize])) {
    if prefix.len() == n {
        return visit(prefix);
    }
    for i in 0..n {
        if !prefix.contains(&i) {
            prefix.push(i);
            permutations(n, prefix, visit);
            prefix.pop();
        }
    }
}

fn forced_periodic(ring: usize, m: usize) -> bool {
    effective_target(ring, m, T) == m && ring.is_multiple_of(m)
}

/// Claims, then checks the properties every claim must have: balance, spread, determinism, stability and
/// the universal movement bound. Returns the result and how many partitions moved.
fn checked_claim(before: &[String], members: &[String], context: &str) -> (Vec<String>, usize) {
    let after = claim(before, members, T);
    assert_balanced(&after, members, context);
    assert_spread(&after, members.len(), context);
    assert_eq!(
        claim(before, members, T),
        after,
        "{context}: not deterministic"
    );
    assert_eq!(
        moved(&after, &claim(&after, members, T)),
        0,
        "{context}: not stable"
    );
    let moves = moved(before, &after);
    assert!(
        moves <= universal_bound(before, members),
        "{context}: {moves} moves"
    );
    (after, moves)
}

#[test]
fn single_node_to_every_member_count() {
    for ring in RING_SIZES {
        let single = vec![node(1); ring];
        for m in 1..=MAX_MEMBERS {
            let context = format!("ring {ring}, 1 -> {m}");
            let (_, moves) = checked_claim(&single, &nodes(m), &context);
            assert_eq!(moves, ring - ring.div_ceil(m), "{context}");
        }
    }
}

#[test]
fn one_to_four_nodes_at_ring_64_plans_48_transfers() {
    let before = vec![node(1); 64];
    let after = claim(&before, &nodes(4), T);
    assert_eq!(moved(&before, &after), 48);
    assert!(
        (0..64)
            .filter(|&p| after[p] != before[p])
            .all(|p| before[p] == node(1))
    );
    for newcomer in [node(2), node(3), node(4)] {
        assert_eq!(count_of(&after, &newcomer), 16);
    }
    assert_eq!(count_of(&after, &node(1)), 16);
    assert_eq!(spread_violations(&after, T), 0);
}

/// The ring after growing from one node to MAX_MEMBERS one join at a time, checking every step. Computed
/// once per ring size and shared by the tests that start from it.
fn grown(ring: usize) -> Vec<String> {
    static GROWN: OnceLock<Vec<Vec<String>>> = OnceLock::new();
    let all = GROWN.get_or_init(|| RING_SIZES.into_iter().map(grow).collect());
    all[RING_SIZES
        .iter()
        .position(|&r| r == ring)
        .expect("a tested ring size")]
    .clone()
}

fn grow(ring: usize) -> Vec<String> {
    let mut owners = vec![node(1); ring];
    for m in 2..=MAX_MEMBERS {
        let members = nodes(m);
        let context = format!("ring {ring}, join {} -> {m}", m - 1);
        let (after, moves) = checked_claim(&owners, &members, &context);
        if m > T {
            // Exactly what the joiner receives, or less: no margin needed.
            assert!(moves <= ring.div_ceil(m), "{context}: {moves} moves");
        } else if forced_periodic(ring, m) {
            assert_eq!(moves, periodic_optimum(&owners, &members), "{context}");
        }
        owners = after;
    }
    owners
}

#[test]
fn growing_one_node_at_a_time() {
    for ring in RING_SIZES {
        grown(ring);
    }
}

fn shrink(ring: usize, pick_leaver: impl Fn(&[String], &[String]) -> String) {
    let mut owners = grown(ring);
    let mut joined = nodes(MAX_MEMBERS);
    while joined.len() > 1 {
        let mut members = joined.clone();
        members.sort();
        let leaver = pick_leaver(&joined, &members);
        joined.retain(|n| *n != leaver);
        members.retain(|n| *n != leaver);
        let m = members.len();
        let context = format!("ring {ring}, {leaver} leaves, {} -> {m}", m + 1);
        let (after, moves) = checked_claim(&owners, &members, &context);
        let handed_over = count_of(&owners, &leaver);
        if m >= T + 3 {
            assert!(moves <= handed_over + MARGIN, "{context}: {moves} moves");
        } else if m > T {
            // A tight ring: most orphaned partitions fit nowhere directly and need a neighbour shifted.
            assert!(
                moves <= 2 * handed_over + MARGIN,
                "{context}: {moves} moves"
            );
        } else if forced_periodic(ring, m) {
            assert_eq!(moves, periodic_optimum(&owners, &members), "{context}");
        }
        owners = after;
    }
}

#[test]
fn shrinking_last_joined_first() {
    for ring in RING_SIZES {
        shrink(ring, |joined, _| joined.last().unwrap().clone());
    }
}

#[test]
fn shrinking_middle_name_first() {
    for ring in RING_SIZES {
        shrink(ring, |_, by_name| by_name[by_name.len() / 2].clone());
    }
}

#[test]
fn shrinking_first_name_first() {
    for ring in RING_SIZES {
        shrink(ring, |_, by_name| by_name[0].clone());
    }
}

/// Exhaustive search for a cyclic, balanced sequence over `m` nodes whose every window of `t` is distinct.
fn spread_exists(ring: usize, m: usize, t: usize) -> bool {
    fn extend(seq: &mut Vec<usize>, counts: &mut [usize], ring: usize, t: usize) -> bool {
        let m = counts.len();
        let (low, high) = (ring / m, ring.div_ceil(m));
        let p = seq.len();
        if p == ring {
            return (0..ring).all(|s| {
                (0..t).all(|i| (i + 1..t).all(|j| seq[(s + i) % ring] != seq[(s + j) % ring]))
            });
        }
        let missing: usize = counts.iter().map(|&c| low.saturating_sub(c)).sum();
        if missing > ring - p {
            return false;
        }
        // Nodes are interchangeable: the next new node is always the lowest unused one.
        let fresh = seq.iter().max().map_or(0, |&n| n + 1);
        for n in 0..m.min(fresh + 1) {
            let recent = &seq[p.saturating_sub(t - 1)..];
            if counts[n] == high || recent.contains(&n) {
                continue;
            }
            seq.push(n);
            counts[n] += 1;
            if extend(seq, counts, ring, t) {
                return true;
            }
            counts[n] -= 1;
            seq.pop();
        }
        false
    }
    extend(&mut Vec::new(), &mut vec![0; m], ring, t)
}

#[test]
fn spread_possible_matches_exhaustive_search() {
    for ring in [8, 16] {
        for m in 1..=8 {
            assert_eq!(
                spread_possible(ring, m, T),
                spread_exists(ring, m, T),
                "ring {ring}, {m} nodes"
            );
        }
    }
    for ring in 8..=16 {
        for t in 1..=5 {
            for m in 1..=8 {
                assert_eq!(
                    spread_possible(ring, m, t),
                    spread_exists(ring, m, t),
                    "{ring} {m} {t}"
                );
            }
        }
    }
}

#[test]
fn spread_possible_known_cases() {
    assert!(
        !spread_possible(64, 3, 4),
        "3 nodes cannot avoid a repeat at the wrap of 64"
    );
    assert!(spread_possible(64, 4, 4));
    assert!(spread_possible(64, 5, 4));
    assert!(!spread_possible(64, 3, 3), "64 is not a multiple of 3");
    assert!(spread_possible(63, 3, 3));
    assert!(
        spread_possible(16, 5, 4),
        "counts 4,3,3,3,3 fit with gaps of at least 4"
    );
    assert!(
        !spread_possible(18, 4, 4),
        "two nodes own 5 partitions, which needs 5 * 4 = 20 > 18"
    );
}

#[test]
fn spread_layout_is_spread_and_balanced() {
    for ring in 1..=100 {
        for m in 1..=ring + 1 {
            let layout = names(&spread_layout(ring, m));
            let roles = names(&(0..m).collect::<Vec<_>>());
            assert_balanced(&layout, &roles, &format!("{ring} {m}"));
            assert_eq!(
                spread_violations(&layout, max_spread(ring, m)),
                0,
                "{ring} {m}"
            );
        }
    }
}

#[test]
fn other_target_values_keep_balance_and_spread() {
    for t in [1, 2, 3, 5, 6] {
        for ring in RING_SIZES.into_iter().filter(|&ring| ring <= 256) {
            let single = vec![node(1); ring];
            for m in 1..=MAX_MEMBERS {
                let after = claim(&single, &nodes(m), t);
                let context = format!("t {t}, ring {ring}, 1 -> {m}");
                assert_balanced(&after, &nodes(m), &context);
                assert_eq!(
                    spread_violations(&after, effective_target(ring, m, t)),
                    0,
                    "{context}"
                );
            }
        }
    }
}

#[test]
fn member_order_does_not_matter() {
    let before = claim(&vec![node(1); 256], &nodes(7), T);
    let mut members = nodes(9);
    let forward = claim(&before, &members, T);
    members.reverse();
    assert_eq!(claim(&before, &members, T), forward);
    members.push(node(3));
    assert_eq!(
        claim(&before, &members, T),
        forward,
        "duplicates are ignored"
    );
}

#[test]
fn replacing_a_node_hands_its_partitions_to_the_newcomer() {
    for ring in RING_SIZES {
        let before = claim(&vec![node(1); ring], &nodes(8), T);
        let mut members = nodes(8);
        members[3] = node(99);
        let (_, moves) = checked_claim(&before, &members, &format!("ring {ring}"));
        assert!(
            moves <= count_of(&before, &node(4)) + MARGIN,
            "ring {ring}: {moves}"
        );
    }
}

/// Arbitrary rings (unbalanced, unspread, several joiners and leavers at once, any target_n): every
/// property that holds for all inputs, on a fixed pseudo-random sample.
#[test]
fn arbitrary_rings_keep_the_universal_guarantees() {
    let mut seed = 4242u64;
    let mut below = |n: usize| {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (seed >> 33) as usize % n
    };
    for case in 0..400 {
        let ring = 1 + below(64);
        let pool = 1 + below(10);
        let t = below(7);
        let before: Vec<String> = (0..ring).map(|_| node(below(pool))).collect();
        let mut members: Vec<String> = (0..1 + below(10)).map(|_| node(below(pool + 4))).collect();
        members.sort();
        members.dedup();
        let m = members.len();
        let context = format!("case {case}: ring {ring}, {m} members, t {t}");
        let after = claim(&before, &members, t);
        assert_balanced(&after, &members, &context);
        let window = effective_target(ring, m, t);
        assert_eq!(spread_violations(&after, window), 0, "{context}");
        assert_eq!(claim(&before, &members, t), after, "{context}");
        assert_eq!(claim(&after, &members, t), after, "{context}");
        assert!(
            moved(&before, &after) <= universal_bound(&before, &members),
            "{context}"
        );
    }
}
