//! The runtime's own quorum waiting: [`wait_for_quorum`] on a [`Replies`], and [`Quorum`], the
//! [`QuorumWaiter`] that the stream database uses unless told otherwise.
//!
//! This is the finished answer to exercise 3's step 1, kept apart from the API that step
//! sends you to (`ringcore::coordinator`). Exercises 4 to 6 use it as a given building block.
//! It and exercise 3's pass the same cases (`testing::quorum_rule`), so the two cannot drift.

use crate::error::Error;
use crate::vnode::coordinator::{Answer, QuorumWaiter, Replies};

/// Waits until `needed` replicas answered successfully (`Ok` replies), and returns their
/// answers; fails as soon as that can no longer happen, or at the deadline.
pub async fn wait_for_quorum<R>(
    mut replies: Replies<R>,
    needed: usize,
) -> Result<Vec<Answer<R>>, Error> {
    let mut answers = Vec::with_capacity(needed);
    let mut failed = 0;
    loop {
        if answers.len() >= needed {
            return Ok(answers);
        }
        // Out of reach: more failed than the quorum can spare (or more are needed than asked).
        if replies.asked() < needed + failed {
            break;
        }
        let Some(reply) = replies.next().await else {
            break;
        };
        match reply.result {
            Ok(answer) => answers.push(Answer {
                from: reply.from,
                reply: answer,
            }),
            Err(error) => {
                replies.failed(reply.from, error);
                failed += 1;
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
