//! The bonus tests of exercise 0 (README, Going further): `cargo test -p ex0-cluster bonus`.
//! They check `balance` against the ring of real nodes, in this test process, over TCP.

use ex0_cluster::ClusterApp;
use ex0_cluster::balance::{Balance, balance};
use ringcore::testing::TestCluster;
use ringcore::{App, NodeName, Partition, Ring};

/// `balance` of devK's ring, or the test fails saying why.
fn balance_on(cluster: &TestCluster<ClusterApp>, k: u32, n_val: usize) -> Balance {
    balance(&cluster.node(k).ring(), n_val)
        .unwrap_or_else(|e| panic!("Going further: balance should answer on dev{k}: {e}"))
}

/// The partitions each member owns, counted from the ring as the table should show them.
fn owned(ring: &Ring) -> Vec<(NodeName, usize)> {
    ring.members()
        .keys()
        .map(|m| (m.clone(), ring.owners().iter().filter(|o| *o == m).count()))
        .collect()
}

fn holdings(balance: &Balance) -> Vec<(NodeName, usize)> {
    balance
        .holdings
        .iter()
        .map(|h| (h.node.clone(), h.partitions))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bonus_balance_lists_every_member_with_its_partitions() {
    let cluster = TestCluster::<ClusterApp>::start(3).await;
    let alone = balance_on(&cluster, 2, 3);
    assert_eq!(
        holdings(&alone),
        vec![(cluster.name(2), 64)],
        "Going further: a node alone owns all 64 partitions"
    );
    assert_eq!(
        alone.crowded.len(),
        64,
        "Going further: alone, every preference list of 3 is on one node"
    );

    // Staged, not committed: the joining nodes are members that own nothing yet.
    let dev1 = cluster.address_name(1);
    for k in [2, 3] {
        cluster
            .admin(k, &format!("cluster join {dev1}"))
            .await
            .expect("join");
    }
    let staged = balance_on(&cluster, 1, 3);
    assert_eq!(
        holdings(&staged),
        vec![
            (cluster.name(1), 64),
            (cluster.name(2), 0),
            (cluster.name(3), 0)
        ],
        "Going further: list every member, joining ones too (with 0), in name order"
    );

    cluster.admin(1, "cluster plan").await.expect("plan");
    cluster.admin(1, "cluster commit").await.expect("commit");
    cluster.wait_settled().await;
    for k in 1..=3 {
        let ring = cluster.node(k).ring();
        let shared = balance_on(&cluster, k, 3);
        assert_eq!(
            holdings(&shared),
            owned(&ring),
            "Going further: count the partitions each member owns in dev{k}'s ring"
        );
        let counts: Vec<usize> = shared.holdings.iter().map(|h| h.partitions).collect();
        assert_eq!(
            counts.iter().sum::<usize>(),
            64,
            "Going further: the holdings add up to the ring"
        );
    }
    cluster.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bonus_balance_finds_the_preference_lists_with_a_node_twice() {
    // A ring of 8 made by hand: a owns partitions 0, 1 and 4, so the lists of 3 starting at
    // 7 (d, a, a) and at 0 (a, a, c) put two replicas on a; the others are on 3 nodes.
    let names = ["a", "a", "c", "d", "a", "b", "c", "d"];
    let ring = Ring::from_owners(names.iter().map(|n| NodeName::from(*n)).collect()).unwrap();
    let by_hand =
        balance(&ring, 3).unwrap_or_else(|e| panic!("Going further: balance should answer: {e}"));
    assert_eq!(
        by_hand.crowded,
        vec![Partition::new(0, 8), Partition::new(7, 8)],
        "Going further: the lists that start at 0 and at 7 hold a twice, in ring order"
    );
    assert_eq!(
        balance(&ring, 2).unwrap().crowded,
        vec![Partition::new(0, 8)],
        "Going further: with n_val 2, only the list that starts at 0 (a, a)"
    );

    // Three nodes on 64 partitions: the plan warns that not all replicas are on distinct
    // nodes. Four nodes: every list of 3 is on 3 nodes.
    let three = TestCluster::<ClusterApp>::start_joined(3).await;
    let ring = three.node(1).ring();
    let expected: Vec<Partition> = ring
        .partitions()
        .filter(|p| {
            let mut nodes: Vec<NodeName> = ring
                .range_preflist(*p, 3)
                .into_iter()
                .map(|v| v.node)
                .collect();
            nodes.sort();
            nodes.dedup();
            nodes.len() < 3
        })
        .collect();
    assert!(
        !expected.is_empty(),
        "three nodes on 64 partitions share a node somewhere"
    );
    assert_eq!(
        balance_on(&three, 1, 3).crowded,
        expected,
        "Going further: every preference list of 3 with a node twice, by its first partition"
    );
    let table = three
        .app(2)
        .run("balance", &[])
        .await
        .unwrap_or_else(|e| panic!("Going further: the console's balance should answer: {e}"));
    insta::assert_snapshot!("bonus_balance_of_three_nodes", table);
    three.stop().await;

    let four = TestCluster::<ClusterApp>::start_joined(4).await;
    assert_eq!(
        balance_on(&four, 3, 3).crowded,
        Vec::<Partition>::new(),
        "Going further: four nodes, 16 partitions each, every list of 3 on 3 nodes"
    );
    four.stop().await;
}
