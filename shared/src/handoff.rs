//! Ownership transfers (the bookkeeping of riak_core's handoff manager).
//!
//! After a commit, some partitions have a next owner. The current owner of each such
//! partition is the one that acts: every `handoff_tick`, and whenever the ring changes, it
//! looks at the partitions it must hand over, and for each one whose vnodes (of every vnode
//! type on this node) are empty it tells the claimant the transfer is complete. The claimant
//! then makes the next owner the owner.
//!
//! A partition whose vnodes hold data stays waiting (visible in `transfers` and
//! `ring-status`) until its data has been streamed to the next owner.

use crate::node::Node;
use crate::ring::{NodeName, Partition};
use crate::wire::ClaimantRequest;
use std::collections::BTreeSet;

pub(crate) async fn run(node: Node) {
    let shutdown = node.shutdown_token();
    let mut reported_waiting: BTreeSet<Partition> = BTreeSet::new();
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => break,
            _ = node.ring_changed(node.config().handoff_tick) => {}
        }
        for (partition, next) in to_hand_over(&node) {
            if !node.is_up(&next) {
                continue;
            }
            match all_empty(&node, partition).await {
                Ok(true) => {
                    let request = ClaimantRequest::TransferComplete {
                        partition: partition.index(),
                        from: node.name().clone(),
                        to: next.clone(),
                    };
                    match node.claimant_call(request).await {
                        Ok(_) => {
                            reported_waiting.remove(&partition);
                            tracing::debug!(node = %node.name(), %partition, to = %next, "ownership transfer complete (nothing to send)");
                        }
                        Err(error) => {
                            tracing::debug!(node = %node.name(), %partition, %error, "cannot record transfer yet")
                        }
                    }
                }
                Ok(false) => {
                    if reported_waiting.insert(partition) {
                        tracing::info!(node = %node.name(), %partition, to = %next, "partition holds data: waiting for handoff");
                    }
                }
                Err(error) => {
                    tracing::warn!(node = %node.name(), %partition, %error, "cannot check the partition's vnodes")
                }
            }
        }
    }
}

/// Partitions this node owns that have another next owner.
pub(crate) fn to_hand_over(node: &Node) -> Vec<(Partition, NodeName)> {
    node.ring()
        .pending_transfers()
        .filter(|(_, owner, _)| *owner == node.name())
        .map(|(p, _, next)| (p, next.clone()))
        .collect()
}

async fn all_empty(node: &Node, partition: Partition) -> Result<bool, crate::Error> {
    for host in node.hosts() {
        if !host.is_empty(partition.index()).await? {
            return Ok(false);
        }
    }
    Ok(true)
}
