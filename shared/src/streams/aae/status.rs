//! What anti-entropy did on this node, for `aae-status`: per key range in its charge, when it
//! was last exchanged and how that went, and how many entries were repaired.

use crate::ring::{NodeName, Partition};
use std::collections::HashMap;
use std::fmt;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How one exchange ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Every replica held the same entries.
    InSync,
    /// Replicas were sent `entries` entries they lacked; `more` when the exchange stopped at
    /// its bound: the range is exchanged again at the next pause.
    Repaired { entries: u64, more: bool },
    /// Not exchanged this time, for the reason given (too few replicas up, a transfer…).
    Skipped(String),
    /// A replica could not answer; the entries repaired before are counted.
    Failed { reason: String, repaired: u64 },
}

impl Outcome {
    /// Entries this exchange stored on replicas that lacked them.
    pub fn repaired(&self) -> u64 {
        match self {
            Outcome::Repaired { entries, .. } => *entries,
            Outcome::Failed { repaired, .. } => *repaired,
            Outcome::InSync | Outcome::Skipped(_) => 0,
        }
    }
}

impl fmt::Display for Outcome {
    /// `in sync`, `repaired 3 entries`, `skipped: why`, `failed: why`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Outcome::InSync => write!(f, "in sync"),
            Outcome::Repaired { entries, more } => {
                write!(
                    f,
                    "repaired {entries} {}",
                    plural(*entries, "entry", "entries")
                )?;
                if *more {
                    write!(f, " (more to come)")?;
                }
                Ok(())
            }
            Outcome::Skipped(why) => write!(f, "skipped: {why}"),
            Outcome::Failed {
                reason,
                repaired: 0,
            } => write!(f, "failed: {reason}"),
            Outcome::Failed { reason, repaired } => {
                write!(f, "failed after repairing {repaired}: {reason}")
            }
        }
    }
}

fn plural(count: u64, one: &'static str, many: &'static str) -> &'static str {
    if count == 1 { one } else { many }
}

/// One key range in a node's charge, as `aae-status` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RangeReport {
    pub range: Partition,
    /// How long ago it was last exchanged, and how that went (`None`: not yet).
    pub last: Option<(Duration, Outcome)>,
    /// Entries repaired in this range since the node started.
    pub repaired: u64,
}

/// What anti-entropy did on one node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AaeReport {
    pub node: NodeName,
    /// The pause between two exchanges (`None`: anti-entropy is off on this node).
    pub pause: Option<Duration>,
    /// The key ranges this node is in charge of now, in ring order.
    pub ranges: Vec<RangeReport>,
    /// Exchanges run since the node started, and entries they repaired (in every range,
    /// including those no longer in this node's charge).
    pub exchanges: u64,
    pub repaired: u64,
}

/// The record anti-entropy keeps as it goes; [`Status::report`] reads it.
#[derive(Debug, Default)]
pub(super) struct Status {
    inner: Mutex<Record>,
}

#[derive(Debug, Default)]
struct Record {
    in_charge: Vec<Partition>,
    /// By partition index: when the last exchange ended and how.
    last: HashMap<u32, (Instant, Outcome)>,
    repaired_by_range: HashMap<u32, u64>,
    exchanges: u64,
    repaired: u64,
}

impl Status {
    /// The key ranges this node is in charge of now.
    pub(super) fn set_in_charge(&self, ranges: Vec<Partition>) {
        self.record().in_charge = ranges;
    }

    /// Notes how an exchange of `range` ended.
    pub(super) fn exchanged(&self, range: Partition, outcome: Outcome) {
        let mut record = self.record();
        let repaired = outcome.repaired();
        *record.repaired_by_range.entry(range.index()).or_default() += repaired;
        record.repaired += repaired;
        record.exchanges += 1;
        record.last.insert(range.index(), (Instant::now(), outcome));
    }

    pub(super) fn report(&self, node: NodeName, pause: Option<Duration>) -> AaeReport {
        let record = self.record();
        let now = Instant::now();
        let ranges = record
            .in_charge
            .iter()
            .map(|&range| RangeReport {
                range,
                last: record
                    .last
                    .get(&range.index())
                    .map(|(at, outcome)| (now.duration_since(*at), outcome.clone())),
                repaired: record
                    .repaired_by_range
                    .get(&range.index())
                    .copied()
                    .unwrap_or(0),
            })
            .collect();
        AaeReport {
            node,
            pause,
            ranges,
            exchanges: record.exchanges,
            repaired: record.repaired,
        }
    }

    fn record(&self) -> std::sync::MutexGuard<'_, Record> {
        // The record is plain counters: one left half-updated by a panic is still readable.
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outcomes_read_as_sentences() {
        let shown = [
            Outcome::InSync,
            Outcome::Repaired {
                entries: 1,
                more: false,
            },
            Outcome::Repaired {
                entries: 10_000,
                more: true,
            },
            Outcome::Skipped("only 1 of 3 replicas is up".into()),
            Outcome::Failed {
                reason: "timed out".into(),
                repaired: 0,
            },
            Outcome::Failed {
                reason: "timed out".into(),
                repaired: 4,
            },
        ]
        .map(|o| o.to_string());
        assert_eq!(
            shown,
            [
                "in sync",
                "repaired 1 entry",
                "repaired 10000 entries (more to come)",
                "skipped: only 1 of 3 replicas is up",
                "failed: timed out",
                "failed after repairing 4: timed out",
            ]
        );
    }

    #[test]
    fn the_report_shows_the_ranges_in_charge_and_counts_every_repair() {
        let status = Status::default();
        let (one, two) = (Partition::new(1, 8), Partition::new(2, 8));
        status.set_in_charge(vec![one, two]);
        status.exchanged(
            one,
            Outcome::Repaired {
                entries: 3,
                more: false,
            },
        );
        status.exchanged(one, Outcome::InSync);
        // A range handed to another node since: its repairs still count in the total.
        status.exchanged(
            Partition::new(5, 8),
            Outcome::Repaired {
                entries: 2,
                more: false,
            },
        );
        let report = status.report("dev1@127.0.0.1".into(), Some(Duration::from_secs(1)));
        assert_eq!(report.ranges.len(), 2);
        assert_eq!(report.ranges[0].repaired, 3);
        assert_eq!(report.ranges[0].last.as_ref().unwrap().1, Outcome::InSync);
        assert_eq!(report.ranges[1].last, None);
        assert_eq!((report.exchanges, report.repaired), (3, 5));
    }
}
