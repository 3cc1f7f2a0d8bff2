//! Gossip (riak_core_gossip): how every node comes to hold the same ring.
//!
//! After every change a node pushes its ring to all members at once; besides, every
//! `gossip_interval` it exchanges rings with one member, taking turns, which repairs anything
//! a push missed (a node that was down, a message lost). Of two rings the higher version
//! wins: only the claimant makes changes, and every change is a new version.

use crate::node::Node;
use crate::ring::NodeName;
use crate::wire::{Request, Response};

/// Exchanges rings with one member after another until the node stops.
pub(crate) async fn run(node: Node) {
    let shutdown = node.shutdown_token();
    let mut turn = 0usize;
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => break,
            _ = tokio::time::sleep(node.config().gossip_interval) => {}
        }
        let peers = peers(&node);
        if peers.is_empty() {
            continue;
        }
        turn = turn.wrapping_add(1);
        let peer = peers[turn % peers.len()].clone();
        exchange(&node, &peer).await;
    }
}

/// Sends our ring to every member now (after a change), without waiting for answers.
pub(crate) fn push_to_all(node: &Node) {
    if node.is_stopping() {
        return;
    }
    for peer in peers(node) {
        let node = node.clone();
        node.clone()
            .spawn(async move { exchange(&node, &peer).await });
    }
}

/// Sends our ring to a node, and takes its ring if it answers with a newer one.
pub(crate) async fn exchange(node: &Node, peer: &NodeName) {
    let wait = node
        .config()
        .gossip_interval
        .max(std::time::Duration::from_secs(1));
    if let Ok(Response::Gossip(Some(theirs))) = node
        .request(peer, Request::Gossip(node.gossip_state()), wait)
        .await
    {
        node.receive_gossip(theirs);
    }
}

/// The other members of our ring.
fn peers(node: &Node) -> Vec<NodeName> {
    node.ring()
        .members()
        .keys()
        .filter(|n| *n != node.name())
        .cloned()
        .collect()
}
