//! Active anti-entropy: replicas converge in the background, without any client read. A node
//! that was down gets what it missed, entries that share a number all end up everywhere, and
//! `aae-status` says what was repaired.

mod common;

use common::DbApp;
use ringcore::store::{Dot, Entry, EntryId};
use ringcore::streams::{Nwr, StreamCommand, StreamReply, commands};
use ringcore::testing::{TestCluster, wait_until};
use ringcore::{IndexNode, chash_key};
use std::collections::BTreeMap;
use std::time::Duration;

/// A short pause between exchanges: a node goes round its ~21 ranges in a second or two.
const PAUSE: Duration = Duration::from_millis(50);

const BUCKET: &str = "aae";

/// Three nodes joined, each running anti-entropy.
async fn cluster_with_anti_entropy() -> TestCluster<DbApp> {
    let cluster = TestCluster::<DbApp>::start_with(3, |config| {
        config.anti_entropy = Some(PAUSE);
    })
    .await;
    cluster.join_all().await;
    cluster
}

/// A stream's three primary replicas, whoever is up.
fn replicas(cluster: &TestCluster<DbApp>, stream: &str) -> Vec<IndexNode> {
    let hash = chash_key(BUCKET.as_bytes(), stream.as_bytes());
    cluster.node(1).ring().preflist(&hash, 3)
}

/// What one replica vnode holds of a stream, asked directly (no read repair).
async fn held(cluster: &TestCluster<DbApp>, replica: &IndexNode, stream: &str) -> Vec<Entry> {
    let read = StreamCommand::Read {
        bucket: BUCKET.into(),
        stream: stream.into(),
        from: 0,
        limit: 10_000,
    };
    match cluster.app(1).db.vnodes().sync_command(replica, read).await {
        Ok(StreamReply::Entries(entries)) => entries,
        other => panic!("{replica:?} answered {other:?}"),
    }
}

/// Whether every replica of every stream holds exactly these entries.
async fn every_replica_holds(
    cluster: &TestCluster<DbApp>,
    streams: &BTreeMap<String, Vec<Entry>>,
) -> bool {
    for (stream, entries) in streams {
        for replica in replicas(cluster, stream) {
            if held(cluster, &replica, stream).await != *entries {
                return false;
            }
        }
    }
    true
}

/// Entries repaired by anti-entropy on every running node, added up.
fn repaired_everywhere(cluster: &TestCluster<DbApp>) -> u64 {
    (1..=3)
        .map(|k| cluster.app(k).db.anti_entropy().report().repaired)
        .sum()
}

async fn put(cluster: &TestCluster<DbApp>, replica: &IndexNode, stream: &str, entry: &Entry) {
    let put = StreamCommand::Put {
        bucket: BUCKET.into(),
        stream: stream.into(),
        entry: entry.clone(),
    };
    let reply = cluster.app(1).db.vnodes().sync_command(replica, put).await;
    assert_eq!(reply.unwrap(), StreamReply::Stored { new: true });
}

fn entry(seq: u64, actor: u64, text: &str) -> Entry {
    Entry {
        seq,
        dot: Dot { actor, counter: 1 },
        ts_ms: 1,
        payload: text.as_bytes().to_vec(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_that_comes_back_gets_what_it_missed_without_any_read() {
    let mut cluster = cluster_with_anti_entropy().await;
    cluster.stop_node(3).await;
    let dev3 = cluster.name(3);
    wait_until("dev1 and dev2 see dev3 down", || async {
        !cluster.node(1).is_up(&dev3) && !cluster.node(2).is_up(&dev3)
    })
    .await;
    // 200 entries over 20 streams, each on the two replicas that are up (with 3 nodes there is
    // no fallback to take dev3's place).
    let mut acknowledged: BTreeMap<String, Vec<Entry>> = BTreeMap::new();
    for i in 0..200 {
        let stream = format!("s{}", i % 20);
        let payload = format!("entry {i}").into_bytes();
        let written = cluster
            .app(1)
            .db
            .post(BUCKET, &stream, payload, Nwr::default())
            .await
            .unwrap_or_else(|e| panic!("write {i}: {e}"));
        acknowledged.entry(stream).or_default().push(written.entry);
    }
    let missed_by_dev3: u64 = acknowledged
        .iter()
        .map(|(stream, entries)| {
            let on_dev3 = replicas(&cluster, stream)
                .iter()
                .filter(|r| r.node == dev3)
                .count();
            (on_dev3 * entries.len()) as u64
        })
        .sum();
    assert!(
        missed_by_dev3 >= 100,
        "dev3 replicates most streams: {missed_by_dev3}"
    );

    cluster.start_node(3).await;
    wait_until("every replica holds every acknowledged entry", || {
        every_replica_holds(&cluster, &acknowledged)
    })
    .await;
    // Nothing else put them there: no client read, and no fallback to hand them back.
    wait_until("anti-entropy counted its repairs", || async {
        repaired_everywhere(&cluster) >= missed_by_dev3
    })
    .await;
    for k in 1..=3 {
        for (stream, entries) in &acknowledged {
            let one = Nwr { n: 3, w: 2, r: 1 };
            let read = cluster.app(k).db.read(BUCKET, stream, 1, 1000, one).await;
            assert_eq!(
                read.unwrap().entries,
                *entries,
                "R=1 read of {stream} on dev{k}"
            );
        }
    }
    cluster.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn entries_that_share_a_number_both_reach_every_replica_in_one_order() {
    let cluster = cluster_with_anti_entropy().await;
    let stream = "twins";
    // Two writes numbered 1 at once by two coordinators (as during a partition), each stored on
    // one replica only: the later dot on the first replica.
    let (first, second) = (entry(1, 0xa, "from a"), entry(1, 0xb, "from b"));
    let targets = replicas(&cluster, stream);
    put(&cluster, &targets[0], stream, &second).await;
    put(&cluster, &targets[1], stream, &first).await;
    // Ordered by number, then dot: the same on every replica.
    let both = BTreeMap::from([(stream.to_string(), vec![first, second])]);
    wait_until("all three replicas hold both entries, in one order", || {
        every_replica_holds(&cluster, &both)
    })
    .await;
    cluster.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aae_status_shows_what_was_repaired() {
    let cluster = cluster_with_anti_entropy().await;
    let stream = "lonely";
    let targets = replicas(&cluster, stream);
    put(&cluster, &targets[0], stream, &entry(1, 7, "only here")).await;
    // Everyone is up: the range's first primary's node is in charge of it.
    let range = targets[0].partition.index();
    let k = (1..=3)
        .find(|&k| cluster.name(k) == targets[0].node)
        .unwrap();
    let status = || async {
        commands::run(&cluster.app(k).db, "aae-status", &[])
            .await
            .expect("a console command")
            .expect("aae-status")
    };
    wait_until(
        "aae-status shows two entries repaired in the range",
        || async { repaired_in_row(&status().await, range) == Some(2) },
    )
    .await;
    let text = status().await;
    assert!(text.starts_with("=========="), "{text}");
    assert!(
        text.contains("Range  Last exchange  Repaired  Outcome"),
        "{text}"
    );
    let summary = text.lines().last().unwrap();
    assert!(
        summary.ends_with("; 2 entries repaired since start"),
        "{text}"
    );
    // The other nodes are not in charge of that range, and found nothing else to repair.
    for other in (1..=3).filter(|&other| other != k) {
        assert_eq!(cluster.app(other).db.anti_entropy().report().repaired, 0);
    }
    let ids: Vec<EntryId> = vec![entry(1, 7, "").id()];
    for replica in &targets {
        let found: Vec<EntryId> = held(&cluster, replica, stream)
            .await
            .iter()
            .map(Entry::id)
            .collect();
        assert_eq!(found, ids, "{replica:?}");
    }
    cluster.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aae_status_says_when_anti_entropy_is_off() {
    let cluster = TestCluster::<DbApp>::start(1).await;
    let text = commands::run(&cluster.app(1).db, "aae-status", &[])
        .await
        .unwrap()
        .unwrap();
    assert_eq!(text, format!("anti-entropy is off on {}", cluster.name(1)));
    cluster.stop().await;
}

/// The Repaired column of a range's row in `aae-status`, if the range has a row.
fn repaired_in_row(status: &str, range: u32) -> Option<u64> {
    let row = status
        .lines()
        .find(|line| line.split_whitespace().next() == Some(&range.to_string()))?;
    row.get(22..30)?.trim().parse().ok()
}
