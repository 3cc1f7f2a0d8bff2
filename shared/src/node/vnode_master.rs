//! The handle an application uses to reach its vnodes (riak_core's `riak_core_vnode_master`
//! API, plus `riak_core_apl` bound to the node's ring and liveness).
//!
//! `sync_command` asks one vnode and waits; `command` sends to several and lets the replies,
//! tagged with a request id, arrive on a [`ReplyTo`] (the building block of a coordinator);
//! `coverage` asks a covering set of vnodes and gathers what they answer.

use crate::error::Error;
use crate::net::wire::{self, VnodeCall};
use crate::node::Node;
use crate::ring::IndexNode;
use crate::ring::apl::{self, Preflist};
use crate::ring::coverage::coverage_plan;
use crate::ring::hash::KeyHash;
use crate::vnode::coordinator::Replies;
use crate::vnode::coverage::{self, CoverageResult};
use crate::vnode::host::{ReplySink, VnodeHost};
use crate::vnode::remote;
use crate::vnode::reply::{Reply, ReplyTo, RequestId};
use crate::vnode::task::VnodeRequest;
use crate::vnode::{Message, Vnode};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::oneshot;
use tokio::time::timeout;

/// Requests to the vnodes of one vnode type, from anywhere on the node. Cheap to clone.
pub struct VnodeMaster<V: Vnode> {
    node: Node,
    host: Arc<VnodeHost<V>>,
}

impl<V: Vnode> Clone for VnodeMaster<V> {
    fn clone(&self) -> Self {
        VnodeMaster {
            node: self.node.clone(),
            host: Arc::clone(&self.host),
        }
    }
}

impl<V: Vnode> VnodeMaster<V> {
    pub(crate) fn new(node: Node, host: Arc<VnodeHost<V>>) -> Self {
        VnodeMaster { node, host }
    }

    /// The node these vnodes run on.
    pub fn node(&self) -> &Node {
        &self.node
    }

    /// The name the vnodes were registered under.
    pub fn vnode_type(&self) -> &'static str {
        self.host.vnode_type()
    }

    /// The key's primaries that are up, at most `n` (riak's `get_primary_apl`).
    pub fn primary_apl(&self, hash: &KeyHash, n: usize) -> Preflist {
        apl::primary_apl(&self.node.ring(), hash, n, |node| self.node.is_up(node))
    }

    /// The key's `n` replicas, with fallbacks for primaries that are down (riak's `get_apl_ann`).
    pub fn apl(&self, hash: &KeyHash, n: usize) -> Preflist {
        apl::apl(&self.node.ring(), hash, n, |node| self.node.is_up(node))
    }

    /// Sends a command to one vnode and waits for its reply, for at most the node's request
    /// timeout (riak's `sync_spawn_command`).
    pub async fn sync_command(
        &self,
        target: &IndexNode,
        command: V::Command,
    ) -> Result<V::Reply, Error> {
        self.sync_command_timeout(target, command, self.node.config().request_timeout)
            .await
    }

    /// [`VnodeMaster::sync_command`] with an explicit timeout.
    pub async fn sync_command_timeout(
        &self,
        target: &IndexNode,
        command: V::Command,
        wait: Duration,
    ) -> Result<V::Reply, Error> {
        if target.node != *self.node.name() {
            let payload = wire::encode(&command)?;
            return remote::call(
                self.host.node(),
                self.vnode_type(),
                target,
                VnodeCall::Command,
                payload,
                wait,
            )
            .await;
        }
        let (tx, rx) = oneshot::channel();
        self.host.send(
            target.partition,
            VnodeRequest::Command {
                command,
                reply: ReplySink::Once(tx),
            },
        )?;
        match timeout(wait, rx).await {
            Ok(Ok(result)) => result,
            Ok(Err(_)) => Err(Error::Stopping),
            Err(_) => Err(Error::timeout("command", 0, 1, wait)),
        }
    }

    /// Sends the same command to every target without waiting; each vnode's reply arrives on
    /// `reply_to` tagged with the returned request id (riak's `riak_core_vnode_master:command`).
    pub fn command(
        &self,
        targets: &[IndexNode],
        command: V::Command,
        reply_to: &ReplyTo<V::Reply>,
    ) -> RequestId
    where
        V::Command: Clone,
    {
        let request = self.new_request_id();
        let Some((last, others)) = targets.split_last() else {
            return request;
        };
        for target in others {
            let call = (
                VnodeCall::Command,
                command.clone(),
                command_request as fn(_, _) -> _,
            );
            self.send_tagged(target, request, call, reply_to);
        }
        // The last target gets the command itself rather than a copy.
        let call = (
            VnodeCall::Command,
            command,
            command_request as fn(_, _) -> _,
        );
        self.send_tagged(last, request, call, reply_to);
        request
    }

    /// A fresh request id, for commands sent one by one with [`VnodeMaster::command_as`] whose
    /// replies are gathered together.
    pub fn new_request_id(&self) -> RequestId {
        self.host.node().next_request_id()
    }

    /// Sends a command to one vnode under an existing request id (when the replicas of a
    /// request get different commands: say, only the first one notifies).
    pub fn command_as(
        &self,
        request: RequestId,
        target: &IndexNode,
        command: V::Command,
        reply_to: &ReplyTo<V::Reply>,
    ) {
        let call = (
            VnodeCall::Command,
            command,
            command_request as Wrap<V, _, _>,
        );
        self.send_tagged(target, request, call, reply_to);
    }

    /// Sends `command` to every target, and nobody waits for their answers (riak's `command`
    /// with the `ignore` sender): a copy for a replica that a request already succeeded
    /// without, a read repair.
    pub fn tell(&self, targets: &[IndexNode], command: V::Command)
    where
        V::Command: Clone,
    {
        let (reply_to, _nobody_reads) = ReplyTo::channel();
        self.command(targets, command, &reply_to);
    }

    /// Sends `command` to every target and returns their replies to wait on, for at most the
    /// node's request timeout: the start of every quorum request (riak's op FSMs). `what`
    /// names the request in errors (`write needs 2 of 3 replicas …`).
    pub fn ask(
        &self,
        what: &'static str,
        targets: &[IndexNode],
        command: V::Command,
    ) -> Replies<V::Reply>
    where
        V::Command: Clone,
    {
        let (reply_to, inbox) = ReplyTo::channel();
        let request = self.command(targets, command, &reply_to);
        let wait = self.node.config().request_timeout;
        Replies::new(what, request, inbox, targets.len(), wait)
    }

    /// [`VnodeMaster::ask`], with a command of its own for each target: `command_for(i)` for
    /// the `i`-th (when, say, only the first replica notifies).
    pub fn ask_each(
        &self,
        what: &'static str,
        targets: &[IndexNode],
        command_for: impl Fn(usize) -> V::Command,
    ) -> Replies<V::Reply> {
        let (reply_to, inbox) = ReplyTo::channel();
        let request = self.new_request_id();
        for (i, target) in targets.iter().enumerate() {
            self.command_as(request, target, command_for(i), &reply_to);
        }
        let wait = self.node.config().request_timeout;
        Replies::new(what, request, inbox, targets.len(), wait)
    }

    /// Asks a covering set of vnodes (for keys stored with `n` replicas) and gathers their
    /// answers for at most `wait`. Vnodes that do not answer in time, or that are on nodes
    /// that are down, are listed in the result's `missing`.
    pub async fn coverage(
        &self,
        request: V::CoverageRequest,
        n: usize,
        wait: Duration,
    ) -> CoverageResult<V::CoverageReply> {
        let plan = coverage_plan(&self.node.ring(), n, |node| self.node.is_up(node));
        let (reply_to, inbox) = ReplyTo::channel();
        let request_id = self.new_request_id();
        for vnode in &plan.vnodes {
            let call = (
                VnodeCall::Coverage,
                request.clone(),
                coverage_request as fn(_, _) -> _,
            );
            self.send_tagged(vnode, request_id, call, &reply_to);
        }
        drop(reply_to);
        let replies = Replies::new("coverage", request_id, inbox, plan.vnodes.len(), wait);
        coverage::gather(replies, plan.vnodes, plan.unavailable, wait).await
    }

    /// Sends a command or coverage request to one vnode, local or remote; its answer (or the
    /// error that stood in the way) arrives on `reply_to` tagged with `request`.
    fn send_tagged<Q: Message, R: Message>(
        &self,
        target: &IndexNode,
        request: RequestId,
        (call, message, wrap): (VnodeCall, Q, Wrap<V, Q, R>),
        reply_to: &ReplyTo<R>,
    ) {
        if target.node == *self.node.name() {
            let reply = ReplySink::Tagged {
                request,
                from: target.clone(),
                to: reply_to.clone(),
            };
            if let Err(error) = self.host.send(target.partition, wrap(message, reply)) {
                reply_to.send(Reply {
                    request,
                    from: target.clone(),
                    result: Err(error),
                });
            }
            return;
        }
        let (from, reply_to) = (target.clone(), reply_to.clone());
        let answer = move |result| {
            reply_to.send(Reply {
                request,
                from,
                result,
            })
        };
        remote::spawn_call(
            self.host.node(),
            self.vnode_type(),
            target,
            call,
            &message,
            answer,
        );
    }
}

/// Makes the vnode request of a message and where its reply goes.
type Wrap<V, Q, R> = fn(Q, ReplySink<R>) -> VnodeRequest<V>;

fn command_request<V: Vnode>(command: V::Command, reply: ReplySink<V::Reply>) -> VnodeRequest<V> {
    VnodeRequest::Command { command, reply }
}

fn coverage_request<V: Vnode>(
    request: V::CoverageRequest,
    reply: ReplySink<V::CoverageReply>,
) -> VnodeRequest<V> {
    VnodeRequest::Coverage { request, reply }
}
