//! Waiting for a quorum (step 1).
//!
//! The service sends a command to the N vnodes of a key and hands you their replies as they
//! arrive. Your job: return as soon as `needed` of them (W for a write, R for a read) have
//! answered successfully — and not wait forever when that cannot happen.

use ringcore::Error;
use ringcore::coordinator::{Answer, QuorumWaiter, Replies};

/// Waits until `needed` replicas answered successfully and returns their answers.
///
/// - `replies.next().await` gives the next reply, or `None` when every replica has answered
///   or the deadline has passed;
/// - a reply's `result` is `Ok(answer)` or `Err(error)` (unreachable node, failed vnode…);
///   note failures with `replies.failed(reply.from, error)`;
/// - before each wait, ask whether the outcome is known: `needed` answers are in (a quorum of
///   0 is met before any reply), or the quorum is out of reach (more failed than
///   `replies.asked() - needed`, or more are needed than were asked);
/// - when the quorum cannot be met, return `Err(replies.not_enough(succeeded, needed))`: it
///   says how many answered of how many asked, and why the others did not.
pub async fn wait_for_quorum<R>(
    mut replies: Replies<R>,
    needed: usize,
) -> Result<Vec<Answer<R>>, Error> {
    let mut answers = Vec::new();
    let mut failed = 0;
    loop {
        if answers.len() >= needed {
            return Ok(answers);
        }
        // Too many failures (or too few asked): the quorum can no longer be met.
        if replies.asked() < needed + failed {
            break;
        }
        let Some(reply) = replies.next().await else {
            break; // every replica answered, or the deadline passed
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

/// Plugs `wait_for_quorum` into the database service.
#[derive(Clone, Copy, Debug, Default)]
pub struct YourQuorum;

impl QuorumWaiter for YourQuorum {
    async fn wait_for_quorum<R: Send + 'static>(
        &self,
        replies: Replies<R>,
        needed: usize,
    ) -> Result<Vec<Answer<R>>, Error> {
        wait_for_quorum(replies, needed).await
    }
}
