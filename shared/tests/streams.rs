//! How replicated writes number their entries, on one node whose N=3 replicas are three
//! vnodes: every acknowledged entry keeps its own sequence number, whoever coordinated it, and
//! two entries that drew one number are both kept, in one order. And what a cluster does when
//! replicas cannot answer: W=1 needs only its coordinating replica, and a first replica that
//! cannot be reached hands the write to the next.

mod common;

use common::DbApp;
use ringcore::streams::{Nwr, StreamCommand, StreamReply, Streams};
use ringcore::testing::{ScratchDir, TestCluster};
use ringcore::{Node, NodeConfig};
use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

const N3W2: Nwr = Nwr { n: 3, w: 2, r: 2 };
const ALL_THREE: Nwr = Nwr { n: 3, w: 3, r: 3 };

async fn start(scratch: &ScratchDir) -> (Node, Streams) {
    let mut config = NodeConfig::for_test(1, scratch.path().join("dev1"));
    config.ring_size = 8;
    let node = Node::start(config).await.expect("the node starts");
    let streams = Streams::start(&node);
    (node, streams)
}

fn payloads(entries: &[ringcore::store::Entry]) -> Vec<String> {
    entries
        .iter()
        .map(|e| String::from_utf8_lossy(&e.payload).into_owned())
        .collect()
}

#[tokio::test]
async fn a_coordinating_replica_that_missed_writes_numbers_after_the_others() {
    let scratch = ScratchDir::new("streams-behind");
    let (node, streams) = start(&scratch).await;
    for text in ["one", "two", "three"] {
        let written = streams.post("b", "s", text.into(), N3W2).await.unwrap();
        assert!(written.acks >= 2);
    }
    // Entries 4 and 5 reach the two other replicas but not the first one, as when a fallback
    // coordinated them while the first replica's node was down.
    let replicas: Vec<_> = streams.preflist("b", "s", 3).into_iter().collect();
    for seq in [4, 5] {
        let entry = ringcore::store::Entry {
            seq,
            dot: ringcore::store::Dot {
                actor: 0xe15e,
                counter: seq,
            },
            ts_ms: 1,
            payload: format!("elsewhere {seq}").into_bytes(),
        };
        for replica in &replicas[1..] {
            let put = StreamCommand::Put {
                bucket: "b".into(),
                stream: "s".into(),
                entry: entry.clone(),
            };
            let reply = streams.vnodes().sync_command(&replica.target, put).await;
            assert_eq!(reply.unwrap(), StreamReply::Stored { new: true });
        }
    }

    let written = streams.post("b", "s", "six".into(), N3W2).await.unwrap();
    assert_eq!(written.entry.seq, 6, "numbered after what the others hold");

    let read = streams.read("b", "s", 0, 100, ALL_THREE).await.unwrap();
    let seqs: Vec<u64> = read.entries.iter().map(|e| e.seq).collect();
    assert_eq!(seqs, [1, 2, 3, 4, 5, 6]);
    assert_eq!(
        payloads(&read.entries),
        ["one", "two", "three", "elsewhere 4", "elsewhere 5", "six"]
    );
    assert!(read.disagreed, "the first replica lacked 4 and 5");
    node.stop().await;
}

#[tokio::test]
async fn more_replicas_than_partitions_is_refused() {
    let scratch = ScratchDir::new("streams-huge-n");
    let (node, streams) = start(&scratch).await;
    let huge = Nwr {
        n: 1_000_000_000_000,
        w: 1,
        r: 1,
    };
    let error = streams.post("b", "s", "x".into(), huge).await.unwrap_err();
    assert_eq!(
        error.to_string(),
        "n (1000000000000) cannot be more than the ring's 8 partitions"
    );
    let error = streams.read("b", "s", 0, 10, huge).await.unwrap_err();
    assert!(
        error.to_string().starts_with("n (1000000000000)"),
        "{error}"
    );
    // The node is still there.
    let written = streams.post("b", "s", "x".into(), N3W2).await.unwrap();
    assert_eq!(written.entry.seq, 1);
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_writers_to_one_stream_get_distinct_numbers() {
    let scratch = ScratchDir::new("streams-concurrent");
    let (node, streams) = start(&scratch).await;
    let streams = Arc::new(streams);
    const WRITERS: usize = 8;
    const EACH: usize = 50;
    let writers: Vec<_> = (0..WRITERS)
        .map(|writer| {
            let streams = Arc::clone(&streams);
            tokio::spawn(async move {
                let mut seqs = Vec::new();
                for i in 0..EACH {
                    let text = format!("{writer}-{i}");
                    let written = streams.post("room", "lobby", text.into(), N3W2).await;
                    seqs.push(written.expect("every write is acknowledged").entry.seq);
                }
                seqs
            })
        })
        .collect();
    let mut acknowledged = BTreeSet::new();
    for writer in writers {
        for seq in writer.await.unwrap() {
            assert!(
                acknowledged.insert(seq),
                "sequence number {seq} given twice"
            );
        }
    }
    let total = (WRITERS * EACH) as u64;
    assert_eq!(acknowledged, (1..=total).collect());

    // Every replica holds every entry under the number its writer was told.
    let read = streams
        .read("room", "lobby", 0, usize::MAX, ALL_THREE)
        .await
        .unwrap();
    assert_eq!(read.entries.len() as u64, total);
    let texts: BTreeSet<String> = payloads(&read.entries).into_iter().collect();
    assert_eq!(texts.len() as u64, total, "each message stored once");
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_w1_write_needs_only_its_coordinating_replica() {
    // Liveness checks slowed right down: the stopped nodes stay "up" in dev1's eyes, so the
    // write is really sent to them and they really cannot answer.
    let mut cluster =
        TestCluster::<DbApp>::start_with(3, |config| config.heartbeat = Duration::from_secs(3600))
            .await;
    cluster.join_all().await;
    let db = cluster.app(1).db.clone();
    // A stream whose first replica is on dev1, so dev1 coordinates the write.
    let dev1 = cluster.name(1);
    let stream = (0..)
        .map(|i| format!("s{i}"))
        .find(|s| db.preflist("b", s, 3)[0].target.node == dev1)
        .unwrap();
    cluster.stop_node(2).await;
    cluster.stop_node(3).await;
    let w1 = Nwr { n: 3, w: 1, r: 1 };
    let written = db.post("b", &stream, "alone".into(), w1).await;
    let written = written.expect("one replica is all W=1 asks for");
    assert_eq!((written.entry.seq, written.acks), (1, 1));
    // W=2 cannot be met, and says so.
    let error = db
        .post("b", &stream, "again".into(), N3W2)
        .await
        .unwrap_err();
    assert!(error.to_string().contains("0 succeeded"), "{error}");
    cluster.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stats_with_a_node_down_is_unavailable_not_a_bad_request() {
    let mut cluster = TestCluster::<DbApp>::start_joined(2).await;
    let dev2 = cluster.name(2);
    cluster.stop_node(2).await;
    ringcore::testing::wait_until("dev1 sees dev2 down", || async {
        !cluster.node(1).is_up(&dev2)
    })
    .await;
    let error = cluster.app(1).db.stats().await.unwrap_err();
    assert!(
        matches!(&error, ringcore::Error::Unavailable(note) if note.starts_with("partial result: 32 of 64 vnodes")),
        "{error:?}"
    );
    let api = ringcore::http::ApiError::from(error);
    assert_eq!(api.status.as_u16(), 503);
    cluster.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_first_replica_that_cannot_be_reached_hands_the_write_to_the_next() {
    // Liveness slowed right down: dev2 stays "up" in dev1's eyes after it stops, so the
    // preference list still starts with it and the write really meets a closed port.
    let mut cluster =
        TestCluster::<DbApp>::start_with(3, |config| config.heartbeat = Duration::from_secs(3600))
            .await;
    cluster.join_all().await;
    let db = cluster.app(1).db.clone();
    let dev2 = cluster.name(2);
    let stream = (0..)
        .map(|i| format!("s{i}"))
        .find(|s| db.preflist("b", s, 3)[0].target.node == dev2)
        .unwrap();
    let before = db.post("b", &stream, "one".into(), N3W2).await.unwrap();
    cluster.stop_node(2).await;
    assert!(cluster.node(1).is_up(&dev2), "dev1 has not noticed");

    let written = db.post("b", &stream, "two".into(), N3W2).await;
    let written = written.expect("the next replica coordinates the write");
    assert_eq!(written.acks, 2, "dev1's and dev3's replicas hold it");
    assert_eq!(written.entry.seq, before.entry.seq + 1);
    assert_ne!(
        written.entry.dot.actor, before.entry.dot.actor,
        "another replica's store appended it"
    );
    let read = db.read("b", &stream, 0, 10, N3W2).await.unwrap();
    assert_eq!(payloads(&read.entries), ["one", "two"]);
    cluster.stop().await;
}

#[tokio::test]
async fn two_writes_that_drew_one_number_are_both_kept_in_the_same_order_everywhere() {
    let scratch = ScratchDir::new("streams-concurrent-dots");
    let (node, streams) = start(&scratch).await;
    let replicas: Vec<_> = streams.preflist("b", "s", 3).into_iter().collect();
    // Two coordinators, each unaware of the other, number a write #1: the first replica and
    // the second, each appending on its own (W=1 of a preference list of one).
    let mut appended = Vec::new();
    for (replica, text) in replicas.iter().zip(["from the first", "from the second"]) {
        let append = StreamCommand::Append {
            bucket: "b".into(),
            stream: "s".into(),
            payload: text.into(),
            at_least: 0,
        };
        match streams.vnodes().sync_command(&replica.target, append).await {
            Ok(StreamReply::Appended(entry)) => appended.push(entry),
            other => panic!("append: {other:?}"),
        }
    }
    assert_eq!((appended[0].seq, appended[1].seq), (1, 1));
    assert_ne!(appended[0].dot, appended[1].dot);
    // A read of all three replicas sees both, repairs the replicas, and says so.
    let read = streams.read("b", "s", 0, 10, ALL_THREE).await.unwrap();
    assert_eq!(read.entries.len(), 2);
    assert_eq!(read.concurrent, 1);
    assert!(read.disagreed);
    let mut expected = appended.clone();
    expected.sort_by_key(|e| e.id());
    assert_eq!(read.entries, expected, "ordered by dot");
    // Each replica, asked alone, now holds both in that order (read repair is sent without
    // waiting, so wait for it).
    for replica in &replicas {
        ringcore::testing::wait_until("read repair reached every replica", || async {
            let command = StreamCommand::Read {
                bucket: "b".into(),
                stream: "s".into(),
                from: 0,
                limit: 10,
            };
            let reply = streams
                .vnodes()
                .sync_command(&replica.target, command)
                .await;
            reply.unwrap() == StreamReply::Entries(expected.clone())
        })
        .await;
    }
    // The next write is numbered after both.
    let next = streams.post("b", "s", "next".into(), N3W2).await.unwrap();
    assert_eq!(next.entry.seq, 2);
    node.stop().await;
}
