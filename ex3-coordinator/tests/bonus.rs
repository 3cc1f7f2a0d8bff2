//! The bonus tests of exercise 3 (README, Going further): `cargo test -p ex3-coordinator
//! bonus`. A 3-node cluster in this process, its nodes talking over real TCP; replicas that
//! missed writes are made by sending a write to some replicas only, as a lost message would.

use ex3_coordinator::DbApp;
use ex3_coordinator::repair::{Repaired, read_repair};
use ringcore::App;
use ringcore::store::{Entry, EntryId};
use ringcore::streams::{Nwr, StreamCommand, StreamReply};
use ringcore::testing::TestCluster;
use ringcore::{IndexNode, apl};

const ALL: Nwr = Nwr { n: 3, w: 3, r: 3 };

/// The stream's three replicas, as dev1 sees them.
fn replicas(cluster: &TestCluster<DbApp>, bucket: &str, stream: &str) -> Vec<IndexNode> {
    apl::targets(&cluster.app(1).db.streams().preflist(bucket, stream, 3))
}

/// Sends one command to one replica and returns its answer.
async fn tell(
    cluster: &TestCluster<DbApp>,
    replica: &IndexNode,
    command: StreamCommand,
) -> StreamReply {
    cluster
        .app(1)
        .db
        .streams()
        .vnodes()
        .sync_command(replica, command)
        .await
        .expect("the replica answers")
}

/// A write that reaches some replicas only: appended by the first of `to`, copied to the rest.
async fn partial_write(cluster: &TestCluster<DbApp>, to: &[&IndexNode], text: &str) -> Entry {
    let append = StreamCommand::Append {
        bucket: "alice".into(),
        stream: "rust".into(),
        payload: text.as_bytes().to_vec(),
        at_least: 0,
    };
    let StreamReply::Appended(entry) = tell(cluster, to[0], append).await else {
        panic!("the append failed");
    };
    for replica in &to[1..] {
        let put = StreamCommand::Put {
            bucket: "alice".into(),
            stream: "rust".into(),
            entry: entry.clone(),
        };
        tell(cluster, replica, put).await;
    }
    entry
}

/// What one replica holds of the stream, by identity.
async fn held(cluster: &TestCluster<DbApp>, replica: &IndexNode) -> Vec<EntryId> {
    let read = StreamCommand::Read {
        bucket: "alice".into(),
        stream: "rust".into(),
        from: 1,
        limit: usize::MAX,
    };
    match tell(cluster, replica, read).await {
        StreamReply::Entries(entries) => entries.iter().map(Entry::id).collect(),
        other => panic!("a read answered {other:?}"),
    }
}

async fn repair_on(cluster: &TestCluster<DbApp>, k: u32) -> Repaired {
    read_repair(cluster.app(k).db.streams(), "alice", "rust", 3)
        .await
        .unwrap_or_else(|e| panic!("Going further: read_repair should answer on dev{k}: {e}"))
}

fn lacked(repaired: &Repaired) -> Vec<usize> {
    repaired.sent.iter().map(|(_, n)| *n).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bonus_a_replica_that_missed_a_write_gets_it_from_a_repairing_read() {
    let cluster = TestCluster::<DbApp>::start_joined(3).await;
    let db = &cluster.app(1).db;
    db.post("alice", "rust", "on every replica", ALL)
        .await
        .unwrap_or_else(|e| panic!("a write with w=3 needs step 1: {e}"));
    let r = replicas(&cluster, "alice", "rust");
    // The third replica misses the second write.
    let missed = partial_write(&cluster, &[&r[0], &r[1]], "the third one missed me").await;
    assert!(
        !held(&cluster, &r[2]).await.contains(&missed.id()),
        "the third replica lacks the entry before the read"
    );

    let repaired = repair_on(&cluster, 3).await;
    assert_eq!(
        repaired
            .entries
            .iter()
            .map(|e| String::from_utf8_lossy(&e.payload).into_owned())
            .collect::<Vec<_>>(),
        ["on every replica", "the third one missed me"],
        "Going further: the read returns every entry some replica holds, each once, in order"
    );
    assert_eq!(
        repaired
            .sent
            .iter()
            .map(|(v, _)| v.clone())
            .collect::<Vec<_>>(),
        r,
        "Going further: every replica is listed, in preference-list order"
    );
    assert_eq!(
        lacked(&repaired),
        [0, 0, 1],
        "Going further: only the third replica lacked an entry"
    );
    assert!(
        held(&cluster, &r[2]).await.contains(&missed.id()),
        "Going further: the replica that missed the write holds it once the read returns"
    );
    assert_eq!(
        lacked(&repair_on(&cluster, 2).await),
        [0, 0, 0],
        "Going further: a second read finds nothing to repair"
    );
    cluster.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bonus_replicas_are_merged_by_identity_not_by_number() {
    let cluster = TestCluster::<DbApp>::start_joined(3).await;
    let r = replicas(&cluster, "alice", "rust");
    let first = partial_write(&cluster, &[&r[0], &r[1], &r[2]], "everywhere").await;
    // Two writes numbered #2 by two coordinators, as during a partition: one on the first
    // two replicas, the other on the third alone.
    let one = partial_write(&cluster, &[&r[0], &r[1]], "written through dev-a").await;
    let other = partial_write(&cluster, &[&r[2]], "written through dev-b").await;
    assert_eq!((one.seq, other.seq), (2, 2), "two entries share number 2");

    let repaired = repair_on(&cluster, 1).await;
    let mut expected = vec![first.id(), one.id(), other.id()];
    expected.sort();
    assert_eq!(
        repaired.entries.iter().map(Entry::id).collect::<Vec<_>>(),
        expected,
        "Going further: both #2 are kept (merge by identity: `entry.id()`), ordered by number then dot"
    );
    assert_eq!(
        lacked(&repaired),
        [1, 1, 1],
        "Going further: each replica lacked one of the two #2"
    );
    for replica in &r {
        assert_eq!(
            held(&cluster, replica).await,
            expected,
            "Going further: every replica holds all three entries after the read"
        );
    }

    let console = cluster
        .app(2)
        .run("repair", &["alice", "rust"])
        .await
        .unwrap_or_else(|e| panic!("Going further: the console's repair should answer: {e}"));
    assert!(
        console.ends_with("3 entries on 3 replicas")
            && console.matches(": held every entry").count() == 3,
        "Going further: `repair alice rust` shows each replica and the total; got:\n{console}"
    );
    cluster.stop().await;
}
