//! Handoff moves real data: ownership transfers after a join or a leave, hinted handoff after
//! a node returns, and writes under load during a join.

mod common;

use common::DbApp;
use ringcore::Partition;
use ringcore::streams::Nwr;
use ringcore::testing::{self, SteadyWriter, TestCluster, assert_acknowledged_stored, wait_until};
use std::path::Path;

const USERS: [&str; 4] = ["alice", "bob", "carol", "dave"];
const TOPICS: [&str; 4] = ["rust", "erlang", "riak", "chat"];

/// The tutorial's data: 4 users × 4 topics × 10 messages, written on dev1.
async fn write_demo_data(cluster: &TestCluster<DbApp>, nwr: Nwr) {
    for user in USERS {
        for topic in TOPICS {
            for i in 1..=10 {
                let message = format!("{user} on {topic}: message {i}");
                let written = cluster
                    .app(1)
                    .db
                    .post(user, topic, message.into_bytes(), nwr)
                    .await
                    .unwrap();
                assert_eq!(written.entry.seq, i);
            }
        }
    }
}

/// Checks that every node reads every message with its sequence number.
async fn assert_demo_data_everywhere(cluster: &TestCluster<DbApp>, nodes: &[u32], nwr: Nwr) {
    for &k in nodes {
        for user in USERS {
            for topic in TOPICS {
                let read = cluster
                    .app(k)
                    .db
                    .read(user, topic, 1, 100, nwr)
                    .await
                    .unwrap();
                let got: Vec<(u64, String)> = read
                    .entries
                    .iter()
                    .map(|e| (e.seq, String::from_utf8_lossy(&e.payload).into_owned()))
                    .collect();
                let want: Vec<(u64, String)> = (1..=10)
                    .map(|i| (i, format!("{user} on {topic}: message {i}")))
                    .collect();
                assert_eq!(got, want, "dev{k} reading {user}/{topic}");
            }
        }
    }
}

/// The partitions with stream vnode data on a node's disk.
fn partition_dirs(data_dir: &Path) -> Vec<Partition> {
    testing::partition_dirs(data_dir, "stream_vnode", 64)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_tutorial_demo_data_moves_to_the_new_node() {
    let cluster = TestCluster::<DbApp>::start(2).await;
    write_demo_data(&cluster, Nwr::ONE).await;
    let before = partition_dirs(&cluster.data_dir(1));
    assert!(before.len() >= 10, "{before:?}");
    cluster.join_all().await;
    let ring = cluster.node(1).ring();
    assert_eq!(ring.owned_by(&cluster.name(1)).count(), 32);
    assert_eq!(ring.owned_by(&cluster.name(2)).count(), 32);
    assert_demo_data_everywhere(&cluster, &[1, 2], Nwr::ONE).await;
    // dev1 no longer keeps the partitions it handed over; dev2 has them.
    wait_until(
        "dev1's handed-off partition directories are deleted",
        || async {
            partition_dirs(&cluster.data_dir(1))
                .iter()
                .all(|p| ring.owner(*p) == &cluster.name(1))
        },
    )
    .await;
    let on_dev2 = partition_dirs(&cluster.data_dir(2));
    assert!(!on_dev2.is_empty());
    assert_eq!(
        before.len(),
        partition_dirs(&cluster.data_dir(1)).len() + on_dev2.len()
    );
    cluster.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_leaving_node_hands_its_data_over_before_it_goes() {
    let cluster = TestCluster::<DbApp>::start_joined(3).await;
    write_demo_data(&cluster, Nwr::default()).await;
    cluster.admin(3, "cluster leave").await.unwrap();
    cluster.admin(1, "cluster plan").await.unwrap();
    cluster.admin(1, "cluster commit").await.unwrap();
    let dev3 = cluster.name(3);
    wait_until("dev3 has left", || async {
        let ring = cluster.node(1).ring();
        !ring.is_member(&dev3)
            && ring.is_settled()
            && cluster.node(2).ring().version() == ring.version()
    })
    .await;
    assert_demo_data_everywhere(&cluster, &[1, 2], Nwr::default()).await;
    cluster.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hinted_handoff_gives_the_returning_node_its_data() {
    let mut cluster = TestCluster::<DbApp>::start_joined(4).await;
    let dev4 = cluster.name(4);
    cluster.stop_node(4).await;
    wait_until("the others see dev4 down", || async {
        (1..=3).all(|k| !cluster.node(k).is_up(&dev4))
    })
    .await;
    // With dev4 down, its replicas are written to fallbacks on the others.
    write_demo_data(&cluster, Nwr::default()).await;
    let fallback_data = |cluster: &TestCluster<DbApp>| {
        let ring = cluster.node(1).ring();
        [1, 2, 3].iter().any(|k| {
            partition_dirs(&cluster.data_dir(*k))
                .iter()
                .any(|p| ring.owner(*p) == &dev4)
        })
    };
    assert!(fallback_data(&cluster), "the fallbacks hold dev4's writes");
    cluster.start_node(4).await;
    wait_until("hinted handoff empties the fallbacks", || async {
        !fallback_data(&cluster)
    })
    .await;
    // dev4's own vnodes now hold every entry of the streams it is a replica of: ask them
    // directly (n=3, r=3 would also repair, so it would not tell).
    let ring = cluster.node(4).ring();
    for user in USERS {
        for topic in TOPICS {
            let replicas =
                ring.preflist(&ringcore::chash_key(user.as_bytes(), topic.as_bytes()), 3);
            for vnode in replicas.iter().filter(|v| v.node == dev4) {
                let command = ringcore::streams::StreamCommand::Read {
                    bucket: user.into(),
                    stream: topic.into(),
                    from: 1,
                    limit: 100,
                };
                let reply = cluster
                    .app(4)
                    .db
                    .vnodes()
                    .sync_command(vnode, command)
                    .await
                    .unwrap();
                let ringcore::streams::StreamReply::Entries(entries) = reply else {
                    panic!("{reply:?}")
                };
                assert_eq!(
                    entries.len(),
                    10,
                    "dev4's vnode {} for {user}/{topic}",
                    vnode.partition
                );
            }
        }
    }
    cluster.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_during_a_join_are_neither_lost_nor_duplicated() {
    let cluster = TestCluster::<DbApp>::start(3).await;
    // A client writing steadily to 20 streams through dev1, remembering what was acknowledged.
    let writer = SteadyWriter::start(cluster.app(1).db.clone(), "load", 20);
    writer.wait_for_more(100).await;
    cluster.join_all().await;
    // Writes go on once the ring has moved, through the new owners.
    writer.wait_for_more(50).await;
    let acked = writer.stop().await;
    for k in 1..=3 {
        let on = format!("dev{k}");
        assert_acknowledged_stored(&cluster.app(k).db, "load", &acked, &on).await;
    }
    cluster.stop().await;
}
