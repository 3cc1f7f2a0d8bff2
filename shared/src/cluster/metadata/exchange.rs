//! The metadata's anti-entropy: every gossip interval, one exchange with one member that is
//! up, chosen at random, until the node stops. This is what brings a change to a node that
//! missed its push (down, cut off, or not yet a member), and a node's own entries to a
//! cluster it joins.

use crate::clock::next_round;
use crate::cluster::metadata::Metadata;
use crate::net::wire::{MetadataAnswer, MetadataRequest, Request, Response};
use crate::ring::NodeName;

/// Exchanges with one member every gossip interval, until the node stops. A detached map
/// has no one to exchange with: it returns at once.
pub(crate) async fn run(metadata: Metadata) {
    let Some(cluster) = metadata.cluster() else {
        return;
    };
    let state = &cluster.state;
    while next_round(state.lifecycle().token(), state.gossip_interval()).await {
        let ring = state.ring();
        let peers: Vec<&NodeName> = ring
            .others(state.me())
            .filter(|peer| state.is_up(peer))
            .collect();
        if peers.is_empty() {
            continue;
        }
        // At random rather than in turn: a node that was away meets every other soon, and
        // no two nodes fall into step asking the same one.
        let peer = peers[random_below(peers.len())];
        exchange(&metadata, peer).await;
    }
}

/// Compares digests with `peer` and, when they differ, sends every entry and takes in what
/// comes back (the entries `peer` holds newer, or this node lacks).
async fn exchange(metadata: &Metadata, peer: &NodeName) {
    let Some(cluster) = metadata.cluster() else {
        return;
    };
    let (transport, wait) = (cluster.state.transport(), cluster.request_timeout);
    let me = metadata.me();
    let digest = Request::Metadata(MetadataRequest::Digest(metadata.digest()));
    match transport.request(peer, digest, wait).await {
        Ok(Response::Metadata(MetadataAnswer::Same)) => return,
        Ok(Response::Metadata(MetadataAnswer::Differs)) => {}
        Ok(other) => {
            tracing::warn!(node = %me, %peer, "metadata digest answered with {other:?}");
            return;
        }
        // A peer that does not answer is liveness's business, not ours: try another next time.
        Err(error) => {
            tracing::debug!(node = %me, %peer, %error, "metadata digest not answered");
            return;
        }
    }
    let ours = metadata.entries();
    let sent = ours.len();
    let request = Request::Metadata(MetadataRequest::Exchange(ours));
    match transport.request(peer, request, wait).await {
        Ok(Response::Metadata(MetadataAnswer::Entries(theirs))) => {
            let offered = theirs.len();
            match metadata.merge(theirs).await {
                Ok(taken) => tracing::debug!(
                    node = %me,
                    %peer,
                    sent,
                    offered,
                    taken,
                    "metadata exchanged"
                ),
                Err(error) => tracing::warn!(
                    node = %me,
                    %peer,
                    %error,
                    "metadata from an exchange not taken in"
                ),
            }
        }
        Ok(other) => tracing::warn!(node = %me, %peer, "metadata exchange answered with {other:?}"),
        Err(error) => tracing::debug!(node = %me, %peer, %error, "metadata exchange not answered"),
    }
}

/// A random number in `0..n` (`n` > 0).
fn random_below(n: usize) -> usize {
    let mut bytes = [0u8; 8];
    getrandom::fill(&mut bytes).expect("the operating system gives random bytes");
    (u64::from_le_bytes(bytes) % n as u64) as usize
}
