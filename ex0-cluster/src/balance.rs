//! Going further: how evenly the ring is shared, as a table (`balance` at the console).
//!
//! Claim deals partitions out so that every member owns about as many, and so that the N
//! partitions of any preference list (the N replicas of a key) sit on N different nodes.
//! Both are promises about the ring that you can check from it: how many partitions each
//! member owns, and which preference lists put two replicas on one node. The plan warns
//! `Not all replicas will be on distinct nodes` when some do; `balance` shows where.

use ringcore::{Error, NodeName, Partition, Ring};
use std::fmt;

/// One member's share of the ring.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holding {
    pub node: NodeName,
    /// Partitions it owns now (0 for a node that is still joining).
    pub partitions: usize,
}

/// How evenly a ring is shared.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Balance {
    /// Every member, in name order, with the partitions it owns.
    pub holdings: Vec<Holding>,
    /// The number of replicas the preference lists were checked for.
    pub n_val: usize,
    /// The first partition of every preference list of `n_val` partitions that holds some
    /// node more than once, in ring order.
    pub crowded: Vec<Partition>,
}

/// Going further: every member of `ring` with the partitions it owns, and the preference
/// lists of `n_val` partitions that hold a node more than once (README, Going further).
pub fn balance(ring: &Ring, n_val: usize) -> Result<Balance, Error> {
    let _ = (ring, n_val);
    Err(Error::not_implemented(
        "write balance in src/balance.rs: count each member's partitions, then walk every preference list of n_val partitions (README, Going further)",
    ))
}

/// Width of the banner and rule lines, as in `member-status`.
const WIDTH: usize = 79;

/// The crowded partitions listed by index before the rest are only counted.
const LISTED: usize = 8;

impl fmt::Display for Balance {
    /// The table, laid out as `member-status` lays out its own:
    ///
    /// ```text
    /// =================================== Balance ===================================
    /// Node                          Partitions      Ring
    /// -------------------------------------------------------------------------------
    /// dev1@127.0.0.1                        22     34.4%
    /// …
    /// ```
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let total: usize = self.holdings.iter().map(|h| h.partitions).sum();
        let rule = "-".repeat(WIDTH);
        let title = " Balance ";
        let left = (WIDTH - title.len()) / 2;
        writeln!(
            f,
            "{}{title}{}",
            "=".repeat(left),
            "=".repeat(WIDTH - title.len() - left)
        )?;
        writeln!(f, "{:<30}{:>10}{:>10}", "Node", "Partitions", "Ring")?;
        writeln!(f, "{rule}")?;
        for holding in &self.holdings {
            let percent = 100.0 * holding.partitions as f64 / total.max(1) as f64;
            writeln!(
                f,
                "{:<30}{:>10}{:>9.1}%",
                holding.node.as_str(),
                holding.partitions,
                percent
            )?;
        }
        writeln!(f, "{rule}")?;
        let most = self
            .holdings
            .iter()
            .map(|h| h.partitions)
            .max()
            .unwrap_or(0);
        let fewest = self
            .holdings
            .iter()
            .map(|h| h.partitions)
            .min()
            .unwrap_or(0);
        let members = self.holdings.len();
        let plural = if members == 1 { "" } else { "s" };
        writeln!(
            f,
            "{total} partitions over {members} member{plural}: {:.1} each at best; most {most}, fewest {fewest}",
            total as f64 / members.max(1) as f64
        )?;
        if self.crowded.is_empty() {
            return write!(
                f,
                "No preference list of {} puts two replicas on one node",
                self.n_val
            );
        }
        let listed: Vec<String> = self
            .crowded
            .iter()
            .take(LISTED)
            .map(|p| p.index().to_string())
            .collect();
        let mut starts = listed.join(", ");
        if self.crowded.len() > LISTED {
            starts.push_str(&format!(" and {} more", self.crowded.len() - LISTED));
        }
        write!(
            f,
            "{} of {total} preference lists of {} put two replicas on one node: those starting at {starts}",
            self.crowded.len(),
            self.n_val,
        )
    }
}
