//! Failed transfers: how long each one rests before it is tried again, and which failures are
//! worth a warning (the policy is described in [`super`]).

use std::collections::hash_map::Entry;
use std::collections::{BTreeSet, HashMap};
use std::time::{Duration, Instant};

/// A transfer that keeps failing rests at most this many ticks between two tries.
const MAX_REST_TICKS: u32 = 32;
/// The same failure is reported again after this long, then after twice as long each time…
const FIRST_REMINDER: Duration = Duration::from_secs(60);
/// …up to once an hour.
const LAST_REMINDER: Duration = Duration::from_secs(3600);

/// A vnode, as the handoff manager knows it: its type and partition index.
type VnodeKey = (String, u32);

/// The failures of a node's transfers.
#[derive(Default)]
pub(super) struct Failures {
    /// The vnodes whose last try did not complete.
    streaks: HashMap<VnodeKey, Streak>,
    /// The failures reported, by vnode type and reason.
    reported: HashMap<(String, String), Report>,
}

struct Streak {
    /// Failures in a row; 0 when the vnode only waits for a busy receiver.
    failures: u32,
    /// Not tried again before then.
    retry_at: Instant,
    /// Why it failed last.
    reason: Option<String>,
}

struct Report {
    /// When it was last reported (a warning).
    at: Instant,
    /// How long after `at` it is reported again.
    interval: Duration,
    /// The failures for this reason since `at`, and their partitions.
    since: u64,
    partitions: BTreeSet<u32>,
}

/// What to say about one failure.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Say {
    /// The first failure for its reason: a warning.
    Warn,
    /// The same failure again, once the reminder interval has passed: a warning that counts
    /// the failures (this one included) and their partitions since the last report.
    Remind {
        failures: u64,
        partitions: usize,
        over: Duration,
    },
    /// The same failure again, before the next reminder is due: a debug line.
    Quiet,
}

impl Failures {
    /// Whether the vnode must not be tried yet.
    pub(super) fn resting(&self, vnode_type: &str, partition: u32, now: Instant) -> bool {
        self.streaks
            .get(&(vnode_type.to_string(), partition))
            .is_some_and(|streak| now < streak.retry_at)
    }

    /// Notes a failure; returns how long the vnode rests before it is tried again, and what
    /// to say. The rest doubles with each failure in a row: 1, 2, 4 … up to 32 ticks.
    pub(super) fn failed(
        &mut self,
        vnode_type: &str,
        partition: u32,
        reason: &str,
        tick: Duration,
        now: Instant,
    ) -> (Duration, Say) {
        let streak = self
            .streaks
            .entry((vnode_type.to_string(), partition))
            .or_insert(Streak {
                failures: 0,
                retry_at: now,
                reason: None,
            });
        streak.failures = streak.failures.saturating_add(1);
        let rest = tick * (1 << (streak.failures - 1).min(MAX_REST_TICKS.ilog2()));
        streak.retry_at = now + rest;
        let previous = streak.reason.replace(reason.to_string());
        if let Some(previous) = previous.filter(|p| p != reason) {
            self.forget_unless_failing(vnode_type, &previous);
        }
        let say = match self
            .reported
            .entry((vnode_type.to_string(), reason.to_string()))
        {
            Entry::Vacant(entry) => {
                entry.insert(Report {
                    at: now,
                    interval: FIRST_REMINDER,
                    since: 0,
                    partitions: BTreeSet::new(),
                });
                Say::Warn
            }
            Entry::Occupied(entry) => {
                let report = entry.into_mut();
                report.since += 1;
                report.partitions.insert(partition);
                let over = now.saturating_duration_since(report.at);
                if over < report.interval {
                    Say::Quiet
                } else {
                    let say = Say::Remind {
                        failures: report.since,
                        partitions: report.partitions.len(),
                        over,
                    };
                    report.at = now;
                    report.interval = (report.interval * 2).min(LAST_REMINDER);
                    report.since = 0;
                    report.partitions.clear();
                    say
                }
            }
        };
        (rest, say)
    }

    /// Notes that the receiver was busy: not a failure, but the vnode waits a tick before
    /// it asks again.
    pub(super) fn busy(&mut self, vnode_type: &str, partition: u32, tick: Duration, now: Instant) {
        let streak = self
            .streaks
            .entry((vnode_type.to_string(), partition))
            .or_insert(Streak {
                failures: 0,
                retry_at: now,
                reason: None,
            });
        streak.retry_at = streak.retry_at.max(now + tick);
    }

    /// Notes a transfer that completed: the vnode's streak ends, and its reason will be
    /// reported at once if it comes back (unless other vnodes still fail for it).
    pub(super) fn succeeded(&mut self, vnode_type: &str, partition: u32) {
        let streak = self.streaks.remove(&(vnode_type.to_string(), partition));
        if let Some(reason) = streak.and_then(|s| s.reason) {
            self.forget_unless_failing(vnode_type, &reason);
        }
    }

    fn forget_unless_failing(&mut self, vnode_type: &str, reason: &str) {
        let failing = self
            .streaks
            .iter()
            .any(|((t, _), s)| t == vnode_type && s.reason.as_deref() == Some(reason));
        if !failing {
            self.reported
                .remove(&(vnode_type.to_string(), reason.to_string()));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TICK: Duration = Duration::from_secs(1);

    #[test]
    fn the_rest_doubles_with_each_failure_up_to_32_ticks() {
        let mut failures = Failures::default();
        let now = Instant::now();
        let rests: Vec<u64> = (0..8)
            .map(|_| failures.failed("kv", 1, "broken", TICK, now).0.as_secs())
            .collect();
        assert_eq!(rests, [1, 2, 4, 8, 16, 32, 32, 32]);
        assert!(failures.resting("kv", 1, now + Duration::from_secs(31)));
        assert!(!failures.resting("kv", 1, now + Duration::from_secs(32)));
        assert!(
            !failures.resting("kv", 2, now),
            "another partition is not resting"
        );
        failures.succeeded("kv", 1);
        assert_eq!(failures.failed("kv", 1, "broken", TICK, now).0, TICK);
    }

    #[test]
    fn a_reason_is_warned_about_once_then_reminded_at_growing_intervals() {
        let mut failures = Failures::default();
        let start = Instant::now();
        let mut say = |partition, after: u64| {
            let now = start + Duration::from_secs(after);
            failures.failed("kv", partition, "broken", TICK, now).1
        };
        assert_eq!(say(1, 0), Say::Warn);
        assert_eq!(say(2, 0), Say::Quiet, "another partition, the same reason");
        assert_eq!(say(1, 30), Say::Quiet);
        let remind = |failures, partitions, over| Say::Remind {
            failures,
            partitions,
            over: Duration::from_secs(over),
        };
        assert_eq!(say(2, 60), remind(3, 2, 60));
        assert_eq!(
            say(1, 120),
            Say::Quiet,
            "the next reminder waits twice as long"
        );
        assert_eq!(say(1, 180), remind(2, 1, 120));
        assert_eq!(say(1, 419), Say::Quiet);
        assert_eq!(say(1, 420), remind(2, 1, 240));
    }

    #[test]
    fn a_new_reason_is_warned_about_at_once_and_a_cured_one_forgotten() {
        let mut failures = Failures::default();
        let now = Instant::now();
        assert_eq!(failures.failed("kv", 1, "broken", TICK, now).1, Say::Warn);
        assert_eq!(failures.failed("kv", 1, "other", TICK, now).1, Say::Warn);
        assert_eq!(
            failures.failed("kv", 1, "broken", TICK, now).1,
            Say::Warn,
            "no vnode failed for 'broken' any more: it was forgotten"
        );
        assert_eq!(
            failures.failed("other_vnode", 1, "broken", TICK, now).1,
            Say::Warn
        );
        failures.succeeded("kv", 1);
        assert_eq!(failures.failed("kv", 1, "broken", TICK, now).1, Say::Warn);
    }

    #[test]
    fn a_busy_receiver_is_not_a_failure() {
        let mut failures = Failures::default();
        let now = Instant::now();
        failures.busy("kv", 1, TICK, now);
        assert!(failures.resting("kv", 1, now));
        assert!(!failures.resting("kv", 1, now + TICK));
        assert_eq!(
            failures.failed("kv", 1, "broken", TICK, now),
            (TICK, Say::Warn)
        );
    }
}
