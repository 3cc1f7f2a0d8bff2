//! Liveness (riak_core_node_watcher): which members answer.
//!
//! Every `heartbeat` the node pings every other member. A member that fails two pings in a
//! row is marked down — preference lists then skip it and put fallbacks in its place — and the
//! first ping it answers marks it up again. Each change is logged once.
//!
//! A node that starts with a saved ring whose other members all stay silent is most often a
//! leftover: the cluster of an earlier session, stopped long ago. It says so once, with the
//! way out, instead of one `node is down` line per member.

use crate::node::Node;
use crate::ring::NodeName;
use crate::wire::Request;
use std::collections::{BTreeMap, BTreeSet};

/// Consecutive failed pings after which a member is taken to be down.
const MISSES_BEFORE_DOWN: u32 = 2;

pub(crate) async fn run(node: Node) {
    let shutdown = node.shutdown_token();
    let mut misses: BTreeMap<NodeName, u32> = BTreeMap::new();
    let mut saved_ring = SavedRingCheck::new(peers_of(&node));
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => break,
            _ = tokio::time::sleep(node.config().heartbeat) => {}
        }
        let peers = peers_of(&node);
        let wait = node.config().heartbeat * 2;
        let pings = peers.iter().map(|peer| {
            let node = node.clone();
            async move { node.request(peer, Request::Ping, wait).await.is_ok() }
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
        let answered = peers
            .iter()
            .zip(&answers)
            .filter(|(_, answered)| **answered)
            .map(|(peer, _)| peer);
        let stale = saved_ring.observe(answered, &down);
        let before = node.down_nodes();
        match &stale {
            // One line for the whole ring rather than one per member.
            Some(silent) => warn_stale_ring(&node, silent),
            None => {
                for gone in down.difference(&before) {
                    tracing::warn!(node = %node.name(), peer = %gone, "node is down");
                }
            }
        }
        for back in before.difference(&down) {
            tracing::info!(node = %node.name(), peer = %back, "node is up");
        }
        if down != before {
            node.set_down(down);
        }
    }
}

/// The other members of the node's ring.
fn peers_of(node: &Node) -> Vec<NodeName> {
    node.ring()
        .members()
        .keys()
        .filter(|n| *n != node.name())
        .cloned()
        .collect()
}

fn warn_stale_ring(node: &Node, silent: &[NodeName]) {
    let names: Vec<String> = silent.iter().map(ToString::to_string).collect();
    let (silence, them) = match names.len() {
        1 => ("it does not answer", "it"),
        _ => ("none of them answers", "them"),
    };
    tracing::warn!(
        node = %node.name(),
        "the saved ring lists {} and {silence}; to start afresh, stop this node and remove {} \
         (or start {them})",
        names.join(", "),
        node.data_dir().display()
    );
}

/// Watches the first heartbeats of a node for the case of a saved ring whose other members
/// are all gone.
#[derive(Debug)]
struct SavedRingCheck {
    /// The other members of the ring the node started with; `None` once the question is
    /// settled (one of them answered, the warning was given, or there was no one to ask).
    members: Option<BTreeSet<NodeName>>,
}

impl SavedRingCheck {
    fn new(peers_at_start: Vec<NodeName>) -> Self {
        let members: BTreeSet<NodeName> = peers_at_start.into_iter().collect();
        SavedRingCheck {
            members: (!members.is_empty()).then_some(members),
        }
    }

    /// Takes in one round of pings: who answered, and who is down now. Returns the members
    /// to warn about, once: when every member of the saved ring is down and none has ever
    /// answered.
    fn observe<'a>(
        &mut self,
        answered: impl IntoIterator<Item = &'a NodeName>,
        down: &BTreeSet<NodeName>,
    ) -> Option<Vec<NodeName>> {
        let members = self.members.as_ref()?;
        let mut answered = answered.into_iter();
        if answered.any(|peer| members.contains(peer)) {
            self.members = None;
            return None;
        }
        if !members.is_subset(down) {
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
    fn a_saved_ring_of_silent_members_is_reported_once() {
        let mut check = SavedRingCheck::new(names(&["dev2@h", "dev3@h"]));
        // First round: nobody answered, nobody is down yet.
        assert_eq!(check.observe(&[], &set(&[])), None);
        assert_eq!(
            check.observe(&[], &set(&["dev2@h", "dev3@h"])),
            Some(names(&["dev2@h", "dev3@h"]))
        );
        assert_eq!(check.observe(&[], &set(&["dev2@h", "dev3@h"])), None);
    }

    #[test]
    fn one_member_that_answers_settles_it() {
        let mut check = SavedRingCheck::new(names(&["dev2@h", "dev3@h"]));
        assert_eq!(check.observe(&names(&["dev3@h"]), &set(&[])), None);
        assert_eq!(check.observe(&[], &set(&["dev2@h", "dev3@h"])), None);
    }

    #[test]
    fn a_node_alone_in_its_ring_has_nothing_to_report() {
        let mut check = SavedRingCheck::new(Vec::new());
        assert_eq!(check.observe(&[], &set(&[])), None);
    }
}
