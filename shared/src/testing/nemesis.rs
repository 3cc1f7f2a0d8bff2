//! The nemesis: what breaks a test cluster on purpose, and the dice that decide how.
//!
//! Two kinds of fault, both real enough for the code under test:
//! - a crash: [`TestCluster::kill`] stops a node (its port closes, its connections break) and
//!   [`TestCluster::restart`] starts it again on the same port and data directory;
//! - a silent network: [`TestCluster::stall`], [`TestCluster::partition`] cut links in the
//!   cluster's shared [`Faults`] switch. A node behind a cut link is alive but nobody hears
//!   it: requests wait until their deadline, exactly as with packets lost on the wire.
//!
//! Schedules are drawn from a seeded [`Rng`] so that a failing run can be replayed: every
//! scenario prints its seed, and [`seed_from_env`] takes it back from `RINGCORE_SEED`.

use super::TestCluster;
use crate::app::App;
use crate::net::transport::Faults;
use std::time::Duration;

impl<A: App> TestCluster<A> {
    /// The network switch every node of this cluster shares.
    pub fn faults(&self) -> &Faults {
        &self.faults
    }

    /// Crashes devK: stops it, so that its port closes and its connections break.
    pub async fn kill(&mut self, k: u32) {
        self.stop_node(k).await;
    }

    /// Starts devK again after [`Self::kill`], on its port and with its data, and waits until
    /// every other running node takes it for up again.
    pub async fn restart(&mut self, k: u32) {
        self.start_node(k).await;
        let name = self.name(k);
        self.wait_until(&format!("every node sees {name} up"), || async {
            self.running_nodes().all(|n| n.is_up(&name))
        })
        .await;
    }

    /// Makes devK silent: it keeps running, but every link to and from it is cut.
    pub fn stall(&self, k: u32) {
        let me = self.name(k);
        for other in self.others(k) {
            self.faults.block(&me, &other);
            self.faults.block(&other, &me);
        }
    }

    /// Gives devK its links back after [`Self::stall`].
    pub fn unstall(&self, k: u32) {
        let me = self.name(k);
        for other in self.others(k) {
            self.faults.unblock(&me, &other);
            self.faults.unblock(&other, &me);
        }
    }

    /// Splits the cluster into groups that do not hear each other, e.g. `&[&[1], &[2, 3]]`:
    /// every link between nodes of different groups is cut, both ways. A node named in no
    /// group keeps all its links.
    pub fn partition(&self, groups: &[&[u32]]) {
        for (i, group) in groups.iter().enumerate() {
            for other_group in &groups[i + 1..] {
                for &a in *group {
                    for &b in *other_group {
                        let (a, b) = (self.name(a), self.name(b));
                        self.faults.block(&a, &b);
                        self.faults.block(&b, &a);
                    }
                }
            }
        }
    }

    /// Restores every link (ends stalls and partitions alike).
    pub fn heal(&self) {
        self.faults.heal();
    }

    /// Keeps the current faults for `time`: the one place where a fault test sleeps without
    /// waiting for a condition, because the duration of the fault is the point.
    pub async fn hold(&self, time: Duration) {
        tokio::time::sleep(time).await;
    }

    /// The names of every member but devK, running or not.
    fn others(&self, k: u32) -> Vec<crate::ring::NodeName> {
        (1..=self.members.len() as u32)
            .filter(|&j| j != k)
            .map(|j| self.name(j))
            .collect()
    }
}

/// The seed of a scenario: `RINGCORE_SEED` if set (to replay a run), else a fresh one taken
/// from the clock, so that each run tries a different schedule. Print it!
pub fn seed_from_env() -> u64 {
    match std::env::var("RINGCORE_SEED") {
        Ok(text) => text
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("RINGCORE_SEED must be a number, not {text:?}")),
        Err(_) => {
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap_or_default();
            // Mixed so that seeds drawn a moment apart look nothing alike.
            Rng::new(now.as_nanos() as u64).next_u64() % 1_000_000
        }
    }
}

/// A small seeded random number generator (splitmix64): the same seed gives the same
/// numbers on every machine, which is all a fault schedule needs. Not for cryptography.
#[derive(Clone, Debug)]
pub struct Rng {
    state: u64,
}

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng { state: seed }
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (n > 0). The modulo bias is negligible for the small n of tests.
    pub fn below(&mut self, n: u64) -> u64 {
        assert!(n > 0, "Rng::below(0)");
        self.next_u64() % n
    }

    /// A number in `low..=high`.
    pub fn between(&mut self, low: u64, high: u64) -> u64 {
        low + self.below(high - low + 1)
    }

    /// A duration in `low..=high`, to the millisecond.
    pub fn duration(&mut self, low: Duration, high: Duration) -> Duration {
        let ms = self.between(low.as_millis() as u64, high.as_millis() as u64);
        Duration::from_millis(ms)
    }

    /// One of `items` (not empty).
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }

    /// A generator of its own for a part of the test (a writer, say), so that how much one
    /// part draws does not change what another gets.
    pub fn fork(&mut self, label: u64) -> Rng {
        Rng::new(self.next_u64() ^ label.wrapping_mul(0x9e37_79b9_7f4a_7c15))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_draws_the_same_numbers() {
        let (mut a, mut b) = (Rng::new(42), Rng::new(42));
        let first: Vec<u64> = (0..5).map(|_| a.next_u64()).collect();
        let second: Vec<u64> = (0..5).map(|_| b.next_u64()).collect();
        assert_eq!(first, second);
        let mut c = Rng::new(43);
        let other: Vec<u64> = (0..5).map(|_| c.next_u64()).collect();
        assert_ne!(first, other);
    }

    #[test]
    fn splitmix64_matches_its_reference_output() {
        // The first output of splitmix64 seeded with 0, as in Vigna's reference code.
        assert_eq!(Rng::new(0).next_u64(), 0xe220_a839_7b1d_cdaf);
    }

    #[test]
    fn numbers_stay_in_range_and_cover_it() {
        let mut rng = Rng::new(7);
        let mut seen = [false; 4];
        for _ in 0..200 {
            let n = rng.between(2, 5);
            assert!((2..=5).contains(&n));
            seen[(n - 2) as usize] = true;
        }
        assert!(seen.iter().all(|s| *s), "{seen:?}");
    }
}
