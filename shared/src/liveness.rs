//! Liveness (riak_core_node_watcher): which members answer.
//!
//! Every `heartbeat` the node pings every other member. A member that fails two pings in a
//! row is marked down — preference lists then skip it and put fallbacks in its place — and the
//! first ping it answers marks it up again. Each change is logged once.

use crate::node::Node;
use crate::ring::NodeName;
use crate::wire::Request;
use std::collections::{BTreeMap, BTreeSet};

/// Consecutive failed pings after which a member is taken to be down.
const MISSES_BEFORE_DOWN: u32 = 2;

pub(crate) async fn run(node: Node) {
    let shutdown = node.shutdown_token();
    let mut misses: BTreeMap<NodeName, u32> = BTreeMap::new();
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => break,
            _ = tokio::time::sleep(node.config().heartbeat) => {}
        }
        let ring = node.ring();
        let peers: Vec<NodeName> = ring
            .members()
            .keys()
            .filter(|n| *n != node.name())
            .cloned()
            .collect();
        let wait = node.config().heartbeat * 2;
        let pings = peers.iter().map(|peer| {
            let node = node.clone();
            async move { node.request(peer, Request::Ping, wait).await.is_ok() }
        });
        let answers = futures_util::future::join_all(pings).await;
        misses.retain(|n, _| peers.contains(n));
        for (peer, answered) in peers.iter().zip(answers) {
            let count = misses.entry(peer.clone()).or_default();
            *count = if answered { 0 } else { count.saturating_add(1) };
        }
        let down: BTreeSet<NodeName> = misses
            .iter()
            .filter(|(_, m)| **m >= MISSES_BEFORE_DOWN)
            .map(|(n, _)| n.clone())
            .collect();
        let before = node.down_nodes();
        if down != before {
            for gone in down.difference(&before) {
                tracing::warn!(node = %node.name(), peer = %gone, "node is down");
            }
            for back in before.difference(&down) {
                tracing::info!(node = %node.name(), peer = %back, "node is up");
            }
            node.set_down(down);
        }
    }
}
