//! The runtime's own quorum waiting: [`wait_for_quorum`] on a [`Replies`], and [`Quorum`], the
//! [`QuorumWaiter`] that the stream database uses unless told otherwise.
//!
//! This is the finished answer to exercise 3's step 1, kept apart from the API that step
//! sends you to (`ringcore::coordinator`). Exercises 4 to 6 use it as a given building block.

use crate::error::Error;
use crate::vnode::coordinator::{Answer, QuorumWaiter, Replies};

/// Waits until `needed` replicas answered successfully (`Ok` replies), and returns their
/// answers; fails when that can no longer happen, or at the deadline.
pub async fn wait_for_quorum<R>(
    mut replies: Replies<R>,
    needed: usize,
) -> Result<Vec<Answer<R>>, Error> {
    let mut answers = Vec::with_capacity(needed);
    let mut failed = 0;
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
                failed += 1;
                // Stop waiting as soon as the quorum is out of reach.
                if replies.asked() - failed < needed {
                    break;
                }
            }
        }
    }
    Err(replies.not_enough(answers.len(), needed))
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
    use crate::error::Error;
    use crate::ring::IndexNode;
    use crate::ring::Partition;
    use crate::vnode::coordinator::Replies;
    use crate::vnode::reply::Reply;
    use crate::vnode::reply::ReplyTo;
    use std::time::Duration;
    use tokio::time::Instant;

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
