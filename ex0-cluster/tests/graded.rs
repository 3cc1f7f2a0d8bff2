//! Graded tests of exercise 0. `cargo test -p ex0-cluster` runs them against your code;
//! `cargo test -p ex0-cluster-solution` runs the very same file against the reference.
//!
//! They start real nodes in this test process, talking over TCP on 127.0.0.1.

use ex0_cluster::ClusterApp;
use ringcore::chash_key;
use ringcore::testing::TestCluster;
use std::collections::BTreeSet;

/// Runs admin commands on nodes and writes them down as a console session would show them.
async fn session(
    cluster: &TestCluster<ClusterApp>,
    steps: &[(u32, &str)],
    transcript: &mut String,
) {
    for (k, line) in steps {
        let output = match cluster.admin(*k, line).await {
            Ok(text) => text,
            Err(error) => error.to_string(),
        };
        // Joins name the target with its port (ports change from run to run): show the name.
        let shown = line.split(':').next().unwrap_or(line);
        transcript.push_str(&format!("(dev{k}@127.0.0.1)> {shown}\n{output}\n"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn step_0_the_tutorial_cluster_session() {
    let cluster = TestCluster::<ClusterApp>::start(4).await;
    let dev1 = cluster.address_name(1);
    let mut transcript = String::new();
    session(
        &cluster,
        &[(1, "member-status"), (4, "member-status")],
        &mut transcript,
    )
    .await;
    let joins: Vec<(u32, String)> = (2..=4)
        .map(|k| (k, format!("cluster join {dev1}")))
        .collect();
    let joins: Vec<(u32, &str)> = joins.iter().map(|(k, l)| (*k, l.as_str())).collect();
    session(&cluster, &joins, &mut transcript).await;
    session(
        &cluster,
        &[(1, "cluster plan"), (1, "cluster commit")],
        &mut transcript,
    )
    .await;
    cluster.wait_settled().await;
    session(
        &cluster,
        &[(1, "member-status"), (3, "ring-status")],
        &mut transcript,
    )
    .await;
    insta::with_settings!({description => "README \"Run it\" (given): member-status alone, three \
        joins, plan, commit, then member-status and ring-status of the settled 4-node cluster"}, {
        insta::assert_snapshot!(transcript);
    });
    cluster.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn step_1_owner_names_the_partition_and_the_node_of_a_key() {
    let cluster = TestCluster::<ClusterApp>::start_joined(3).await;
    let mut owners = BTreeSet::new();
    for k in 1..=3 {
        let ring = cluster.node(k).ring();
        for i in 0..100 {
            let key = format!("key-{i}");
            let owner = cluster
                .app(k)
                .cluster
                .owner(&key)
                .expect("README step 1: Cluster::owner should answer");
            let expected = &ring.preflist(&chash_key(b"ring", key.as_bytes()), 1)[0];
            assert_eq!(
                owner.partition, expected.partition,
                "README step 1: hash (\"ring\", {key}) and find its partition with ring.partition_for"
            );
            assert_eq!(
                owner.node, expected.node,
                "README step 1: the owner of {key} is ring.owner(partition)"
            );
            owners.insert(owner.node);
        }
    }
    assert_eq!(
        owners.len(),
        3,
        "README step 1: 100 keys should land on all 3 nodes of the cluster, got {owners:?}"
    );
    cluster.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn step_2_ownership_counts_each_members_partitions() {
    let cluster = TestCluster::<ClusterApp>::start(3).await;
    let alone = cluster
        .app(2)
        .cluster
        .ownership()
        .expect("README step 2: Cluster::ownership should answer");
    assert_eq!(
        alone.len(),
        1,
        "README step 2: a node alone is the only member"
    );
    assert_eq!(
        (alone[0].node.clone(), alone[0].partitions),
        (cluster.name(2), 64),
        "README step 2: a node alone owns all 64 partitions"
    );
    cluster.join_all().await;
    for k in 1..=3 {
        let shares = cluster
            .app(k)
            .cluster
            .ownership()
            .expect("README step 2: Cluster::ownership should answer on a joined cluster");
        let ring = cluster.node(k).ring();
        let listed: Vec<_> = shares.iter().map(|s| s.node.clone()).collect();
        let members: Vec<_> = ring.members().keys().cloned().collect();
        assert_eq!(
            listed, members,
            "README step 2: list every member, in name order"
        );
        for share in &shares {
            let owned = ring.owners().iter().filter(|o| **o == share.node).count();
            assert_eq!(
                share.partitions, owned,
                "README step 2: count the partitions {} owns",
                share.node
            );
        }
        assert_eq!(
            shares.iter().map(|s| s.partitions).sum::<usize>(),
            64,
            "README step 2: the shares add up to the 64 partitions of the ring"
        );
    }
    let console = ringcore::App::run(cluster.app(1), "ownership", &[])
        .await
        .expect("README step 2: the console's `ownership` should answer");
    insta::with_settings!({description => "README step 2: `ownership` on a 3-node cluster, \
        one line per member in name order"}, {
        insta::assert_snapshot!(console);
    });
    cluster.stop().await;
}
