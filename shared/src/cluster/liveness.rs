//! Liveness (riak_core_node_watcher): which members answer.
//!
//! Every `heartbeat` the node pings every other member. A member that fails two pings in a
//! row is marked down — preference lists then skip it and put fallbacks in its place — and the
//! first ping it answers marks it up again. Each change is logged once.
//!
//! A node that starts with a saved ring whose other members all stay silent is most often a
//! leftover: the cluster of an earlier session, stopped long ago. It says so once, with the
//! way out, instead of one `node is down` line per member.

use crate::clock::next_round;
use crate::cluster::RingState;
use crate::net::wire::Request;
use crate::ring::NodeName;
use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

/// Consecutive failed pings after which a member is taken to be down.
const MISSES_BEFORE_DOWN: u32 = 2;

/// How long a node that starts with a saved ring waits for one of the other members to
/// answer before it calls the ring stale. A devrel starts its nodes one after the other: the
/// first one must not give up on the others while they are still starting.
const SAVED_RING_GRACE: Duration = Duration::from_secs(5);

/// Pings every other member every `heartbeat` and keeps `state`'s down list, until the node
/// stops.
pub(crate) async fn run(state: RingState, heartbeat: Duration) {
    let mut misses: BTreeMap<NodeName, u32> = BTreeMap::new();
    let mut saved_ring = SavedRingCheck::new(peers_of(&state), Instant::now());
    // The members whose `node is down` has been logged.
    let mut reported: BTreeSet<NodeName> = BTreeSet::new();
    while next_round(state.lifecycle().token(), heartbeat).await {
        let peers = peers_of(&state);
        let wait = heartbeat * 2;
        let pings = peers.iter().map(|peer| {
            let transport = state.transport();
            async move { transport.request(peer, Request::Ping, wait).await.is_ok() }
        });
        let answers = futures_util::future::join_all(pings).await;
        misses.retain(|n, _| peers.contains(n));
        for (peer, answered) in peers.iter().zip(&answers) {
            let count = misses.entry(peer.clone()).or_default();
            *count = if *answered {
                0
            } else {
                count.saturating_add(1)
            };
        }
        let down: BTreeSet<NodeName> = misses
            .iter()
            .filter(|(_, m)| **m >= MISSES_BEFORE_DOWN)
            .map(|(n, _)| n.clone())
            .collect();
        let answered: Vec<&NodeName> = peers
            .iter()
            .zip(&answers)
            .filter_map(|(peer, answered)| answered.then_some(peer))
            .collect();
        // Mark before logging: whoever reads `node is down` and asks at once sees it down.
        if down != state.down_nodes() {
            state.set_down(down.clone());
        }
        match saved_ring.observe(Instant::now(), &peers, &answered, &down) {
            // One line for the whole ring rather than one per member.
            Some(silent) => {
                warn_stale_ring(&state, &silent);
                reported = down.clone();
            }
            // Quiet until it is known whether the saved ring is stale.
            None if saved_ring.is_pending() => {}
            None => {
                for gone in down.difference(&reported) {
                    tracing::warn!(node = %state.me(), peer = %gone, "node is down");
                }
                for back in reported.difference(&down) {
                    tracing::info!(node = %state.me(), peer = %back, "node is up");
                }
                reported = down.clone();
            }
        }
    }
}

/// The other members of the node's ring.
fn peers_of(state: &RingState) -> Vec<NodeName> {
    state.ring().others(state.me()).cloned().collect()
}

fn warn_stale_ring(state: &RingState, silent: &[NodeName]) {
    let names: Vec<String> = silent.iter().map(ToString::to_string).collect();
    let (silence, them) = match names.len() {
        1 => ("it does not answer", "it"),
        _ => ("none of them answers", "them"),
    };
    tracing::warn!(
        node = %state.me(),
        "the saved ring lists {} and {silence}; to start afresh, stop this node and remove {} \
         (or start {them})",
        names.join(", "),
        state.data_dir().display()
    );
}

/// Watches the first heartbeats of a node for a saved ring whose other members are all gone.
#[derive(Debug)]
struct SavedRingCheck {
    /// The other members of the ring the node started with; `None` once the question is
    /// settled (one of them answered, the ring changed, the warning was given, or there was
    /// no one to ask).
    members: Option<BTreeSet<NodeName>>,
    /// Not stale before then: see [`SAVED_RING_GRACE`].
    not_before: Instant,
}

impl SavedRingCheck {
    fn new(peers_at_start: Vec<NodeName>, now: Instant) -> Self {
        let members: BTreeSet<NodeName> = peers_at_start.into_iter().collect();
        SavedRingCheck {
            members: (!members.is_empty()).then_some(members),
            not_before: now + SAVED_RING_GRACE,
        }
    }

    /// Whether the question is still open.
    fn is_pending(&self) -> bool {
        self.members.is_some()
    }

    /// Takes in one round of pings: the members now, who answered, who is down. Returns the
    /// members to warn about, once: when the grace period is over, every member of the saved
    /// ring is down and none has ever answered.
    fn observe(
        &mut self,
        now: Instant,
        peers: &[NodeName],
        answered: &[&NodeName],
        down: &BTreeSet<NodeName>,
    ) -> Option<Vec<NodeName>> {
        let members = self.members.as_ref()?;
        let settled = answered.iter().any(|peer| members.contains(*peer))
            || members.iter().any(|member| !peers.contains(member));
        if settled {
            self.members = None;
            return None;
        }
        if now < self.not_before || !members.is_subset(down) {
            return None;
        }
        self.members.take().map(|m| m.into_iter().collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(list: &[&str]) -> Vec<NodeName> {
        list.iter().map(|n| NodeName::new(*n)).collect()
    }

    fn set(list: &[&str]) -> BTreeSet<NodeName> {
        names(list).into_iter().collect()
    }

    #[test]
    fn a_saved_ring_of_silent_members_is_reported_once_after_the_grace() {
        let start = Instant::now();
        let peers = names(&["dev2@h", "dev3@h"]);
        let mut check = SavedRingCheck::new(peers.clone(), start);
        let all_down = set(&["dev2@h", "dev3@h"]);
        assert_eq!(check.observe(start, &peers, &[], &set(&[])), None);
        // Down, but they may still be starting.
        assert_eq!(check.observe(start, &peers, &[], &all_down), None);
        assert!(check.is_pending());
        let later = start + SAVED_RING_GRACE;
        assert_eq!(
            check.observe(later, &peers, &[], &all_down),
            Some(peers.clone())
        );
        assert!(!check.is_pending());
        assert_eq!(check.observe(later, &peers, &[], &all_down), None);
    }

    #[test]
    fn one_member_that_answers_settles_it() {
        let start = Instant::now();
        let peers = names(&["dev2@h", "dev3@h"]);
        let mut check = SavedRingCheck::new(peers.clone(), start);
        assert_eq!(check.observe(start, &peers, &[&peers[1]], &set(&[])), None);
        assert!(!check.is_pending());
        let later = start + SAVED_RING_GRACE;
        let all_down = set(&["dev2@h", "dev3@h"]);
        assert_eq!(check.observe(later, &peers, &[], &all_down), None);
    }

    #[test]
    fn a_changed_ring_settles_it() {
        let start = Instant::now();
        let mut check = SavedRingCheck::new(names(&["dev2@h", "dev3@h"]), start);
        let now = names(&["dev2@h"]);
        assert_eq!(check.observe(start, &now, &[], &set(&[])), None);
        assert!(!check.is_pending());
    }

    #[test]
    fn a_node_alone_in_its_ring_has_nothing_to_report() {
        let mut check = SavedRingCheck::new(Vec::new(), Instant::now());
        assert!(!check.is_pending());
        assert_eq!(check.observe(Instant::now(), &[], &[], &set(&[])), None);
    }
}
