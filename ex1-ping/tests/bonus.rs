//! The bonus tests of exercise 1 (README, Going further): `cargo test -p ex1-ping bonus`.
//! Your `preflist` is compared with the runtime's `apl` on a ring made by hand, then on the
//! rings of real nodes (in this test process, over TCP), with every node up and with one down.

use ex1_ping::PingApp;
use ex1_ping::preflist::preflist;
use ringcore::apl::{Preflist, Replica, apl};
use ringcore::testing::{TestCluster, wait_until};
use ringcore::{App, KeyHash, NodeName, Ring, chash_key};

/// Your list, or the test fails saying why.
fn yours(ring: &Ring, hash: &KeyHash, n: usize, is_up: impl Fn(&NodeName) -> bool) -> Preflist {
    preflist(ring, hash, n, is_up)
        .unwrap_or_else(|e| panic!("Going further: preflist should answer: {e}"))
}

/// A list as (partition index, node, primary or fallback), to read in an assertion.
fn shown(list: &Preflist) -> Vec<(u32, String, Replica)> {
    list.iter()
        .map(|e| {
            (
                e.target.partition.index(),
                e.target.node.to_string(),
                e.replica,
            )
        })
        .collect()
}

/// Compares your list with the runtime's for 100 keys and n = 1 … 5, as devK sees the cluster.
fn same_as_the_runtime(cluster: &TestCluster<PingApp>, k: u32, what: &str) -> usize {
    let node = cluster.node(k);
    let ring = node.ring();
    let mut fallbacks = 0;
    for i in 0..100 {
        let hash = chash_key(b"ping", format!("key-{i}").as_bytes());
        for n in 1..=5 {
            let expected = apl(&ring, &hash, n, |x| node.is_up(x));
            let got = yours(&ring, &hash, n, |x| node.is_up(x));
            assert_eq!(
                shown(&got),
                shown(&expected),
                "Going further ({what}): the list of key-{i} with n={n} on dev{k}"
            );
            fallbacks += got
                .iter()
                .filter(|e| e.replica == Replica::Fallback)
                .count();
        }
    }
    fallbacks
}

#[test]
fn bonus_preflist_walks_the_ring_and_stands_in_for_nodes_that_are_down() {
    // 8 partitions dealt to a, b, c, d in turn; the hash [0; 20] belongs to partition 1.
    let names = ["a", "b", "c", "d"];
    let ring = Ring::from_owners((0..8).map(|i| NodeName::from(names[i % 4])).collect()).unwrap();
    let hash = KeyHash([0; 20]);
    let primary = Replica::Primary;
    let fallback = Replica::Fallback;
    assert_eq!(
        shown(&yours(&ring, &hash, 3, |_| true)),
        vec![
            (1, "b".into(), primary),
            (2, "c".into(), primary),
            (3, "d".into(), primary)
        ],
        "Going further: everyone up, the n partitions from the key's on, each on its owner"
    );
    assert_eq!(
        shown(&yours(&ring, &hash, 3, |n| n.as_str() != "c")),
        vec![
            (1, "b".into(), primary),
            (3, "d".into(), primary),
            (2, "a".into(), fallback)
        ],
        "Going further: c is down: the primaries up first, then partition 2 on the owner \
         of the next partition up round the ring that is not in the list yet (a, owner of 4)"
    );
    assert_eq!(
        shown(&yours(&ring, &hash, 3, |n| n.as_str() == "a" || n.as_str() == "b")),
        vec![(1, "b".into(), primary), (2, "a".into(), fallback)],
        "Going further: two nodes up, so two replicas at most: a node is never in a list twice"
    );
    assert!(
        yours(&ring, &hash, 3, |_| false).is_empty(),
        "Going further: nobody up, an empty list"
    );
    assert_eq!(
        yours(&ring, &hash, 20, |_| true).len(),
        8,
        "Going further: never more vnodes than the ring has partitions"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bonus_preflist_is_the_runtimes_on_a_cluster_with_a_node_down() {
    let mut cluster = TestCluster::<PingApp>::start_joined(4).await;
    for k in 1..=4 {
        let fallbacks = same_as_the_runtime(&cluster, k, "every node up");
        assert_eq!(fallbacks, 0, "Going further: every node up, no fallback");
    }
    let listed = cluster
        .app(2)
        .run("preflist", &["alice"])
        .await
        .unwrap_or_else(|e| panic!("Going further: the console's preflist should answer: {e}"));
    assert_eq!(
        listed.lines().filter(|l| l.ends_with("(primary)")).count(),
        3,
        "Going further: `preflist alice` lists 3 primaries, one a line; got:\n{listed}"
    );

    cluster.stop_node(4).await;
    let dev4 = cluster.name(4);
    wait_until("dev1, dev2 and dev3 see dev4 down", || async {
        (1..=3).all(|k| !cluster.node(k).is_up(&dev4))
    })
    .await;
    for k in 1..=3 {
        let fallbacks = same_as_the_runtime(&cluster, k, "dev4 down");
        assert!(
            fallbacks > 0,
            "Going further: with dev4 down, fallbacks stand in for its partitions"
        );
    }
    cluster.stop().await;
}
