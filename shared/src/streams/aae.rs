//! Active anti-entropy (AAE): replicas of the stream database converge in the background,
//! without any client read.
//!
//! # What it promises
//!
//! - **What converges.** Every stream's entries on its primary replicas: after an exchange,
//!   every replica that took part holds every entry the others held, merged by identity with
//!   [`PartitionStore::put_entry`], the one merge replication, read repair and handoff use.
//!   Nothing is overwritten or dropped; two entries that share a number both end up
//!   everywhere, in the same order.
//! - **Which replicas.** The database's default N ([`Nwr::default`], 3) primaries of each key:
//!   like riak's AAE, which keeps every key on its bucket's `n_val` replicas, it keeps every
//!   stream on 3, whatever N it was written with. A stream written with N=1 is copied to 3
//!   replicas; the 4th and 5th replicas of a stream written with N=5 are left to read repair.
//! - **How fast.** Every node exchanges one key range per pause ([`NodeConfig::anti_entropy`]:
//!   1 s on `devK`), going round the ranges in its charge. With 64 partitions and 3 nodes a
//!   node is in charge of about 22 ranges, so every range is exchanged about every 22 s
//!   (32 s while a node is down and the others stand in for it): within 60 s of a node coming
//!   back, every replica holds every entry its peers hold. One exchange repairs at most
//!   [`MAX_REPAIRS`] entries; a range with more to repair is exchanged again at the next
//!   pause, before the others, until it is done.
//! - **What it costs.** A range in sync costs one request per replica: each vnode answers
//!   with the range's digest, 256 numbers (about 2.5 KB), computed in one pass over its
//!   streams in memory, without touching disk. Only differing segments cost more (their
//!   streams' summaries, then the differing streams' entry identities, then the entries
//!   lacking). A node runs one exchange at a time and sends one request at a time to each
//!   replica, so users' requests keep their speed.
//! - **What it does not do.** It does not look at fallbacks (hinted handoff brings back what
//!   they took), nor at replicas on nodes that are down (they catch up once up), nor run
//!   while a transfer touches the range (handoff is moving the data). It compares identities,
//!   not bytes: an entry damaged on disk is the store's recovery's business. It keeps nothing
//!   on disk: digests are computed when asked.
//!
//! # Design: a two-level hash tree per key range
//!
//! A *key range* is the set of keys whose first primary is partition `p`; its replicas are the
//! partitions `p`, `p+1`, `p+2` on their owners (the primary preference list). Each replica
//! describes what it holds of the range as a tree (see [`digest`]):
//!
//! 1. the digest: 256 segment hashes, a stream falling in the segment named by the last byte
//!    of its key hash;
//! 2. per segment, its streams with their 16-byte [`StreamSummary`] (entry count and a sum of
//!    entry-identity hashes, which the store keeps up to date on every write);
//! 3. the leaves: a stream's entry identities.
//!
//! An exchange (`aae/exchange.rs`) walks down only where replicas differ. Equal digests, the
//! common case, end it at level 1.
//!
//! Each range has one node *in charge*: the owner of its first primary that is up (so the
//! range is still exchanged while its first primary's node is down). Every node runs one
//! task, started with the database ([`start`]) and stopped with the node, that each pause
//! exchanges the next range in its charge, round robin. What it did is in the [`AaeReport`]
//! the console's `aae-status` prints.
//!
//! # riak_core
//!
//! The counterpart is riak_kv's AAE: `riak_kv_entropy_manager` (the schedule),
//! `riak_kv_index_hashtree` and riak_core's `hashtree.erl` (the trees), `riak_kv_exchange_fsm`
//! (one exchange). riak keeps a persistent Merkle tree per vnode and preference list, built by
//! folding over the data and updated on every write; here the store's per-stream summaries
//! play that part, so the tree's upper levels are a cheap in-memory sum.
//!
//! [`PartitionStore::put_entry`]: crate::store::PartitionStore::put_entry
//! [`StreamSummary`]: crate::store::StreamSummary
//! [`NodeConfig::anti_entropy`]: crate::NodeConfig::anti_entropy
//! [`Nwr::default`]: super::Nwr

pub mod digest;
mod exchange;
mod status;

pub use digest::{NamedSummary, RangeDigest, SEGMENTS, summaries_in};
pub use exchange::MAX_REPAIRS;
pub use status::{AaeReport, Outcome, RangeReport};

use self::status::Status;
use super::service::{Nwr, StreamsVnode};
use crate::clock::next_round;
use crate::node::Node;
use crate::node::VnodeMaster;
use crate::ring::{IndexNode, NodeName, Partition, Ring};
use std::sync::Arc;
use std::time::Duration;

/// Anti-entropy on one node: its settings and what it did. One per node and vnode type.
#[derive(Debug)]
pub struct AntiEntropy {
    node: NodeName,
    pause: Option<Duration>,
    status: Status,
}

impl AntiEntropy {
    /// What anti-entropy did on this node, for `aae-status`.
    pub fn report(&self) -> AaeReport {
        self.status.report(self.node.clone(), self.pause)
    }
}

/// What anti-entropy did on `node`, one report per vnode type that runs it; none when the
/// node's application has no stream database (exercises 0–2), whose page shows none.
pub fn reports(node: &Node) -> Vec<AaeReport> {
    node.singletons_of::<AntiEntropy>()
        .iter()
        .map(|aae| aae.report())
        .collect()
}

/// Starts anti-entropy for the stream vnodes `vnodes` when the node's configuration asks for
/// it (`anti_entropy: Some(pause)`), and returns its handle. Made once per node and vnode
/// type: a second database handle on the same vnodes gets the same one, and no second task.
pub fn start<V: StreamsVnode>(vnodes: &VnodeMaster<V>) -> Arc<AntiEntropy> {
    let node = vnodes.node();
    let name = format!("anti-entropy of {}", vnodes.vnode_type());
    node.singleton(&name, || {
        let pause = node.config().anti_entropy;
        let aae = Arc::new(AntiEntropy {
            node: node.name().clone(),
            pause,
            status: Status::default(),
        });
        if let Some(pause) = pause {
            node.spawn(run(vnodes.clone(), Arc::clone(&aae), pause));
        }
        aae
    })
}

/// The node's anti-entropy task: each pause, exchange the next key range in this node's
/// charge. Ends when the node stops.
async fn run<V: StreamsVnode>(vnodes: VnodeMaster<V>, aae: Arc<AntiEntropy>, pause: Duration) {
    let node = vnodes.node().clone();
    let shutdown = node.lifecycle().token().clone();
    let mut last = None;
    // A range whose exchange stopped at its bound with more to repair: exchanged again next,
    // so that a backlog is worked off at once rather than one bound per round.
    let mut unfinished: Option<Partition> = None;
    while next_round(&shutdown, pause).await {
        let ring = node.ring();
        let in_charge = ranges_in_charge(&ring, node.name(), |n| node.is_up(n));
        let next = unfinished
            .take()
            .filter(|range| in_charge.contains(range))
            .or_else(|| next_range(&in_charge, last));
        aae.status.set_in_charge(in_charge);
        let Some(range) = next else {
            continue;
        };
        last = Some(range);
        let outcome = tokio::select! {
            _ = shutdown.cancelled() => return,
            outcome = exchange_range(&vnodes, &ring, range) => outcome,
        };
        if matches!(outcome, Outcome::Repaired { more: true, .. }) {
            unfinished = Some(range);
        }
        aae.status.exchanged(range, outcome);
    }
}

/// The replicas anti-entropy keeps a stream on: the database's default N.
fn n() -> usize {
    Nwr::default().n
}

/// The key ranges `me` is in charge of: those whose first primary that is up is on `me`.
fn ranges_in_charge(
    ring: &Ring,
    me: &NodeName,
    is_up: impl Fn(&NodeName) -> bool,
) -> Vec<Partition> {
    ring.partitions()
        .filter(|&range| {
            let first_up = ring
                .range_preflist(range, n())
                .into_iter()
                .find(|replica| is_up(&replica.node));
            first_up.is_some_and(|replica| replica.node == *me)
        })
        .collect()
}

/// The range after `last` in ring order, round robin (the first one to begin with).
fn next_range(in_charge: &[Partition], last: Option<Partition>) -> Option<Partition> {
    let after = |range: &&Partition| last.is_none_or(|last| range.index() > last.index());
    in_charge
        .iter()
        .find(after)
        .or_else(|| in_charge.first())
        .copied()
}

/// Exchanges one range between its primaries that are up, and logs how it went.
async fn exchange_range<V: StreamsVnode>(
    vnodes: &VnodeMaster<V>,
    ring: &Ring,
    range: Partition,
) -> Outcome {
    let node = vnodes.node();
    let primaries = ring.range_preflist(range, n());
    let replicas: Vec<IndexNode> = primaries
        .iter()
        .filter(|replica| node.is_up(&replica.node))
        .cloned()
        .collect();
    let outcome = if replicas.len() < 2 {
        Outcome::Skipped(format!(
            "only {} of {} replicas up",
            replicas.len(),
            primaries.len()
        ))
    } else if primaries
        .iter()
        .any(|p| ring.next_owner(p.partition).is_some())
    {
        Outcome::Skipped("a transfer is pending".to_string())
    } else {
        exchange::exchange(vnodes, range, replicas.clone()).await
    };
    log(node, range, &replicas, &outcome);
    outcome
}

fn log(node: &Node, range: Partition, replicas: &[IndexNode], outcome: &Outcome) {
    let (me, range) = (node.name(), range.index());
    // The other nodes of the exchange (on a small cluster, a node may hold several replicas).
    let mut others: Vec<&str> = replicas
        .iter()
        .filter(|r| r.node != *me)
        .map(|r| r.node.as_str())
        .collect();
    others.sort_unstable();
    others.dedup();
    let with = if others.is_empty() {
        "no other node".to_string()
    } else {
        others.join(", ")
    };
    match outcome {
        Outcome::InSync | Outcome::Skipped(_) => {
            tracing::debug!(node = %me, range, %with, "anti-entropy: {outcome}");
        }
        Outcome::Repaired { entries, .. } => {
            tracing::info!(node = %me, range, %with, entries, "anti-entropy: {outcome}");
        }
        Outcome::Failed { .. } => {
            tracing::warn!(node = %me, range, %with, "anti-entropy: {outcome}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ring() -> Ring {
        let owners = ["a", "b", "c", "a", "b", "c", "a", "b"];
        Ring::from_owners(owners.iter().map(|&n| NodeName::from(n)).collect()).unwrap()
    }

    fn indexes(ranges: &[Partition]) -> Vec<u32> {
        ranges.iter().map(Partition::index).collect()
    }

    #[test]
    fn each_range_is_in_the_charge_of_its_first_primary_that_is_up() {
        let ring = ring();
        let everyone = |_: &NodeName| true;
        assert_eq!(
            indexes(&ranges_in_charge(&ring, &"a".into(), everyone)),
            [0, 3, 6]
        );
        assert_eq!(
            indexes(&ranges_in_charge(&ring, &"b".into(), everyone)),
            [1, 4, 7]
        );
        // While c is down, the ranges of c go to the next primary: a or b.
        let c_down = |n: &NodeName| n.as_str() != "c";
        assert_eq!(
            indexes(&ranges_in_charge(&ring, &"a".into(), c_down)),
            [0, 2, 3, 5, 6]
        );
        assert_eq!(
            indexes(&ranges_in_charge(&ring, &"b".into(), c_down)),
            [1, 4, 7]
        );
        assert!(ranges_in_charge(&ring, &"c".into(), c_down).is_empty());
    }

    #[test]
    fn ranges_are_taken_round_robin() {
        let ranges: Vec<Partition> = [1, 4, 7].map(|i| Partition::new(i, 8)).to_vec();
        let mut last = None;
        let mut order = Vec::new();
        for _ in 0..4 {
            last = next_range(&ranges, last);
            order.push(last.unwrap().index());
        }
        assert_eq!(order, [1, 4, 7, 1]);
        // The ring changed under it: go on from where it was.
        assert_eq!(
            next_range(&ranges, Some(Partition::new(5, 8))),
            Some(ranges[2])
        );
        assert_eq!(next_range(&[], last), None);
    }
}
