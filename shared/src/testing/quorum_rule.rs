//! The quorum rule as cases that every waiting for a quorum must pass: the runtime's
//! (`ringcore::quorum::wait_for_quorum`) and the one exercise 3 has you write, so that the two
//! cannot drift apart. Each case says what has arrived, how many replicas were asked and how
//! many must succeed, and what the waiting must give back — as soon as the outcome is known,
//! never at the replies' deadline when it was known before.

use crate::error::Error;
use crate::ring::{IndexNode, NodeName, Partition};
use crate::vnode::coordinator::{Answer, Replies};
use crate::vnode::reply::{Reply, ReplyTo};
use std::future::Future;
use std::time::Duration;

/// One case of the rule.
pub struct Case {
    /// What happened, in words: `2 of 3 replicas answered and 2 are needed`.
    pub scenario: &'static str,
    /// The replies that arrived, in order (replica `i` is partition `i` on `dev(i+1)`); the
    /// other replicas asked never answer.
    pub arrived: Vec<Result<u32, Error>>,
    pub asked: usize,
    pub needed: usize,
    /// The replies' deadline.
    pub deadline: Duration,
    /// What the waiting must return.
    pub outcome: Result<Vec<u32>, String>,
    /// How to get there, for the message of a case that fails.
    pub hint: &'static str,
}

/// A minute: the deadline of the cases whose outcome is known before it.
const MINUTE: Duration = Duration::from_secs(60);

/// How long a waiting may take on a case whose outcome is known at once (or at a deadline
/// of 200 ms): far less than a minute.
const PROMPTLY: Duration = Duration::from_secs(10);

/// The replica that the `i`-th reply comes from.
fn replica(i: usize) -> IndexNode {
    IndexNode {
        partition: Partition::new(i as u32, 8),
        node: NodeName::new(format!("dev{}@127.0.0.1", i + 1)),
    }
}

/// Every case of the rule.
pub fn cases() -> Vec<Case> {
    let unreachable = |k: u32| Error::Unreachable(NodeName::new(format!("dev{k}@127.0.0.1")));
    let partition = |i: u32| Partition::new(i, 8).id();
    vec![
        Case {
            scenario: "2 of 3 replicas answered and 2 are needed",
            arrived: vec![Ok(10), Ok(20)],
            asked: 3,
            needed: 2,
            deadline: MINUTE,
            outcome: Ok(vec![10, 20]),
            hint: "return their answers, in the order they came, without waiting for the third",
        },
        Case {
            scenario: "1 of 3 replicas failed and all 3 are needed",
            arrived: vec![Err(unreachable(1))],
            asked: 3,
            needed: 3,
            deadline: MINUTE,
            outcome: Err(format!(
                "write needs 3 of 3 replicas, 0 succeeded: {} on dev1@127.0.0.1: node \
                 dev1@127.0.0.1 is unreachable",
                partition(0)
            )),
            hint: "note the failure with replies.failed and return replies.not_enough(0, 3)",
        },
        Case {
            scenario: "1 of 3 replicas answered, then one failed, and all 3 are needed",
            arrived: vec![Ok(10), Err(unreachable(2)), Err(Error::Stopping)],
            asked: 3,
            needed: 3,
            deadline: MINUTE,
            outcome: Err(format!(
                "write needs 3 of 3 replicas, 1 succeeded: {} on dev2@127.0.0.1: node \
                 dev2@127.0.0.1 is unreachable",
                partition(1)
            )),
            hint: "stop at the first failure that puts the quorum out of reach",
        },
        Case {
            scenario: "1 of 3 replicas answered, 2 are needed and the deadline (200 ms) passed",
            arrived: vec![Ok(10)],
            asked: 3,
            needed: 2,
            deadline: Duration::from_millis(200),
            outcome: Err("write timed out after 200 ms: 1 of 3 replicas answered".to_string()),
            hint: "when replies.next() gives None, return replies.not_enough(1, 2)",
        },
        Case {
            scenario: "2 are needed of the 1 replica asked",
            arrived: vec![],
            asked: 1,
            needed: 2,
            deadline: MINUTE,
            outcome: Err("write needs 2 of 1 replicas, 0 succeeded".to_string()),
            hint: "the quorum is out of reach before any reply: return replies.not_enough(0, 2) \
                   without waiting",
        },
        Case {
            scenario: "2 replicas failed and none is needed",
            arrived: vec![Err(Error::Stopping), Err(Error::Stopping)],
            asked: 2,
            needed: 0,
            deadline: MINUTE,
            outcome: Ok(vec![]),
            hint: "a quorum of 0 is met before any reply: return no answers",
        },
    ]
}

/// The replies of a case: what arrived, then silence until the deadline. A stale reply of
/// another request comes first, which `Replies` must leave out. The sender is returned, so
/// that the replies do not end before the deadline.
pub fn replies(case: &Case) -> (Replies<u32>, ReplyTo<u32>) {
    let (reply_to, inbox) = ReplyTo::channel();
    reply_to.send(Reply {
        request: 99,
        from: replica(7),
        result: Ok(0),
    });
    for (i, result) in case.arrived.iter().enumerate() {
        reply_to.send(Reply {
            request: 1,
            from: replica(i),
            result: result.clone(),
        });
    }
    let replies = Replies::new("write", 1, inbox, case.asked, case.deadline);
    (replies, reply_to)
}

/// Runs `wait` (a `wait_for_quorum`) on every case, and panics at the first it gets wrong,
/// with `step` (where its author reads what to do: `README step 1`), the scenario and the hint.
pub async fn check<W, F>(step: &str, wait: W)
where
    W: Fn(Replies<u32>, usize) -> F,
    F: Future<Output = Result<Vec<Answer<u32>>, Error>>,
{
    for case in cases() {
        let (replies, _sender) = replies(&case);
        let scenario = case.scenario;
        let outcome = tokio::time::timeout(PROMPTLY, wait(replies, case.needed))
            .await
            .unwrap_or_else(|_| {
                panic!(
                    "{step}: when {scenario}, the outcome is known, yet wait_for_quorum was still \
                     waiting after {PROMPTLY:?}: return as soon as it is known"
                )
            })
            .map(|answers| answers.into_iter().map(|a| a.reply).collect::<Vec<_>>())
            .map_err(|error| error.to_string());
        assert_eq!(
            outcome, case.outcome,
            "{step}: when {scenario}, {}",
            case.hint
        );
    }
}
