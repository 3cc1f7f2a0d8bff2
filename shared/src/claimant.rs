//! The claimant's side of membership requests (riak_core_claimant): one node of the cluster,
//! named in the ring, makes every membership change, so changes never conflict.
//!
//! Requests reach it from any node ([`crate::node::Node::claimant_call`]); a node that is not
//! the claimant answers `NotClaimant` with the name of the one it knows, and the caller asks
//! there instead.

use crate::error::Error;
use crate::membership::{self, MembershipError};
use crate::node::Node;
use crate::ring::{NodeName, Partition, Ring};
use crate::wire::{ClaimantRequest, Request, Response};

pub(crate) async fn handle(node: &Node, request: ClaimantRequest) -> Result<Response, Error> {
    let ring = node.ring();
    if ring.claimant() != node.name() {
        return Err(Error::NotClaimant {
            claimant: ring.claimant().clone(),
        });
    }
    match request {
        ClaimantRequest::Join(joiner) => {
            change(node, |ring| membership::stage_join(ring, joiner))?;
            Ok(Response::State(node.gossip_state()))
        }
        ClaimantRequest::Leave(leaver) => {
            change(node, |ring| membership::stage_leave(ring, leaver))?;
            Ok(Response::Done)
        }
        ClaimantRequest::ForceRemove(gone) => {
            change(node, |ring| membership::stage_force_remove(ring, gone))?;
            Ok(Response::Done)
        }
        ClaimantRequest::Clear => {
            change(node, membership::clear)?;
            *node.last_plan().lock().expect("plan") = None;
            Ok(Response::Done)
        }
        ClaimantRequest::Plan => {
            let plan = membership::plan(&node.ring()).map_err(refused)?;
            *node.last_plan().lock().expect("plan") = Some(plan.clone());
            Ok(Response::Plan(Box::new(plan)))
        }
        ClaimantRequest::Commit => {
            let shown = node.last_plan().lock().expect("plan").clone();
            let gone = node.update_ring(|ring| {
                let plan = membership::plan(ring).map_err(refused)?;
                match &shown {
                    None => return Err(refused(MembershipError::MustPlanFirst)),
                    Some(shown) if *shown != plan => {
                        return Err(refused(MembershipError::PlanChanged));
                    }
                    Some(_) => {}
                }
                let mut next = ring.clone();
                let gone = membership::commit(&mut next, &plan);
                Ok((Some(next), gone))
            })?;
            *node.last_plan().lock().expect("plan") = None;
            tell_the_departed(node, gone);
            Ok(Response::Done)
        }
        ClaimantRequest::TransferComplete {
            partition,
            from,
            to,
        } => {
            if partition >= ring.size() {
                return Err(Error::bad_request(format!(
                    "there is no partition {partition}"
                )));
            }
            let partition = Partition::new(partition, ring.size());
            let gone = node.update_ring(|ring| {
                let mut next = ring.clone();
                match membership::complete_transfer(&mut next, partition, &from, &to) {
                    Some(gone) => Ok((Some(next), gone)),
                    // Already recorded (a retry), or overtaken by a newer plan: nothing to do.
                    None => Ok((None, Vec::new())),
                }
            })?;
            tell_the_departed(node, gone);
            Ok(Response::Done)
        }
    }
}

/// Applies one membership change to the ring.
fn change(
    node: &Node,
    apply: impl FnOnce(&mut Ring) -> Result<(), MembershipError>,
) -> Result<(), Error> {
    node.update_ring(|ring| {
        let mut next = ring.clone();
        apply(&mut next).map_err(refused)?;
        Ok((Some(next), ()))
    })
}

/// Nodes that just left are no longer members, so gossip would not reach them: tell them.
fn tell_the_departed(node: &Node, gone: Vec<NodeName>) {
    for departed in gone {
        tracing::info!(node = %node.name(), %departed, "node left the cluster");
        let node = node.clone();
        node.clone().spawn(async move {
            let state = node.gossip_state();
            let _ = node
                .request(
                    &departed,
                    Request::Gossip(state),
                    node.config().request_timeout,
                )
                .await;
        });
    }
}

fn refused(error: MembershipError) -> Error {
    Error::Refused(error.to_string())
}
