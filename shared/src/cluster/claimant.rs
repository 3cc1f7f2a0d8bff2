//! The claimant's side of membership requests (riak_core_claimant): one node of the cluster,
//! named in the ring, makes every membership change, so changes never conflict.
//!
//! Requests reach it from any node through [`Claimant::call`]; a node that is not the claimant
//! answers `NotClaimant` with the name of the one it knows, and the caller asks there instead.

use crate::cluster::RingState;
use crate::error::Error;
use crate::net::wire::{ClaimantRequest, Request, Response};
use crate::ring::membership::Plan;
use crate::ring::membership::{self, MembershipError};
use crate::ring::{NodeName, Partition, Ring};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// This node's way to the claimant, and the claimant's work when it is this node. Cheap to
/// clone.
#[derive(Clone)]
pub struct Claimant {
    state: RingState,
    /// The last plan this node showed as claimant, which `cluster commit` must match.
    last_plan: Arc<Mutex<Option<Plan>>>,
    request_timeout: Duration,
}

impl Claimant {
    pub fn new(state: RingState, request_timeout: Duration) -> Self {
        Claimant {
            state,
            last_plan: Arc::new(Mutex::new(None)),
            request_timeout,
        }
    }

    /// Sends a request to the claimant (running it here if this node is the claimant),
    /// following the claimant if it moved.
    pub async fn call(&self, request: ClaimantRequest) -> Result<Response, Error> {
        let mut claimant = self.state.ring().claimant().clone();
        for _ in 0..3 {
            let result = if claimant == *self.state.me() {
                self.handle(request.clone()).await
            } else {
                let body = Request::Claimant(request.clone());
                let transport = self.state.transport();
                transport
                    .request(&claimant, body, self.request_timeout)
                    .await
            };
            match result {
                Err(Error::NotClaimant { claimant: other }) if other != claimant => {
                    claimant = other
                }
                other => return other,
            }
        }
        Err(Error::Unavailable(
            "the claimant keeps moving; try again".to_string(),
        ))
    }

    /// Answers a request as the claimant, or with `NotClaimant` when this node is not it.
    pub async fn handle(&self, request: ClaimantRequest) -> Result<Response, Error> {
        handle(self, request).await
    }
}

async fn handle(claimant: &Claimant, request: ClaimantRequest) -> Result<Response, Error> {
    let node = &claimant.state;
    let ring = node.ring();
    if ring.claimant() != node.me() {
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
            *claimant.last_plan.lock().expect("plan") = None;
            Ok(Response::Done)
        }
        ClaimantRequest::Plan => {
            let plan = membership::plan(&node.ring()).map_err(refused)?;
            *claimant.last_plan.lock().expect("plan") = Some(plan.clone());
            Ok(Response::Plan(Box::new(plan)))
        }
        ClaimantRequest::Commit => {
            let shown = claimant.last_plan.lock().expect("plan").clone();
            let gone = node.update(|ring| {
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
            *claimant.last_plan.lock().expect("plan") = None;
            tell_the_departed(claimant, gone);
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
            let gone = node.update(|ring| {
                let mut next = ring.clone();
                match membership::complete_transfer(&mut next, partition, &from, &to) {
                    Some(gone) => Ok((Some(next), gone)),
                    // Already recorded (a retry), or overtaken by a newer plan: nothing to do.
                    None => Ok((None, Vec::new())),
                }
            })?;
            tell_the_departed(claimant, gone);
            Ok(Response::Done)
        }
    }
}

/// Applies one membership change to the ring.
fn change(
    node: &RingState,
    apply: impl FnOnce(&mut Ring) -> Result<(), MembershipError>,
) -> Result<(), Error> {
    node.update(|ring| {
        let mut next = ring.clone();
        apply(&mut next).map_err(refused)?;
        Ok((Some(next), ()))
    })
}

/// Nodes that just left are no longer members, so gossip would not reach them: tell them.
fn tell_the_departed(claimant: &Claimant, gone: Vec<NodeName>) {
    let state = &claimant.state;
    for departed in gone {
        tracing::info!(node = %state.me(), %departed, "node left the cluster");
        let (state, wait) = (state.clone(), claimant.request_timeout);
        state.lifecycle().clone().spawn(async move {
            let gossip = Request::Gossip(state.gossip_state());
            let _ = state.transport().request(&departed, gossip, wait).await;
        });
    }
}

fn refused(error: MembershipError) -> Error {
    Error::Refused(error.to_string())
}
