//! Graded tests of exercise 3. `cargo test -p ex3-coordinator` runs them against your code;
//! `cargo test -p ex3-coordinator-solution` runs the very same file against the reference.
//!
//! Each test starts a 3-node cluster in this process, its nodes talking over real TCP.

use assert_cmd::Command;
use ex3_coordinator::DbApp;
use ex3_coordinator::coordinator::wait_for_quorum;
use ringcore::streams::Nwr;
use ringcore::testing::{TestCluster, quorum_rule};
use ringcore::{App, NodeName};
use std::collections::BTreeSet;
use std::time::{Duration, Instant};

const N3W2: Nwr = Nwr { n: 3, w: 2, r: 2 };
const ALL: Nwr = Nwr { n: 3, w: 3, r: 3 };

/// Runs a console command on node `k`, as typed at its console.
async fn console(
    cluster: &TestCluster<DbApp>,
    k: u32,
    line: &str,
) -> Result<String, ringcore::Error> {
    let words: Vec<&str> = line.split_whitespace().collect();
    cluster.app(k).run(words[0], &words[1..]).await
}

/// The distinct nodes holding a stream's N=3 replicas, as dev1's ring places them.
fn replica_nodes(cluster: &TestCluster<DbApp>, bucket: &str, stream: &str) -> BTreeSet<NodeName> {
    let ring = cluster.node(1).ring();
    ring.preflist(
        &ringcore::chash_key(bucket.as_bytes(), stream.as_bytes()),
        3,
    )
    .into_iter()
    .map(|v| v.node)
    .collect()
}

/// Your `wait_for_quorum` keeps the quorum rule: the same cases the runtime's own waiting
/// (`ringcore::quorum`) is held to, each of whose outcome is known before the replies' deadline.
#[tokio::test]
async fn step_1_wait_for_quorum_returns_as_soon_as_it_knows() {
    quorum_rule::check("README step 1", wait_for_quorum).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn step_1_a_write_on_one_node_is_read_on_the_others() {
    let cluster = TestCluster::<DbApp>::start_joined(3).await;
    let written = cluster
        .app(1)
        .db
        .store("alice", "hello", N3W2)
        .await
        .expect("README step 1: a write with N=3, W=2 should succeed on a healthy cluster");
    assert_eq!(
        written.entry.seq, 1,
        "README step 1: the first write of a stream is entry 1"
    );
    assert!(
        written.acks >= 2,
        "README step 1: return only once W replicas acknowledged"
    );
    let second = cluster
        .app(2)
        .db
        .store("alice", "again", N3W2)
        .await
        .expect("README step 1: a second write, through dev2, should succeed too");
    assert_eq!(
        second.entry.seq, 2,
        "every replica numbers the stream the same way"
    );
    for k in 1..=3 {
        let read = cluster
            .app(k)
            .db
            .fetch("alice", N3W2)
            .await
            .expect("README step 1: reads wait for R replicas");
        let newest = read
            .entries
            .last()
            .unwrap_or_else(|| panic!("README step 1: fetch alice on dev{k} found nothing"));
        assert_eq!(
            (newest.seq, newest.payload.as_slice()),
            (2, &b"again"[..]),
            "README step 1: fetch alice on dev{k} answers the newest value, written on dev2"
        );
        assert!(
            read.answered >= 2,
            "README step 1: a read returns once R=2 replicas answered, not fewer: {} did",
            read.answered
        );
    }
    cluster.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn step_1_writes_survive_one_node_down_and_are_read_back_after_it_returns() {
    let mut cluster = TestCluster::<DbApp>::start_joined(3).await;
    // Pick a key with a replica on dev3, then stop dev3.
    let key = (0..)
        .map(|i| format!("key-{i}"))
        .find(|k| replica_nodes(&cluster, "kv", k).contains(&cluster.name(3)))
        .expect("some key has a replica on dev3");
    cluster.stop_node(3).await;
    let dev3 = cluster.name(3);
    cluster
        .wait_until("dev1 and dev2 see dev3 down", || async {
            !cluster.node(1).is_up(&dev3) && !cluster.node(2).is_up(&dev3)
        })
        .await;
    let written = cluster
        .app(1)
        .db
        .store(&key, "while dev3 was away", N3W2)
        .await
        .expect("README step 1: with one node down, W=2 is still reachable");
    cluster.start_node(3).await;
    cluster
        .wait_until("dev1 sees dev3 up again", || async {
            cluster.node(1).is_up(&dev3)
        })
        .await;
    // All three replicas: dev3's primary missed the write, so the replicas disagree, and the
    // read returns the newest entry anyway and repairs dev3.
    let read = cluster
        .app(3)
        .db
        .fetch(&key, ALL)
        .await
        .expect("README step 1: r=3 once dev3 is back");
    assert_eq!(
        read.entries,
        vec![written.entry.clone()],
        "README step 1: an r=3 read answers the write dev3 missed, from the other replicas"
    );
    cluster
        .wait_until("read repair brings dev3 up to date", || async {
            let again = cluster
                .app(3)
                .db
                .fetch(&key, ALL)
                .await
                .expect("README step 1: r=3 reads answer once dev3 is back");
            !again.disagreed && again.entries == vec![written.entry.clone()]
        })
        .await;
    cluster.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn step_1_a_quorum_that_cannot_be_met_fails_at_once_and_says_why() {
    let mut cluster = TestCluster::<DbApp>::start_joined(3).await;
    cluster.stop_node(2).await;
    cluster.stop_node(3).await;
    let (dev2, dev3) = (cluster.name(2), cluster.name(3));
    cluster
        .wait_until("dev1 sees dev2 and dev3 down", || async {
            !cluster.node(1).is_up(&dev2) && !cluster.node(1).is_up(&dev3)
        })
        .await;
    let started = Instant::now();
    let error = cluster
        .app(1)
        .db
        .store("bob", "lost?", N3W2)
        .await
        .expect_err("README step 1: W=2 with one node up must fail");
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "README step 1: fail at once, do not wait for the timeout; took {:?}",
        started.elapsed()
    );
    assert_eq!(
        error.to_string(),
        "write needs 2 of 1 replicas, 0 succeeded: only 1 of the 3 replicas are on nodes that are up",
        "README step 1: a write that cannot reach W says why"
    );
    // W=1 still works: the one live node takes the write.
    let one = Nwr { n: 3, w: 1, r: 1 };
    cluster
        .app(1)
        .db
        .store("bob", "kept", one)
        .await
        .expect("README step 1: W=1 needs one replica");
    // And R=1 reads it back: the one reply is the quorum.
    let read = cluster
        .app(1)
        .db
        .fetch("bob", one)
        .await
        .expect("README step 1: R=1 needs one replica");
    assert_eq!(
        read.entries.first().map(|e| e.payload.as_slice()),
        Some(&b"kept"[..]),
        "README step 1: an R=1 read with one node up answers the W=1 write"
    );
    cluster.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn given_bad_settings_are_refused_clearly() {
    let cluster = TestCluster::<DbApp>::start_joined(1).await;
    let error = console(&cluster, 1, "store k v n=2 w=3")
        .await
        .expect_err("`store k v n=2 w=3` (given) is refused");
    assert_eq!(
        error.to_string(),
        "w (3) and r (2) cannot be more than n (2)",
        "the console (given) says why n=2 w=3 is refused"
    );
    let error = console(&cluster, 1, "fetch k r=zero")
        .await
        .expect_err("`fetch k r=zero` (given) is refused");
    assert_eq!(
        error.to_string(),
        "r= takes a number, not 'zero'",
        "the console (given) says why r=zero is refused"
    );
    cluster.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn step_2_list_streams_lists_each_stream_once() {
    let cluster = TestCluster::<DbApp>::start_joined(3).await;
    for user in ["alice", "bob", "carol", "dave"] {
        for topic in ["rust", "erlang", "riak", "chat"] {
            let k = 1 + (user.len() + topic.len()) as u32 % 3;
            cluster
                .app(k)
                .db
                .post(user, topic, "hi", N3W2)
                .await
                .expect("README step 1 (wait_for_quorum) must work for step 2");
        }
    }
    for k in 1..=3 {
        for user in ["alice", "bob", "carol", "dave"] {
            let listing = cluster
                .app(k)
                .db
                .list_streams(user, N3W2)
                .await
                .expect("README step 2: merge_stream_names should answer");
            assert_eq!(
                listing.names,
                vec!["chat", "erlang", "riak", "rust"],
                "README step 2: list-streams {user} on dev{k}: each stream once, sorted, though \
                 each is stored on 3 replicas"
            );
            assert_eq!(
                listing.partial, None,
                "README step 2: every vnode answered, so the listing is complete"
            );
        }
        let buckets = cluster
            .app(k)
            .db
            .list_buckets(N3W2)
            .await
            .expect("README step 2: list-buckets should answer");
        assert_eq!(
            buckets.names,
            vec!["alice", "bob", "carol", "dave"],
            "README step 2: list-buckets on dev{k}: each bucket once, sorted"
        );
    }
    cluster.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn step_1_stats_totals_equal_the_operations_done() {
    let cluster = TestCluster::<DbApp>::start_joined(3).await;
    for i in 0..10 {
        cluster
            .app(1 + i % 3)
            .db
            .store(&format!("k{i}"), "v", ALL)
            .await
            .expect("README step 1: a write with w=3 on a healthy cluster should succeed");
    }
    for i in 0..4 {
        cluster
            .app(2)
            .db
            .fetch(&format!("k{i}"), ALL)
            .await
            .expect("README step 1: a read with r=3 on a healthy cluster should succeed");
    }
    let stats = cluster
        .app(3)
        .db
        .stats()
        .await
        .expect("stats (given) answers");
    assert_eq!(stats.len(), 64, "every partition answers");
    let writes: u64 = stats.iter().map(|(_, s)| s.writes).sum();
    let reads: u64 = stats.iter().map(|(_, s)| s.reads).sum();
    let entries: u64 = stats.iter().map(|(_, s)| s.entries).sum();
    assert_eq!(
        writes, 30,
        "README step 1: 10 writes with w=3 reach 3 replicas each"
    );
    assert_eq!(
        entries, 30,
        "README step 1: 10 writes make 30 entries, one on each of 3 replicas"
    );
    assert_eq!(
        reads, 12,
        "README step 1: 4 reads with r=3 ask 3 replicas each"
    );
    let text = console(&cluster, 1, "stats")
        .await
        .expect("the console's stats (given) answers");
    assert!(
        text.ends_with("total: writes=30 reads=12 entries=30"),
        "the console's stats adds up the vnodes' counts: {text}"
    );
    cluster.stop().await;
}

/// The console session of the exercise, driven through the real binary on one node.
#[test]
fn steps_1_and_2_console_session() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let script = "store alice hello\nstore alice world\nfetch alice\nfetch nobody\n\
                  post bob rust ownership is nice\npost bob erlang let it crash\npost bob rust borrow checker\n\
                  get bob rust\nget bob rust 1 5\nget bob rust 9\nlist-streams bob\nlist-buckets\n\
                  store carol x n=1 w=1\nstore carol y w=4\nquit\n";
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
        .timeout(Duration::from_secs(60))
        .output()
        .expect("the node runs");
    assert!(output.status.success(), "the node exits cleanly on quit");
    let transcript = String::from_utf8(output.stdout).expect("UTF-8 output");
    ringcore::testing::assert_no_hole("README steps 1 and 2: the console session", &transcript);
    insta::with_settings!({description => "README steps 1 and 2: stores and fetches with \
        quorums (step 1), list-streams and list-buckets (step 2), and the settings refused",
        filters => vec![(r"#(\d+) \d{13} ", "#$1 [ts] ")]}, {
        insta::assert_snapshot!(transcript);
    });
}
