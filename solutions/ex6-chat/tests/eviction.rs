//! Eviction policies on a 3-node cluster of the finished database: set over HTTP, observed
//! through reads on every node and on every replica, and still holding after a restart, after
//! a handoff to a node that joins, and against anti-entropy and read repair from a replica
//! that was away when its entries were evicted.
//!
//! ```text
//! cargo test -p ex6-chat-solution --test eviction
//! ```

mod common;

use common::Client;
use ex6_chat::ChatApp;
use ringcore::streams::{PageWindow, StreamCommand, StreamReply};
use ringcore::testing::TestCluster;
use ringcore::{apl, chash_key};
use serde_json::json;
use std::time::Duration;

const ADMIN_PASSWORD: &str = "eviction admin";

async fn cluster(anti_entropy: bool) -> TestCluster<ChatApp> {
    cluster_of(3, anti_entropy).await
}

async fn cluster_of(n: u32, anti_entropy: bool) -> TestCluster<ChatApp> {
    TestCluster::start_joined_with(n, |config| {
        config.ring_size = 16;
        config.access.admin_password = Some(ADMIN_PASSWORD.into());
        config.anti_entropy = anti_entropy.then(|| Duration::from_millis(100));
    })
    .await
}

/// What each primary replica of a stream holds, read on the replica itself, whoever is up:
/// (its floor, the ids). (Not the preference list of the moment, whose fallbacks would stand
/// in for a primary that a node still takes for down.)
async fn replicas(
    cluster: &TestCluster<ChatApp>,
    bucket: &str,
    stream: &str,
) -> Vec<(u64, Vec<u64>)> {
    let db = &cluster.app(1).db;
    let key = chash_key(bucket.as_bytes(), stream.as_bytes());
    let mut held = Vec::new();
    for replica in cluster.node(1).ring().preflist(&key, 3) {
        let page = StreamCommand::Page {
            bucket: bucket.into(),
            stream: stream.into(),
            window: PageWindow::From {
                from: 0,
                limit: 1000,
            },
        };
        match db.vnodes().sync_command(&replica, page).await {
            Ok(StreamReply::Page { entries, floor }) => {
                held.push((floor, entries.iter().map(|e| e.seq).collect()))
            }
            other => panic!("{replica:?} answered {other:?}"),
        }
    }
    held
}

/// The ids a read through node k returns.
async fn ids(client: &Client, path: &str) -> Vec<u64> {
    let read = client.get(path).await;
    assert_eq!(read.status, 200, "{}", read.body);
    read.json()
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["meta"]["id"].as_u64().unwrap())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keep_last_holds_on_every_node_after_a_restart_and_a_handoff() {
    let mut cluster = cluster(false).await;
    let one = Client::of(&cluster, 1);
    let admin = one.with_token(&one.login("admin", ADMIN_PASSWORD).await);

    // Set on the bucket, over HTTP, by someone who may grant on it.
    let anonymous = Client::of(&cluster, 2)
        .put("/eviction/logs", json!({"keep_last": 3}))
        .await;
    assert_eq!(anonymous.status, 401, "setting a policy needs grant");
    let set = admin.put("/eviction/logs", json!({"keep_last": 3})).await;
    assert_eq!(set.status, 200, "{}", set.body);
    assert_eq!(set.json()["eviction"], json!({"keep_last": 3}));
    let shown = Client::of(&cluster, 3)
        .with_token(admin.token.as_deref().unwrap())
        .get("/eviction/logs")
        .await;
    assert_eq!(shown.json()["eviction"], json!({"keep_last": 3}));
    for bad in [
        json!({"keep_last": 0}),
        json!({"keep": 1}),
        json!({"max_bytes": -1}),
        json!([1]),
    ] {
        assert_eq!(
            admin.put("/eviction/logs", bad.clone()).await.status,
            400,
            "{bad}"
        );
    }

    for i in 1..=10 {
        let k = (i % 3) + 1;
        let reply = Client::of(&cluster, k)
            .post("/streams/logs/app", json!({"line": i}))
            .await;
        assert_eq!(reply.status, 201);
    }
    for k in 1..=3 {
        let client = Client::of(&cluster, k);
        assert_eq!(
            ids(&client, "/streams/logs/app?from=1&limit=100").await,
            [8, 9, 10]
        );
        assert_eq!(
            ids(&client, "/streams/logs/app?limit=100&r=3").await,
            [8, 9, 10]
        );
    }
    for (floor, held) in replicas(&cluster, "logs", "app").await {
        assert_eq!((floor, held), (8, vec![8, 9, 10]), "every replica evicted");
    }
    let stats = Client::of(&cluster, 2).get("/stats").await.json();
    assert!(
        stats["total"]["evicted_entries"].as_u64().unwrap() >= 3 * 7,
        "{stats}"
    );

    // A restart: each replica keeps its floor (it is on disk), so nothing comes back.
    for k in 1..=3 {
        cluster.stop_node(k).await;
        cluster.start_node(k).await;
    }
    cluster.wait_settled().await;
    for k in 1..=3 {
        assert_eq!(
            ids(
                &Client::of(&cluster, k),
                "/streams/logs/app?from=1&limit=100&r=3"
            )
            .await,
            [8, 9, 10]
        );
    }
    for (floor, held) in replicas(&cluster, "logs", "app").await {
        assert_eq!((floor, held), (8, vec![8, 9, 10]), "after a restart");
    }

    // A handoff: a fourth node joins and takes partitions, with their floors.
    let four = cluster.add_node().await;
    cluster.join(four).await;
    cluster.wait_settled().await;
    for k in 1..=4 {
        let client = Client::of(&cluster, k);
        assert_eq!(
            ids(&client, "/streams/logs/app?from=1&limit=100&r=3").await,
            [8, 9, 10]
        );
    }
    for (floor, held) in replicas(&cluster, "logs", "app").await {
        assert_eq!(held, vec![8, 9, 10], "after a handoff (floor {floor})");
    }
    // And the policy goes on applying on the new owners.
    Client::of(&cluster, 4)
        .post("/streams/logs/app", json!({"line": 11}))
        .await;
    assert_eq!(
        ids(
            &Client::of(&cluster, 1),
            "/streams/logs/app?from=1&limit=100&r=3"
        )
        .await,
        [9, 10, 11]
    );
    cluster.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replica_that_was_away_never_brings_evicted_entries_back() {
    let mut cluster = cluster(true).await;
    let one = Client::of(&cluster, 1);
    let admin = one.with_token(&one.login("admin", ADMIN_PASSWORD).await);
    for i in 1..=5 {
        one.post("/streams/feed/x", json!(i)).await;
    }
    // One replica's node goes away; the stream gets a policy and more entries meanwhile.
    let replica_nodes: Vec<String> = apl::targets(&cluster.app(1).db.preflist("feed", "x", 3))
        .iter()
        .map(|r| r.node.to_string())
        .collect();
    let away = (1..=3)
        .find(|k| replica_nodes.contains(&cluster.name(*k).to_string()) && *k != 1)
        .unwrap_or(2);
    cluster.stop_node(away).await;
    let other = if away == 2 { 3 } else { 2 };
    let admin = Client::of(&cluster, other).with_token(admin.token.as_deref().unwrap());
    assert_eq!(
        admin
            .put("/eviction/feed/x", json!({"keep_last": 2}))
            .await
            .status,
        200
    );
    for i in 6..=8 {
        Client::of(&cluster, other)
            .post("/streams/feed/x", json!(i))
            .await;
    }
    cluster.start_node(away).await;
    cluster.wait_settled().await;
    // Reads (and their read repair) through the node that was away see only what is kept.
    let back = Client::of(&cluster, away);
    for _ in 0..3 {
        assert_eq!(
            ids(&back, "/streams/feed/x?from=1&limit=100&r=3").await,
            [7, 8]
        );
    }
    // Anti-entropy and the policy bring every replica to the same floor and entries.
    cluster
        .wait_until("every replica holds only entries 7 and 8", || async {
            replicas(&cluster, "feed", "x")
                .await
                .iter()
                .all(|(floor, held)| *floor >= 7 && held == &vec![7, 8])
        })
        .await;
    cluster.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bytes_and_age_limits_apply_on_reads() {
    let cluster = cluster(false).await;
    let one = Client::of(&cluster, 1);
    let admin = one.with_token(&one.login("admin", ADMIN_PASSWORD).await);
    assert_eq!(
        admin
            .put("/eviction/sized/s", json!({"max_bytes": 100}))
            .await
            .status,
        200
    );
    // 30-byte entries: the newest three fit in 100 bytes.
    for i in 0..10 {
        let line = format!("\"{:028}\"", i);
        assert_eq!(line.len(), 30);
        let reply = one
            .post("/streams/sized/s", serde_json::from_str(&line).unwrap())
            .await;
        assert_eq!(reply.status, 201);
    }
    for k in 1..=3 {
        assert_eq!(
            ids(
                &Client::of(&cluster, k),
                "/streams/sized/s?from=1&limit=100"
            )
            .await,
            [8, 9, 10]
        );
    }
    assert_eq!(
        admin
            .put("/eviction/aged", json!({"max_age_s": 1}))
            .await
            .status,
        200
    );
    one.post("/streams/aged/s", json!("soon gone")).await;
    assert_eq!(ids(&one, "/streams/aged/s?from=1&limit=10").await, [1]);
    cluster
        .wait_until(
            "the entry is older than a second, so gone from every read",
            || async {
                ids(
                    &Client::of(&cluster, 2),
                    "/streams/aged/s?from=1&limit=10&r=3",
                )
                .await
                .is_empty()
            },
        )
        .await;
    cluster.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delete_made_while_a_replica_was_away_reaches_it_by_handoff() {
    // No anti-entropy and no read before the check: only the hinted handoff from the
    // fallback that took the delete can bring it to the replica that was away. Four nodes,
    // so that there is a node to stand in for it (a fallback is never on a node that holds
    // another replica of the key).
    let mut cluster = cluster_of(4, false).await;
    let one = Client::of(&cluster, 1);
    for i in 1..=4 {
        assert_eq!(one.post("/streams/gone/s", json!(i)).await.status, 201);
    }
    let owners: Vec<_> = apl::targets(&cluster.app(1).db.preflist("gone", "s", 3));
    let holds = |k: u32| owners.iter().any(|o| o.node == cluster.name(k));
    let away = (2..=4).find(|k| holds(*k)).expect("a replica off dev1");
    cluster.stop_node(away).await;
    // Once the others see it down, a fallback stands in for its replica (sloppy quorum).
    let away_name = cluster.name(away);
    let others: Vec<u32> = (1..=4).filter(|k| *k != away).collect();
    cluster
        .wait_until("the others see the node down", || async {
            others.iter().all(|k| !cluster.node(*k).is_up(&away_name))
        })
        .await;
    let deleted = Client::of(&cluster, others[1])
        .delete("/streams/gone/s")
        .await;
    assert_eq!(deleted.status, 204, "{}", deleted.body);
    cluster.start_node(away).await;
    cluster
        .wait_until(
            "every replica, the one that was away included, holds the delete",
            || async {
                let held = replicas(&cluster, "gone", "s").await;
                held.len() == 3
                    && held
                        .iter()
                        .all(|(floor, ids)| *floor == 5 && ids.is_empty())
            },
        )
        .await;
    for k in 1..=4 {
        let read = ids(
            &Client::of(&cluster, k),
            "/streams/gone/s?from=1&limit=10&r=3",
        )
        .await;
        assert!(read.is_empty(), "dev{k} reads {read:?}");
    }
    cluster.stop().await;
}
