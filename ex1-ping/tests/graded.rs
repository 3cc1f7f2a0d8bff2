//! Graded tests of exercise 1. `cargo test -p ex1-ping` runs them against your code;
//! `cargo test -p ex1-ping-solution` runs the very same file against the reference solution.
//!
//! Each test's name says which README step it grades.

use assert_cmd::Command;
use ex1_ping::PingApp;
use ringcore::testing::TestCluster;
use ringcore::{Partition, chash_key};
use std::collections::HashSet;

/// A one-node cluster with the ping application, its data in a fresh temporary directory.
async fn start_ping() -> TestCluster<PingApp> {
    TestCluster::start(1).await
}

/// Where a key lives on the default ring of 64 partitions.
fn partition_of(bucket: &str, key: &str) -> Partition {
    ringcore::ring::partition_for(&chash_key(bucket.as_bytes(), key.as_bytes()), 64)
}

#[tokio::test]
async fn step_0_ping_answers_from_a_vnode_of_this_node() {
    let cluster = start_ping().await;
    let ping = &cluster.app(1).ping;
    let pong = ping.ping().await.expect("ping is given and works");
    assert_eq!(
        &pong.0.node,
        cluster.node(1).name(),
        "ping (given) answers from a vnode of this node"
    );
    assert!(
        pong.to_string().starts_with("pong from partition "),
        "ping (given) prints `pong from partition …`, not {pong}"
    );
    cluster.stop().await;
}

#[tokio::test]
async fn step_1_ping_key_reaches_the_vnode_the_key_hashes_to() {
    let cluster = start_ping().await;
    let ping = &cluster.app(1).ping;
    let first = ping
        .ping_key("alice")
        .await
        .expect("README step 1: Ping::ping_key should answer with a pong");
    for _ in 0..5 {
        let again = ping
            .ping_key("alice")
            .await
            .expect("README step 1: Ping::ping_key should answer every time");
        assert_eq!(
            again, first,
            "README step 1: the same key must reach the same vnode every time"
        );
    }
    assert_eq!(
        first.0.partition,
        partition_of("ping", "alice"),
        "README step 1: hash the key as (\"ping\", key), like ping hashes the time"
    );
    let mut partitions = HashSet::new();
    for i in 0..50 {
        let key = format!("user-{i}");
        let pong = ping
            .ping_key(&key)
            .await
            .expect("README step 1: Ping::ping_key should answer for every key");
        assert_eq!(
            pong.0.partition,
            partition_of("ping", &key),
            "README step 1: ping-key {key} should reach the partition (\"ping\", \"{key}\") hashes to"
        );
        partitions.insert(pong.0.partition);
    }
    assert!(
        partitions.len() > 10,
        "README step 1: different keys should spread over the ring, got {} partitions",
        partitions.len()
    );
    cluster.stop().await;
}

#[tokio::test]
async fn step_2_add_is_routed_by_its_arguments() {
    let cluster = start_ping().await;
    let ping = &cluster.app(1).ping;
    let first = ping
        .add(2, 5)
        .await
        .expect("README step 2: Ping::add should answer");
    assert_eq!(first.sum, 7, "README step 2: add 2 5 should answer 7");
    let second = ping
        .add(2, 5)
        .await
        .expect("README step 2: Ping::add should answer every time");
    assert_eq!(
        second, first,
        "README step 2: the same numbers must reach the same vnode"
    );
    assert_eq!(
        first.by.partition,
        partition_of("add", "2,5"),
        "README step 2: add 2 5 should reach the partition (\"add\", \"2,5\") hashes to"
    );
    let eight = ping
        .add(2, 6)
        .await
        .expect("README step 2: Ping::add should answer");
    assert_eq!(eight.sum, 8, "README step 2: add 2 6 should answer 8");
    assert_eq!(
        eight.by.partition,
        partition_of("add", "2,6"),
        "README step 2: add 2 6 should reach the partition (\"add\", \"2,6\") hashes to"
    );
    let negative = ping
        .add(-4, 1)
        .await
        .expect("README step 2: Ping::add should answer for negative numbers");
    assert_eq!(negative.sum, -3, "README step 2: add -4 1 should answer -3");
    cluster.stop().await;
}

#[tokio::test]
async fn step_3_stats_lists_the_vnodes_that_did_additions() {
    let cluster = start_ping().await;
    let ping = &cluster.app(1).ping;
    let before = ping
        .stats()
        .await
        .expect("README step 3: Ping::stats should answer");
    assert!(
        before.is_empty(),
        "README step 3: no vnode has added anything yet, got {before:?}"
    );
    let pairs = [(2, 5), (2, 6), (2, 6), (2, 6), (3, 6), (3, 6), (10, 20)];
    for (a, b) in pairs {
        ping.add(a, b)
            .await
            .expect("README step 2 (Ping::add) must work for step 3");
    }
    let stats = ping
        .stats()
        .await
        .expect("README step 3: Ping::stats should answer after additions");
    let total: u64 = stats.iter().map(|s| s.ops_count).sum();
    assert_eq!(
        total,
        pairs.len() as u64,
        "README step 3: the counts must add up to the additions done"
    );
    let count_of = |a: i64, b: i64| {
        stats
            .iter()
            .filter(|s| s.vnode.partition == partition_of("add", &format!("{a},{b}")))
            .map(|s| s.ops_count)
            .sum::<u64>()
    };
    // Pairs may share a vnode, so compare with what lands on each partition.
    let mut expected = std::collections::HashMap::new();
    for (a, b) in pairs {
        *expected
            .entry(partition_of("add", &format!("{a},{b}")))
            .or_insert(0u64) += 1;
    }
    assert_eq!(
        count_of(2, 6),
        expected[&partition_of("add", "2,6")],
        "README step 3: the vnode of (\"add\", \"2,6\") counts the 3 additions of 2 and 6 \
         (and any other pair that hashes there)"
    );
    assert_eq!(
        stats.len(),
        expected.len(),
        "README step 3: list only vnodes whose count is above zero"
    );
    assert!(
        stats.iter().all(|s| s.ops_count > 0),
        "README step 3: list only vnodes whose count is above zero, got {stats:?}"
    );
    cluster.stop().await;
}

/// The console session of the tutorial, driven through the real binary.
#[test]
fn steps_1_to_3_console_session() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let script = "ping\nping-key alice\nping-key alice\nadd 2 5\nadd 2 5\nadd 2 6\nstats\nadd two 5\nnonsense\nquit\n";
    let output = Command::new(env!(concat!("CARGO_BIN_EXE_", env!("CARGO_PKG_NAME"))))
        .args([
            "--data-dir",
            dir.path().to_str().unwrap(),
            "--cluster-port",
            "0",
            "--http-port",
            "0",
        ])
        .write_stdin(script)
        .timeout(std::time::Duration::from_secs(60))
        .output()
        .expect("the node runs");
    assert!(output.status.success(), "the node exits cleanly on quit");
    let transcript = String::from_utf8(output.stdout).expect("UTF-8 output");
    ringcore::testing::assert_no_hole("README steps 1 to 3: the console session", &transcript);
    insta::with_settings!({description => "README steps 1 to 3: ping, ping-key alice twice \
        (the same vnode), add 2 5 twice and add 2 6, stats, then two bad commands", filters => vec![
        // `ping` hashes the current time: its partition changes from run to run.
        (r"pong from partition \d+ on dev1@127.0.0.1\n\(dev1@127.0.0.1\)2", "pong from partition [TIME-CHOSEN] on dev1@127.0.0.1\n(dev1@127.0.0.1)2"),
    ]}, {
        insta::assert_snapshot!(transcript);
    });
}
