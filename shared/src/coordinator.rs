//! The quorum coordinator (flaviodb's op FSM, riak_kv's put/get FSMs, in small): send a
//! request to the N vnodes of a key, then wait for W (writes) or R (reads) of them.
//!
//! [`Replies`] is what a coordinator waits on: the replies of one request, arriving as the
//! vnodes answer, until all have answered or the deadline passes. [`wait_for_quorum`] is the
//! waiting itself: it returns as soon as `needed` replicas have answered successfully, and
//! fails as soon as that has become impossible, or at the deadline, saying how many of how
//! many answered. (The original op FSM had no timeout of its own and left stalled processes
//! behind; this one always ends.)

use crate::error::Error;
use crate::reply::{Reply, ReplyInbox, RequestId};
use crate::ring::IndexNode;
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

/// Waits until `needed` replicas answered successfully (`Ok` replies), and returns their
/// answers; fails when that can no longer happen, or at the deadline.
pub async fn wait_for_quorum<R>(
    mut replies: Replies<R>,
    needed: usize,
) -> Result<Vec<Answer<R>>, Error> {
    let mut answers = Vec::with_capacity(needed);
    if needed == 0 {
        return Ok(answers);
    }
    if needed > replies.asked() {
        return Err(replies.not_enough(0, needed));
    }
    while let Some(reply) = replies.next().await {
        match reply.result {
            Ok(answer) => {
                answers.push(Answer {
                    from: reply.from,
                    reply: answer,
                });
                if answers.len() >= needed {
                    return Ok(answers);
                }
            }
            Err(error) => {
                replies.failed(reply.from, error);
                // Stop waiting as soon as the quorum is out of reach.
                if replies.asked() - replies.failures.len() < needed {
                    break;
                }
            }
        }
    }
    Err(replies.not_enough(answers.len(), needed))
}

/// How a service waits for a quorum: the finished [`wait_for_quorum`] by default; an exercise
/// plugs in its own teaching version.
pub trait QuorumWaiter: Clone + Send + Sync + 'static {
    fn wait_for_quorum<R: Send + 'static>(
        &self,
        replies: Replies<R>,
        needed: usize,
    ) -> impl Future<Output = Result<Vec<Answer<R>>, Error>> + Send;
}

/// The runtime's own quorum waiting.
#[derive(Clone, Copy, Debug, Default)]
pub struct Quorum;

impl QuorumWaiter for Quorum {
    async fn wait_for_quorum<R: Send + 'static>(
        &self,
        replies: Replies<R>,
        needed: usize,
    ) -> Result<Vec<Answer<R>>, Error> {
        wait_for_quorum(replies, needed).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reply::ReplyTo;
    use crate::ring::Partition;

    fn vnode(i: u32) -> IndexNode {
        IndexNode {
            partition: Partition::new(i, 8),
            node: "dev1@127.0.0.1".into(),
        }
    }

    fn replies(results: Vec<Result<u32, Error>>, asked: usize, wait_ms: u64) -> Replies<u32> {
        let (tx, rx) = ReplyTo::channel();
        // A stale reply of another request is ignored.
        tx.send(Reply {
            request: 99,
            from: vnode(7),
            result: Ok(0),
        });
        for (i, result) in results.into_iter().enumerate() {
            tx.send(Reply {
                request: 1,
                from: vnode(i as u32),
                result,
            });
        }
        // Keep the sender alive so that missing replies time out rather than end the channel.
        std::mem::forget(tx);
        Replies::new("write", 1, rx, asked, Duration::from_millis(wait_ms))
    }

    #[tokio::test]
    async fn returns_as_soon_as_the_quorum_is_met() {
        let answers = wait_for_quorum(replies(vec![Ok(1), Ok(2)], 3, 5000), 2)
            .await
            .unwrap();
        assert_eq!(
            answers.iter().map(|a| a.reply).collect::<Vec<_>>(),
            vec![1, 2]
        );
    }

    #[tokio::test]
    async fn gives_up_as_soon_as_the_quorum_is_out_of_reach() {
        let started = Instant::now();
        let failed = vec![
            Ok(1),
            Err(Error::Unreachable("dev2@127.0.0.1".into())),
            Err(Error::Stopping),
        ];
        let error = wait_for_quorum(replies(failed, 3, 5000), 3)
            .await
            .unwrap_err();
        assert!(started.elapsed() < Duration::from_secs(4));
        // It stops at the first failure: 3 of 3 can no longer succeed.
        let partition_1 = Partition::new(1, 8).id();
        assert_eq!(
            error.to_string(),
            format!(
                "write needs 3 of 3 replicas, 1 succeeded: {partition_1} on dev1@127.0.0.1: \
                 node dev2@127.0.0.1 is unreachable"
            )
        );
    }

    #[tokio::test]
    async fn times_out_saying_how_many_answered() {
        let error = wait_for_quorum(replies(vec![Ok(1)], 3, 50), 2)
            .await
            .unwrap_err();
        assert_eq!(
            error.to_string(),
            "write timed out after 50 ms: 1 of 3 replicas answered"
        );
    }

    #[tokio::test]
    async fn needing_no_answer_returns_at_once() {
        let failed = vec![Err(Error::Stopping), Err(Error::Stopping)];
        let answers = wait_for_quorum(replies(failed, 2, 5000), 0).await.unwrap();
        assert!(answers.is_empty());
    }

    #[tokio::test]
    async fn a_quorum_larger_than_the_replicas_fails_at_once() {
        let error = wait_for_quorum(replies(vec![], 1, 5000), 2)
            .await
            .unwrap_err();
        assert_eq!(
            error.to_string(),
            "write needs 2 of 1 replicas, 0 succeeded"
        );
    }
}
