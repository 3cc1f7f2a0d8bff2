//! The assignment problem, solved exactly: which role each member of a fresh layout takes so that the
//! most partitions stay with their owner.

/// The assignment of rows to columns of the `n × n` matrix `weight` (row-major) with the largest total
/// weight: the Hungarian algorithm with potentials, O(n³). Returns the column of every row.
pub(super) fn max_weight_assignment(weight: &[i64], n: usize) -> Vec<usize> {
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
