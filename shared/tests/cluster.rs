//! A real cluster in one process: join, plan, commit, gossip, leave, liveness, restarts.

mod common;

use common::WhoApp;
use ringcore::apl::Replica;
use ringcore::testing::{TestCluster, wait_until};
use ringcore::{IndexNode, chash_key};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn four_nodes_join_plan_commit_and_settle() {
    let cluster = TestCluster::<WhoApp>::start(4).await;
    // Each node starts alone.
    insta::assert_snapshot!("alone", cluster.admin(4, "member-status").await.unwrap());
    let dev1 = cluster.address_name(1);
    for k in 2..=4 {
        let joined = cluster
            .admin(k, &format!("cluster join {dev1}"))
            .await
            .unwrap();
        assert_eq!(
            joined,
            format!("Success: staged join request for 'dev{k}@127.0.0.1' to 'dev1@127.0.0.1'")
        );
    }
    assert_eq!(
        cluster
            .admin(1, "cluster commit")
            .await
            .unwrap_err()
            .to_string(),
        "You must verify the plan with 'cluster plan' before committing"
    );
    insta::assert_snapshot!("joining", cluster.admin(1, "member-status").await.unwrap());
    // Any node can show the plan: it comes from the claimant.
    insta::assert_snapshot!("plan", cluster.admin(3, "cluster plan").await.unwrap());
    assert_eq!(
        cluster.admin(1, "cluster commit").await.unwrap(),
        "Cluster changes committed"
    );
    cluster.wait_settled().await;
    for k in 1..=4 {
        let ring = cluster.node(k).ring();
        for j in 1..=4 {
            assert_eq!(ring.owned_by(&cluster.name(j)).count(), 16);
        }
    }
    insta::assert_snapshot!("settled", cluster.admin(4, "member-status").await.unwrap());
    assert_eq!(
        cluster
            .admin(2, "cluster plan")
            .await
            .unwrap_err()
            .to_string(),
        "There are no staged changes"
    );
    insta::assert_snapshot!(
        "ring_status",
        cluster.admin(2, "ring-status").await.unwrap()
    );
    assert_eq!(
        cluster.admin(3, "transfers").await.unwrap(),
        "No transfers active"
    );
    cluster.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commands_reach_vnodes_on_every_node() {
    let cluster = TestCluster::<WhoApp>::start_joined(3).await;
    let ring = cluster.node(1).ring();
    // From dev1, a command for each partition reaches the vnode on the partition's owner.
    for partition in ring.partitions() {
        let target = IndexNode {
            partition,
            node: ring.owner(partition).clone(),
        };
        let who = cluster.app(1).who.sync_command(&target, ()).await.unwrap();
        assert_eq!(who.partition, partition);
        assert_eq!(&who.node, ring.owner(partition));
    }
    // A coverage call from dev2 gathers every partition from all three nodes.
    let result = cluster
        .app(2)
        .who
        .coverage((), 1, std::time::Duration::from_secs(10))
        .await;
    assert!(!result.is_partial(), "{:?}", result.missing);
    assert_eq!(result.replies.len(), 64);
    assert!(
        result
            .replies
            .iter()
            .all(|(vnode, who)| vnode.partition == who.partition && vnode.node == who.node)
    );
    cluster.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_leaving_node_hands_over_and_ends_up_alone() {
    let cluster = TestCluster::<WhoApp>::start_joined(3).await;
    assert_eq!(
        cluster.admin(3, "cluster leave").await.unwrap(),
        "Success: staged leave request for 'dev3@127.0.0.1'"
    );
    let plan = cluster.admin(1, "cluster plan").await.unwrap();
    assert!(plan.contains("leave          'dev3@127.0.0.1'"), "{plan}");
    cluster.admin(1, "cluster commit").await.unwrap();
    let dev3 = cluster.name(3);
    wait_until("dev3 is no longer a member on dev1 and dev2", || async {
        [1, 2].iter().all(|k| {
            !cluster.node(*k).ring().is_member(&dev3) && cluster.node(*k).ring().is_settled()
        })
    })
    .await;
    for k in [1, 2] {
        let ring = cluster.node(k).ring();
        assert_eq!(ring.owned_by(&dev3).count(), 0);
        assert_eq!(ring.owned_by(&cluster.name(1)).count(), 32);
        assert_eq!(ring.owned_by(&cluster.name(2)).count(), 32);
    }
    wait_until("dev3 is alone in its own cluster", || async {
        let ring = cluster.node(3).ring();
        ring.members().len() == 1 && ring.owned_by(&dev3).count() == 64
    })
    .await;
    cluster.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_node_is_seen_down_skipped_and_back_after_restart() {
    let mut cluster = TestCluster::<WhoApp>::start_joined(3).await;
    let dev2 = cluster.name(2);
    let version = cluster.node(2).ring().version();
    cluster.stop_node(2).await;
    wait_until("dev1 sees dev2 down", || async {
        !cluster.node(1).is_up(&dev2)
    })
    .await;
    let status = cluster.admin(1, "member-status").await.unwrap();
    assert!(
        status.contains("\ndown       32.8%      --      dev2@127.0.0.1\n"),
        "{status}"
    );
    assert!(
        status.ends_with("Valid:2 / Leaving:0 / Exiting:0 / Joining:0 / Down:1"),
        "{status}"
    );
    let ring_status = cluster.admin(1, "ring-status").await.unwrap();
    assert!(
        ring_status.contains("The following nodes are unreachable: ['dev2@127.0.0.1']"),
        "{ring_status}"
    );
    // Preference lists skip it; apl puts fallbacks in its place.
    for i in 0..200u32 {
        let hash = chash_key(b"k", &i.to_be_bytes());
        let primaries = cluster.app(1).who.primary_apl(&hash, 3);
        assert!(primaries.iter().all(|e| e.target.node != dev2));
        let apl = cluster.app(1).who.apl(&hash, 3);
        // A fallback is never a node already in the list.
        for (i, entry) in apl.iter().enumerate() {
            if entry.replica == Replica::Fallback {
                assert!(
                    apl.iter()
                        .enumerate()
                        .all(|(j, e)| j == i || e.target.node != entry.target.node)
                );
            }
        }
        for entry in &apl {
            assert_ne!(entry.target.node, dev2);
            let owner = cluster.node(1).ring().owner(entry.target.partition).clone();
            assert_eq!(entry.replica == Replica::Fallback, owner == dev2);
        }
    }
    cluster.start_node(2).await;
    // It comes back with the ring it saved.
    assert!(cluster.node(2).ring().version() >= version);
    assert!(cluster.node(2).ring().members().len() == 3);
    wait_until("dev1 sees dev2 up again", || async {
        cluster.node(1).is_up(&dev2)
    })
    .await;
    cluster.wait_settled().await;
    let who = cluster.app(3).run_who("anything").await;
    assert!(who.contains(" on dev"), "{who}");
    cluster.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_use_riaks_words() {
    let cluster = TestCluster::<WhoApp>::start(2).await;
    assert_eq!(
        cluster
            .admin(1, "cluster leave")
            .await
            .unwrap_err()
            .to_string(),
        "Failed: 'dev1@127.0.0.1' is the only member."
    );
    assert_eq!(
        cluster
            .admin(1, "cluster force-remove dev9@127.0.0.1")
            .await
            .unwrap_err()
            .to_string(),
        "Failed: 'dev9@127.0.0.1' is not a member of the cluster."
    );
    assert_eq!(
        cluster
            .admin(1, "cluster clear")
            .await
            .unwrap_err()
            .to_string(),
        "There are no staged changes"
    );
    let dev1 = cluster.address_name(1);
    cluster
        .admin(2, &format!("cluster join {dev1}"))
        .await
        .unwrap();
    assert_eq!(
        cluster.admin(1, "cluster clear").await.unwrap(),
        "Cleared staged cluster changes"
    );
    assert!(!cluster.node(1).ring().is_member(&cluster.name(2)));
    let error = cluster
        .admin(1, "cluster frobnicate")
        .await
        .unwrap_err()
        .to_string();
    assert!(error.starts_with("Usage: one of"), "{error}");
    cluster.stop().await;
}

trait RunWho {
    async fn run_who(&self, key: &str) -> String;
}

impl RunWho for WhoApp {
    async fn run_who(&self, key: &str) -> String {
        use ringcore::App;
        self.run("who", &[key]).await.unwrap()
    }
}
