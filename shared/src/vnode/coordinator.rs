//! The quorum coordinator (flaviodb's op FSM, riak_kv's put/get FSMs, in small): send a
//! request to the N vnodes of a key, then wait for W (writes) or R (reads) of them.
//!
//! [`Replies`] is what a coordinator waits on: the replies of one request, arriving as the
//! vnodes answer, until all have answered or the deadline passes. A [`QuorumWaiter`] is the
//! waiting itself: it returns as soon as `needed` replicas have answered successfully, and
//! fails as soon as that has become impossible, or at the deadline, saying how many of how
//! many answered. (The original op FSM had no timeout of its own and left stalled processes
//! behind; `Replies` ends at its deadline, so a waiter always ends.)
//!
//! Exercise 3 has you write the waiting (`wait_for_quorum`) on this API. The runtime's own,
//! used by the exercises after it, is in [`crate::vnode::quorum`].

use crate::error::Error;
use crate::ring::IndexNode;
use crate::vnode::reply::{Reply, ReplyInbox, RequestId};
use std::future::Future;
use std::time::Duration;
use tokio::time::{Instant, timeout_at};

/// One replica's successful answer.
#[derive(Debug, Clone, PartialEq)]
pub struct Answer<R> {
    pub from: IndexNode,
    pub reply: R,
}

/// The replies to one request sent to several vnodes.
pub struct Replies<R> {
    what: &'static str,
    request: RequestId,
    receiver: ReplyInbox<R>,
    asked: usize,
    received: usize,
    deadline: Instant,
    wait: Duration,
    /// Why the replicas that failed did, for the error message.
    failures: Vec<(IndexNode, Error)>,
    /// Recognises a reply that arrived but reports a failure (e.g. a disk error).
    failure_of: fn(&R) -> Option<String>,
}

impl<R> Replies<R> {
    /// Replies to `request`, sent to `asked` vnodes, arriving on `receiver` for at most `wait`.
    pub fn new(
        what: &'static str,
        request: RequestId,
        receiver: ReplyInbox<R>,
        asked: usize,
        wait: Duration,
    ) -> Self {
        Replies {
            what,
            request,
            receiver,
            asked,
            received: 0,
            deadline: Instant::now() + wait,
            wait,
            failures: Vec::new(),
            failure_of: |_| None,
        }
    }

    /// Counts replies for which `failure_of` returns a reason as failed replicas.
    pub fn with_failures(mut self, failure_of: fn(&R) -> Option<String>) -> Self {
        self.failure_of = failure_of;
        self
    }

    /// How many vnodes were asked.
    pub fn asked(&self) -> usize {
        self.asked
    }

    /// The next reply, or `None` once every vnode has answered or the deadline has passed.
    pub async fn next(&mut self) -> Option<Reply<R>> {
        while self.received < self.asked {
            // A reply already waiting needs no timer: under load most of them are.
            let reply = match self.receiver.try_recv() {
                Some(reply) => reply,
                None => timeout_at(self.deadline, self.receiver.recv())
                    .await
                    .ok()??,
            };
            // Replies tagged with another request are not ours: an inbox may be handed to
            // several requests.
            if reply.request == self.request {
                self.received += 1;
                let failure = reply.result.as_ref().ok().and_then(self.failure_of);
                return Some(match failure {
                    Some(reason) => Reply {
                        result: Err(Error::VnodeFailed {
                            vnode: reply.from.clone(),
                            reason,
                        }),
                        ..reply
                    },
                    None => reply,
                });
            }
        }
        None
    }

    /// Notes a replica that answered with an error (it is named in the final error).
    pub fn failed(&mut self, from: IndexNode, error: Error) {
        self.failures.push((from, error));
    }

    /// The error when fewer than `needed` replicas succeeded: a timeout if some never
    /// answered, otherwise the reasons the others failed.
    pub fn not_enough(&self, succeeded: usize, needed: usize) -> Error {
        if self.received < self.asked && Instant::now() >= self.deadline {
            return Error::timeout(self.what, succeeded, self.asked, self.wait);
        }
        let reasons: Vec<String> = self
            .failures
            .iter()
            .map(|(vnode, error)| format!("{} on {}: {error}", vnode.partition, vnode.node))
            .collect();
        Error::Quorum {
            what: self.what.to_string(),
            needed,
            succeeded,
            asked: self.asked,
            reasons,
        }
    }
}

/// How a service waits for a quorum: the runtime's [`Quorum`] by default; exercise 3 plugs in
/// the attendee's own.
pub trait QuorumWaiter: Clone + Send + Sync + 'static {
    fn wait_for_quorum<R: Send + 'static>(
        &self,
        replies: Replies<R>,
        needed: usize,
    ) -> impl Future<Output = Result<Vec<Answer<R>>, Error>> + Send;
}

// The runtime's own waiting, `Quorum`, lives in `crate::vnode::quorum`: exercise 3 has you write it.
pub use crate::vnode::quorum::Quorum;
