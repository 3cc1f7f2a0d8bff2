//! The cluster's cookie between nodes and tools: nodes that share it join; a node with another
//! cannot join, with a reason that names the cookie and one line in each node's log (not one
//! per retry); a tool with the right cookie is answered, one with another is told so.

mod common;

use common::WhoApp;
use ringcore::net::cookie::Cookie;
use ringcore::net::transport::{ClientError, client_request};
use ringcore::net::wire::{Request, Response};
use ringcore::testing::{CapturedLogs, TestCluster, wait_until};
use ringcore::{NodeConfig, NodeName};
use std::time::Duration;

/// Gives devK its own cookie, the others keeping the cluster's.
fn another_cookie_for(k: u32) -> impl Fn(&mut NodeConfig) {
    move |config: &mut NodeConfig| {
        if config.name == NodeName::new(format!("dev{k}@127.0.0.1")) {
            config.cookie = Cookie::new("not the cluster's").unwrap();
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_that_share_a_cookie_join_and_settle() {
    let secret = Cookie::new("a secret of our own").unwrap();
    let cluster = TestCluster::<WhoApp>::start_joined_with(3, |config| {
        config.cookie = secret.clone();
    })
    .await;
    for k in 1..=3 {
        assert_eq!(cluster.node(k).ring().members().len(), 3, "dev{k}");
    }
    cluster.stop().await;
}

#[test]
fn a_node_with_another_cookie_cannot_join_and_both_nodes_say_why_once() {
    let logs = CapturedLogs::new("ringcore=info");
    logs.run(async {
        let cluster = TestCluster::<WhoApp>::start_with(2, another_cookie_for(2)).await;
        let join = format!("cluster join {}", cluster.address_name(1));
        let refusal = cluster.admin(2, &join).await.unwrap_err().to_string();
        let port = cluster.addr(1).port();
        assert_eq!(
            refusal,
            format!(
                "Failed: cannot reach 'dev1@127.0.0.1': the node at 127.0.0.1:{port} does not \
                 share this node's cookie"
            )
        );
        // The called node logs the refusal (after the caller has hung up: wait for it).
        let listener = "refusing connection from 127.0.0.1:";
        wait_until("dev1 logs the refusal", || async {
            !logs.matching(listener).is_empty()
        })
        .await;
        let dialer = logs.matching("cannot connect to dev1@127.0.0.1");
        assert_eq!(
            dialer,
            [format!(
                " WARN cannot connect to dev1@127.0.0.1: the node at 127.0.0.1:{port} does not \
                 share this node's cookie"
            )]
        );
        let refused = logs.matching(listener);
        assert_eq!(refused.len(), 1, "{refused:#?}");
        assert!(
            refused[0].starts_with(" WARN refusing connection from 127.0.0.1:")
                && refused[0].ends_with(" (dev2@127.0.0.1): wrong cookie"),
            "{}",
            refused[0]
        );
        // Trying again is refused again, and logged at debug level only, on both sides.
        let again = cluster.admin(2, &join).await.unwrap_err().to_string();
        assert_eq!(again, refusal);
        assert_eq!(logs.matching("cannot connect to dev1@127.0.0.1").len(), 1);
        assert_eq!(logs.matching(listener).len(), 1);
        // Neither node counts the other in.
        for k in 1..=2 {
            assert_eq!(cluster.node(k).ring().members().len(), 1, "dev{k}");
        }
        cluster.stop().await;
    });
}

#[test]
fn a_tool_with_the_cookie_is_answered_and_one_with_another_is_told_so() {
    let logs = CapturedLogs::new("ringcore=info");
    logs.run(async {
        let cluster = TestCluster::<WhoApp>::start(1).await;
        let addr = cluster.addr(1);
        let wait = Duration::from_secs(10);
        let answer = client_request(addr, &cluster.cookie(1), Request::Ping, wait).await;
        assert!(matches!(answer, Ok(Response::Pong { .. })), "{answer:?}");
        let wrong = Cookie::new("wrong").unwrap();
        for _ in 0..2 {
            let answer = client_request(addr, &wrong, Request::Ping, wait).await;
            assert_eq!(answer.unwrap_err(), ClientError::WrongCookie(addr));
        }
        assert_eq!(
            ClientError::WrongCookie(addr).to_string(),
            format!("the node at {addr} does not share this cookie")
        );
        // Every tool refused is logged: each is someone at a terminal.
        let tool = " (a command-line tool): wrong cookie";
        wait_until("dev1 logs both refusals", || async {
            logs.matching(tool).len() == 2
        })
        .await;
        cluster.stop().await;
    });
}
