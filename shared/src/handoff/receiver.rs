//! Receiving transfers: a slot per transfer, items applied by the local vnode, an answer
//! only once they are applied (so the sender's acknowledgement means "stored here").
//!
//! A failure here (`handle_handoff_data` refusing an item, say) is not logged here: it goes
//! back in the answer, and the sender, which retries, logs it once with its reason.

use super::{Inbound, Manager};
use crate::error::Error;
use crate::net::wire::{HandoffRequest, Response};
use std::sync::Arc;
use std::time::Instant;

/// Answers one step of a handoff sent to this node.
pub(super) async fn handle(manager: &Manager, request: HandoffRequest) -> Result<Response, Error> {
    let handoffs = manager.handoffs();
    match request {
        HandoffRequest::Start {
            id,
            from,
            kind,
            vnode_type,
            partition,
        } => {
            if partition >= manager.ring().size() || manager.hosts.find(&vnode_type).is_none() {
                return Err(Error::bad_request(format!(
                    "no vnode {vnode_type} of partition {partition} here"
                )));
            }
            // No free slot is backpressure, not an error: the sender waits for its turn.
            let Ok(slot) = Arc::clone(&handoffs.slots).try_acquire_owned() else {
                return Ok(Response::Busy);
            };
            tracing::debug!(node = %manager.name(), %from, id, %kind, partition, "receiving a handoff");
            handoffs.inbound.lock().expect("inbound").insert(
                (from, id),
                Inbound {
                    vnode_type,
                    partition,
                    last_seen: Instant::now(),
                    _slot: slot,
                },
            );
            Ok(Response::Done)
        }
        HandoffRequest::Batch { id, from, items } => {
            let (vnode_type, partition) = {
                let mut inbound = handoffs.inbound.lock().expect("inbound");
                let transfer = inbound.get_mut(&(from, id)).ok_or_else(|| {
                    Error::bad_request("no such handoff here (it timed out, or never started)")
                })?;
                transfer.last_seen = Instant::now();
                (transfer.vnode_type.clone(), transfer.partition)
            };
            let host = manager
                .hosts
                .find(&vnode_type)
                .ok_or_else(|| Error::internal("vnode type gone"))?;
            let applied = host.handoff_data(partition, items).await?;
            Ok(Response::Applied(applied))
        }
        HandoffRequest::End { id, from } => {
            handoffs
                .inbound
                .lock()
                .expect("inbound")
                .remove(&(from, id));
            Ok(Response::Done)
        }
    }
}
