//! Graded tests of exercise 2. `cargo test -p ex2-kv` runs them against your code;
//! `cargo test -p ex2-kv-solution` runs the very same file against the reference solution.
//!
//! Each test's name says which README step it grades. Most start three real nodes in this
//! test process, joined into one cluster, talking over TCP on 127.0.0.1.

use assert_cmd::Command;
use ex2_kv::KvApp;
use ex2_kv::service::{KV_BUCKET, Kv};
use ringcore::store::Entry;
use ringcore::testing::TestCluster;
use ringcore::{IndexNode, chash_key};
use std::collections::BTreeSet;
use std::time::Instant;

/// The vnode that keeps `(bucket, stream)`, as devK's ring says.
fn owner(cluster: &TestCluster<KvApp>, k: u32, bucket: &str, stream: &str) -> IndexNode {
    let ring = cluster.node(k).ring();
    let hash = chash_key(bucket.as_bytes(), stream.as_bytes());
    ring.preflist(&hash, 1).remove(0)
}

/// Which of dev1 … dev3 is that vnode's node.
fn owner_k(cluster: &TestCluster<KvApp>, bucket: &str, stream: &str) -> u32 {
    let node = owner(cluster, 1, bucket, stream).node;
    (1..=3)
        .find(|k| cluster.name(*k) == node)
        .expect("the owner is one of the cluster's nodes")
}

fn seqs(entries: &[Entry]) -> Vec<u64> {
    entries.iter().map(|e| e.seq).collect()
}

fn text(entry: &Entry) -> String {
    String::from_utf8_lossy(&entry.payload).into_owned()
}

/// The sequence numbers `Kv::get` answers for a stream of the bucket `alice`.
async fn get(kv: &Kv, stream: &str, from: Option<u64>, limit: usize) -> Vec<u64> {
    let entries = kv
        .get("alice", stream, from, limit)
        .await
        .expect("README step 2: Kv::get should answer");
    seqs(&entries)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn step_0_store_appends_to_the_stream_of_the_key() {
    let cluster = TestCluster::<KvApp>::start_joined(3).await;
    let kv = &cluster.app(1).kv;
    for seq in 1..=3 {
        let value = format!("value {seq}");
        let stored = kv
            .store("alice", &value)
            .await
            .expect("store (given) works");
        assert_eq!(
            stored.entry.seq, seq,
            "store (given) appends the next entry"
        );
        assert_eq!(
            text(&stored.entry),
            value,
            "store (given) keeps the value as given"
        );
        assert_eq!(
            stored.vnode,
            owner(&cluster, 1, KV_BUCKET, "alice"),
            "store (given) writes on the vnode that owns the key"
        );
    }
    let bob = kv.store("bob", "hello").await.expect("store (given) works");
    assert_eq!(bob.entry.seq, 1, "every key is a stream of its own");
    cluster.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn step_1_fetch_reads_the_newest_value_from_any_node() {
    let cluster = TestCluster::<KvApp>::start_joined(3).await;
    let keys: Vec<String> = (0..12).map(|i| format!("key-{i}")).collect();
    for key in &keys {
        let kv = &cluster.app(1).kv;
        kv.store(key, "old").await.expect("store (given) works");
        kv.store(key, &format!("new {key}"))
            .await
            .expect("store (given) works");
    }
    let nodes: BTreeSet<u32> = keys
        .iter()
        .map(|k| owner_k(&cluster, KV_BUCKET, k))
        .collect();
    assert_eq!(
        nodes.len(),
        3,
        "the keys should be spread over all three nodes"
    );
    for k in [2, 3] {
        for key in &keys {
            let found = cluster
                .app(k)
                .kv
                .fetch(key)
                .await
                .expect("README step 1: Kv::fetch should answer");
            let entry = found.unwrap_or_else(|| {
                panic!("README step 1: {key} was stored, fetch {key} on dev{k} found nothing")
            });
            assert_eq!(
                (entry.seq, text(&entry)),
                (2, format!("new {key}")),
                "README step 1: fetch {key} on dev{k} answers the newest entry of the key's stream"
            );
        }
    }
    let unknown = cluster
        .app(2)
        .kv
        .fetch("nobody")
        .await
        .expect("README step 1: Kv::fetch of a key never stored should answer (None)");
    assert_eq!(
        unknown, None,
        "README step 1: a key never stored is not found"
    );
    cluster.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn step_2_get_reads_a_range_or_the_newest_entries() {
    let cluster = TestCluster::<KvApp>::start_joined(3).await;
    for i in 1..=5 {
        cluster
            .app(1)
            .kv
            .post("alice", "rust", &format!("message {i}"))
            .await
            .expect("post (given) works");
    }
    for k in 1..=3 {
        let kv = &cluster.app(k).kv;
        let range = kv
            .get("alice", "rust", Some(2), 2)
            .await
            .expect("README step 2: Kv::get should answer");
        assert_eq!(
            seqs(&range),
            [2, 3],
            "README step 2: get from 2, at most 2 entries (on dev{k})"
        );
        assert_eq!(
            text(&range[0]),
            "message 2",
            "README step 2: entry 2 holds the second message posted"
        );
        assert_eq!(
            get(kv, "rust", Some(1), 100).await,
            [1, 2, 3, 4, 5],
            "README step 2: from 1, at most 100: all 5 entries"
        );
        assert_eq!(
            get(kv, "rust", Some(4), 100).await,
            [4, 5],
            "README step 2: from 4, at most 100: entries 4 and 5"
        );
        assert_eq!(
            get(kv, "rust", None, 2).await,
            [4, 5],
            "README step 2: without FROM, the newest LIMIT entries, the newest included"
        );
        assert_eq!(
            get(kv, "rust", None, 1).await,
            [5],
            "README step 2: without FROM, limit 1: the newest entry"
        );
        assert_eq!(
            get(kv, "rust", None, 10).await,
            [1, 2, 3, 4, 5],
            "README step 2: without FROM, a limit above the count: every entry"
        );
        assert_eq!(
            get(kv, "rust", Some(6), 10).await,
            [] as [u64; 0],
            "README step 2: from beyond the end, nothing"
        );
        assert_eq!(
            get(kv, "rust", Some(1), 0).await,
            [] as [u64; 0],
            "README step 2: limit 0 with FROM, nothing"
        );
        assert_eq!(
            get(kv, "rust", None, 0).await,
            [] as [u64; 0],
            "README step 2: limit 0 without FROM, nothing"
        );
        assert_eq!(
            get(kv, "go", None, 1).await,
            [] as [u64; 0],
            "README step 2: an unknown stream has no entries"
        );
    }
    cluster.stop().await;
}

/// The lesson of the exercise: all data of a key lives on one node. Stop it and the key is out
/// of reach; start it again and the key is back, read from its files.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn steps_1_and_2_a_key_lives_on_one_node_and_survives_its_restart() {
    let mut cluster = TestCluster::<KvApp>::start_joined(3).await;
    cluster
        .app(1)
        .kv
        .store("alice", "before the crash")
        .await
        .expect("store (given) works");
    let found = cluster
        .app(1)
        .kv
        .fetch("alice")
        .await
        .expect("README step 1: Kv::fetch should answer");
    assert_eq!(
        found.as_ref().map(text).as_deref(),
        Some("before the crash"),
        "README step 1: fetch alice after `store alice …` should answer the value stored"
    );

    let down = owner_k(&cluster, KV_BUCKET, "alice");
    let name = cluster.name(down);
    let live: Vec<u32> = (1..=3).filter(|k| *k != down).collect();
    cluster.stop_node(down).await;
    cluster
        .wait_until("the other nodes see the owner of alice down", || async {
            live.iter().all(|k| !cluster.node(*k).is_up(&name))
        })
        .await;
    let timeout = cluster.node(live[0]).config().request_timeout;
    for k in &live {
        let kv = &cluster.app(*k).kv;
        let asked = Instant::now();
        let fetched = kv.fetch("alice").await;
        let read = kv.get(KV_BUCKET, "alice", None, 1).await;
        let took = asked.elapsed();
        for (what, result) in [("fetch", fetched.map(|_| ())), ("get", read.map(|_| ()))] {
            let error = result.expect_err(&format!(
                "README steps 1 and 2: the only node holding alice is down, {what} must fail"
            ));
            let message = error.to_string();
            assert!(
                message.contains(name.as_str()) && message.contains("down"),
                "README steps 1 and 2: {what} should say that {name} is down, not: {message}"
            );
        }
        assert!(
            took < timeout / 2,
            "README steps 1 and 2: a key whose node is down fails at once (find the vnode with \
             self.vnode_of, as post does), not after a timeout; took {took:?}"
        );
    }

    cluster.start_node(down).await;
    cluster
        .wait_until("the other nodes see the owner of alice up", || async {
            live.iter().all(|k| cluster.node(*k).is_up(&name))
        })
        .await;
    for k in 1..=3 {
        let found = cluster
            .app(k)
            .kv
            .fetch("alice")
            .await
            .expect("README step 1: after the restart, fetch should answer");
        let entry = found.expect("the store reopens its files: alice is back after the restart");
        assert_eq!(
            (entry.seq, text(&entry)),
            (1, "before the crash".to_string()),
            "README step 1: fetch alice on dev{k} after the restart answers the entry stored before"
        );
    }
    let after = cluster
        .app(1)
        .kv
        .store("alice", "after")
        .await
        .expect("store (given) works after the restart");
    assert_eq!(after.entry.seq, 2, "the stream goes on where it was");
    cluster.stop().await;
}

/// Runs one console session of the real binary on `data`, returns what it printed.
fn console_session(data: &std::path::Path, script: &str) -> String {
    let output = Command::new(env!(concat!("CARGO_BIN_EXE_", env!("CARGO_PKG_NAME"))))
        .args(["--data-dir", data.to_str().unwrap(), "--cluster-port", "0"])
        .args(["--http-port", "0"])
        .write_stdin(script)
        .timeout(std::time::Duration::from_secs(60))
        .output()
        .expect("the node runs");
    assert!(output.status.success(), "the node exits cleanly on quit");
    String::from_utf8(output.stdout).expect("UTF-8 output")
}

/// The README's session, driven through the real binary, then a second run of the node on
/// the same data directory: what was stored is still there.
#[test]
fn steps_1_and_2_console_session() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let first = console_session(
        dir.path(),
        "store alice 1\nstore alice 2\nfetch alice\nfetch bob\n\
         post alice rust hello world\npost alice rust second message\npost alice rust third\n\
         get alice rust\nget alice rust 2\nget alice rust 1 2\nget alice rust 9\n\
         get alice go\nget alice rust two\nstore alice\nnonsense\nquit\n",
    );
    let second = console_session(dir.path(), "fetch alice\nget alice rust 1\nquit\n");
    let transcript =
        format!("{first}\n--- the node again, on the same data directory ---\n{second}");
    ringcore::testing::assert_no_hole("README steps 1 and 2: the console session", &transcript);
    insta::with_settings!({description => "README steps 1 and 2: store, fetch (step 1), post \
        and get (step 2) and bad commands, then the node again on the same data: fetch and get \
        still find what was stored", filters => vec![
        // Entries carry the time they were stored, in milliseconds.
        (r"#(\d+) \d{13} ", "#$1 [ts] "),
    ]}, {
        insta::assert_snapshot!(transcript);
    });
}
