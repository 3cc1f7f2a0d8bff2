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
    replies: Replies<R>,
    needed: usize,
) -> Result<Vec<Answer<R>>, Error> {
    let _ = (replies, needed);
    Err(Error::not_implemented(
        "write wait_for_quorum in src/coordinator.rs: collect replies until `needed` succeed (README step 1)",
    ))
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
