//! Graded tests of exercise 4. `cargo test -p ex4-handoff` runs them against your code;
//! `cargo test -p ex4-handoff-solution` runs the very same file against the reference.
//!
//! Steps 1–4 call your vnode's callbacks directly; the others (step 5) run clusters in this
//! process, over real TCP, and watch the runtime use your callbacks to move data.

use ex4_handoff::HandoffApp;
use ex4_handoff::vnode::KvVnode;
use ringcore::store::Entry;
use ringcore::streams::{HandoffEntry, Nwr, StreamCommand, StreamReply};
use ringcore::testing::{self, SteadyWriter, TestCluster, assert_acknowledged_stored};
use ringcore::{App, Partition, Vnode, VnodeContext};
use std::ops::ControlFlow;
use std::path::Path;

/// A vnode of partition 7 with its data in `dir`, as the runtime would start it.
fn vnode_in(dir: &Path) -> KvVnode {
    let ctx = VnodeContext::standalone(Partition::new(7, 64), "kv_vnode", dir.join("7"));
    KvVnode::init(ctx).expect("the vnode starts")
}

fn append(vnode: &mut KvVnode, bucket: &str, stream: &str, text: &str) -> Entry {
    let command = StreamCommand::Append {
        bucket: bucket.into(),
        stream: stream.into(),
        payload: text.as_bytes().to_vec(),
        at_least: 0,
    };
    match vnode.handle_command(command) {
        StreamReply::Appended(entry) => entry,
        other => panic!("an append (handle_command, given) failed: {other:?}"),
    }
}

fn read_all(vnode: &mut KvVnode, bucket: &str, stream: &str) -> Vec<Entry> {
    let command = StreamCommand::Read {
        bucket: bucket.into(),
        stream: stream.into(),
        from: 1,
        limit: usize::MAX,
    };
    match vnode.handle_command(command) {
        StreamReply::Entries(entries) => entries,
        other => panic!("a read (handle_command, given) failed: {other:?}"),
    }
}

fn folded(vnode: &mut KvVnode) -> Vec<HandoffEntry> {
    let mut items = Vec::new();
    vnode.fold(&mut |item| {
        items.push(item);
        ControlFlow::Continue(())
    });
    items
}

#[test]
fn step_2_fold_visits_every_entry_of_every_stream() {
    let dir = tempfile::tempdir().unwrap();
    let mut vnode = vnode_in(dir.path());
    assert!(
        folded(&mut vnode).is_empty(),
        "step 2: an empty vnode has nothing to visit"
    );
    let mut written = Vec::new();
    for (bucket, stream) in [("alice", "rust"), ("alice", "chat"), ("bob", "rust")] {
        for i in 1..=3 {
            let entry = append(
                &mut vnode,
                bucket,
                stream,
                &format!("{bucket} {stream} {i}"),
            );
            written.push((bucket.to_string(), stream.to_string(), entry));
        }
    }
    let mut items: Vec<(String, String, Entry)> = folded(&mut vnode)
        .into_iter()
        .map(|i| (i.bucket, i.stream, i.entry))
        .collect();
    items.sort_by(|a, b| (&a.0, &a.1, a.2.seq).cmp(&(&b.0, &b.1, b.2.seq)));
    written.sort_by(|a, b| (&a.0, &a.1, a.2.seq).cmp(&(&b.0, &b.1, b.2.seq)));
    assert_eq!(
        items, written,
        "step 2: fold must visit each entry once, with its bucket and stream"
    );
}

#[test]
fn step_3_items_travel_as_bytes_and_apply_once() {
    let from_dir = tempfile::tempdir().unwrap();
    let to_dir = tempfile::tempdir().unwrap();
    let mut sender = vnode_in(from_dir.path());
    let mut receiver = vnode_in(to_dir.path());
    for i in 1..=5 {
        append(&mut sender, "alice", "rust", &format!("message {i}"));
    }
    let items = folded(&mut sender);
    for item in &items {
        let bytes = KvVnode::encode_handoff_item(item);
        receiver
            .handle_handoff_data(&bytes)
            .expect("step 3: handle_handoff_data stores the item");
        // A retried transfer sends items again: nothing may be duplicated.
        receiver
            .handle_handoff_data(&bytes)
            .expect("step 3: applying an item twice is harmless");
    }
    assert_eq!(
        read_all(&mut receiver, "alice", "rust"),
        read_all(&mut sender, "alice", "rust"),
        "step 3: the receiver holds the same entries, with the same sequence numbers"
    );
    let next = append(&mut receiver, "alice", "rust", "after the handoff");
    assert_eq!(
        next.seq, 6,
        "step 3: the stream continues after the handed-off entries"
    );
    assert!(
        receiver.handle_handoff_data(b"not an item").is_err(),
        "step 3: bad bytes are an error, not a panic"
    );
}

#[test]
fn step_1_is_empty() {
    let dir = tempfile::tempdir().unwrap();
    let mut vnode = vnode_in(dir.path());
    assert!(vnode.is_empty(), "step 1: a new vnode is empty");
    append(&mut vnode, "alice", "rust", "hello");
    assert!(
        !vnode.is_empty(),
        "step 1: a vnode with an entry is not empty"
    );
}

#[test]
fn step_4_delete() {
    let dir = tempfile::tempdir().unwrap();
    let mut vnode = vnode_in(dir.path());
    append(&mut vnode, "alice", "rust", "hello");
    assert!(
        dir.path().join("7").exists(),
        "the vnode (given) keeps its entries in its directory"
    );
    vnode.delete();
    assert!(vnode.is_empty(), "step 4: after delete the vnode is empty");
    assert!(
        !dir.path().join("7").exists(),
        "step 4: delete removes the partition's files"
    );
    assert!(
        read_all(&mut vnode, "alice", "rust").is_empty(),
        "step 4: after delete the vnode holds no entries"
    );
}

/// The tutorial's demo data, written on node k through the console command.
async fn populate(cluster: &TestCluster<HandoffApp>, k: u32, nwr: &str) {
    let args = ["4", "4", "10", nwr];
    let done = cluster
        .app(k)
        .run("populate", &args)
        .await
        .expect("the console's populate (given) writes the demo data");
    assert_eq!(
        done, "wrote 160 messages",
        "populate 4 4 10 (given) writes 4 × 4 × 10 messages"
    );
}

async fn assert_demo_data(cluster: &TestCluster<HandoffApp>, nodes: &[u32], nwr: Nwr) {
    for &k in nodes {
        for user in 1..=4 {
            for stream in 1..=4 {
                let (bucket, name) = (format!("user{user}"), format!("stream{stream}"));
                let read = cluster
                    .app(k)
                    .db
                    .read(&bucket, &name, 1, 100, nwr)
                    .await
                    .unwrap_or_else(|e| {
                        panic!("steps 1 to 4 at work: dev{k} should read {bucket}/{name}: {e}")
                    });
                let got: Vec<(u64, String)> = read
                    .entries
                    .iter()
                    .map(|e| (e.seq, String::from_utf8_lossy(&e.payload).into_owned()))
                    .collect();
                let want: Vec<(u64, String)> = (1..=10)
                    .map(|m| (m, format!("message {m} of {bucket}/{name}")))
                    .collect();
                assert_eq!(
                    got, want,
                    "steps 1 to 4 at work: dev{k} reading {bucket}/{name} should find every \
                     message written, once, after the data moved"
                );
            }
        }
    }
}

/// The partitions with kv vnode data on a node's disk.
fn partition_dirs(data_dir: &Path) -> Vec<Partition> {
    testing::partition_dirs(data_dir, "kv_vnode", 64)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn step_5_the_tutorial_demo_moves_data_to_the_new_node() {
    let cluster = TestCluster::<HandoffApp>::start(2).await;
    populate(&cluster, 1, "n=1").await;
    let before = partition_dirs(&cluster.data_dir(1));
    cluster.join_all().await;
    let ring = cluster.node(1).ring();
    assert_eq!(
        ring.owned_by(&cluster.name(1)).count(),
        32,
        "the joined ring (given) gives dev1 half of the 64 partitions"
    );
    assert_eq!(
        ring.owned_by(&cluster.name(2)).count(),
        32,
        "the joined ring (given) gives dev2 half of the 64 partitions"
    );
    assert_demo_data(&cluster, &[1, 2], Nwr::ONE).await;
    cluster
        .wait_until(
            "dev1 keeps only the partitions it owns (step 4: delete)",
            || async {
                partition_dirs(&cluster.data_dir(1))
                    .iter()
                    .all(|p| ring.owner(*p) == &cluster.name(1))
            },
        )
        .await;
    let (kept, moved) = (
        partition_dirs(&cluster.data_dir(1)),
        partition_dirs(&cluster.data_dir(2)),
    );
    assert!(
        moved.iter().all(|p| ring.owner(*p) == &cluster.name(2)),
        "steps 1 to 4 at work: dev2 receives data only for partitions it owns"
    );
    assert_eq!(
        kept.len() + moved.len(),
        before.len(),
        "steps 1 to 4 at work: every partition with data is on exactly one node"
    );
    cluster.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn step_5_a_leaving_node_hands_its_data_over() {
    let cluster = TestCluster::<HandoffApp>::start_joined(3).await;
    populate(&cluster, 2, "n=3").await;
    for (k, command) in [
        (3, "cluster leave"),
        (1, "cluster plan"),
        (1, "cluster commit"),
    ] {
        cluster
            .admin(k, command)
            .await
            .unwrap_or_else(|e| panic!("`{command}` (given) on dev{k} is accepted: {e}"));
    }
    let dev3 = cluster.name(3);
    cluster
        .wait_until("dev3 has left and the ring settled", || async {
            let ring = cluster.node(1).ring();
            !ring.is_member(&dev3)
                && ring.is_settled()
                && cluster.node(2).ring().version() == ring.version()
        })
        .await;
    assert_demo_data(&cluster, &[1, 2], Nwr::default()).await;
    cluster
        .wait_until("dev3 keeps no data (step 4: delete)", || async {
            partition_dirs(&cluster.data_dir(3)).is_empty()
        })
        .await;
    cluster.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn step_5_hinted_handoff_returns_writes_to_a_returning_node() {
    let mut cluster = TestCluster::<HandoffApp>::start_joined(4).await;
    let dev4 = cluster.name(4);
    cluster.stop_node(4).await;
    cluster
        .wait_until("the others see dev4 down", || async {
            (1..=3).all(|k| !cluster.node(k).is_up(&dev4))
        })
        .await;
    populate(&cluster, 1, "n=3").await;
    let ring = cluster.node(1).ring();
    let on_fallbacks = |cluster: &TestCluster<HandoffApp>| {
        (1..=3).any(|k| {
            partition_dirs(&cluster.data_dir(k))
                .iter()
                .any(|p| ring.owner(*p) == &dev4)
        })
    };
    assert!(
        on_fallbacks(&cluster),
        "while dev4 is down, fallbacks hold its replicas"
    );
    cluster.start_node(4).await;
    cluster
        .wait_until("hinted handoff empties the fallbacks", || async {
            !on_fallbacks(&cluster)
        })
        .await;
    // dev4 has its replicas back: reading with r=3 finds every replica in agreement.
    for user in 1..=4 {
        for stream in 1..=4 {
            let read = cluster
                .app(4)
                .db
                .read(
                    &format!("user{user}"),
                    &format!("stream{stream}"),
                    1,
                    100,
                    Nwr { n: 3, w: 2, r: 3 },
                )
                .await
                .unwrap_or_else(|e| {
                    panic!("dev4 should read user{user}/stream{stream} with r=3 once back: {e}")
                });
            assert_eq!(
                read.entries.len(),
                10,
                "user{user}/stream{stream}: the 10 messages written while dev4 was down"
            );
            assert!(
                !read.disagreed,
                "user{user}/stream{stream}: dev4's replica was not handed back"
            );
        }
    }
    cluster.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn step_5_writes_during_a_join_are_neither_lost_nor_duplicated() {
    let cluster = TestCluster::<HandoffApp>::start(3).await;
    // A client writing steadily to 20 streams through dev1, remembering what was acknowledged.
    let writer = SteadyWriter::start(cluster.app(1).db.clone(), "load", 20);
    writer.wait_for_more(50).await;
    cluster.join_all().await;
    // Writes go on once the ring has moved, through the new owners.
    writer.wait_for_more(20).await;
    let acked = writer.stop().await;
    for k in 1..=3 {
        let on = format!("dev{k}");
        assert_acknowledged_stored(&cluster.app(k).db, "load", &acked, &on).await;
    }
    cluster.stop().await;
}
