//! The metadata handle on its own, without a cluster: reads, deletes, the size limit, the
//! change counter, the file, and two maps brought together by one exchange.

use super::*;
use serde_json::json;
use std::path::Path;

impl Metadata {
    /// A node's map kept in `data_dir`, with no cluster to push to.
    fn in_dir(data_dir: &Path) -> io::Result<Metadata> {
        let table = file::load(data_dir)?.unwrap_or_default();
        let me = NodeName::new("dev1@127.0.0.1");
        Ok(Metadata::with(
            me,
            Some(data_dir.to_path_buf()),
            table,
            None,
        ))
    }

    /// A map in memory, of node `name`, with no cluster to push to.
    fn of(name: &str) -> Metadata {
        Metadata::with(NodeName::new(name), None, Table::default(), None)
    }
}

#[tokio::test]
async fn puts_are_read_back_and_deletes_leave_no_value() {
    let metadata = Metadata::detached();
    let mut changes = metadata.subscribe();
    assert_eq!(*changes.borrow_and_update(), 0);
    metadata
        .put("users", "bob", Some(json!({"name": "Bob"})))
        .await
        .unwrap();
    metadata
        .put("users", "alice", Some(json!({"name": "Alice"})))
        .await
        .unwrap();
    metadata
        .put("grants", "alice/read", Some(json!(true)))
        .await
        .unwrap();
    assert!(changes.has_changed().unwrap());
    assert_eq!(*changes.borrow_and_update(), 3);
    assert_eq!(
        metadata.get("users", "alice"),
        Some(json!({"name": "Alice"}))
    );
    assert_eq!(metadata.get("users", "nobody"), None);
    assert_eq!(metadata.get("nothing", "alice"), None);
    let users: Vec<String> = metadata.list("users").into_iter().map(|(k, _)| k).collect();
    assert_eq!(users, ["alice", "bob"]);

    metadata.put("users", "bob", None).await.unwrap();
    assert_eq!(metadata.get("users", "bob"), None);
    assert_eq!(
        metadata.list("users"),
        [("alice".to_string(), json!({"name": "Alice"}))]
    );
    // The tombstone is kept, so that the delete can spread.
    assert!(
        metadata
            .inner
            .held
            .load()
            .table
            .get("users", "bob")
            .is_some()
    );
    assert_eq!(*changes.borrow_and_update(), 4);

    // JSON null is a value like any other, not a delete.
    metadata
        .put("users", "carol", Some(Value::Null))
        .await
        .unwrap();
    assert_eq!(metadata.get("users", "carol"), Some(Value::Null));
    assert_eq!(metadata.list("users").len(), 2);
}

#[tokio::test]
async fn a_put_wins_over_what_the_node_held_even_from_a_clock_ahead() {
    let metadata = Metadata::detached();
    let ahead = MetadataEntry {
        prefix: "users".into(),
        key: "alice".into(),
        version: MetadataVersion {
            time_ms: now_ms() + 3_600_000,
            node: NodeName::new("dev9@127.0.0.1"),
            counter: 1,
        },
        value: Some("\"from the future\"".into()),
    };
    assert_eq!(metadata.merge(vec![ahead]).await.unwrap(), 1);
    metadata
        .put("users", "alice", Some(json!("now")))
        .await
        .unwrap();
    assert_eq!(metadata.get("users", "alice"), Some(json!("now")));
}

#[tokio::test]
async fn a_put_past_the_size_limit_is_refused_and_changes_nothing() {
    let metadata = Metadata::detached();
    metadata
        .put("policies", "small", Some(json!("x")))
        .await
        .unwrap();
    let before = metadata.digest();
    let changes = metadata.subscribe();
    let huge = "x".repeat(MAX_BYTES);
    let error = metadata
        .put("policies", "huge", Some(json!(huge)))
        .await
        .unwrap_err();
    assert_eq!(error.kind(), "bad_request");
    assert!(
        error
            .to_string()
            .starts_with("cannot put policies/huge: the cluster metadata would take"),
        "{error}"
    );
    assert_eq!(metadata.get("policies", "huge"), None);
    assert_eq!(metadata.digest(), before);
    assert!(!changes.has_changed().unwrap());
    // Just under the limit is fine.
    let room = MAX_BYTES - metadata.inner.held.load().table.bytes() - 100;
    metadata
        .put("policies", "big", Some(json!("y".repeat(room))))
        .await
        .unwrap();
}

#[tokio::test]
async fn the_map_is_saved_and_read_back_when_the_node_starts_again() {
    let dir = tempfile::tempdir().unwrap();
    let metadata = Metadata::in_dir(dir.path()).unwrap();
    metadata
        .put("users", "alice", Some(json!({"admin": true})))
        .await
        .unwrap();
    metadata
        .put("users", "bob", Some(json!({"admin": false})))
        .await
        .unwrap();
    metadata.put("users", "bob", None).await.unwrap();
    let digest = metadata.digest();
    let counter = |m: &Metadata| m.inner.puts.load(Ordering::Relaxed);
    assert_eq!(counter(&metadata), 3);
    drop(metadata);

    let again = Metadata::in_dir(dir.path()).unwrap();
    assert_eq!(again.get("users", "alice"), Some(json!({"admin": true})));
    assert_eq!(again.get("users", "bob"), None);
    assert_eq!(again.digest(), digest, "tombstones are saved too");
    // Its versions go on from those it gave before.
    assert_eq!(counter(&again), 3);
    again.put("users", "carol", Some(json!({}))).await.unwrap();
    let carol = again
        .inner
        .held
        .load()
        .table
        .get("users", "carol")
        .unwrap()
        .version
        .clone();
    assert_eq!(carol.counter, 4);
}

#[test]
fn a_damaged_file_stops_the_map_from_opening() {
    let dir = tempfile::tempdir().unwrap();
    let path = file::path(dir.path());
    std::fs::write(
        &path,
        b"{\"format\": \"ringcore cluster metadata v1\", \"entr",
    )
    .unwrap();
    let error = Metadata::in_dir(dir.path()).unwrap_err();
    assert!(
        error.to_string().starts_with(&path.display().to_string()),
        "{error}"
    );
}

/// What one round of the anti-entropy loop does between two nodes, through `answer`.
async fn exchange_between(a: &Metadata, b: &Metadata) {
    let digest = b.answer(MetadataRequest::Digest(a.digest())).await.unwrap();
    if matches!(digest, Response::Metadata(MetadataAnswer::Same)) {
        return;
    }
    let answer = b
        .answer(MetadataRequest::Exchange(a.entries()))
        .await
        .unwrap();
    let Response::Metadata(MetadataAnswer::Entries(theirs)) = answer else {
        panic!("{answer:?}");
    };
    a.merge(theirs).await.unwrap();
}

#[tokio::test]
async fn one_exchange_brings_two_maps_together() {
    let (a, b) = (Metadata::of("dev1@h"), Metadata::of("dev2@h"));
    a.put("users", "alice", Some(json!(1))).await.unwrap();
    a.put("users", "bob", Some(json!(2))).await.unwrap();
    // Later, or in the same millisecond from a node whose name sorts after: it wins.
    b.put("users", "bob", Some(json!(3))).await.unwrap();
    b.put("users", "carol", Some(json!(4))).await.unwrap();
    a.put("users", "dave", Some(json!(5))).await.unwrap();
    a.put("users", "dave", None).await.unwrap();
    assert_ne!(a.digest(), b.digest());
    exchange_between(&a, &b).await;
    assert_eq!(a.digest(), b.digest());
    for m in [&a, &b] {
        assert_eq!(
            m.list("users"),
            [
                ("alice".to_string(), json!(1)),
                ("bob".to_string(), json!(3)),
                ("carol".to_string(), json!(4)),
            ]
        );
    }
    // Once equal, the digests say so and nothing more is sent.
    let answer = b.answer(MetadataRequest::Digest(a.digest())).await.unwrap();
    assert!(matches!(answer, Response::Metadata(MetadataAnswer::Same)));
}
