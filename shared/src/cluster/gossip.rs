//! Gossip (riak_core_gossip): how every node comes to hold the same ring.
//!
//! After every change a node pushes its ring to all members at once; besides, every
//! `gossip_interval` it exchanges rings with one member, taking turns, which repairs anything
//! a push missed (a node that was down, a message lost). Of two rings the higher version
//! wins: only the claimant makes changes, and every change is a new version.

use crate::clock::next_round;
use crate::cluster::RingState;
use crate::net::wire::{Request, Response};
use crate::ring::NodeName;
use std::time::Duration;

/// Exchanges rings with one other member every `interval`, taking turns, until the node stops.
pub(crate) async fn run(state: RingState) {
    let mut turn = 0usize;
    while next_round(state.lifecycle().token(), state.gossip_interval()).await {
        let peers: Vec<NodeName> = state.ring().others(state.me()).cloned().collect();
        if peers.is_empty() {
            continue;
        }
        turn = turn.wrapping_add(1);
        let peer = peers[turn % peers.len()].clone();
        exchange(&state, &peer).await;
    }
}

/// Sends our ring to every other member at once (after a change).
pub(crate) fn push_to_all(state: &RingState) {
    if state.lifecycle().is_stopping() {
        return;
    }
    for peer in state.ring().others(state.me()) {
        let (state, peer) = (state.clone(), peer.clone());
        state
            .lifecycle()
            .clone()
            .spawn(async move { exchange(&state, &peer).await });
    }
}

/// Sends our ring to `peer` and takes in theirs if it is newer.
pub(crate) async fn exchange(state: &RingState, peer: &NodeName) {
    let wait = state.gossip_interval().max(Duration::from_secs(1));
    let request = Request::Gossip(state.gossip_state());
    if let Ok(Response::Gossip(Some(theirs))) = state.transport().request(peer, request, wait).await
    {
        state.receive_gossip(theirs);
    }
}
