//! The bonus tests of exercise 2 (README, Going further): `cargo test -p ex2-kv bonus`.
//! Three real nodes in this test process, joined into one cluster, talking over TCP.

use ex2_kv::KvApp;
use ex2_kv::service::{KV_BUCKET, Kv, Stored};
use ex2_kv::vnode::is_tombstone;
use ringcore::App;
use ringcore::store::Entry;
use ringcore::testing::TestCluster;

/// `delete`, or the test fails saying why.
async fn delete(kv: &Kv, key: &str) -> Option<Stored> {
    kv.delete(key)
        .await
        .unwrap_or_else(|e| panic!("Going further: Kv::delete should answer: {e}"))
}

/// Every entry of a key's stream, tombstones included.
async fn history(kv: &Kv, key: &str) -> Vec<Entry> {
    kv.get(KV_BUCKET, key, Some(1), 100)
        .await
        .unwrap_or_else(|e| panic!("Kv::get (step 2) should answer: {e}"))
}

fn text(entry: &Entry) -> String {
    String::from_utf8_lossy(&entry.payload).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bonus_delete_hides_a_key_from_every_node_and_keeps_its_history() {
    let cluster = TestCluster::<KvApp>::start_joined(3).await;
    let dev1 = &cluster.app(1).kv;
    dev1.store("alice", "42").await.expect("store is given");
    dev1.store("alice", "43").await.expect("store is given");

    let deleted = delete(&cluster.app(2).kv, "alice")
        .await
        .expect("Going further: deleting a key with a value writes a tombstone");
    assert_eq!(
        deleted.entry.seq, 3,
        "Going further: the tombstone is the stream's next entry"
    );
    assert!(
        is_tombstone(&deleted.entry),
        "Going further: its payload is TOMBSTONE"
    );
    for k in 1..=3 {
        let fetched = cluster
            .app(k)
            .kv
            .fetch("alice")
            .await
            .unwrap_or_else(|e| panic!("Kv::fetch (step 1) should answer: {e}"));
        assert_eq!(
            fetched, None,
            "Going further: once deleted, fetch on dev{k} answers not found (the newest entry is a tombstone)"
        );
    }
    let kept = history(&cluster.app(3).kv, "alice").await;
    assert_eq!(
        kept.iter().map(text).collect::<Vec<_>>()[..2],
        ["42", "43"],
        "Going further: a delete is a write: the history stays, the tombstone after it"
    );
    assert!(
        is_tombstone(&kept[2]),
        "Going further: the third entry is the tombstone"
    );

    assert!(
        delete(&cluster.app(1).kv, "alice").await.is_none(),
        "Going further: a key deleted already has nothing more to delete"
    );
    assert!(
        delete(&cluster.app(1).kv, "nobody").await.is_none(),
        "Going further: a key that never had a value has nothing to delete"
    );
    assert!(
        history(&cluster.app(1).kv, "nobody").await.is_empty(),
        "Going further: deleting nothing writes nothing"
    );

    let again = dev1.store("alice", "44").await.expect("store is given");
    assert_eq!(
        again.entry.seq, 4,
        "a value stored after the delete goes on after the tombstone"
    );
    let fetched = dev1.fetch("alice").await.expect("step 1");
    assert_eq!(
        fetched.map(|e| text(&e)),
        Some("44".to_string()),
        "Going further: a value stored after the delete is found again"
    );

    let answer = cluster
        .app(2)
        .run("delete", &["alice"])
        .await
        .unwrap_or_else(|e| panic!("Going further: the console's delete should answer: {e}"));
    assert!(
        answer.starts_with("deleted: #5 ") && answer.contains(" (deleted)  (on dev"),
        "Going further: `delete alice` shows the tombstone and its node; got {answer:?}"
    );
    let answer = cluster.app(2).run("delete", &["alice"]).await.unwrap();
    assert_eq!(
        answer, "not found",
        "Going further: `delete` of a deleted key"
    );
    cluster.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bonus_deletes_sent_at_once_write_one_tombstone() {
    let cluster = TestCluster::<KvApp>::start_joined(3).await;
    cluster
        .app(1)
        .kv
        .store("bob", "7")
        .await
        .expect("store is given");
    // Fifteen deletes of one key at once, from every node: the key's vnode takes them one at
    // a time, so exactly one finds a value to delete.
    let mut deletes = tokio::task::JoinSet::new();
    for i in 0..15u32 {
        let kv = cluster.app(1 + i % 3).kv.clone();
        deletes.spawn(async move { kv.delete("bob").await });
    }
    let mut written = 0;
    while let Some(done) = deletes.join_next().await {
        let answer = done
            .expect("a delete task")
            .unwrap_or_else(|e| panic!("Going further: Kv::delete should answer: {e}"));
        written += usize::from(answer.is_some());
    }
    assert_eq!(
        written, 1,
        "Going further: of deletes sent at once, exactly one writes a tombstone"
    );
    let kept = history(&cluster.app(2).kv, "bob").await;
    assert_eq!(
        kept.iter().filter(|e| is_tombstone(e)).count(),
        1,
        "Going further: one tombstone in the stream, after the value"
    );
    cluster.stop().await;
}
