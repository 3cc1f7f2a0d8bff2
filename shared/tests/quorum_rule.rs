//! The runtime's quorum waiting keeps the quorum rule: the cases exercise 3's graded tests
//! hold an attendee's `wait_for_quorum` to (`ringcore::testing::quorum_rule`).

use ringcore::quorum::wait_for_quorum;
use ringcore::testing::quorum_rule;

#[tokio::test]
async fn the_runtime_keeps_the_quorum_rule() {
    quorum_rule::check("ringcore::quorum", wait_for_quorum).await;
}

#[tokio::test]
async fn a_waiting_that_breaks_the_rule_is_caught() {
    // Returns at once with no answers, whatever arrived: wrong whenever one is needed.
    let hasty =
        |_replies: ringcore::coordinator::Replies<u32>, _needed: usize| async { Ok(vec![]) };
    let caught = tokio::spawn(quorum_rule::check("a test", hasty)).await;
    let message = *caught
        .unwrap_err()
        .into_panic()
        .downcast::<String>()
        .unwrap();
    assert!(
        message.contains(
            "a test: when 2 of 3 replicas answered and 2 are needed, return their answers"
        ),
        "{message}"
    );
}
