//! Gossip (riak_core_gossip): how every node comes to hold the same ring.
//!
//! After every change a node pushes its ring to all members at once; besides, every
//! `gossip_interval` it exchanges rings with one member, taking turns, which repairs anything
//! a push missed (a node that was down, a message lost). Of two rings the higher version
//! wins: only the claimant makes changes, and every change is a new version.

use crate::clock::next_round;
use crate::node::Node;
use crate::ring::NodeName;
use crate::wire::{Request, Response};

/// Exchanges rings with one member after another until the node stops.
pub(crate) async fn run(node: Node) {
    let shutdown = node.shutdown_token();
    let mut turn = 0usize;
    while next_round(&shutdown, node.config().gossip_interval).await {
        let peers: Vec<NodeName> = node.ring().others(node.name()).cloned().collect();
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
    let ring = node.ring();
    for peer in ring.others(node.name()) {
        let (node, peer) = (node.clone(), peer.clone());
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
